"""Weight files: official layouts load strictly, ESRGAN key mapping, refusal of unsafe pickles,
actionable errors, and load_upscaler's choice of architecture."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from cxr_kernel.errors import UserError
from sr_models import available_models, load_upscaler
from sr_models.archs import MSRResNet, RRDBNet
from sr_models.weights import convert_old_esrgan, load_state_dict, save_weights, to_old_esrgan

TINY = {"num_feat": 8, "num_block": 2, "num_grow_ch": 4}


def random_state(net: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=gen) * 0.05 for k, v in net.state_dict().items()}


def old_esrgan_keys(num_block: int) -> list[str]:
    """Key names of the original ESRGAN ``architecture.py`` (sequential ``model.N`` modules)."""
    names = ["model.0"]
    names += [
        f"model.1.sub.{n}.RDB{k}.conv{j}.0" for n in range(num_block) for k in (1, 2, 3) for j in range(1, 6)
    ]
    names += [f"model.1.sub.{num_block}", "model.3", "model.6", "model.8", "model.10"]
    return [f"{name}.{kind}" for name in names for kind in ("weight", "bias")]


@pytest.fixture
def gray_batch() -> np.ndarray:
    return np.random.default_rng(0).random((2, 6, 8), dtype=np.float32)


def reference_output(net: torch.nn.Module, batch: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        rgb = torch.from_numpy(batch)[:, None].repeat(1, 3, 1, 1)
        return net.eval()(rgb).mean(1).clamp(0, 1).numpy()


@pytest.mark.parametrize("scale", [4, 2])
def test_official_params_ema_file_loads_strictly_and_gives_identical_output(tmp_path, gray_batch, scale):
    reference = RRDBNet(3, 3, scale=scale, **TINY)
    ema, plain = random_state(reference, 1), random_state(reference, 2)
    path = tmp_path / f"RealESRGAN_x{scale}plus.pth"
    torch.save({"params_ema": ema, "params": plain}, path)  # official Real-ESRGAN layout
    upscaler = load_upscaler("realesrgan", scale, path, device="cpu")
    reference.load_state_dict(ema, strict=True)  # params_ema must win over params
    np.testing.assert_array_equal(upscaler.upscale(gray_batch), reference_output(reference, gray_batch))


def test_bare_state_dict_with_dataparallel_prefix_loads(tmp_path):
    sd = random_state(MSRResNet(num_block=1, num_feat=8), 3)
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "bare.pth")
    loaded, arch = load_state_dict(tmp_path / "bare.pth")
    assert arch is None and loaded.keys() == sd.keys()
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)


def test_old_esrgan_key_mapping_round_trips():
    old = {key: torch.full((1,), float(i)) for i, key in enumerate(old_esrgan_keys(2))}
    new = convert_old_esrgan(old)
    assert sorted(new) == sorted(RRDBNet(3, 3, 4, **TINY).state_dict())
    assert torch.equal(new["body.1.rdb3.conv5.bias"], old["model.1.sub.1.RDB3.conv5.0.bias"])
    assert torch.equal(new["conv_body.weight"], old["model.1.sub.2.weight"])
    assert torch.equal(new["conv_hr.weight"], old["model.8.weight"])
    back = to_old_esrgan(new)
    assert list(back) == list(old) and all(back[k] is old[k] for k in old)


def test_old_esrgan_file_loads_as_esrgan_with_the_same_output(tmp_path, gray_batch):
    reference = RRDBNet(3, 3, 4, **TINY)
    sd = random_state(reference, 4)
    torch.save(to_old_esrgan(sd), tmp_path / "RRDB_ESRGAN_x4.pth")
    upscaler = load_upscaler("esrgan", 4, tmp_path / "RRDB_ESRGAN_x4.pth", device="cpu")
    reference.load_state_dict(sd)
    np.testing.assert_array_equal(upscaler.upscale(gray_batch), reference_output(reference, gray_batch))


def test_esrgan_repo_trunk_layout_is_converted_too():
    sd = random_state(RRDBNet(3, 3, 4, **TINY), 5)
    renames = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2", "conv_hr": "HRconv"}
    trunk = {}
    for key, value in sd.items():
        module, _, kind = key.rpartition(".")
        module = renames.get(module, module).replace("body.", "RRDB_trunk.").replace(".rdb", ".RDB")
        trunk[f"{module}.{kind}"] = value
    assert "RRDB_trunk.1.RDB2.conv3.weight" in trunk
    converted = convert_old_esrgan(trunk)
    assert converted.keys() == sd.keys() and all(converted[k] is sd[k] for k in sd)


class NotATensor:
    """Stands in for arbitrary pickled code, which weights_only=True must refuse."""


def test_pickle_holding_a_custom_object_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"params": {"conv_first.weight": NotATensor()}}, path)
    with pytest.raises(ValueError, match=r"evil\.pth.*weights_only=True"):
        load_state_dict(path)


def test_non_tensor_values_are_refused(tmp_path):
    torch.save({"params": {"conv_first.weight": [1.0, 2.0]}}, tmp_path / "lists.pth")
    with pytest.raises(ValueError, match=r"lists\.pth.*non-tensor entries \['conv_first.weight'\]"):
        load_state_dict(tmp_path / "lists.pth")


def test_corrupt_file_error_names_the_file(tmp_path):
    (tmp_path / "broken.pth").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"broken\.pth"):
        load_state_dict(tmp_path / "broken.pth")


def test_missing_official_file_names_the_file_and_its_download_url(tmp_path):
    path = tmp_path / "RealESRGAN_x4plus.pth"
    with pytest.raises(FileNotFoundError) as info:
        load_state_dict(path)
    assert str(path) in str(info.value)
    assert "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth" in str(
        info.value
    )


def test_missing_esrgan_file_points_to_the_esrgan_readme(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"RRDB_PSNR_x4\.pth.*github\.com/xinntao/ESRGAN"):
        load_upscaler("esrgan", 4, tmp_path / "RRDB_PSNR_x4.pth")


def test_save_weights_is_loadable_with_weights_only_and_keeps_the_arch(tmp_path):
    arch = {"type": "RRDBNet", "num_in_ch": 1, "num_out_ch": 1, "scale": 2, **TINY}
    net = RRDBNet(**{k: v for k, v in arch.items() if k != "type"})
    ema = random_state(net, 6)
    path = save_weights(tmp_path / "run" / "net_g.pth", net.state_dict(), arch=arch, params_ema=ema)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"params", "params_ema", "arch"}
    assert [p.name for p in path.parent.iterdir()] == ["net_g.pth"]  # no temporary file left
    state, loaded_arch = load_state_dict(path)
    assert loaded_arch == arch and all(torch.equal(state[k], ema[k]) for k in ema)


def test_own_checkpoint_arch_is_used_for_a_grayscale_model(tmp_path, gray_batch):
    arch = {"type": "RRDBNet", "num_in_ch": 1, "num_out_ch": 1, "scale": 2, **TINY}
    net = RRDBNet(**{k: v for k, v in arch.items() if k != "type"})
    path = save_weights(tmp_path / "gray.pth", random_state(net, 7), arch=arch)
    upscaler = load_upscaler("realesrgan", 2, path, device="cpu")
    assert upscaler.in_channels == 1
    net.load_state_dict(torch.load(path, weights_only=True)["params"])
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(gray_batch)[:, None])[:, 0].clamp(0, 1).numpy()
    np.testing.assert_array_equal(upscaler.upscale(gray_batch), expected)


def test_save_weights_refuses_an_arch_with_non_plain_values(tmp_path):
    with pytest.raises(ValueError, match="plain int/float/str/bool.*'scale': 'tuple'"):
        save_weights(tmp_path / "x.pth", {}, arch={"type": "RRDBNet", "scale": (4,)})


def test_weights_for_another_scale_are_reported_clearly(tmp_path):
    torch.save({"params": random_state(RRDBNet(3, 3, 2, **TINY), 8)}, tmp_path / "x2.pth")
    with pytest.raises(
        ValueError, match=r"Expected a x4 model for 'realesrgan', got x2 weights in .*x2\.pth"
    ):
        load_upscaler("realesrgan", 4, tmp_path / "x2.pth")


def test_key_mismatch_lists_keys_and_suggests_the_right_model(tmp_path):
    torch.save({"params": random_state(MSRResNet(num_block=1, num_feat=8), 9)}, tmp_path / "msr.pth")
    with pytest.raises(ValueError, match=r"missing keys \['body.0.rdb1.*unexpected.*use model 'msrresnet'"):
        load_upscaler("realesrgan", 4, tmp_path / "msr.pth", arch={"type": "RRDBNet", "num_block": 1})


def test_msrresnet_family_reads_its_sizes_from_the_file(tmp_path, gray_batch):
    net = MSRResNet(num_feat=8, num_block=2, upscale=3)
    torch.save({"params": random_state(net, 10)}, tmp_path / "msr_x3.pth")
    upscaler = load_upscaler("msrresnet", 3, tmp_path / "msr_x3.pth", device="cpu")
    assert upscaler.upscale(gray_batch).shape == (2, 18, 24)


def test_learned_model_without_weights_says_to_give_weights_or_train():
    with pytest.raises(ValueError, match=r"weights: path/to/RealESRGAN_x2plus\.pth.*v0\.2\.1.*`train:`"):
        load_upscaler("realesrgan", 2)
    with pytest.raises(ValueError, match="no PyTorch weights.*`train:`"):
        load_upscaler("srgan", 4)


def test_interpolation_model_refuses_weights(tmp_path):
    with pytest.raises(ValueError, match="no weights or arch for interpolation model 'bicubic'"):
        load_upscaler("bicubic", 4, tmp_path / "w.pth")


def test_unknown_model_name_suggests_the_closest():
    with pytest.raises(UserError, match="Did you mean 'realesrgan'"):
        load_upscaler("realesrgen", 4)


def test_available_models_lists_baselines_and_learned_families():
    learned = ["srresnet", "msrresnet", "srgan", "esrgan", "realesrnet", "realesrgan", "realesrgan-compact"]
    assert available_models() == sorted(["nearest", "bilinear", "bicubic", "lanczos", *learned])


def test_importing_sr_models_does_not_import_torch():
    code = "import sys, sr_models; sr_models.available_models(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
