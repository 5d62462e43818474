"""Reading, resizing and writing grayscale images as float32 arrays in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from benchmark.atomic import atomic_path
from benchmark.errors import UserError


def read_grayscale(path: Path) -> np.ndarray:
    """Read an image file as (H, W) float32 in [0, 1]; RGB with R=G=B and 16-bit PNG are handled."""
    try:
        with Image.open(path) as image:
            if image.mode in ("I;16", "I;16B", "I"):
                pixels = np.asarray(image, dtype=np.float32)
                return np.clip(pixels / (65535.0 if pixels.max() > 255 else 255.0), 0, 1)
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise UserError(f"Image file not found: {path}. Check the data root and the manifest.") from None
    except (UnidentifiedImageError, OSError) as error:
        raise UserError(f"Cannot read image {path}: {error}. Replace or remove the file.") from None


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize (H, W) to (size, size) with antialiased bicubic (PIL on float32); aspect ratio is not kept.

    The reference studies resize every radiograph to a fixed square once; we do the same so that
    HR, LR and SR share one geometry.
    """
    if image.shape == (size, size):
        return image.astype(np.float32, copy=False)
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.BICUBIC)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write (H, W) float32 [0, 1] as an 8-bit PNG, atomically."""
    with atomic_path(path) as temporary:
        Image.fromarray(to_uint8(image)).save(temporary, format="PNG")
