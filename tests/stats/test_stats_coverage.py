"""Coverage of the bootstrap intervals on simulated data with known truth.

Binormal scores: normal images N(0, 1), pneumonia images N(d, 1), so AUROC = Phi(d / sqrt(2)) and, at
threshold d / 2, accuracy = Phi(d / 2).  Over 200 simulated test sets the nominal 95% intervals must
cover the truth in 90% to 99% of them (the binomial standard error of a coverage of 0.95 over 200 sets
is 0.015; the percentile interval undercovers slightly at small n: about 0.93 with 60 images per
class, 0.94 with 100 in 600-set simulations, hence 100 here).

Image-quality means: skewed per-image values against a bound, 60 images (the mini suite's test set)
per simulated set, from distributions with a known mean.  The expanded percentile interval covers
0.93-0.95 of the 400 sets in each family (binomial standard error 0.011); plain percentile intervals
cover about as often at 60 images but only 0.84-0.88 at 10 (400-set simulations).
"""

import numpy as np
import pytest
from scipy import stats

from benchmark.metrics import classification as cls
from benchmark.stats.intervals import (
    bootstrap_mean_intervals,
    bootstrap_weights,
    percentile_interval,
    stratified_bootstrap_weights,
)

SHIFT, PER_CLASS, DATASETS, REPLICATES = 1.0, 100, 200, 400


@pytest.fixture(scope="module")
def coverage():
    rng = np.random.default_rng(2024)
    labels = np.r_[np.zeros(PER_CLASS), np.ones(PER_CLASS)].astype(int)
    truth = {"auroc": stats.norm.cdf(SHIFT / np.sqrt(2)), "accuracy": stats.norm.cdf(SHIFT / 2)}
    hits = {name: 0 for name in truth}
    for _ in range(DATASETS):
        scores = rng.normal(SHIFT * labels, 1.0)
        probs = stats.norm.cdf(scores - SHIFT / 2)  # P >= 0.5 exactly when score >= d / 2
        weights = stratified_bootstrap_weights(labels, REPLICATES, rng)
        replicates = {
            "auroc": cls.auroc(labels, probs, weights=weights),
            "accuracy": cls.accuracy(labels, probs, weights=weights),
        }
        for name, values in replicates.items():
            low, high = percentile_interval(values, confidence=0.95)
            hits[name] += low <= truth[name] <= high
    return {name: count / DATASETS for name, count in hits.items()}


@pytest.mark.parametrize("metric", ["auroc", "accuracy"])
def test_nominal_95_percent_interval_covers_the_truth_about_95_percent_of_the_time(coverage, metric):
    assert 0.90 <= coverage[metric] <= 0.99, coverage


IMAGES, BOUNDED_DATASETS = 60, 400
BOUNDED = {
    # name: (draw n values, true mean); 30 % of Grad-CAM maps identical to HR's (r = 1 exactly)
    "gradcam_pearson": (
        lambda rng, n: np.where(rng.random(n) < 0.3, 1.0, 1 - rng.beta(1, 20, n)),
        1 - 0.7 / 21,
    ),
    "ssim": (lambda rng, n: rng.beta(30, 2, n), 30 / 32),
    "mse": (lambda rng, n: rng.gamma(0.5, 0.002, n), 0.001),
}


@pytest.fixture(scope="module")
def bounded_coverage():
    rng = np.random.default_rng(2025)
    hits = {name: 0 for name in BOUNDED}
    for name, (draw, truth) in BOUNDED.items():
        for _ in range(BOUNDED_DATASETS):
            values = draw(rng, IMAGES)
            [(low, high)] = bootstrap_mean_intervals(
                values[:, None], bootstrap_weights(IMAGES, REPLICATES, rng)
            )
            hits[name] += low <= truth <= high
    return {name: count / BOUNDED_DATASETS for name, count in hits.items()}


@pytest.mark.parametrize("metric", sorted(BOUNDED))
def test_nominal_95_percent_mean_interval_of_a_bounded_metric_covers_about_95_percent(
    bounded_coverage, metric
):
    assert 0.90 <= bounded_coverage[metric] <= 0.99, bounded_coverage
