"""Image comparisons of one stored example: LR | each SR | HR, with a zoomed crop and |variant − HR| maps.

Works on the example PNGs the run stored (`examples/index.json`); Grad-CAM overlays are drawn when an
example lists heat maps under "gradcam" (variant -> PNG path). The crop window and the colour scale of
the difference maps are display choices (the window where the SR variants differ most from HR), not
statistics; the page states the scale.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from PIL import Image

from benchmark.stats.flips import most_flipped as ranked_flips
from cxr_kernel.variants import HR, LR, LR_NEAREST, is_lr
from reports.formatting import fmt_label, fmt_num, is_missing, ordered
from reports.rundir import data_uri, resolve_inside

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CROP_FRACTION = 4  # the crop is 1/4 of the image side
DIFF_PERCENTILE = 99.5  # colour scale top of the difference maps, over all variants of the example
HEAT_ALPHA = 0.45
MAP_SIDE = 150  # difference maps and overlays are shown 150 px wide (1x: they are smooth displays)
# Embedded copies: a stored PNG up to THUMB_BYTES as it is, larger ones as a WebP thumbnail of at most
# THUMB_SIDE pixels a side at quality THUMB_QUALITY; the page links every panel to its full-size file.
THUMB_SIDE = 200  # shown 150 px wide: sharp at 1.33x
THUMB_BYTES = 16_000
THUMB_QUALITY = 75
MAP_QUALITY = 70  # difference maps and Grad-CAM overlays (smooth colour images): lossy WebP
CROP_QUALITY = 85  # zoomed crops at their stored pixels: lossy WebP, a little sharper


@dataclass
class Panel:
    """One column of a comparison: a variant's image, crop, difference map and optional Grad-CAM."""

    variant: str
    path: str
    href: str | None = None  # the full-size file, relative to the run directory (the page links it)
    uri: str | None = None
    crop_uri: str | None = None
    diff_uri: str | None = None
    gradcam_uri: str | None = None
    prob: str | None = None
    flip: str | None = None
    pixelated: bool = False


@dataclass
class Comparison:
    image_id: str
    label: str
    flipped_by: list[str] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    crop: dict[str, float] | None = None  # left, top, size as percentages of the image side
    diff_max: str = ""


def panel_order(variants: Sequence[str], preferred: Sequence[str]) -> list[str]:
    """The LR displays first, then the SR variants in suite order, HR last."""
    variants = ordered(variants, preferred)
    lr = [v for v in variants if is_lr(v)]
    middle = [v for v in variants if v != HR and not is_lr(v)]
    return [*lr, *middle, *([HR] if HR in variants else [])]


