"""The debiased calibration error (Kumar, Liang & Ma 2019) against a brute-force transcription of their
``get_equal_bins`` / ``unbiased_l2_ce`` and against simulation."""

import bisect

import numpy as np
import pytest

from benchmark.metrics import classification as cls


def kumar_debiased_l2(labels, probs, n_bins):
    """Kumar et al.'s calibration library, written out with Python lists, bisect and loops."""
    ordered = sorted(float(p) for p in probs)
    n_bins = min(n_bins, len(ordered))
    parts = [list(part) for part in np.array_split(ordered, n_bins)]
    edges = sorted({(parts[i][-1] + parts[i + 1][0]) / 2 for i in range(n_bins - 1)} | {1.0})
    bins = [[] for _ in edges]
    for p, y in zip(probs, labels, strict=True):
        bins[bisect.bisect_left(edges, float(p))].append((float(p), float(y)))
    total = 0.0
    for members in bins:
        if len(members) < 2:
            continue
        gap = sum(p for p, _ in members) / len(members) - sum(y for _, y in members) / len(members)
        mean_label = sum(y for _, y in members) / len(members)
        total += len(members) / len(probs) * (gap**2 - mean_label * (1 - mean_label) / (len(members) - 1))
    return max(total, 0.0) ** 0.5


@pytest.mark.parametrize("n", [7, 40, 101])
def test_debiased_ece_equals_the_brute_force_transcription(n):
    rng = np.random.default_rng(n)
    probs = np.round(rng.uniform(0, 1, n), 2)  # rounded: tied scores must share a bin
    labels = (rng.uniform(0, 1, n) < probs**4).astype(int)  # miscalibrated
    expected = kumar_debiased_l2(labels, probs, min(10, n // 2))
    assert expected > 0
    assert cls.ece_debiased(labels, probs) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_a_bootstrap_count_row_is_the_estimate_on_the_repeated_images_with_the_bins_held():
    rng = np.random.default_rng(3)
    probs = rng.uniform(0, 1, 60)
    labels = (rng.uniform(0, 1, 60) < probs**2).astype(int)
    counts = rng.multinomial(60, np.full(60, 1 / 60), size=3).astype(float)
    rows = cls.ece_debiased(labels, probs, weights=counts)
    edges = cls.equal_mass_edges(probs, 10)
    for row, value in zip(counts, rows, strict=True):
        repeated = np.repeat(np.arange(60), row.astype(int))
        bins = np.searchsorted(edges, probs[repeated])
        total = 0.0
        for b in np.unique(bins):
            p, y = probs[repeated][bins == b], labels[repeated][bins == b]
            if p.size >= 2:
                total += p.size / 60 * ((p.mean() - y.mean()) ** 2 - y.mean() * (1 - y.mean()) / (p.size - 1))
        assert value == pytest.approx(max(total, 0) ** 0.5, rel=1e-10, abs=1e-15)


def test_on_calibrated_data_the_debiased_estimate_is_nearer_zero_than_the_plain_ten_bin_ece():
    """y ~ Bernoulli(p) exactly: the true calibration error is 0.  400 sets of 200 images."""
    rng = np.random.default_rng(0)
    plain, debiased = [], []
    for _ in range(400):
        probs = rng.uniform(0, 1, 200)
        labels = (rng.uniform(0, 1, 200) < probs).astype(int)
        plain.append(cls.ece(labels, probs, n_bins=10))
        debiased.append(cls.ece_debiased(labels, probs, n_bins=10))
    plain, debiased = np.mean(plain), np.mean(debiased)
    assert plain > 0.05  # about sqrt(2 / (pi * 20)) * 0.4 per bin: the plug-in estimate's bias
    assert debiased < 0.7 * plain


def test_the_debiased_estimate_finds_a_real_miscalibration():
    """True l2 calibration error of P(y=1 | p) = p**2 over uniform p: sqrt(E[(p - p**2)**2]) = sqrt(1/30)."""
    rng = np.random.default_rng(1)
    values = []
    for _ in range(100):
        probs = rng.uniform(0, 1, 2000)
        labels = (rng.uniform(0, 1, 2000) < probs**2).astype(int)
        values.append(cls.ece_debiased(labels, probs, n_bins=10))
    binned_truth = np.sqrt(
        np.mean([((p := np.linspace(b / 10, (b + 1) / 10, 1001)) - p**2).mean() ** 2 for b in range(10)])
    )
    assert np.mean(values) == pytest.approx(binned_truth, rel=0.05)
    assert binned_truth < np.sqrt(1 / 30)  # binning averages within bins: below the unbinned error
