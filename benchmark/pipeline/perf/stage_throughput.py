"""Throughput of the per-image stages: each degradation scenario, each IQ metric, classifier prediction."""

from __future__ import annotations

import numpy as np

from benchmark.pipeline.perf.measure import measure
from benchmark.pipeline.perf.peers import sample_pairs
from benchmark.pipeline.perf.results import Results


def measure_degradations(results: Results, images: np.ndarray, repeats: int) -> None:
    """Every registered scenario at x4 with its default parameters, one generator per image."""
    from benchmark.degradations import DEGRADATIONS, degrade

    for name in DEGRADATIONS.names():
        figure = measure(
            lambda name=name: [
                degrade(name, image, 4, np.random.default_rng(i)) for i, image in enumerate(images)
            ],
            len(images),
            repeats=repeats,
        )
        results.add("degradation", f"{name} x4 ({images.shape[-1]} px)", figure)


def measure_metrics(results: Results, references: np.ndarray, images: np.ndarray, repeats: int) -> None:
    """Every registered IQ metric through ``measure_quality`` (the path the pipeline takes per image)."""
    from benchmark.metrics import IMAGE_QUALITY_METRICS, NETWORK_METRICS, measure_quality

    for name in sorted(set(IMAGE_QUALITY_METRICS.names()) - NETWORK_METRICS):  # LPIPS needs user weights
        figure = measure(
            lambda name=name: [
                measure_quality(r, i, [name]) for r, i in zip(references, images, strict=True)
            ],
            len(images),
            repeats=repeats,
        )
        results.add("metric", f"{name} ({images.shape[-1]} px, per image)", figure)


def measure_classifier(results: Results, images: np.ndarray, repeats: int, input_size: int) -> None:
    """Batched prediction of the untrained reference CNN (speed does not depend on the weights)."""
    from classifiers.inference import PneumoniaClassifier
    from classifiers.model import build_reference_cnn

    classifier = PneumoniaClassifier(build_reference_cnn(input_size=input_size))
    for batch_size in (1, 32):
        figure = measure(
            lambda b=batch_size: classifier.predict(images, batch_size=b), len(images), repeats=repeats
        )
        results.add(
            "classifier",
            f"predict {images.shape[-1]} px -> {input_size}, batch {batch_size}",
            figure,
            batch_size=batch_size,
        )


def run(results: Results, *, quick: bool, repeats: int) -> None:
    count, side = (4, 128) if quick else (16, 512)
    references, images = sample_pairs(count, side)
    measure_degradations(results, references, repeats)
    measure_metrics(results, references, images, repeats)
    measure_classifier(results, np.concatenate([images] * (2 if quick else 4)), repeats, 96 if quick else 300)
