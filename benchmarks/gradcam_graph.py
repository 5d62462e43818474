"""Print what Grad-CAM costs under ``tf.function`` (``classifiers.gradcam.grad_cam_maps``, as shipped)
and eagerly (as it ran before), and whether the maps are the same and the probabilities of that pass
equal ``predict``'s.

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


def eager_grad_cam(classifier, images: np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps and P(pneumonia) with an eager ``GradientTape`` per batch (the code before)."""
    import tensorflow as tf

    probe = gradcam._probe(classifier.model, None)
    maps, scores = [], []
    for x in classifier.batches(images, batch_size):
        with tf.GradientTape() as tape:
            features, score = probe(x, training=False)
            total = tf.reduce_sum(score)
        gradient = tape.gradient(total, features)
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
    gradcam.grad_cam_maps(classifier, images[:32])  # warm-up (and the trace) of both paths
    eager_grad_cam(classifier, images[:32])
    timed = {}
    for name, run in [
        ("eager Grad-CAM", lambda: eager_grad_cam(classifier, images)),
        ("tf.function Grad-CAM (shipped)", lambda: gradcam.grad_cam_maps(classifier, images)),
        ("predict", lambda: classifier.predict(images, batch_size=32)),
    ]:
        start = time.perf_counter()
        timed[name] = run()
        print(f"{name}: {time.perf_counter() - start:.2f} s for {args.images} images")
    eager_maps, eager_scores = timed["eager Grad-CAM"]
    shipped = timed["tf.function Grad-CAM (shipped)"]
    print(f"max |map difference|: {float(np.abs(shipped - eager_maps).max())}")
    difference = float(np.abs(eager_scores - timed["predict"].ravel()).max())
    print(f"max |probability difference| to predict: {difference}")


if __name__ == "__main__":
    main()
