"""The degradation scenarios' shared contract: registry, shapes, determinism, parameter and input checks."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from benchmark.degradations import DEGRADATIONS, check_params, degrade, scenario_parameters
from cxr_kernel.errors import UserError

NAMES = DEGRADATIONS.names()
SCALES = (2, 4, 8)
DETERMINISTIC = {"bicubic", "area"}


def _hr(size: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth structure plus texture, touching both 0 and 1 so clipping paths are exercised."""
    y, x = np.mgrid[0:size, 0:size] / size
    rng = np.random.default_rng(seed)
    img = 0.5 + 0.4 * np.sin(6 * x) * np.cos(4 * y) + 0.1 * rng.standard_normal((size, size))
    img[:4, :4], img[-4:, -4:] = 0.0, 1.0
    return np.clip(img, 0, 1).astype(np.float32)


def test_registry_lists_the_seven_scenarios():
    assert set(NAMES) == {
        "bicubic",
        "area",
        "bicubic-noise",
        "classical",
        "realesrgan",
        "telemed",
        "acquisition",
    }


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("size", [32, 64])
def test_output_is_float32_lr_shape_in_unit_range(name, scale, size):
    hr = _hr(size)
    lr = degrade(name, hr, scale, np.random.default_rng(1))
    assert lr.shape == (size // scale, size // scale)
    assert lr.dtype == np.float32
    assert np.isfinite(lr).all() and lr.min() >= 0.0 and lr.max() <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_non_square_images_keep_their_aspect(name):
    lr = degrade(name, _hr(64)[:, :48], 4, np.random.default_rng(1))
    assert lr.shape == (16, 12)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_identical_bytes(name):
    hr = _hr(64)
    first = degrade(name, hr, 4, np.random.default_rng(123))
    second = degrade(name, hr.copy(), 4, np.random.default_rng(123))
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("name", sorted(set(NAMES) - DETERMINISTIC))
def test_different_seeds_give_different_outputs(name):
    hr = _hr(64)
    outputs = {degrade(name, hr, 2, np.random.default_rng(seed)).tobytes() for seed in range(4)}
    assert len(outputs) > 1


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
def test_plain_resizes_ignore_the_seed(name):
    hr = _hr(64)
    first = degrade(name, hr, 2, np.random.default_rng(0))
    assert first.tobytes() == degrade(name, hr, 2, np.random.default_rng(99)).tobytes()


@pytest.mark.parametrize("name", NAMES)
def test_input_image_is_not_modified(name):
    hr = _hr(32)
    before = hr.copy()
    degrade(name, hr, 2, np.random.default_rng(0))
    np.testing.assert_array_equal(hr, before)


@pytest.mark.parametrize("name", NAMES)
def test_float64_input_is_accepted(name):
    lr = degrade(name, _hr(32).astype(np.float64), 2, np.random.default_rng(0))
    assert lr.dtype == np.float32


def test_scenario_parameters_lists_keyword_parameters_with_defaults():
    assert scenario_parameters("bicubic") == {}
    assert scenario_parameters("bicubic-noise") == {"sigma": 0.01}
    assert scenario_parameters("telemed") == {"quality_range": (50, 75), "downsample_method": "bicubic"}
    assert scenario_parameters("realesrgan")["resize_range"] == (0.15, 1.5)


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_documents_its_source_and_each_parameter(name):
    doc = inspect.getdoc(DEGRADATIONS.get(name))
    assert "Source" in doc
    for parameter in ("hr", "scale", "rng", *scenario_parameters(name)):
        assert parameter in doc, f"{name}: parameter {parameter!r} not documented"


def test_unknown_param_raises_user_error_naming_the_valid_ones():
    with pytest.raises(UserError, match=r"\['quality'\].*Valid: downsample_method, quality_range"):
        degrade("telemed", _hr(32), 2, np.random.default_rng(0), {"quality": 60})


def test_param_for_a_scenario_without_params_says_none_are_valid():
    with pytest.raises(UserError, match="Valid: none"):
        check_params("bicubic", {"sigma": 0.1})


def test_unknown_scenario_raises_user_error_suggesting_the_closest():
    with pytest.raises(UserError, match="Did you mean 'bicubic'"):
        degrade("bicubc", _hr(32), 2, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("telemed", {"quality_range": [80, 50]}, "quality_range"),
        ("telemed", {"quality_range": 60}, "pair"),
        ("telemed", {"downsample_method": "lanczos"}, "downsample_method"),
        ("bicubic-noise", {"sigma": -0.1}, "sigma"),
        ("classical", {"noise_range": [0, 300]}, "noise_range"),
        ("realesrgan", {"resize_prob2": [0.5, 0.5, 0.5]}, "resize_prob2"),
        ("realesrgan", {"final_sinc_prob": 2}, "final_sinc_prob"),
        ("acquisition", {"dose": 0}, "dose"),
        ("acquisition", {"transfer": "sqrt"}, "transfer"),
    ],
)
def test_bad_param_value_raises_user_error_naming_the_param(name, params, message):
    with pytest.raises(UserError, match=message):
        check_params(name, params)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_yaml_style_lists_pass_the_parameter_check(name):
    check_params(name)
    as_lists = {k: list(v) for k, v in scenario_parameters(name).items() if isinstance(v, tuple)}
    check_params(name, as_lists)


@pytest.mark.parametrize(
    ("hr", "scale", "message"),
    [
        (np.zeros((2, 32, 32), np.float32), 2, "2-D"),
        (np.zeros((32, 32), np.uint8), 2, "astype"),
        (np.zeros((30, 32), np.float32), 4, "Crop to 28x32"),
        (np.full((32, 32), 1.5, np.float32), 2, r"Rescale to \[0, 1\]"),
        (np.full((32, 32), np.nan, np.float32), 2, "NaN"),
        (np.zeros((32, 32), np.float32), 3, "Pass one of"),
        (np.zeros((32, 32), np.float32), 1, "Pass one of"),
    ],
)
@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_value_error_naming_the_fix(name, hr, scale, message):
    with pytest.raises(ValueError, match=message):
        degrade(name, hr, scale, np.random.default_rng(0))


def test_every_scenario_registers_itself_once():
    from benchmark.degradations import standard

    assert DEGRADATIONS.get("bicubic") is standard.degrade_bicubic
    assert all(DEGRADATIONS.get(name).__module__.startswith("benchmark.degradations.") for name in NAMES)
    with pytest.raises(ValueError, match="defined twice"):

        @DEGRADATIONS.register("bicubic")
        def degrade_bicubic(hr, scale, rng):
            return hr