def webp_uri(image: Image.Image, largest: int | None = None, quality: int | None = None) -> str:
    """WebP data URI of an image shrunk to at most `largest` pixels a side; lossless without `quality`."""
    if largest and max(image.size) > largest:
        image = image.copy()
        image.thumbnail((largest, largest), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if quality is None:
        image.save(buffer, format="WEBP", lossless=True, method=6)
    else:
        image.save(buffer, format="WEBP", quality=quality, method=6)
    return data_uri(buffer.getvalue(), "image/webp")


def thumbnail_uri(data: bytes) -> str:
    """The embedded copy of a stored PNG: the file itself when small, else a lossy WebP thumbnail."""
    if len(data) <= THUMB_BYTES:
        return data_uri(data, "image/png")
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("L" if image.mode in ("L", "I", "I;16") else "RGB")
        return webp_uri(image, THUMB_SIDE, THUMB_QUALITY)


def _difference_map(diff: np.ndarray, top_value: float) -> str:
    """|variant − HR| in the magma colour map, as a lossy WebP (a display, not data)."""
    levels = (np.clip(diff / top_value, 0, 1) * 255).round().astype(np.uint8)
    lut = (colormaps["magma"](np.arange(256) / 255.0)[:, :3] * 255).round().astype(np.uint8)
    return webp_uri(Image.fromarray(lut[levels]), MAP_SIDE, MAP_QUALITY)


def _gray(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _crop_window(hr: np.ndarray, others: list[np.ndarray]) -> tuple[int, int, int]:
    """(top, left, side) of the square window where the mean |variant − HR| is largest (top-left if none)."""
    side = max(8, min(hr.shape) // CROP_FRACTION)
    if not others:
        return 0, 0, side
    diff = np.mean([np.abs(o - hr) for o in others], axis=0)
    integral = np.pad(diff.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (
        integral[side:, side:] - integral[:-side, side:] - integral[side:, :-side] + integral[:-side, :-side]
    )
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(top), int(left), side


def _overlay(gray: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """Grad-CAM heat map (resized to the image) in the jet colour map over the grey image."""
    heat_image = Image.fromarray((np.clip(heat, 0, 1) * 255).astype(np.uint8)).resize(gray.shape[::-1])
    colored = colormaps["jet"](np.asarray(heat_image, dtype=np.float32) / 255.0)[..., :3]
    mixed = (1 - HEAT_ALPHA) * gray[..., None] + HEAT_ALPHA * colored
    return (np.clip(mixed, 0, 1) * 255).astype(np.uint8)


def build_comparison(
    run_dir: Path,
    example: dict[str, Any],
    variants: Sequence[str],
    probs: dict[tuple[str, str], float],
    flips: dict[tuple[str, str], str],
) -> Comparison:
    """The comparison of one example entry of examples/index.json.

    Parameters
    ----------
    probs : dict
        (image_id, variant) -> stored P(pneumonia).
    flips : dict
        (image_id, variant) -> "normal → pneumonia" for the stored flipped images of this cell.
    """
    image_id = str(example.get("image_id", ""))
    images = example.get("images") or {}
    heat_paths = example.get("gradcam") or {}
    raw: dict[str, bytes] = {}
    for variant in images:
        path = resolve_inside(run_dir, str(images[variant]))
        data = path.read_bytes() if path is not None else b""
        if data.startswith(PNG_MAGIC):
            raw[variant] = data
    pixels = {v: _gray(d) for v, d in raw.items()}
    hr = pixels.get(HR)
    same_size = {v: p for v, p in pixels.items() if hr is not None and p.shape == hr.shape and v != HR}
    comparison = Comparison(
        image_id=image_id,
        label=fmt_label(example.get("label")),
        flipped_by=[v for v in panel_order(list(images), variants) if (image_id, v) in flips],
    )
    if hr is not None:
        top, left, side = _crop_window(hr, [p for v, p in same_size.items() if not is_lr(v)])
        height, width = hr.shape
        comparison.crop = {
            "left": 100 * left / width,
            "top": 100 * top / height,
            "width": 100 * side / width,
            "height": 100 * side / height,
        }
        diffs = {v: np.abs(p - hr) for v, p in same_size.items()}
        top_value = max((float(np.percentile(d, DIFF_PERCENTILE)) for d in diffs.values()), default=0.0)
        top_value = max(top_value, 1.0 / 255.0)
        comparison.diff_max = fmt_num(top_value, 3)
    for variant in panel_order(list(images), variants):
        prob = probs.get((image_id, str(variant)))
        panel = Panel(
            variant=variant,
            path=str(images[variant]),
            prob=None if is_missing(prob) else fmt_num(prob, 3),
            flip=flips.get((image_id, variant)),
            pixelated=variant in (LR, LR_NEAREST),
        )
        comparison.panels.append(panel)
        if variant not in raw:
            continue
        panel.uri = thumbnail_uri(raw[variant])
        panel.href = str(images[variant])
        gray = pixels[variant]
        if hr is not None:
            # The same window on every image, scaled for images of another size (LR).
            sy, sx = gray.shape[0] / hr.shape[0], gray.shape[1] / hr.shape[1]
            crop = gray[int(top * sy) : int((top + side) * sy), int(left * sx) : int((left + side) * sx)]
            if crop.size:
                panel.crop_uri = webp_uri(
                    Image.fromarray((crop * 255).round().astype(np.uint8)), quality=CROP_QUALITY
                )
            if variant in diffs:
                panel.diff_uri = _difference_map(diffs[variant], top_value)
        heat_path = resolve_inside(run_dir, str(heat_paths[variant])) if variant in heat_paths else None
        if heat_path is not None and heat_path.read_bytes().startswith(PNG_MAGIC):
            overlay = Image.fromarray(_overlay(gray, _gray(heat_path.read_bytes())))
            panel.gradcam_uri = webp_uri(overlay, MAP_SIDE, MAP_QUALITY)
    return comparison


def most_flipped(flipped: Sequence[dict[str, Any]], limit: int = 5) -> list[tuple[str, int]]:
    """(image_id, number of variants whose class flipped on it) for the most often flipped images
    (``benchmark.stats.flips.most_flipped``: the order of the run's example strips too)."""
    counts: dict[str, int] = {}
    for record in flipped:
        image_id = str(record.get("image_id"))
        counts[image_id] = counts.get(image_id, 0) + 1
    return ranked_flips(counts)[:limit]
