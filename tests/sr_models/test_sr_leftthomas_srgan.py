"""``srgan`` loading leftthomas/SRGAN generator files, against an independent transcription of its model.

``LeftthomasGenerator`` below is written from the description in ``../shared/weights/README.md``
(leftthomas/SRGAN ``model.py`` at commit b0323c6), without the project's code: block1 Conv 9x9 + PReLU,
block2..block6 residual blocks (Conv, BN, PReLU, Conv, BN, skip), block7 Conv 3x3 + PReLU (no BN in that
version), block8 two upsample blocks (Conv 64->256, PixelShuffle 2, PReLU) and Conv 9x9, output
``(tanh(block8(block1 + block7)) + 1) / 2``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.degradations.resize import downsample
from benchmark.images import read_grayscale, resize_square
from benchmark.metrics.image_quality import psnr
from sr_models import load_upscaler
from sr_models.archs import LeftthomasSRGAN
from sr_models.archs.infer import infer_arch
from sr_models.weights import load_state_dict
from tests.support.paths import SHARED

LEFTTHOMAS = SHARED / "weights" / "leftthomas_SRGAN_netG_epoch_4_100.pth"
TEST_XRAYS = SHARED / "data" / "kermany-test-hr"


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        residual = self.conv1(x)
        residual = self.bn1(residual)
        residual = self.prelu(residual)
        residual = self.conv2(residual)
        residual = self.bn2(residual)
        return x + residual


class UpsampleBlock(nn.Module):
    def __init__(self, in_channels, up_scale):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels * up_scale**2, kernel_size=3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(up_scale)
        self.prelu = nn.PReLU()

    def forward(self, x):
        return self.prelu(self.pixel_shuffle(self.conv(x)))


class LeftthomasGenerator(nn.Module):
    """leftthomas/SRGAN ``Generator(scale_factor=4)`` of the shipped file's era."""

    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 64, kernel_size=9, padding=4), nn.PReLU())
        self.block2 = ResidualBlock(64)
        self.block3 = ResidualBlock(64)
        self.block4 = ResidualBlock(64)
        self.block5 = ResidualBlock(64)
        self.block6 = ResidualBlock(64)
        self.block7 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.PReLU())
        self.block8 = nn.Sequential(
            UpsampleBlock(64, 2), UpsampleBlock(64, 2), nn.Conv2d(64, 3, kernel_size=9, padding=4)
        )

    def forward(self, x):
        block1 = self.block1(x)
        block2 = self.block2(block1)
        block3 = self.block3(block2)
        block4 = self.block4(block3)
        block5 = self.block5(block4)
        block6 = self.block6(block5)
        block7 = self.block7(block6)
        block8 = self.block8(block1 + block7)
        return (torch.tanh(block8) + 1) / 2


