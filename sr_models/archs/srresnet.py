"""SRResNet generators: Ledig et al.'s original (with BN) and BasicSR's modified MSRResNet.

``SRResNet`` follows "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial
Network" (Ledig et al., CVPR 2017, Fig. 4): 9x9 conv + PReLU, B residual blocks
conv-BN-PReLU-conv-BN, conv-BN with a global skip, one conv + PixelShuffle(2) + PReLU per x2
step, 9x9 output conv. The authors released no PyTorch weights, so its key names are ours; PReLU
has one shared slope (``nn.PReLU()`` default) and convs keep their bias. The output is linear
(no tanh) because this project trains on images in [0, 1] and clamps at inference.

``MSRResNet`` copies ``basicsr/archs/srresnet_arch.py`` (keys ``conv_first``,
``body.N.conv{1,2}``, ``upconv1``, ``upconv2``, ``conv_hr``, ``conv_last``) so BasicSR's
MSRResNet / SRGAN model-zoo weights load strictly.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sr_models.archs.arch_util import check_scale, default_init_weights, tensor_shape, trunk_options
from sr_models.archs.registry import register_arch


class ResidualBlockBN(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN plus identity (Ledig et al.)."""

    def __init__(self, num_feat: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(num_feat)
        self.act = nn.PReLU()
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(num_feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


@register_arch(signature="bn_body.weight")
class SRResNet(nn.Module):
    """Ledig et al. SRResNet (also the SRGAN generator).

    Parameters
    ----------
    num_in_ch, num_out_ch, num_feat, num_block : int
        Channels in/out, trunk width (64) and residual blocks (16) as in the paper.
    scale : {2, 4, 8}
        One conv + PixelShuffle(2) + PReLU per factor of two.

    Forward maps (N, num_in_ch, h, w) to (N, num_out_ch, h*scale, w*scale), unclamped.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        scale: int = 4,
    ):
        super().__init__()
        self.scale = check_scale(scale, (2, 4, 8), "SRResNet")
        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 9, 1, 4)
        self.act_first = nn.PReLU()
        self.body = nn.Sequential(*(ResidualBlockBN(num_feat) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn_body = nn.BatchNorm2d(num_feat)
        steps = []
        for _ in range(int(math.log2(scale))):
            steps += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.upsample = nn.Sequential(*steps)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 9, 1, 4)

    @classmethod
    def options_from_state_dict(cls, state_dict: dict[str, torch.Tensor], scale: int) -> dict[str, Any]:
        """Keywords read from the shapes: one x2 step per 4-D ``upsample.{3i}.weight`` (the conv; the
        PReLU's is ``upsample.{3i+2}.weight``)."""
        trunk = trunk_options(state_dict)
        if trunk is None:
            return {}
        options, first, _ = trunk
        steps = sum(
            1 for k, v in state_dict.items() if re.fullmatch(r"upsample\.\d+\.weight", k) and v.ndim == 4
        )
        options.update(num_in_ch=first[1], scale=2**steps if steps else scale)
        return options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.act_first(self.conv_first(x))
        feat = feat + self.bn_body(self.conv_body(self.body(feat)))
        return self.conv_last(self.upsample(feat))


class ResidualBlockNoBN(nn.Module):
    """conv3x3-ReLU-conv3x3 plus identity (BasicSR ``ResidualBlockNoBN``, res_scale 1)."""

    def __init__(self, num_feat: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        default_init_weights([self.conv1, self.conv2], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


@register_arch(signature="upconv1.weight")
class MSRResNet(nn.Module):
    """BasicSR's modified SRResNet: no BN, LeakyReLU(0.1), bilinear-upsampled input added.

    Parameters
    ----------
    num_in_ch, num_out_ch, num_feat, num_block : int
        As in BasicSR (3, 3, 64, 16).
    upscale : {2, 3, 4}
        x2/x3: one conv + PixelShuffle(upscale); x4: two conv + PixelShuffle(2) steps.

    Forward maps (N, C, h, w) to (N, num_out_ch, h*upscale, w*upscale); the bilinear skip
    assumes ``num_in_ch == num_out_ch``, as in BasicSR.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        upscale: int = 4,
    ):
        super().__init__()
        self.upscale = check_scale(upscale, (2, 3, 4), "MSRResNet")
        self.scale = self.upscale
        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualBlockNoBN(num_feat) for _ in range(num_block)))
        if upscale == 4:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(2)
        else:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * upscale * upscale, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(upscale)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        default_init_weights([self.conv_first, self.upconv1, self.conv_hr, self.conv_last], 0.1)
        if upscale == 4:
            default_init_weights(self.upconv2, 0.1)

    @classmethod
    def options_from_state_dict(cls, state_dict: dict[str, torch.Tensor], scale: int) -> dict[str, Any]:
        """Keywords read from the shapes: x4 has ``upconv2``, x2/x3 one ``upconv1`` of C * upscale**2."""
        trunk = trunk_options(state_dict)
        if trunk is None:
            return {}
        options, first, _ = trunk
        up1 = tensor_shape(state_dict, "upconv1.weight")
        options["num_in_ch"] = first[1]
        if "upconv2.weight" in state_dict:
            options["upscale"] = 4
        elif up1 is not None:
            options["upscale"] = math.isqrt(up1[0] // first[0])
        return options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(self.lrelu(self.conv_first(x)))
        out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
        if self.upscale == 4:
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        return out + F.interpolate(x, scale_factor=self.upscale, mode="bilinear", align_corners=False)
