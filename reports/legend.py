"""The page's legend: every abbreviation and column head it shows, explained once.

An entry is listed when one of its trigger strings occurs in the page's table heads (so a run without
LPIPS does not explain LPIPS); the texts are explanations, not statistics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# (term, explanation, strings whose presence in a table head lists the term)
ENTRIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("HR", "the high-resolution reference image; every difference, test and flip is against HR", ("HR",)),
    (
        "LR-nearest, LR-bilinear",
        "the low-resolution (degraded) image enlarged to the classifier input by nearest-neighbour or "
        "bilinear interpolation, without super-resolution",
        ("LR",),
    ),
    ("SR", "super-resolution: the variants named by their model", ("SR",)),
    ("[CI]", "the {level} confidence interval, by the method named in the table's caption", ("CI",)),
    ("(zero width)", "the stored interval's bounds are equal at the precision shown", ("(zero width)",)),
    ("Δ vs HR", "the variant's estimate minus HR's on the same images (negative: worse than HR)", ("Δ",)),
    (
        "NI / inf. / ?",
        "the stored non-inferiority verdict: NI when the interval's lower limit lies above −margin, inf. "
        "when the whole interval lies below −margin, ? when neither (inconclusive)",
        ("non-inferior", "inconclusive"),
    ),
    ("Accuracy", "share of images whose predicted class is the true class", ("Accuracy",)),
    ("Sensitivity", "share of pneumonia images predicted pneumonia", ("Sensitivity",)),
    ("Specificity", "share of normal images predicted normal", ("Specificity",)),
    ("AUROC", "area under the ROC curve of P(pneumonia)", ("AUROC",)),
    ("AUPRC", "area under the precision-recall curve", ("AUPRC",)),
    ("PPV, NPV", "positive and negative predictive value", ("PPV", "NPV")),
    ("F1", "harmonic mean of PPV and sensitivity", ("F1",)),
    ("Log loss, Brier", "mean cross-entropy and mean squared error of P(pneumonia)", ("Log loss", "Brier")),
    ("ECE", "expected calibration error (10 equal-width bins)", ("ECE",)),
    (
        "McNemar, DeLong",
        "paired tests against HR on the same images: McNemar's for the proportions, DeLong's for AUROC "
        "(clustered versions when images share patients; see Methods)",
        ("McNemar", "DeLong"),
    ),
    (
        "p, p (Holm), p (BH)",
        "unadjusted p; adjusted for multiplicity within the prespecified family by Holm (family-wise "
        "error) and Benjamini-Hochberg (false discovery rate). Below 0.001 p is shown with two "
        "significant digits, below 1e-10 (the tests' numerical precision) as <1e-10",
        ("p",),
    ),
    ("Flips", "images whose predicted class differs from HR's prediction, as count/n", ("Flips",)),
    ("Flip rate", "flips / n with its Wilson interval", ("Flip rate",)),
    ("→ pneumonia, → normal", "flips by the direction of the change", ("→ pneumonia", "→ normal")),
    (
        "correct → wrong, wrong → correct",
        "flips that turn a correct HR diagnosis wrong (harmful) or a wrong one correct (helpful)",
        ("correct → wrong",),
    ),
    ("Mean |ΔP|", "mean absolute change of P(pneumonia) from HR over the images", ("Mean |ΔP|",)),
    ("PSNR", "peak signal-to-noise ratio against HR, in dB (higher: closer to HR)", ("PSNR",)),
    ("SSIM, MS-SSIM", "(multi-scale) structural similarity to HR (1: identical)", ("SSIM",)),
    (
        "MSE, MAE",
        "mean squared and mean absolute pixel error against HR (intensities in [0, 1])",
        ("MSE", "MAE"),
    ),
    ("LPIPS", "learned perceptual distance to HR (lower: closer)", ("LPIPS",)),
    ("GMSD", "gradient magnitude similarity deviation from HR (lower: closer)", ("GMSD",)),
    ("HFEN", "high-frequency error norm against HR (lower: closer)", ("HFEN",)),
    (
        "gradcam_*",
        "agreement of the variant's Grad-CAM map with HR's (Pearson r; IoU of the top 10 %)",
        ("gradcam",),
    ),
    (
        "n",
        "the images an estimate or count is over: all test images for accuracy, AUROC and flips, the "
        "pneumonia images for sensitivity, the normal images for specificity",
        ("n", "Flips"),
    ),
)


def legend(heads: Iterable[str], confidence: Any = None) -> list[tuple[str, str]]:
    """(term, explanation) for the terms that the given table heads (and entry texts) use, in order."""
    text = " ".join(str(h) for h in heads)
    level = f"{100 * float(confidence):g}%" if confidence else "stored"

    def used(trigger: str) -> bool:
        """Short triggers (HR, p, n) must stand alone; longer ones may occur anywhere."""
        if len(trigger) > 3:
            return trigger in text
        return re.search(rf"(?<![\w-]){re.escape(trigger)}(?![\w])", text) is not None

    return [
        (term, explanation.format(level=level))
        for term, explanation, triggers in ENTRIES
        if any(used(t) for t in triggers)
    ]