def _old_style_state(net: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random tensors in ``net``'s layout, without ``num_batches_tracked`` (saved before torch 0.4.1)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        draw = torch.randn(value.shape, generator=gen) * 0.05
        state[key] = draw.abs() + 0.5 if key.endswith("running_var") else draw
    return state


def test_random_leftthomas_file_loads_as_srgan_and_equals_the_transcription(tmp_path):
    reference = LeftthomasGenerator().eval()
    state = _old_style_state(reference, seed=0)
    reference.load_state_dict(state, strict=True)
    path = tmp_path / "netG_epoch_4_100.pth"
    torch.save(state, path)  # a bare state dict, as leftthomas's train.py saves it

    upscaler = load_upscaler("srgan", 4, path, device="cpu")
    assert isinstance(upscaler.net, LeftthomasSRGAN)
    x = torch.rand(2, 3, 9, 7, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(upscaler.net(x), reference(x))


@pytest.mark.parametrize(("num_block", "scale", "tail"), [(3, 2, "prelu"), (1, 8, "bn"), (5, 4, "bn")])
def test_residual_blocks_scale_and_tail_are_read_from_the_keys(tmp_path, num_block, scale, tail):
    net = LeftthomasSRGAN(num_feat=8, num_block=num_block, scale=scale, tail=tail)
    path = tmp_path / "netG.pth"
    torch.save(net.state_dict(), path)
    state_dict, _ = load_state_dict(path)
    assert infer_arch("LeftthomasSRGAN", state_dict, 4) == {
        "type": "LeftthomasSRGAN",
        "num_in_ch": 3,
        "num_feat": 8,
        "num_block": num_block,
        "scale": scale,
        "tail": tail,
        "num_out_ch": 3,
    }
    upscaler = load_upscaler("srgan", scale, path, device="cpu")
    out = upscaler.upscale(np.random.default_rng(0).random((1, 5, 6), dtype=np.float32))
    assert out.shape == (1, 5 * scale, 6 * scale)


def test_srgan_still_builds_srresnet_for_its_own_checkpoints(tmp_path):
    from sr_models.archs import SRResNet

    path = tmp_path / "srresnet.pth"
    torch.save({"params": SRResNet(num_feat=8, num_block=2).state_dict()}, path)
    assert isinstance(load_upscaler("srgan", 4, path, device="cpu").net, SRResNet)


def _shipped_file_and_xray(name: str, size: int) -> np.ndarray:
    if not LEFTTHOMAS.is_file() or not TEST_XRAYS.is_dir():
        pytest.skip(f"{LEFTTHOMAS} or {TEST_XRAYS} missing: needs ../shared beside the checkout")
    return resize_square(read_grayscale(TEST_XRAYS / name), size)


def test_shipped_file_equals_the_transcription_on_a_real_xray_crop():
    hr = _shipped_file_and_xray("NORMAL/IM-0061-0001.jpeg", 512)
    reference = LeftthomasGenerator().eval()
    reference.load_state_dict(torch.load(LEFTTHOMAS, map_location="cpu", weights_only=True), strict=True)
    upscaler = load_upscaler("srgan", 4, LEFTTHOMAS, device="cpu")
    assert upscaler.info()["parameters"] == 734_092  # + 1,280 BN running statistics = 735,372 tensors
    crop = np.ascontiguousarray(hr[240:264, 200:232])
    gray = torch.from_numpy(crop)[None, None].expand(-1, 3, -1, -1)
    with torch.no_grad():
        assert torch.equal(upscaler.net(gray), reference(gray))
        expected = reference(gray).mean(dim=1).clamp(0, 1).numpy()
    np.testing.assert_array_equal(upscaler.upscale(crop[None]), expected)


@pytest.mark.parametrize(
    ("name", "measured_srgan", "measured_bicubic"),
    [("NORMAL/IM-0027-0001.jpeg", 32.598, 32.074), ("PNEUMONIA/person1608_virus_2786.jpeg", 34.197, 33.616)],
)
def test_shipped_file_beats_bicubic_on_a_real_xray(name, measured_srgan, measured_bicubic):
    """x4 from a whole test X-ray at 256 px, bicubic-downscaled to 64 px (as the weights README).

    The figures were measured here. On all 11 kermany-test-hr images SRGAN leads bicubic by 0.40 to
    2.09 dB at 256 px and by 0.52 to 3.09 dB at 512 px (34.80 vs 33.86 dB for IM-0027-0001); on
    central crops without the body outline it is level (-0.83 to +0.72 dB). The floor is half the
    measured lead, a sanity check rather than a regression figure.
    """
    hr = _shipped_file_and_xray(name, 256)
    lr = np.clip(downsample(hr, 4), 0, 1)[None]
    srgan = load_upscaler("srgan", 4, LEFTTHOMAS, device="cpu").upscale(lr)[0]
    bicubic = load_upscaler("bicubic", 4).upscale(lr)[0]
    psnr_srgan, psnr_bicubic = psnr(hr, srgan, data_range=1.0), psnr(hr, bicubic, data_range=1.0)
    assert psnr_bicubic == pytest.approx(measured_bicubic, abs=0.01)
    assert psnr_srgan == pytest.approx(measured_srgan, abs=0.05)
    assert psnr_srgan - psnr_bicubic > (measured_srgan - measured_bicubic) / 2
