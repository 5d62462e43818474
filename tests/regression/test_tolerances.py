"""Tolerances derived from the spread of figures across instruction sets (benchmark.pipeline.tolerances)."""

import pytest

from benchmark.pipeline import regression, tolerances
from cxr_kernel.errors import UserError


def test_spread_is_max_minus_min_per_figure_and_flags_text_that_differs():
    figures = {
        "native": {"quality/c/m/psnr": 30.0, "predictions/c/HR/labels_sha256": "ab", "data/n": 60},
        "avx2": {"quality/c/m/psnr": 30.00002, "predictions/c/HR/labels_sha256": "ab", "data/n": 60},
        "sse41": {"quality/c/m/psnr": 29.99999, "predictions/c/HR/labels_sha256": "cd", "data/n": 60},
    }
    spread = tolerances.spread(figures)
    assert spread["quality/c/m/psnr"] == pytest.approx(3e-5)
    assert spread["predictions/c/HR/labels_sha256"] == "differs"
    assert spread["data/n"] == 0


def test_derived_tolerance_is_the_largest_spread_times_the_factor_but_never_below_the_floor():
    spread = {
        "quality/x2/bicubic/psnr": 0.0,
        "quality/x4/srgan/psnr": 2e-4,
        "quality/x4/srgan/ssim": 1e-9,
        "classification/x4/HR/threshold=/auroc": 3e-7,
        "classification/x4/HR/threshold=0.5/accuracy": 0.0,
        "flips/x4/srgan/n_flips": 1.0,
        "predictions/x4/HR/labels_sha256": 0.0,
    }
    derived = tolerances.derive(spread, regression.DEFAULT_TOLERANCES, factor=10)
    assert derived["quality/*/psnr"] == pytest.approx(2e-3)  # 10 x the largest psnr spread
    assert derived["quality/*"] == tolerances.FLOORS["quality/*"]  # spread 1e-8 x 10 is below the floor
    assert derived["classification/*"] == pytest.approx(3e-6)
    assert derived["classification/*/accuracy"] == 0  # no image flipped between settings
    assert derived["flips/*"] == 1.0  # counts: the spread itself, no factor
    assert derived["predictions/*"] == "exact" and derived["*"] == "exact"
    assert derived["predictions/*/near_threshold"] is None
    assert list(derived) == list(regression.DEFAULT_TOLERANCES)  # same patterns, same order


def test_a_figure_held_exact_that_differs_between_settings_is_refused_by_name():
    spread = {"predictions/x4/HR/labels_sha256": "differs"}
    with pytest.raises(UserError, match="predictions/x4/HR/labels_sha256 differs between instruction sets"):
        tolerances.derive(spread, regression.DEFAULT_TOLERANCES)


def test_settings_cap_oneDNN_and_ATen_together_and_turn_oneDNN_off():
    settings = tolerances.ISA_SETTINGS
    assert settings["avx2"] == {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
    assert settings["sse41"] == {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"}
    assert settings["no-onednn"] == {"TF_ENABLE_ONEDNN_OPTS": "0"} and settings["native"] == {}
