"""Grad-CAM heatmaps (where the CNN's pneumonia score comes from) and how similar two of them are."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from classifiers.inference import PneumoniaClassifier
from classifiers.preprocessing import resize_images
from classifiers.runtime import backend_name, keras

#: Share of map cells counted as "the evidence" by ``map_similarity``'s IoU.
TOP_FRACTION = 0.1


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


def _features_and_gradient(probe: keras.Model, x: np.ndarray) -> tuple:
    """Feature maps of the explained layer and the gradient of the summed scores with respect to them.

    The one backend-specific step of Grad-CAM: each backend records gradients its own way.
    """
    if backend_name() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            features, score = probe(x, training=False)
            total = tf.reduce_sum(score)
        return features, tape.gradient(total, features)
    import torch

    with torch.enable_grad():
        features, score = probe(x, training=False)
        (gradient,) = torch.autograd.grad(score.sum(), features)
    return features.detach(), gradient


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
    probe = _probe(classifier.model, layer_name)
    maps = []
    for x in classifier.batches(images, batch_size):
        features, grads = _features_and_gradient(probe, x)
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


def _top_cells(flat: np.ndarray, k: int) -> list[set[int]]:
    """Per row, the ``k`` highest cells (ties broken by cell order) that are above zero."""
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    return [set(cells[row[cells] > 0].tolist()) for cells, row in zip(order, flat, strict=True)]


def map_similarity(maps: np.ndarray, reference: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image similarity of Grad-CAM maps to reference maps of the same images ("did the evidence move").

    Parameters
    ----------
    maps, reference
        float (N, h, w) maps on the same grid, e.g. of an SR variant and of HR.

    Returns
    -------
    dict
        (N,) float64 arrays, always defined so that every image has a value:
        ``gradcam_pearson``: Pearson r over the map cells (scipy); r is undefined for a constant map,
        so it is 1 when the two maps are identical and 0 when either is constant and they differ.
        ``gradcam_iou10``: intersection over union of each map's evidence, its
        ``ceil(TOP_FRACTION * h * w)`` highest cells (ties broken by cell order) that are above zero;
        1 when neither map has any evidence.
    """
    if maps.shape != reference.shape or maps.ndim != 3:
        raise ValueError(
            f"Expected two (N, h, w) arrays of one shape, got {maps.shape} and {reference.shape}."
        )
    a = maps.reshape(len(maps), -1).astype(np.float64)
    b = reference.reshape(len(reference), -1).astype(np.float64)
    varying = (a.std(axis=1) > 0) & (b.std(axis=1) > 0)
    pearson = np.where((a == b).all(axis=1), 1.0, 0.0)
    if varying.any():
        pearson[varying] = stats.pearsonr(a[varying], b[varying], axis=1).statistic

    k = math.ceil(TOP_FRACTION * a.shape[1])
    iou = np.array(
        [
            len(x & y) / len(x | y) if x | y else 1.0
            for x, y in zip(_top_cells(a, k), _top_cells(b, k), strict=True)
        ]
    )
    return {"gradcam_pearson": pearson, "gradcam_iou10": iou}
