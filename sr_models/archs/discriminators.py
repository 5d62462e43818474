"""Discriminators for SRGAN/ESRGAN (VGG-style) and Real-ESRGAN (U-Net with spectral norm).

Module and parameter names follow BasicSR's ``basicsr/archs/discriminator_arch.py`` so official
discriminator checkpoints (e.g. ``RealESRGAN_x4plus_netD.pth``, or a BasicSR-trained ESRGAN
``net_d``) load with ``load_state_dict``. Spectral norm uses ``torch.nn.utils.spectral_norm`` (not the
parametrization API) because that is what produces BasicSR's ``weight_orig``/``weight_u``/
``weight_v`` keys. Each class builds itself for a training preset (``for_preset``); a preset names it
through ``sr_models.presets.DISCRIMINATORS``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm


def _vgg_stages(input_size: int) -> tuple[int, int]:
    """Split ``input_size`` into (stride-2 stages, final side) with side 4, or 3 when 4 cannot be reached."""
    for side in (4, 3):
        if input_size % side == 0:
            ratio = input_size // side
            if ratio >= 2 and ratio & (ratio - 1) == 0:
                return ratio.bit_length() - 1, side
    raise ValueError(
        f"Expected input_size = 4 * 2**k or 3 * 2**k with k >= 1 (e.g. 32, 96, 128, 256, 512), got "
        f"{input_size}. Choose an HR patch size of that form."
    )


class VGGStyleDiscriminator(nn.Module):
    """VGG-style discriminator of SRGAN/ESRGAN, BasicSR layout.

    BasicSR accepts only 128 or 256; here the same rule is generalised: stride-2 stages are
    stacked until the feature map is 4x4 (or 3x3 for sizes like 96 = 3 * 32), with channels
    ``num_feat * min(2**i, 8)`` at stage i. For 128 and 256 this is exactly BasicSR's network
    (5 and 6 stages); 32x32 tiny patches get 3 stages.

    Input ``(N, num_in_ch, input_size, input_size)``; output ``(N, 1)`` real/fake logits.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, input_size: int = 128) -> None:
        super().__init__()
        self.input_size = input_size
        self.num_stages, side = _vgg_stages(input_size)
        self.conv0_0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(num_feat, affine=True)
        channels = num_feat
        for i in range(1, self.num_stages):
            out_ch = num_feat * min(2**i, 8)
            setattr(self, f"conv{i}_0", nn.Conv2d(channels, out_ch, 3, 1, 1, bias=False))
            setattr(self, f"bn{i}_0", nn.BatchNorm2d(out_ch, affine=True))
            setattr(self, f"conv{i}_1", nn.Conv2d(out_ch, out_ch, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(out_ch, affine=True))
            channels = out_ch
        self.linear1 = nn.Linear(channels * side * side, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    @classmethod
    def for_preset(cls, preset: Any, in_channels: int) -> VGGStyleDiscriminator:
        """The discriminator of ``preset`` for its HR patches (side ``preset.hr_patch``)."""
        return cls(in_channels, preset.discriminator_feat, input_size=preset.hr_patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"Expected input of shape (N, C, {self.input_size}, {self.input_size}), "
                f"got {tuple(x.shape)}. Build the discriminator with input_size equal to the HR patch size."
            )
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for i in range(1, self.num_stages):
            feat = self.lrelu(getattr(self, f"bn{i}_0")(getattr(self, f"conv{i}_0")(feat)))
            feat = self.lrelu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(feat)))
        feat = self.lrelu(self.linear1(feat.flatten(1)))
        return self.linear2(feat)


class UNetDiscriminatorSN(nn.Module):
    """U-Net discriminator with spectral normalisation (Real-ESRGAN), BasicSR layout.

    Input ``(N, num_in_ch, H, W)`` with H and W divisible by 8; output ``(N, 1, H, W)`` per-pixel
    real/fake logits.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        self.skip_connection = skip_connection
        self.conv0 = nn.Conv2d(num_in_ch, num_feat, kernel_size=3, stride=1, padding=1)
        # downsample
        self.conv1 = spectral_norm(nn.Conv2d(num_feat, num_feat * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(num_feat * 2, num_feat * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(num_feat * 4, num_feat * 8, 4, 2, 1, bias=False))
        # upsample
        self.conv4 = spectral_norm(nn.Conv2d(num_feat * 8, num_feat * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(num_feat * 4, num_feat * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(num_feat * 2, num_feat, 3, 1, 1, bias=False))
        # extra convolutions
        self.conv7 = spectral_norm(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(num_feat, 1, 3, 1, 1)

    @classmethod
    def for_preset(cls, preset: Any, in_channels: int) -> UNetDiscriminatorSN:
        """The discriminator of ``preset`` (per-pixel logits, so any patch side divisible by 8)."""
        return cls(in_channels, preset.discriminator_feat, skip_connection=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(
                f"Expected input of shape (N, C, H, W) with H and W divisible by 8, got {tuple(x.shape)}. "
                "Use an HR patch size that is a multiple of 8."
            )

        def act(t: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(t, negative_slope=0.2)

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)

        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        x4 = act(self.conv4(up(x3)))
        if self.skip_connection:
            x4 = x4 + x2
        x5 = act(self.conv5(up(x4)))
        if self.skip_connection:
            x5 = x5 + x1
        x6 = act(self.conv6(up(x5)))
        if self.skip_connection:
            x6 = x6 + x0
        out = act(self.conv7(x6))
        out = act(self.conv8(out))
        return self.conv9(out)
