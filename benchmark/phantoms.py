"""Deterministic synthetic chest-radiograph phantoms: the demo's data, so no patient image is ever committed.

A phantom is a grayscale frontal chest radiograph in radiograph convention (bright = attenuating):
soft-tissue body, two darker lung fields, mediastinum and heart shadow, diaphragm domes, ribs and
clavicles, then film grain. The "pneumonia" class adds patchy consolidations (bright, blotchy opacities)
inside the lung fields. These are caricatures for exercising the pipeline end to end; a classifier's
accuracy on them says nothing about clinical performance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from benchmark.images import write_png
from benchmark.seeding import item_rng

LABELS = ("NORMAL", "PNEUMONIA")


def _ellipse(y: np.ndarray, x: np.ndarray, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2


def _lung_mask(y, x, side: int, rng: np.random.Generator) -> np.ndarray:
    """One lung field: an ellipse cut flat at the diaphragm, narrowing at the apex."""
    cx = 0.5 + side * rng.uniform(0.18, 0.22)
    shape = _ellipse(y, x, rng.uniform(0.47, 0.52), cx, rng.uniform(0.28, 0.32), rng.uniform(0.12, 0.15))
    return (shape <= 1.0).astype(np.float32)


def _ribs(y, x, rng: np.random.Generator) -> np.ndarray:
    """Curved bright bands: posterior ribs arching down from the spine on each side."""
    ribs = np.zeros_like(y)
    spacing = rng.uniform(0.065, 0.075)
    for k in range(9):
        top = 0.2 + k * spacing
        for side in (-1, 1):
            lateral = np.abs(x - 0.5)
            curve = top + 0.9 * (lateral - 0.05) ** 2 + 0.02 * k * lateral
            band = np.exp(-(((y - curve) / 0.009) ** 2)) * (lateral > 0.04) * (lateral < 0.36)
            ribs += band * (np.sign(x - 0.5) == side)
    return ribs


def _consolidations(y, x, lungs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Patchy opacities: smoothed random noise thresholded inside one or two lobes."""
    size = y.shape[0]
    opacity = np.zeros_like(y)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(0.35, 0.6), 0.5 + rng.choice([-1, 1]) * rng.uniform(0.12, 0.25)
        region = np.exp(-_ellipse(y, x, cy, cx, rng.uniform(0.07, 0.14), rng.uniform(0.05, 0.1)))
        texture = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma=size / 50)
        patches = np.clip(texture / texture.std() + 0.8, 0, None)
        opacity += region * patches * rng.uniform(0.3, 0.45)
    return ndimage.gaussian_filter(opacity * lungs, sigma=size / 200)


def make_phantom(label: str, index: int, *, size: int = 512, seed: int = 0) -> np.ndarray:
    """One synthetic chest radiograph.

    Parameters
    ----------
    label : "NORMAL" or "PNEUMONIA"
    index : which phantom of that class; (label, index, seed) fixes the image bit for bit.
    size : side length in pixels.

    Returns
    -------
    (size, size) float32 in [0, 1].
    """
    if label not in LABELS:
        raise ValueError(f"Expected label in {LABELS}, got {label!r}.")
    rng = item_rng(seed, "phantom", label, index)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    x = x + rng.uniform(-0.02, 0.02)

    body = (_ellipse(y, x, 0.6, 0.5, 0.62, rng.uniform(0.4, 0.45)) <= 1.0).astype(np.float32)
    image = 0.08 + 0.5 * ndimage.gaussian_filter(body, sigma=size / 40)
    diaphragm_height = rng.uniform(0.7, 0.75)
    domes = y > diaphragm_height + 1.5 * (np.abs(x - 0.5) - 0.2) ** 2
    domes = ndimage.gaussian_filter(domes.astype(np.float32), sigma=size / 150)
    lungs = np.maximum(_lung_mask(y, x, -1, rng), _lung_mask(y, x, 1, rng)) * (1 - domes)
    lungs = ndimage.gaussian_filter(lungs, sigma=size / 120)
    image -= 0.32 * lungs
    image += 0.12 * domes * body
    mediastinum = np.exp(-(((x - 0.5) / rng.uniform(0.04, 0.06)) ** 4)) * (y > 0.12)
    heart = np.exp(-(_ellipse(y, x, 0.6, 0.55, 0.13, rng.uniform(0.12, 0.16)) ** 2))
    image += 0.22 * np.maximum(mediastinum, heart)
    image += rng.uniform(0.1, 0.16) * ndimage.gaussian_filter(_ribs(y, x, rng), sigma=0.8) * body
    clavicles = np.exp(-(((y - 0.17 - 0.3 * (x - 0.5) ** 2) / 0.012) ** 2)) * (np.abs(x - 0.5) < 0.3)
    image += 0.15 * clavicles
    if label == "PNEUMONIA":
        image += _consolidations(y, x, lungs, rng)
    image += ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma=0.7) * 0.012
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def write_phantom_set(
    directory: Path, *, per_class: dict[str, int], size: int = 512, seed: int = 0
) -> list[tuple[str, str, str]]:
    """Write phantoms as 8-bit PNGs in Kaggle layout ``{split}/{LABEL}/phantom-{i:04d}.png``.

    ``per_class`` maps split -> images per class. Returns (relative path, label, split) rows.
    Indices differ across splits, so no phantom appears in two splits.
    """
    rows = []
    offset = 0
    for split, count in per_class.items():
        for label in LABELS:
            for index in range(offset, offset + count):
                relative = f"{split}/{label}/phantom-{index:04d}.png"
                write_png(directory / relative, make_phantom(label, index, size=size, seed=seed))
                rows.append((relative, label, split))
        offset += count
    return rows
