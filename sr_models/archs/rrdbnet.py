"""RRDBNet, the ESRGAN / Real-ESRGAN generator, with BasicSR's exact module names.

Keys (``conv_first``, ``body.N.rdb{1,2,3}.conv{1..5}``, ``conv_body``, ``conv_up1``, ``conv_up2``,
``conv_hr``, ``conv_last``) match ``basicsr/archs/rrdbnet_arch.py``, so the official
``RealESRGAN_x4plus.pth`` / ``RealESRNet_x4plus.pth`` / ``RealESRGAN_x2plus.pth`` load with
``strict=True`` and give the official outputs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sr_models.archs.arch_util import check_scale, default_init_weights, tensor_shape, trunk_options
from sr_models.archs.registry import register_arch

# Real-ESRGAN keeps the x4 trunk for x2/x1 and pixel-unshuffles the input by this factor first.
_UNSHUFFLE = {4: 1, 2: 2, 1: 4}


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs, LeakyReLU(0.2), residual scaled by 0.2."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        default_init_weights([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs, outer residual scaled by 0.2."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


@register_arch(signature="body.0.rdb1.conv1.weight")
class RRDBNet(nn.Module):
    """ESRGAN generator; x2 and x1 pixel-unshuffle the input first (Real-ESRGAN).

    Parameters
    ----------
    num_in_ch, num_out_ch : int
        Image channels in and out (3 for the official RGB weights).
    scale : {1, 2, 4}
        Upscaling factor. Input height/width must be multiples of ``input_multiple``
        (4 // scale); :mod:`sr_models.inference` pads for you.
    num_feat, num_block, num_grow_ch : int
        Trunk width, number of RRDBs (23 official, 6 for the anime model), RDB growth channels.

    Forward maps (N, num_in_ch, h, w) to (N, num_out_ch, h*scale, w*scale), unclamped.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ):
        super().__init__()
        self.scale = check_scale(scale, _UNSHUFFLE, "RRDBNet")
        self.input_multiple = _UNSHUFFLE[scale]
        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.conv_first = nn.Conv2d(num_in_ch * self.input_multiple**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    @classmethod
    def options_from_state_dict(cls, state_dict: dict[str, torch.Tensor], scale: int) -> dict[str, Any]:
        """Keywords read from the shapes: the in/out channel ratio of ``conv_first`` / ``conv_last``
        gives the pixel-unshuffle, so the scale (``scale`` when the ratio is ambiguous)."""
        trunk = trunk_options(state_dict)
        if trunk is None:
            return {}
        options, first, last = trunk
        grow = tensor_shape(state_dict, "body.0.rdb1.conv1.weight")
        if grow is not None:
            options["num_grow_ch"] = grow[0]
        # conv_first sees num_in_ch * (4 // scale)**2 channels after pixel-unshuffle.
        ratio = {1: 4, 4: 2, 16: 1}.get(first[1] // last[0]) if first[1] % last[0] == 0 else None
        options["scale"] = ratio or scale
        unshuffle = _UNSHUFFLE.get(options["scale"], 1) ** 2
        options["num_in_ch"] = max(first[1] // unshuffle, 1)
        return options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.pixel_unshuffle orders channels c*r*r + i*r + j, the same as BasicSR's view/permute.
        feat = F.pixel_unshuffle(x, self.input_multiple) if self.input_multiple > 1 else x
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
