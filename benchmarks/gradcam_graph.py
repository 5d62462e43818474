"""Print what Grad-CAM costs eagerly (``classifiers.gradcam.grad_cam_maps``, as shipped) and under
``tf.function``, and whether the maps and the probabilities of that pass equal the shipped ones.

    python benchmarks/gradcam_graph.py [--images 64] [--weights classifiers/weights/reference-cnn.keras]

Random 224-px images through the classifier's own preprocessing (nearest to its input size). A
measurement for a proposed change (docs/performance.md), not part of the pipeline.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from classifiers import gradcam, load_classifier
from classifiers.runtime import keras


def graph_grad_cam(classifier, images: np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps and P(pneumonia) of one traced forward and backward pass per batch."""
    import tensorflow as tf

    probe = gradcam._probe(classifier.model, None)

    @tf.function(reduce_retracing=True)
    def features_and_gradient(x):
        with tf.GradientTape() as tape:
            features, score = probe(x, training=False)
            total = tf.reduce_sum(score)
        return features, tape.gradient(total, features), score

    maps, scores = [], []
    for x in classifier.batches(images, batch_size):
        features, gradient, score = features_and_gradient(tf.convert_to_tensor(x))
        weights = keras.ops.mean(gradient, axis=(1, 2), keepdims=True)
        maps.append(keras.ops.convert_to_numpy(keras.ops.relu(keras.ops.sum(weights * features, axis=-1))))
        scores.append(score.numpy().ravel())
    cams = np.concatenate(maps).astype(np.float32)
    peaks = cams.max(axis=(1, 2), keepdims=True)
    return np.divide(cams, peaks, out=np.zeros_like(cams), where=peaks > 0), np.concatenate(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--weights", default="classifiers/weights/reference-cnn.keras")
    args = parser.parse_args()
    classifier = load_classifier(args.weights)
    images = np.random.default_rng(0).random((args.images, 224, 224), dtype=np.float32)
    gradcam.grad_cam_maps(classifier, images[:32])  # warm-up of both paths
    graph_grad_cam(classifier, images[:32])
    timed = {}
    for name, run in [
        ("eager Grad-CAM", lambda: gradcam.grad_cam_maps(classifier, images)),
        ("tf.function Grad-CAM", lambda: graph_grad_cam(classifier, images)),
        ("predict", lambda: classifier.predict(images, batch_size=32)),
    ]:
        start = time.perf_counter()
        timed[name] = run()
        print(f"{name}: {time.perf_counter() - start:.2f} s for {args.images} images")
    graph_maps, graph_scores = timed["tf.function Grad-CAM"]
    print(f"max |map difference|: {float(np.abs(graph_maps - timed['eager Grad-CAM']).max())}")
    difference = float(np.abs(graph_scores - timed["predict"].ravel()).max())
    print(f"max |probability difference| to predict: {difference}")


if __name__ == "__main__":
    main()
