"""``realesrgan-compact`` (SRVGGNetCompact) against the official Real-ESRGAN 0.3.0 implementation.

The official class is read from ``realesrgan/archs/srvgg_arch.py`` of the ``realesrgan`` package
(installed with ``pip install --no-deps realesrgan==0.3.0``, see the Makefile). Importing the package
the usual way runs ``realesrgan/__init__.py``, which imports all of BasicSR and through it torchvision
(which breaks beside our CPU torch). So the fixture executes only ``srvgg_arch.py``, from the package's
folder, with one stand-in in ``sys.modules`` for the duration: ``basicsr.utils.registry`` whose
``ARCH_REGISTRY.register()`` returns the class unchanged (the file's only use of BasicSR). The
network code itself is the package's, untouched.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.images import read_grayscale
from sr_models import load_upscaler
from sr_models.archs import SRVGGNetCompact
from sr_models.archs.infer import guess_arch_type, infer_arch
from sr_models.weights import load_state_dict
from tests.support.paths import SHARED

ANIMEVIDEO = SHARED / "weights" / "realesr-animevideov3.pth"
TEST_XRAYS = SHARED / "data" / "kermany-test-hr"


@pytest.fixture(scope="module")
def official_srvgg() -> type[torch.nn.Module]:
    """The official ``SRVGGNetCompact`` class from the installed realesrgan 0.3.0 package."""
    spec = importlib.util.find_spec("realesrgan")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("realesrgan not installed: pip install --no-deps realesrgan==0.3.0 (see the Makefile)")
    source = Path(next(iter(spec.submodule_search_locations))) / "archs" / "srvgg_arch.py"
    registry = types.SimpleNamespace(register=lambda: lambda cls: cls)
    stubs = {name: types.ModuleType(name) for name in ("basicsr", "basicsr.utils", "basicsr.utils.registry")}
    stubs["basicsr.utils.registry"].ARCH_REGISTRY = registry
    module_spec = importlib.util.spec_from_file_location("official_realesrgan_srvgg_arch", source)
    module = importlib.util.module_from_spec(module_spec)
    with pytest.MonkeyPatch.context() as patch:
        for name, stub in stubs.items():
            patch.setitem(sys.modules, name, stub)
        module_spec.loader.exec_module(module)
    return module.SRVGGNetCompact


def _randomised(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """``net`` with every tensor redrawn (PReLU slopes too, which start at a constant 0.25)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for value in net.state_dict().values():
            value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
    return net.eval()


@pytest.mark.parametrize(
    ("options", "scale"),
    [
        ({"num_feat": 8, "num_conv": 3, "upscale": 4}, 4),
        ({"num_feat": 6, "num_conv": 1, "upscale": 2}, 2),
        ({"num_in_ch": 1, "num_out_ch": 1, "num_feat": 4, "num_conv": 2, "upscale": 3}, 3),
    ],
)
def test_official_layout_file_loads_with_inferred_options_and_equals_official(
    official_srvgg, tmp_path, options, scale
):
    options = {**options, "act_type": "prelu"}
    reference = _randomised(official_srvgg(**options), seed=scale)
    path = tmp_path / "compact.pth"
    torch.save({"params": reference.state_dict()}, path)  # the release files' layout

    state_dict, _ = load_state_dict(path)
    assert guess_arch_type(state_dict) == "SRVGGNetCompact"
    expected = {"num_in_ch": 3, "num_out_ch": 3, **options}
    assert infer_arch("SRVGGNetCompact", state_dict, scale) == {"type": "SRVGGNetCompact", **expected}

    upscaler = load_upscaler("realesrgan-compact", scale, path, device="cpu")
    x = torch.rand(2, expected["num_in_ch"], 7, 9, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(upscaler.net(x), reference(x))


def test_shipped_animevideov3_equals_official_on_random_input_and_a_real_xray(official_srvgg):
    if not ANIMEVIDEO.is_file() or not TEST_XRAYS.is_dir():
        pytest.skip(f"{ANIMEVIDEO} or {TEST_XRAYS} missing: needs ../shared beside the checkout")
    reference = official_srvgg(num_feat=64, num_conv=16, upscale=4, act_type="prelu").eval()
    params = torch.load(ANIMEVIDEO, map_location="cpu", weights_only=True)["params"]
    reference.load_state_dict(params, strict=True)
    upscaler = load_upscaler("realesrgan-compact", 4, ANIMEVIDEO, device="cpu")
    assert upscaler.info()["parameters"] == 621_424

    xray = read_grayscale(sorted(TEST_XRAYS.glob("*/*.jpeg"))[0])
    top, left = xray.shape[0] // 2, xray.shape[1] // 2
    crop = np.ascontiguousarray(xray[top : top + 24, left : left + 32])
    random = torch.rand(1, 3, 20, 16, generator=torch.Generator().manual_seed(0))
    gray = torch.from_numpy(crop)[None, None].expand(-1, 3, -1, -1)
    with torch.no_grad():
        for x in (random, gray):
            assert torch.equal(upscaler.net(x), reference(x))
        official_gray = reference(gray).mean(dim=1).clamp(0, 1).numpy()
    # The grayscale contract (replicate to RGB, average back, clamp) adds nothing but that.
    np.testing.assert_array_equal(upscaler.upscale(crop[None]), official_gray)


def test_compact_file_under_another_model_name_suggests_realesrgan_compact(tmp_path):
    path = tmp_path / "compact.pth"
    torch.save({"params": SRVGGNetCompact(num_feat=4, num_conv=1).state_dict()}, path)
    with pytest.raises(ValueError, match="SRVGGNetCompact weights: use model 'realesrgan-compact'"):
        load_upscaler("esrgan", 4, path, device="cpu")


def test_compact_file_for_another_scale_is_refused_naming_both(tmp_path):
    path = tmp_path / "compact.pth"
    torch.save({"params": SRVGGNetCompact(num_feat=4, num_conv=1, upscale=2).state_dict()}, path)
    with pytest.raises(ValueError, match=r"Expected a x4 model for 'realesrgan-compact', got x2 weights"):
        load_upscaler("realesrgan-compact", 4, path, device="cpu")
