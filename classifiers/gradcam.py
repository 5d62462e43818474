"""Grad-CAM heatmaps: where in the image the CNN's pneumonia score comes from."""

from __future__ import annotations

import numpy as np

from classifiers.inference import PneumoniaClassifier
from classifiers.preprocessing import resize_images
from classifiers.runtime import keras, tf


def _last_conv_name(model: keras.Model) -> str:
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise ValueError(f"Expected a model with a Conv2D layer for Grad-CAM, got none in {model.name!r}.")
    return convs[-1]


def grad_cam(classifier: PneumoniaClassifier, image: np.ndarray, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017) of P(pneumonia) for one image.

    Hand-written because neither Keras nor the suite's other libraries provide it: the feature
    maps of ``layer_name`` are weighted by the spatial mean of the gradient of the sigmoid output,
    summed, passed through ReLU, resized back to the image and divided by their maximum.

    Parameters
    ----------
    classifier
        Classifier whose model is a Functional/Sequential Keras model.
    image
        float32 (H, W) grayscale in [0, 1].
    layer_name
        Convolutional layer to explain; default: the last Conv2D.

    Returns
    -------
    np.ndarray
        float32 (H, W) in [0, 1]; all zeros when no location raises the score.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 2:
        raise ValueError(f"Expected one image of shape (H, W), got {getattr(image, 'shape', type(image))}.")
    model = classifier.model
    name = layer_name if layer_name is not None else _last_conv_name(model)
    names = [layer.name for layer in model.layers]
    if name not in names:
        raise ValueError(f"Expected layer_name to be one of {names}, got {name!r}.")
    layer = model.get_layer(name)
    if len(layer.output.shape) != 4:
        raise ValueError(
            f"Expected a layer with (N, h, w, C) feature maps, got {name!r} with output shape "
            f"{layer.output.shape}. Pick a convolutional layer."
        )
    probe = keras.Model(model.inputs, [layer.output, model.outputs[0]])
    x = tf.convert_to_tensor(classifier.prepare(image[None]))
    with tf.GradientTape() as tape:
        features, score = probe(x, training=False)
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one weight per channel
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy().astype(np.float32)
    peak = float(cam.max())
    if peak <= 0:
        return np.zeros(image.shape, dtype=np.float32)
    heat = resize_images(cam / peak, image.shape)[0]
    return heat / heat.max()  # interpolation can lower the peak; the map's maximum stays exactly 1
