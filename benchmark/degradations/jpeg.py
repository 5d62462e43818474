"""Baseline JPEG compression in memory with Pillow (libjpeg), as an 8-bit grayscale image.

Pillow's ``quality`` scales the ITU-T T.81 Annex K quantisation tables the way libjpeg's
``jpeg_set_quality`` does (quality 50 = the Annex K tables as printed).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image


def encode_jpeg(img: np.ndarray, quality: int) -> bytes:
    """Encode a (H, W) [0, 1] image as an 8-bit grayscale JPEG with ``quality`` in 1..100."""
    pixels = np.clip(np.round(np.asarray(img, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Compress and decode: returns the (H, W) float32 [0, 1] image a JPEG at ``quality`` would show."""
    with Image.open(io.BytesIO(encode_jpeg(img, quality))) as decoded:
        return np.asarray(decoded.convert("L"), dtype=np.float32) / 255.0


def sample_quality(rng: np.random.Generator, quality_range: Sequence[float]) -> int:
    """Draw an integer JPEG quality uniformly from the inclusive ``(lo, hi)`` range.

    Real-ESRGAN draws a real quality for its differentiable JPEG; libjpeg takes integers, so the
    inclusive integer range is the nearest equivalent.
    """
    low, high = round(quality_range[0]), round(quality_range[1])
    return int(rng.integers(low, high, endpoint=True))
