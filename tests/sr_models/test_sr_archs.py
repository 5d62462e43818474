"""Architectures against the official key names, published parameter counts and an independent
functional re-implementation of BasicSR's forward passes."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from sr_models.archs import ARCHS, LeftthomasSRGAN, MSRResNet, RRDBNet, SRResNet, SRVGGNetCompact, build_arch


def conv_params(c_in: int, c_out: int, k: int = 3) -> int:
    """Weights plus biases of one Conv2d."""
    return c_in * c_out * k * k + c_out


def rrdbnet_params(in_ch: int, out_ch: int, feat: int, blocks: int, grow: int) -> int:
    rdb = sum(conv_params(feat + i * grow, grow) for i in range(4)) + conv_params(feat + 4 * grow, feat)
    return (
        conv_params(in_ch, feat) + blocks * 3 * rdb + 4 * conv_params(feat, feat) + conv_params(feat, out_ch)
    )


def official_rrdbnet_keys(num_block: int) -> list[str]:
    """Key list of BasicSR's rrdbnet_arch.RRDBNet, in its registration order."""
    names = ["conv_first"]
    names += [f"body.{n}.rdb{k}.conv{j}" for n in range(num_block) for k in (1, 2, 3) for j in range(1, 6)]
    names += ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
    return [f"{name}.{kind}" for name in names for kind in ("weight", "bias")]


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def on_meta(cls, *args, **kwargs) -> torch.nn.Module:
    """Build full-size nets without allocating or initialising 16M weights (keeps tests fast)."""
    with torch.device("meta"):
        return cls(*args, **kwargs)


def test_rrdbnet_state_dict_keys_are_the_official_basicsr_keys():
    assert list(on_meta(RRDBNet, 3, 3, 4, 64, 23, 32).state_dict()) == official_rrdbnet_keys(23)


def test_rrdbnet_x4_has_the_official_16697987_parameters():
    assert rrdbnet_params(3, 3, 64, 23, 32) == 16_697_987  # the formula reproduces the published count
    assert count(on_meta(RRDBNet, 3, 3, 4, 64, 23, 32)) == 16_697_987


def test_rrdbnet_x2_unshuffles_to_12_input_channels_like_realesrgan_x2plus():
    net = on_meta(RRDBNet, num_in_ch=3, num_out_ch=3, scale=2)
    assert net.conv_first.weight.shape == (64, 12, 3, 3)
    assert count(net) == rrdbnet_params(12, 3, 64, 23, 32) == 16_703_171


def test_msrresnet_x4_has_basicsrs_1517571_parameters_and_keys():
    formula = (
        conv_params(3, 64) + 16 * 2 * conv_params(64, 64) + 2 * conv_params(64, 256)
        + conv_params(64, 64) + conv_params(64, 3)
    )  # fmt: skip
    assert formula == 1_517_571
    net = on_meta(MSRResNet)
    assert count(net) == 1_517_571
    expected = ["conv_first"] + [f"body.{n}.conv{j}" for n in range(16) for j in (1, 2)]
    expected += ["upconv1", "upconv2", "conv_hr", "conv_last"]
    assert list(net.state_dict()) == [f"{n}.{kind}" for n in expected for kind in ("weight", "bias")]


def test_srresnet_parameter_count_follows_ledig_layer_formula():
    bn, prelu = 2 * 64, 1
    block = 2 * conv_params(64, 64) + 2 * bn + prelu
    formula = (
        conv_params(3, 64, 9) + prelu + 16 * block + conv_params(64, 64) + bn
        + 2 * (conv_params(64, 256) + prelu) + conv_params(64, 3, 9)
    )  # fmt: skip
    assert count(on_meta(SRResNet)) == formula == 1_549_462


def test_srresnet_uses_9x9_ends_batchnorm_and_one_pixelshuffle_per_doubling():
    net = SRResNet(scale=8, num_block=2, num_feat=8)
    assert net.conv_first.kernel_size == net.conv_last.kernel_size == (9, 9)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 2 * 2 + 1
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in net.modules()) == 3


@pytest.mark.parametrize(
    ("arch", "scale"),
    [
        ({"type": "RRDBNet", "scale": 1, "num_block": 1, "num_feat": 8, "num_grow_ch": 4}, 1),
        ({"type": "RRDBNet", "scale": 2, "num_block": 1, "num_feat": 8, "num_grow_ch": 4}, 2),
        ({"type": "RRDBNet", "scale": 4, "num_block": 1, "num_feat": 8, "num_grow_ch": 4}, 4),
        ({"type": "MSRResNet", "upscale": 3, "num_block": 1, "num_feat": 8}, 3),
        ({"type": "SRResNet", "scale": 2, "num_block": 1, "num_feat": 8, "num_in_ch": 1, "num_out_ch": 1}, 2),
    ],
)
def test_every_arch_multiplies_the_input_size_by_its_scale(arch, scale):
    net = build_arch(arch).eval()
    c = arch.get("num_in_ch", 3)
    assert net(torch.rand(2, c, 8, 12)).shape == (2, c, 8 * scale, 12 * scale)


def _reference_rdb(x, sd, prefix):
    """ResidualDenseBlock written out with F.conv2d, following BasicSR's forward."""
    feats = [x]
    for j in range(1, 5):
        w, b = sd[f"{prefix}.conv{j}.weight"], sd[f"{prefix}.conv{j}.bias"]
        feats.append(F.leaky_relu(F.conv2d(torch.cat(feats, 1), w, b, padding=1), 0.2))
    x5 = F.conv2d(torch.cat(feats, 1), sd[f"{prefix}.conv5.weight"], sd[f"{prefix}.conv5.bias"], padding=1)
    return x5 * 0.2 + x


