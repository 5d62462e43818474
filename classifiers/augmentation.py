"""The reference's training augmentation as Keras 3 preprocessing layers, applied statelessly."""

from __future__ import annotations

import hashlib
import math

import numpy as np

from classifiers.runtime import keras

#: ``ImageDataGenerator(shear_range=0.2)`` draws a shear ANGLE in degrees from [-0.2, 0.2]; the shear
#: factor of ``keras.layers.RandomShear`` is the tangent of that angle.
SHEAR_DEGREES = 0.2
#: ``ImageDataGenerator(zoom_range=0.2)``: width and height scaled independently by [0.8, 1.2].
ZOOM = 0.2


def augmenter(seed: int) -> keras.Sequential:
    """The reference's augmentation as Keras 3 preprocessing layers (active only when training).

    ``ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)`` becomes
    RandomShear (x shear by tan(+-0.2 degrees): Keras 2 read ``shear_range`` in degrees), RandomZoom
    (height and width independently +-20 %) and RandomFlip("horizontal"), with the generator's
    bilinear interpolation and ``fill_mode="nearest"``. Differences: two resamplings instead of one
    combined affine, and the shear pivots on the image corner, not its centre (under 1 pixel).
    Seeded from ``seed`` when called as a layer; training uses ``augment_batch`` instead.
    """
    fill = {"fill_mode": "nearest", "interpolation": "bilinear"}
    return keras.Sequential(
        [
            keras.layers.RandomShear(x_factor=math.tan(math.radians(SHEAR_DEGREES)), seed=seed, **fill),
            keras.layers.RandomZoom((-ZOOM, ZOOM), (-ZOOM, ZOOM), seed=seed + 1, **fill),
            keras.layers.RandomFlip("horizontal", seed=seed + 2),
        ],
        name="augment",
    )


def batch_seed(seed: int, epoch: int, index: int) -> int:
    """A 31-bit seed for batch ``index`` of epoch ``epoch`` of a training seeded with ``seed``."""
    digest = hashlib.sha256(f"augment:{seed}:{epoch}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") >> 1


def augment_batch(augment: keras.Sequential, images: np.ndarray, seed: int) -> np.ndarray:
    """Apply ``augment``'s random layers to a batch, drawing from ``seed`` alone.

    Unlike ``augment(images, training=True)``, which advances the layers' seed generators, the result
    depends only on ``images`` and ``seed``: a batch comes out the same whichever thread makes it,
    how often, and whether the training was resumed.

    Parameters
    ----------
    augment
        Sequential of Keras image preprocessing layers, e.g. ``augmenter(seed)``.
    images
        float32 (B, h, w, C) in [0, 1].
    seed
        Seed of this batch's transformations, e.g. ``batch_seed(seed, epoch, index)``.

    Returns
    -------
    np.ndarray
        float32 (B, h, w, C), clipped to [0, 1].
    """
    x = keras.ops.convert_to_tensor(images)
    for offset, layer in enumerate(augment.layers):
        # A fresh generator per layer and batch: each draw inside a layer still differs.
        generator = keras.random.SeedGenerator(seed + offset)
        transformation = layer.get_random_transformation(x, training=True, seed=generator)
        x = layer.transform_images(x, transformation, training=True)
    return np.clip(keras.ops.convert_to_numpy(x), 0.0, 1.0)
