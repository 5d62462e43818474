"""Binary classification metrics of P(pneumonia) against labels (1 = pneumonia, 0 = normal).

Every function takes ``labels`` (0/1) and ``probs`` (P(pneumonia) in [0, 1]), both (n,), and optional
non-negative per-image ``weights``:

- ``weights=None`` or (n,): returns a float (weights as scikit-learn's ``sample_weight``).
- ``weights`` (B, n): returns a (B,) array, one value per row.  Row b holding how often each image was
  drawn in bootstrap replicate b evaluates all B replicates at once with matrix products, which is why
  these metrics are written in NumPy rather than calling scikit-learn per replicate; the tests check
  every one against scikit-learn (with and without ``sample_weight``).

A metric undefined on the (weighted) sample (AUROC with one class, sensitivity without positives)
raises ``ValueError`` for a float result and gives NaN in the rows of a (B,) result, so a caller can
drop degenerate bootstrap replicates.
"""

from __future__ import annotations

from math import inf

import numpy as np

from benchmark.metrics.spec import classification_metric, defined_in

# scikit-learn's log_loss clips probabilities to the float64 machine epsilon; so do we.
_LOG_LOSS_EPS = np.finfo(np.float64).eps


def _check(labels, probs, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and return labels (n,), probs (n,) and weights (n,) or (B, n) as float64."""
    labels = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    if labels.ndim != 1 or labels.shape != probs.shape:
        raise ValueError(
            f"Expected labels and probs as 1-D arrays of the same length, got labels {labels.shape} and "
            f"probs {probs.shape}. Pass one label and one probability per image."
        )
    if labels.size == 0:
        raise ValueError("Expected at least one image, got 0 labels. Check the predictions table.")
    if labels.dtype.kind not in "biuf" or not np.all((labels == 0) | (labels == 1)):
        raise ValueError(
            f"Expected labels 0 (normal) or 1 (pneumonia), got values {np.unique(labels)[:5].tolist()}. "
            "Encode the labels as 0/1."
        )
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or probs.max() > 1:
        raise ValueError(
            f"Expected probabilities in [0, 1], got min {np.nanmin(probs):.6g} and max "
            f"{np.nanmax(probs):.6g} (NaN present: {bool(np.isnan(probs).any())}). "
            "Pass P(pneumonia), not logits."
        )
    weights = np.ones(labels.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.ndim not in (1, 2) or weights.shape[-1] != labels.size:
        raise ValueError(
            f"Expected weights of shape ({labels.size},) or (B, {labels.size}), got {weights.shape}. "
            "Pass one weight per image (per bootstrap row)."
        )
    if not np.all(np.isfinite(weights)) or weights.min() < 0:
        raise ValueError(f"Expected finite non-negative weights, got min {np.nanmin(weights):.6g}.")
    return labels.astype(np.float64), probs, weights


def _ratio(numerator, denominator, message: str) -> float | np.ndarray:
    """``numerator / denominator``: a float (raising ``message`` if 0/0) or a (B,) array with NaN rows."""
    defined = denominator > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(defined, numerator / np.where(defined, denominator, 1.0), np.nan)
    if np.ndim(values) == 0:
        if not defined:
            raise ValueError(message)
        return float(values)
    return values


def _weighted_mean(per_image: np.ndarray, weights: np.ndarray) -> float | np.ndarray:
    return _ratio(weights @ per_image, weights.sum(axis=-1), "Expected weights with a positive sum, got 0.")


_BOTH_CLASSES = "Include both normal (0) and pneumonia (1) images."
# Each threshold metric as numerator / denominator of the confusion counts, and why 0/0 can happen.
_FROM_COUNTS = {
    "accuracy": (
        lambda c: c["tp"] + c["tn"],
        lambda c: c["tp"] + c["fp"] + c["tn"] + c["fn"],
        "Expected weights with a positive sum, got 0.",
    ),
    "sensitivity": (
        lambda c: c["tp"],
        lambda c: c["tp"] + c["fn"],
        "sensitivity needs at least one image with label 1; got none among {n} images. " + _BOTH_CLASSES,
    ),
    "specificity": (
        lambda c: c["tn"],
        lambda c: c["tn"] + c["fp"],
        "specificity needs at least one image with label 0; got none among {n} images. " + _BOTH_CLASSES,
    ),
    "ppv": (
        lambda c: c["tp"],
        lambda c: c["tp"] + c["fp"],
        "PPV needs at least one image with prob >= {threshold}; got none. Report it as undefined.",
    ),
    "npv": (
        lambda c: c["tn"],
        lambda c: c["tn"] + c["fn"],
        "NPV needs at least one image with prob < {threshold}; got none. Report it as undefined.",
    ),
    "f1": (
        lambda c: 2 * c["tp"],
        lambda c: 2 * c["tp"] + c["fp"] + c["fn"],
        "F1 needs a pneumonia image or a pneumonia prediction; got neither.",
    ),
}


def _confusion(labels, probs, threshold, weights) -> dict[str, float | np.ndarray]:
    """Weighted true/false positive/negative counts at ``prob >= threshold``."""
    labels, probs, weights = _check(labels, probs, weights)
    predicted = (probs >= threshold).astype(np.float64)
    return {
        "tp": weights @ (predicted * labels),
        "fp": weights @ (predicted * (1 - labels)),
        "tn": weights @ ((1 - predicted) * (1 - labels)),
        "fn": weights @ ((1 - predicted) * labels),
    }


def confusion_counts(labels, probs, *, threshold: float = 0.5) -> dict[str, int]:
    """Confusion matrix as ``{"tp", "fp", "tn", "fn"}`` image counts, pneumonia (1) the positive class."""
    counts = _confusion(labels, probs, threshold, None)
    return {name: int(round(float(count))) for name, count in counts.items()}


def threshold_metrics(
    labels, probs, *, threshold: float = 0.5, weights=None, metrics=None
) -> dict[str, float | np.ndarray]:
    """Several of ``THRESHOLD_METRICS`` (default: all) from one confusion count (faster than one call each).

    Prediction = ``prob >= threshold``; pneumonia (1) is the positive class.  Each value is what the
    function of that name returns.
    """
    metrics = THRESHOLD_METRICS if metrics is None else metrics
    counts = _confusion(labels, probs, threshold, weights)
    n = np.asarray(labels).size
    return {
        metric: _ratio(
            _FROM_COUNTS[metric][0](counts),
            _FROM_COUNTS[metric][1](counts),
            _FROM_COUNTS[metric][2].format(n=n, threshold=threshold),
        )
        for metric in metrics
    }


def _threshold_metric(metric: str, labels, probs, threshold, weights) -> float | np.ndarray:
    return threshold_metrics(labels, probs, threshold=threshold, weights=weights, metrics=(metric,))[metric]


@classification_metric("accuracy", label="Accuracy", higher_is_better=True, bounds=(0.0, 1.0), threshold=True)
def accuracy(labels, probs, *, threshold: float = 0.5, weights=None) -> float | np.ndarray:
    """Fraction of images with ``(prob >= threshold) == label``, in [0, 1]."""
    return _threshold_metric("accuracy", labels, probs, threshold, weights)


@classification_metric(
    "sensitivity", label="Sensitivity", higher_is_better=True, bounds=(0.0, 1.0), threshold=True
)
def sensitivity(labels, probs, *, threshold: float = 0.5, weights=None) -> float | np.ndarray:
    """True-positive rate: fraction of pneumonia images (label 1) with ``prob >= threshold``."""
    return _threshold_metric("sensitivity", labels, probs, threshold, weights)


@classification_metric(
    "specificity", label="Specificity", higher_is_better=True, bounds=(0.0, 1.0), threshold=True
)
def specificity(labels, probs, *, threshold: float = 0.5, weights=None) -> float | np.ndarray:
    """True-negative rate: fraction of normal images (label 0) with ``prob < threshold``."""
    return _threshold_metric("specificity", labels, probs, threshold, weights)


@classification_metric(
    "ppv", label="PPV", higher_is_better=True, bounds=(0.0, 1.0), threshold=True, listed_first=False
)
def ppv(labels, probs, *, threshold: float = 0.5, weights=None) -> float | np.ndarray:
    """Positive predictive value (precision): fraction of images called pneumonia that have label 1."""
    return _threshold_metric("ppv", labels, probs, threshold, weights)


@classification_metric(
    "npv", label="NPV", higher_is_better=True, bounds=(0.0, 1.0), threshold=True, listed_first=False
)
def npv(labels, probs, *, threshold: float = 0.5, weights=None) -> float | np.ndarray:
    """Negative predictive value: fraction of images called normal that have label 0."""
    return _threshold_metric("npv", labels, probs, threshold, weights)


@classification_metric(
    "f1", label="F1", higher_is_better=True, bounds=(0.0, 1.0), threshold=True, listed_first=False
)
def f1(labels, probs, *, threshold: float = 0.5, weights=None) -> float | np.ndarray:
    """F1 score of the pneumonia class: ``2 TP / (2 TP + FP + FN)``."""
    return _threshold_metric("f1", labels, probs, threshold, weights)


def _tied_groups(probs: np.ndarray, labels: np.ndarray, weights: np.ndarray, descending: bool):
    """Per group of tied scores (in score order), the weight of positives and of negatives: (..., G)."""
    order = np.argsort(-probs if descending else probs, kind="stable")
    sorted_probs, sorted_weights = probs[order], weights[..., order]
    positive = sorted_weights * labels[order]
    negative = sorted_weights - positive
    tied = sorted_probs[1:] == sorted_probs[:-1]
    if tied.any():  # merge runs of tied scores into one group each
        starts = np.flatnonzero(np.r_[True, ~tied])
        positive = np.add.reduceat(positive, starts, axis=-1)
        negative = np.add.reduceat(negative, starts, axis=-1)
    return positive, negative


@classification_metric("auroc", label="AUROC", higher_is_better=True, bounds=(0.0, 1.0))
def auroc(labels, probs, *, weights=None) -> float | np.ndarray:
    """Area under the ROC curve in [0, 1]: P(positive outscores negative), ties counting one half.

    Computed with one sort of ``probs`` for all weight rows: per group of tied scores, the weight of
    positives times (weight of negatives scored lower + half the tied negatives).
    """
    labels, probs, weights = _check(labels, probs, weights)
    positive, negative = _tied_groups(probs, labels, weights, descending=False)
    below = np.cumsum(negative, axis=-1) - negative
    area = (positive * (below + 0.5 * negative)).sum(axis=-1)
    present = np.unique(labels).astype(int).tolist()
    found = "zero weight on one class"
    if len(present) == 1:
        found = f"only label {present[0]} in {labels.size} images"
    return _ratio(
        area,
        positive.sum(axis=-1) * negative.sum(axis=-1),
        f"AUROC needs both classes; got {found}. Include both normal (0) and pneumonia (1) images.",
    )


@classification_metric("auprc", label="AUPRC", higher_is_better=True, bounds=(0.0, 1.0), listed_first=False)
def auprc(labels, probs, *, weights=None) -> float | np.ndarray:
    """Area under the precision-recall curve as average precision, in [0, 1].

    ``sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds from high to low (tied scores one
    step), exactly scikit-learn's ``average_precision_score``: no interpolation, no trapezoid.
    """
    labels, probs, weights = _check(labels, probs, weights)
    positive, negative = _tied_groups(probs, labels, weights, descending=True)
    true_positives = np.cumsum(positive, axis=-1)
    called = true_positives + np.cumsum(negative, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(called > 0, true_positives / np.where(called > 0, called, 1.0), 0.0)
    return _ratio(
        (positive * precision).sum(axis=-1),
        positive.sum(axis=-1),
        "AUPRC needs at least one pneumonia image (label 1); got none. Include both classes.",
    )


def youden_threshold(labels, probs) -> float:
    """Threshold maximising Youden's J = sensitivity + specificity - 1 for ``prob >= threshold``.

    Candidates are the observed scores (scikit-learn's ``roc_curve`` with every point kept); ties in J
    go to the highest threshold.  Needs both classes.
    """
    from sklearn.metrics import roc_curve

    labels, probs, _ = _check(labels, probs, None)
    if np.unique(labels).size < 2:
        raise ValueError(
            f"Youden's threshold needs both classes; got only label {int(labels[0])} in {labels.size} "
            "images. Include both normal (0) and pneumonia (1) images."
        )
    false_positive_rate, true_positive_rate, thresholds = roc_curve(labels, probs, drop_intermediate=False)
    finite = np.isfinite(thresholds)  # the first point (threshold inf) predicts nothing positive
    youden = np.where(finite, true_positive_rate - false_positive_rate, -np.inf)
    return float(thresholds[int(np.argmax(youden))])


@classification_metric("log_loss", label="Log loss", higher_is_better=False, bounds=(0.0, inf))
def log_loss(labels, probs, *, weights=None) -> float | np.ndarray:
    """Mean binary cross-entropy in nats, probabilities clipped to [eps, 1 - eps] as scikit-learn."""
    labels, probs, weights = _check(labels, probs, weights)
    clipped = np.clip(probs, _LOG_LOSS_EPS, 1 - _LOG_LOSS_EPS)
    losses = -(labels * np.log(clipped) + (1 - labels) * np.log1p(-clipped))
    return _weighted_mean(losses, weights)


@classification_metric("brier", label="Brier", higher_is_better=False, bounds=(0.0, 1.0))
def brier(labels, probs, *, weights=None) -> float | np.ndarray:
    """Brier score: mean squared difference between P(pneumonia) and the 0/1 label, in [0, 1]."""
    labels, probs, weights = _check(labels, probs, weights)
    return _weighted_mean((probs - labels) ** 2, weights)


@classification_metric("ece", label="ECE", higher_is_better=False, bounds=(0.0, 1.0))
def ece(labels, probs, *, n_bins: int = 10, weights=None) -> float | np.ndarray:
    """Expected calibration error of P(pneumonia) over equal-width bins, in [0, 1].

    ``sum_b (n_b / n) |mean prob in b - fraction of label 1 in b|`` with bins [0, 0.1), ...,
    [0.9, 1.0] for ``n_bins=10`` (1.0 falls in the last bin).  This is the reliability-diagram
    (positive-class) ECE, not the top-label-confidence ECE of multi-class papers.  Hand-written: neither
    scikit-learn nor statsmodels has it.
    """
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"Expected n_bins to be a positive int, got {n_bins!r}. Use e.g. 10.")
    labels, probs, weights = _check(labels, probs, weights)
    bins = np.minimum((probs * n_bins).astype(np.int64), n_bins - 1)
    # gaps[i, b] = prob - label of image i in its bin b, so weights @ gaps sums the gap of each bin.
    gaps = np.zeros((labels.size, n_bins))
    gaps[np.arange(labels.size), bins] = probs - labels
    return _ratio(
        np.abs(weights @ gaps).sum(axis=-1),
        weights.sum(axis=-1),
        "Expected weights with a positive sum, got 0.",
    )


def equal_mass_edges(probs, n_bins: int) -> np.ndarray:
    """Upper edges of equal-mass (adaptive) bins of ``probs``, as Kumar et al.'s ``get_equal_bins``.

    The sorted scores split into ``n_bins`` near-equal parts (``np.array_split``: the first parts one
    larger); each edge lies midway between the last score of a part and the first of the next, the
    last edge is 1.0, and repeated edges (tied scores) collapse, so tied scores share a bin.  An image
    falls in the first bin whose edge is >= its score (``bisect_left``, ``np.searchsorted``).
    """
    ordered = np.sort(np.asarray(probs, dtype=np.float64))
    parts = np.array_split(ordered, min(n_bins, ordered.size))
    edges = [(low[-1] + high[0]) / 2 for low, high in zip(parts[:-1], parts[1:], strict=True)]
    return np.unique(np.array([*edges, 1.0]))


@classification_metric(
    "ece_debiased",
    label="Calibration error (debiased, l2)",
    higher_is_better=False,
    bounds=(0.0, 1.0),
    listed_first=False,
)
def ece_debiased(labels, probs, *, n_bins: int = 10, weights=None) -> float | np.ndarray:
    """Debiased l2 (root-mean-square) calibration error over equal-mass bins, in [0, 1].

    Kumar, Liang & Ma (2019), "Verified Uncertainty Calibration", NeurIPS (their ``unbiased_l2_ce``):
    the squared error ``sum_b (n_b / n) [(mean prob_b - ybar_b)^2 - ybar_b (1 - ybar_b) / (n_b - 1)]``
    subtracts from each bin's plug-in squared gap the binomial variance of its label mean, which the
    plug-in ECE counts as miscalibration (so a calibrated model's plug-in ECE is about
    ``sqrt(2 / (pi n_b))`` per bin, never 0); bins with fewer than 2 images add 0; the result is the
    root of the squared error clipped at 0.  Bins: ``equal_mass_edges`` of the (unweighted) scores,
    with at most ``n // 2`` bins so a bin holds two images; weight rows keep those bins (like a fixed
    histogram), each row a resample.  Hand-written, as no library the project uses has it.
    """
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"Expected n_bins to be a positive int, got {n_bins!r}. Use e.g. 10.")
    labels, probs, weights = _check(labels, probs, weights)
    edges = equal_mass_edges(probs, max(1, min(n_bins, labels.size // 2)))
    members = np.zeros((labels.size, edges.size))
    members[np.arange(labels.size), np.searchsorted(edges, probs, side="left")] = 1.0
    counts = weights @ members
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = (weights @ (members * probs[:, None])) / counts
        mean_label = (weights @ (members * labels[:, None])) / counts
        term = (mean_prob - mean_label) ** 2 - mean_label * (1 - mean_label) / (counts - 1)
    squared = _ratio(
        np.where(counts >= 2, counts * np.nan_to_num(term), 0.0).sum(axis=-1),
        weights.sum(axis=-1),
        "Expected weights with a positive sum, got 0.",
    )
    return np.sqrt(np.maximum(squared, 0.0)) if np.ndim(squared) else float(np.sqrt(max(squared, 0.0)))


#: The metrics that depend on a decision threshold, and those of the scores alone (from the specs above).
THRESHOLD_METRICS = tuple(spec.name for spec in defined_in(__name__) if spec.threshold)
SCORE_METRICS = tuple(spec.name for spec in defined_in(__name__) if not spec.threshold)
