"""Training batches: random HR crops with flips, LR made by a caller-supplied degradation, and
optional USM sharpening of the targets (Real-ESRGAN)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

Degrade = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def usm_sharp(img: np.ndarray, weight: float = 0.5, radius: int = 50, threshold: float = 10) -> np.ndarray:
    """Unsharp-mask sharpening as in BasicSR's ``USMSharp`` (Real-ESRGAN's GT sharpening).

    ``K = clip(I + weight * (I - B), 0, 1)``, ``M = [|I - B| * 255 > threshold]``,
    ``out = G(M) * K + (1 - G(M)) * I`` where ``B = G(I)`` and G is the Gaussian blur BasicSR takes
    from OpenCV: kernel size ``radius`` (made odd: 51), sigma 0, i.e. OpenCV's rule
    ``sigma = 0.3 * ((ksize - 1) / 2 - 1) + 0.8`` (= 8.0), with reflect-101 borders. Here the blur is
    ``scipy.ndimage.gaussian_filter`` with the same sigma, kernel radius and borders (``"mirror"``),
    so OpenCV is not needed.

    Parameters
    ----------
    img
        (H, W) float32 image in [0, 1].

    Returns
    -------
    (H, W) float32 in [0, 1].
    """
    if radius % 2 == 0:
        radius += 1
    half = (radius - 1) // 2
    sigma = 0.3 * (half - 1) + 0.8
    img = np.asarray(img, dtype=np.float32)

    def blur(x: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(x, sigma, mode="mirror", radius=half)

    residual = img - blur(img)
    soft_mask = blur((np.abs(residual) * 255 > threshold).astype(np.float32))
    sharp = np.clip(img + weight * residual, 0, 1)
    return (soft_mask * sharp + (1 - soft_mask) * img).astype(np.float32)


def sample_batch(
    hr_images: np.ndarray,
    *,
    patch: int,
    batch_size: int,
    scale: int,
    degrade: Degrade,
    rng: np.random.Generator,
    usm: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one training batch.

    Each item: a random image, a random ``patch`` x ``patch`` crop, random horizontal and vertical
    flips, then ``degrade(crop, rng)`` for the LR (clipped to [0, 1]).

    Parameters
    ----------
    hr_images
        (N, H, W) float32 in [0, 1], H and W >= ``patch``; may be a ``np.memmap``.

    Returns
    -------
    lr : (B, patch // scale, patch // scale) float32
    gt : (B, patch, patch) float32, the crops (the discriminator's "real")
    target : (B, patch, patch) float32, ``gt`` USM-sharpened when ``usm`` else ``gt`` itself
    """
    n, height, width = hr_images.shape
    lr_side = patch // scale
    lrs, gts = [], []
    for _ in range(batch_size):
        index = rng.integers(n)
        top, left = rng.integers(height - patch + 1), rng.integers(width - patch + 1)
        crop = hr_images[index, top : top + patch, left : left + patch]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.5:
            crop = crop[::-1, :]
        crop = np.ascontiguousarray(crop, dtype=np.float32)
        # Checked per crop rather than up front so a large np.memmap is never read in full.
        if crop.min() < 0 or crop.max() > 1:
            raise ValueError(
                f"Expected hr_images in [0, 1], got values in [{crop.min()}, {crop.max()}] in image {index}. "
                "Divide 8-bit images by 255."
            )
        lr = np.asarray(degrade(crop, rng), dtype=np.float32)
        if lr.shape != (lr_side, lr_side):
            raise ValueError(
                f"Expected degrade(hr_crop, rng) to return a ({lr_side}, {lr_side}) image for a "
                f"({patch}, {patch}) crop at scale {scale}, got shape {lr.shape}. Pass a degradation "
                f"that downscales by exactly {scale}."
            )
        lrs.append(np.clip(lr, 0, 1))
        gts.append(crop)
    gt = np.stack(gts)
    target = np.stack([usm_sharp(g) for g in gts]) if usm else gt
    return np.stack(lrs), gt, target
