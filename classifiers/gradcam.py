"""Grad-CAM heatmaps of a Keras classifier (where the CNN's pneumonia score comes from)."""

from __future__ import annotations

import weakref

import numpy as np

from classifiers.inference import PneumoniaClassifier
from classifiers.preprocessing import resize_images
from classifiers.runtime import backend_name, keras


def _last_conv_name(model: keras.Model) -> str:
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise ValueError(f"Expected a model with a Conv2D layer for Grad-CAM, got none in {model.name!r}.")
    return convs[-1]


def _probe(model: keras.Model, layer_name: str | None) -> keras.Model:
    """Model from the input to (feature maps of the explained layer, P(pneumonia))."""
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
    return keras.Model(model.inputs[0], [layer.output, model.outputs[0]])


#: One traced TensorFlow step per (model, layer), kept while the model lives: tracing costs about a
#: second, and the pipeline asks for maps 32 images at a time.
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _gradient_step(model: keras.Model, layer_name: str | None):
    """``x -> (feature maps of the explained layer, gradient of the summed scores with respect to them)``.

    The one backend-specific step of Grad-CAM: each backend records gradients its own way. On
    TensorFlow it runs under ``tf.function`` (about 6 times faster than eager on the reference CNN, the
    same maps to the bit: ``benchmarks/gradcam_graph.py``).
    """
    if backend_name() == "tensorflow":
        steps = _TRACED.setdefault(model, {})
        if layer_name not in steps:
            import tensorflow as tf

            probe = _probe(model, layer_name)

            @tf.function(reduce_retracing=True)
            def traced(x):
                with tf.GradientTape() as tape:
                    features, score = probe(x, training=False)
                    total = tf.reduce_sum(score)
                return features, tape.gradient(total, features)

            steps[layer_name] = lambda x: traced(tf.convert_to_tensor(x))
        return steps[layer_name]
    import torch

    probe = _probe(model, layer_name)

    def step(x):
        with torch.enable_grad():
            features, score = probe(x, training=False)
            (gradient,) = torch.autograd.grad(score.sum(), features)
        return features.detach(), gradient

    return step


def grad_cam_maps(
    classifier: PneumoniaClassifier, images: np.ndarray, layer_name: str | None = None, batch_size: int = 32
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017) of P(pneumonia) for a batch of images, on the layer's grid.

    Hand-written because neither Keras nor the suite's other libraries provide it: the feature
    maps of ``layer_name`` are weighted by the spatial mean of the gradient of the sigmoid output,
    summed over channels, passed through ReLU and divided by their maximum. One forward pass per
    batch; the gradient only runs back from the output to the explained layer. Images share no
    layer across the batch (no batch normalisation at inference), so the gradient of the summed
    scores gives every image its own gradient.

    Parameters
    ----------
    classifier
        Classifier whose model is a Functional/Sequential Keras model.
    images
        float32 (N, H, W) grayscale in [0, 1]; preprocessed by ``classifier.prepare``.
    layer_name
        Convolutional layer to explain; default: the last Conv2D (14 x 14 cells at 300 px input).
    batch_size
        Images per forward pass.

    Returns
    -------
    np.ndarray
        float32 (N, h, w) in [0, 1] on the layer's grid; all zeros where no location raises the score.
    """
    step = _gradient_step(classifier.model, layer_name)
    maps = []
    for x in classifier.batches(images, batch_size):
        features, grads = step(x)
        weights = keras.ops.mean(grads, axis=(1, 2), keepdims=True)  # one weight per channel and image
        cam = keras.ops.relu(keras.ops.sum(weights * features, axis=-1))
        maps.append(keras.ops.convert_to_numpy(cam))
    if not maps:
        return np.empty((0, 0, 0), dtype=np.float32)
    cams = np.concatenate(maps).astype(np.float32)
    peaks = cams.max(axis=(1, 2), keepdims=True)
    return np.divide(cams, peaks, out=np.zeros_like(cams), where=peaks > 0)


def grad_cam(classifier: PneumoniaClassifier, image: np.ndarray, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM of one (H, W) image, resized (bilinear) back to the image for display; float32 in [0, 1]."""
    if not isinstance(image, np.ndarray) or image.ndim != 2:
        raise ValueError(f"Expected one image of shape (H, W), got {getattr(image, 'shape', type(image))}.")
    cam = grad_cam_maps(classifier, image[None], layer_name)
    if cam.max() <= 0:
        return np.zeros(image.shape, dtype=np.float32)
    heat = resize_images(cam, image.shape, method="bilinear")[0]
    return heat / heat.max()  # interpolation can lower the peak; the map's maximum stays exactly 1
