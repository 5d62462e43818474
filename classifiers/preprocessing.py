"""The one image preprocessing shared by training, prediction and Grad-CAM.

Images arrive as NumPy float32 grayscale in [0, 1], shape (N, H, W); the CNN wants
(N, h, w, C) at its own input size. Keeping this in one function guarantees that a classifier
sees at prediction time exactly the resampling it was trained with.
"""

from __future__ import annotations

import numpy as np

from classifiers.runtime import tf

# Resizing runs in chunks so that a large data set never exists as one float tensor twice over.
_CHUNK = 64


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


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize grayscale images with antialiased bilinear interpolation.

    Parameters
    ----------
    images
        float32, shape (N, H, W), values in [0, 1].
    size
        Target (height, width).

    Returns
    -------
    np.ndarray
        float32, shape (N, height, width), values in [0, 1].
    """
    if images.shape[1:] == tuple(size):
        return images
    out = np.empty((len(images), *size), dtype=np.float32)
    for start in range(0, len(images), _CHUNK):
        chunk = tf.convert_to_tensor(images[start : start + _CHUNK, :, :, None])
        resized = tf.image.resize(chunk, size, method="bilinear", antialias=True)
        out[start : start + _CHUNK] = resized.numpy()[..., 0]
    # Antialiasing kernels can overshoot by a rounding error; keep the [0, 1] contract exact.
    return np.clip(out, 0.0, 1.0, out=out)


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Add the channel axis, replicating gray into ``channels`` (1 or 3) identical channels.

    (N, h, w) float32 -> (N, h, w, channels) float32.
    """
    return np.repeat(images[..., None], channels, axis=-1)


def to_model_input(images: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """Preprocess validated grayscale images for a CNN: resize, then replicate channels.

    (N, H, W) float32 in [0, 1] -> (N, size[0], size[1], channels) float32 in [0, 1].
    """
    return to_channels(resize_images(images, size), channels)
