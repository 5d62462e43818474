"""The one image preprocessing shared by training, prediction and Grad-CAM.

Images arrive as NumPy float32 grayscale in [0, 1], shape (N, H, W); the CNN wants
(N, h, w, C) at its own input size. Keeping this in one function guarantees that a classifier
sees at prediction time exactly the resampling it was trained with.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def validate_images(images: object, name: str = "images") -> np.ndarray:
    """Check a batch of grayscale images and return it unchanged.

    Parameters
    ----------
    images
        Expected: NumPy float32 array, shape (N, H, W), finite values in [0, 1].
    name
        What to call the array in error messages.

    Raises
    ------
    ValueError
        Naming what was expected, what was given and how to fix it.
    """
    if not isinstance(images, np.ndarray):
        raise ValueError(f"Expected {name} as a NumPy array, got {type(images).__name__}.")
    if images.ndim != 3:
        hint = " For one image use image[None]." if images.ndim == 2 else ""
        raise ValueError(f"Expected {name} of shape (N, H, W) (grayscale), got shape {images.shape}.{hint}")
    if images.dtype != np.float32:
        raise ValueError(
            f"Expected {name} of dtype float32, got {images.dtype}. Convert with "
            ".astype(np.float32) after scaling to [0, 1]."
        )
    if images.size and not np.isfinite(images).all():
        raise ValueError(f"Expected finite values in {name}, got NaN or infinity.")
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise ValueError(
            f"Expected {name} in [0, 1], got min {float(images.min()):.4g}, max {float(images.max()):.4g}. "
            "Divide 8-bit images by 255 (16-bit by 65535)."
        )
    return images


#: PIL filter of each resizing method.
RESAMPLING = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR}
#: The one rule by which every image (training file, HR, LR, SR) reaches the classifier's input size:
#: nearest neighbour, what the reference's loader (Keras ``flow_from_directory`` / ``load_img``) did.
INPUT_RESAMPLING = "nearest"


def resize_images(images: np.ndarray, size: tuple[int, int], method: str = INPUT_RESAMPLING) -> np.ndarray:
    """Resize grayscale images with PIL, as Keras' ``load_img(target_size=..., interpolation=method)``.

    Parameters
    ----------
    images
        float32, shape (N, H, W), values in [0, 1].
    size
        Target (height, width).
    method
        ``"nearest"`` (the classifier's input rule) or ``"bilinear"`` (PIL's, antialiased when
        shrinking).

    Returns
    -------
    np.ndarray
        float32, shape (N, height, width), values in [0, 1].
    """
    if method not in RESAMPLING:
        raise ValueError(f"Expected method to be one of {sorted(RESAMPLING)}, got {method!r}.")
    if images.shape[1:] == tuple(size):
        return images
    out = np.empty((len(images), *size), dtype=np.float32)
    for index, image in enumerate(images):
        resized = Image.fromarray(image, mode="F").resize(size[::-1], RESAMPLING[method])
        out[index] = np.asarray(resized)
    # Bilinear weights can overshoot by a rounding error; keep the [0, 1] contract exact.
    return np.clip(out, 0.0, 1.0, out=out)


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Add the channel axis, replicating gray into ``channels`` (1 or 3) identical channels.

    (N, h, w) float32 -> (N, h, w, channels) float32.
    """
    return np.repeat(images[..., None], channels, axis=-1)


def to_model_input(images: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """Preprocess validated grayscale images for a CNN: resize (``INPUT_RESAMPLING``), replicate channels.

    (N, H, W) float32 in [0, 1] -> (N, size[0], size[1], channels) float32 in [0, 1].
    """
    return to_channels(resize_images(images, size), channels)