def reference_rrdbnet(x, sd, scale, num_block):
    def conv(t, name):
        return F.conv2d(t, sd[f"{name}.weight"], sd[f"{name}.bias"], padding=1)

    if scale < 4:  # BasicSR arch_util.pixel_unshuffle: view + permute
        r = 4 // scale
        b, c, hh, ww = x.shape
        x = (
            x.view(b, c, hh // r, r, ww // r, r)
            .permute(0, 1, 3, 5, 2, 4)
            .reshape(b, c * r * r, hh // r, ww // r)
        )
    feat = conv(x, "conv_first")
    body = feat
    for n in range(num_block):
        out = body
        for k in (1, 2, 3):
            out = _reference_rdb(out, sd, f"body.{n}.rdb{k}")
        body = out * 0.2 + body
    feat = feat + conv(body, "conv_body")
    for name in ("conv_up1", "conv_up2"):
        feat = F.leaky_relu(
            conv(torch.repeat_interleave(torch.repeat_interleave(feat, 2, 2), 2, 3), name), 0.2
        )
    return conv(F.leaky_relu(conv(feat, "conv_hr"), 0.2), "conv_last")


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_rrdbnet_forward_matches_an_independent_functional_implementation(scale):
    gen = torch.Generator().manual_seed(scale)
    net = RRDBNet(3, 3, scale=scale, num_feat=8, num_block=2, num_grow_ch=4).eval()
    sd = {k: torch.randn(v.shape, generator=gen) * 0.1 for k, v in net.state_dict().items()}
    net.load_state_dict(sd)
    x = torch.rand(1, 3, 8, 12, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(net(x), reference_rrdbnet(x, sd, scale, 2), rtol=1e-5, atol=1e-5)


def test_msrresnet_forward_matches_an_independent_functional_implementation():
    gen = torch.Generator().manual_seed(0)
    net = MSRResNet(num_feat=8, num_block=2, upscale=4).eval()
    sd = {k: torch.randn(v.shape, generator=gen) * 0.1 for k, v in net.state_dict().items()}
    net.load_state_dict(sd)
    x = torch.rand(1, 3, 6, 7, generator=gen)

    def conv(t, name):
        return F.conv2d(t, sd[f"{name}.weight"], sd[f"{name}.bias"], padding=1)

    out = F.leaky_relu(conv(x, "conv_first"), 0.1)
    for n in range(2):
        out = out + conv(F.relu(conv(out, f"body.{n}.conv1")), f"body.{n}.conv2")
    for name in ("upconv1", "upconv2"):
        out = F.leaky_relu(F.pixel_shuffle(conv(out, name), 2), 0.1)
    out = conv(F.leaky_relu(conv(out, "conv_hr"), 0.1), "conv_last")
    out = out + F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    with torch.no_grad():
        torch.testing.assert_close(net(x), out, rtol=1e-5, atol=1e-5)


def test_build_arch_names_valid_types_for_an_unknown_type():
    with pytest.raises(ValueError, match="MSRResNet.*RRDBNet.*SRResNet"):
        build_arch({"type": "EDSR"})


def test_build_arch_names_valid_arguments_for_an_unknown_keyword():
    with pytest.raises(ValueError, match="num_grow_ch.*unknown \\['upscale'\\]"):
        build_arch({"type": "RRDBNet", "upscale": 4})


def test_rrdbnet_refuses_a_scale_it_cannot_produce():
    with pytest.raises(ValueError, match=r"RRDBNet scale in \[4, 2, 1\], got 3"):
        RRDBNet(scale=3)


def test_archs_table_lists_the_five_generators():
    assert dict(ARCHS.items()) == {
        "RRDBNet": RRDBNet,
        "MSRResNet": MSRResNet,
        "SRResNet": SRResNet,
        "SRVGGNetCompact": SRVGGNetCompact,
        "LeftthomasSRGAN": LeftthomasSRGAN,
    }


# -- architectures register themselves ---------------------------------------------------------------------


def test_every_learned_model_names_registered_architectures():
    from sr_models import learned_models

    for learned in learned_models().values():
        assert {learned.arch_type, *learned.also_loads} <= set(ARCHS)


def test_every_architecture_rebuilds_itself_from_its_own_state_dict():
    from sr_models.archs.registry import guess_arch_type, infer_arch

    small = {
        "RRDBNet": {
            "num_feat": 8,
            "num_block": 2,
            "num_grow_ch": 4,
            "scale": 2,
            "num_in_ch": 1,
            "num_out_ch": 1,
        },
        "MSRResNet": {"num_feat": 8, "num_block": 2, "upscale": 2, "num_in_ch": 1, "num_out_ch": 1},
        "SRResNet": {"num_feat": 8, "num_block": 2, "scale": 2, "num_in_ch": 1, "num_out_ch": 1},
        "SRVGGNetCompact": {"num_feat": 8, "num_conv": 2, "upscale": 2, "num_in_ch": 1, "num_out_ch": 1},
        "LeftthomasSRGAN": {"num_feat": 8, "num_block": 2, "scale": 2, "num_in_ch": 1, "num_out_ch": 1},
    }
    assert set(small) == set(ARCHS)
    for name, cls in ARCHS.items():
        state = cls(**small[name]).state_dict()
        assert guess_arch_type(state) == name
        assert infer_arch(name, state, 4)["type"] == name
        rebuilt = cls.from_state_dict(state, 4)
        rebuilt.load_state_dict(state, strict=True)


def test_a_second_architecture_of_the_same_name_is_refused():
    from torch import nn

    from sr_models.archs.registry import register_arch

    with pytest.raises(ValueError, match="defined twice"):

        @register_arch(signature="x")
        class RRDBNet(nn.Module):  # noqa: F811
            @classmethod
            def options_from_state_dict(cls, state_dict, scale):
                return {}
