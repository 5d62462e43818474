"""The statistical design of a run from the suite's ``stats:`` block and its evaluation images:
the unit of analysis (patient or image) and the options ``analysis.analyze`` takes."""

from __future__ import annotations

import pandas as pd

from cxr_kernel.errors import UserError

#: How the two calibration rows are computed, stated in summary.json's "statistics" record.
CALIBRATION_METHODS = {
    "ece": "plug-in expected calibration error, sum_b (n_b/n) |mean prob - fraction pneumonia|, "
    "10 equal-width bins (biased upward: a calibrated model scores above 0)",
    "ece_debiased": "debiased l2 (root-mean-square) calibration error, Kumar, Liang & Ma 2019 "
    "(NeurIPS, 'Verified Uncertainty Calibration'), 10 equal-mass bins (at most n/2), bins held in "
    "the bootstrap",
}


def patient_ids_available(images: pd.DataFrame) -> bool:
    """Whether every evaluation image has a non-empty patient id."""
    if "patient_id" not in images.columns or images.empty:
        return False
    ids = images["patient_id"]
    return bool(ids.notna().all() and (ids.astype(str).str.strip() != "").all())


def unit_of_analysis(
    setting: str | None, images: pd.DataFrame, *, synthetic: bool = False
) -> tuple[str, dict | None]:
    """("patient", image id -> patient id) or ("image", None).

    ``setting`` None picks the patient when every image has a patient id and the images are not
    synthetic phantoms (whose "patient ids" are file stems shared by a normal and a pneumonia
    phantom); "patient" without ids is an error naming the fix.
    """
    available = patient_ids_available(images) and not synthetic
    if setting == "image" or (setting is None and not available):
        return "image", None
    if not available:
        raise UserError(
            "stats: {cluster: patient} needs a patient id for every evaluation image, but the manifest's "
            "patient_id column is empty for some. Fill it (manifest build derives it from Kermany file "
            "names) or set stats: {cluster: image}."
        )
    return "patient", dict(zip(images["image_id"], images["patient_id"].astype(str), strict=True))


def analysis_options(
    stats_config, images: pd.DataFrame, seed: int, *, synthetic: bool = False
) -> tuple[dict, dict]:
    """(keyword arguments of ``analyze``, the "statistics" record of summary.json)."""
    unit, clusters = unit_of_analysis(stats_config.cluster, images, synthetic=synthetic)
    margins = dict(stats_config.margins or {})
    options = {
        "threshold": stats_config.threshold,
        "confidence": stats_config.confidence,
        "n_bootstrap": stats_config.n_bootstrap,
        "seed": seed,
        "clusters": clusters,
        "margins": margins,
        "primary": tuple(stats_config.primary),
        "correct_across_cells": stats_config.correct_across_cells,
        "bootstrap_ci": stats_config.bootstrap_ci,
    }
    record = {
        "unit_of_analysis": unit,
        "n_images": int(len(images)),
        "n_patients": int(images["patient_id"].nunique()) if clusters else None,
        "primary_endpoints": list(stats_config.primary),
        "correct_across_cells": bool(stats_config.correct_across_cells),
        "margins": margins,
        "confidence": stats_config.confidence,
        "n_bootstrap": stats_config.n_bootstrap,
        "bootstrap_ci": stats_config.bootstrap_ci,
        "calibration": CALIBRATION_METHODS,
    }
    return options, record
