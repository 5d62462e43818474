"""Discriminators: BasicSR key names, parameter counts by formula, output shapes, spectral norm."""

from __future__ import annotations

import pytest
import torch

from sr_models.archs.discriminators import UNetDiscriminatorSN, VGGStyleDiscriminator


def _conv(c_in: int, c_out: int, k: int, bias: bool) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def _vgg128_parameter_count(c_in: int, nf: int) -> int:
    """BasicSR VGGStyleDiscriminator(input_size=128) written out layer by layer."""
    total = _conv(c_in, nf, 3, True) + _conv(nf, nf, 4, False) + 2 * nf  # conv0_0, conv0_1, bn0_1
    for c_prev, c in ((nf, 2 * nf), (2 * nf, 4 * nf), (4 * nf, 8 * nf), (8 * nf, 8 * nf)):
        total += _conv(c_prev, c, 3, False) + 2 * c + _conv(c, c, 4, False) + 2 * c
    return total + (8 * nf * 4 * 4 * 100 + 100) + (100 + 1)  # linear1, linear2


def test_vgg_discriminator_128_has_basicsr_parameter_count_and_keys():
    net = VGGStyleDiscriminator(num_in_ch=3, num_feat=64, input_size=128)
    assert sum(p.numel() for p in net.parameters()) == _vgg128_parameter_count(3, 64)
    expected_modules = ["conv0_0", "conv0_1", "bn0_1", "linear1", "linear2"] + [
        f"{kind}{i}_{j}" for i in range(1, 5) for j in (0, 1) for kind in ("conv", "bn")
    ]
    modules = {key.split(".")[0] for key in net.state_dict()}
    assert modules == set(expected_modules)
    assert net.state_dict()["linear1.weight"].shape == (100, 512 * 4 * 4)


def test_vgg_discriminator_256_adds_basicsr_stage_5():
    net = VGGStyleDiscriminator(num_in_ch=3, num_feat=64, input_size=256)
    keys = net.state_dict()
    assert {"conv5_0.weight", "bn5_0.weight", "conv5_1.weight", "bn5_1.running_var"} <= keys.keys()
    assert "conv6_0.weight" not in keys
    assert keys["linear1.weight"].shape == (100, 512 * 4 * 4)
    extra = _conv(512, 512, 3, False) + _conv(512, 512, 4, False) + 4 * 512
    assert sum(p.numel() for p in net.parameters()) == _vgg128_parameter_count(3, 64) + extra


@pytest.mark.parametrize(("size", "final_side"), [(32, 4), (96, 3), (128, 4)])
def test_vgg_discriminator_gives_one_logit_per_patch(size, final_side):
    net = VGGStyleDiscriminator(num_in_ch=1, num_feat=8, input_size=size)
    assert net.linear1.in_features % (final_side * final_side) == 0
    assert net(torch.rand(2, 1, size, size)).shape == (2, 1)


def test_vgg_discriminator_refuses_sizes_it_cannot_reduce_and_mismatched_inputs():
    with pytest.raises(ValueError, match="input_size"):
        VGGStyleDiscriminator(input_size=100)
    net = VGGStyleDiscriminator(num_in_ch=3, num_feat=8, input_size=32)
    with pytest.raises(ValueError, match="32"):
        net(torch.rand(1, 3, 64, 64))


def test_unet_discriminator_has_basicsr_parameter_count_and_spectral_norm_keys():
    nf = 64
    net = UNetDiscriminatorSN(num_in_ch=3, num_feat=nf, skip_connection=True)
    expected = (
        _conv(3, nf, 3, True)
        + _conv(nf, 2 * nf, 4, False)
        + _conv(2 * nf, 4 * nf, 4, False)
        + _conv(4 * nf, 8 * nf, 4, False)
        + _conv(8 * nf, 4 * nf, 3, False)
        + _conv(4 * nf, 2 * nf, 3, False)
        + _conv(2 * nf, nf, 3, False)
        + 2 * _conv(nf, nf, 3, False)
        + _conv(nf, 1, 3, True)
    )
    assert expected == 4_376_897
    assert sum(p.numel() for p in net.parameters()) == expected
    keys = net.state_dict().keys()
    for i in range(1, 9):
        assert {f"conv{i}.weight_orig", f"conv{i}.weight_u", f"conv{i}.weight_v"} <= keys
    assert {"conv0.weight", "conv0.bias", "conv9.weight", "conv9.bias"} <= keys


def test_unet_discriminator_gives_per_pixel_logits():
    net = UNetDiscriminatorSN(num_in_ch=3, num_feat=8)
    assert net(torch.rand(2, 3, 32, 48)).shape == (2, 1, 32, 48)
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.rand(1, 3, 30, 32))


def test_unet_spectral_norm_drives_largest_singular_value_to_one():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = UNetDiscriminatorSN(num_in_ch=1, num_feat=8).train()
    with torch.no_grad():
        net.conv3.weight_orig.mul_(5)  # far from norm 1, so the check can fail
        for _ in range(300):  # one power iteration per training-mode forward
            net(torch.zeros(1, 1, 8, 8))
    weight = net.conv3.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, abs=1e-3)
    assert torch.linalg.matrix_norm(net.conv3.weight_orig.detach().flatten(1), ord=2).item() > 1.5


def test_every_preset_discriminator_name_is_a_registered_class():
    from sr_models.presets import DISCRIMINATORS

    assert dict(DISCRIMINATORS.items()) == {"vgg": VGGStyleDiscriminator, "unet": UNetDiscriminatorSN}
    assert all(callable(getattr(cls, "for_preset", None)) for _, cls in DISCRIMINATORS.items())
