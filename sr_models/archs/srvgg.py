"""SRVGGNetCompact, Real-ESRGAN's compact generator, with the official module names.

Copies ``realesrgan/archs/srvgg_arch.py`` (Real-ESRGAN 0.3.0, BSD-3-Clause): a plain stack of 3x3
convs with activations in ``body`` (a ModuleList: conv, act, num_conv x (conv, act), conv), one
PixelShuffle to the output size, and the nearest-upsampled input added. The keys
(``body.0.weight`` ... ``body.{2 * num_conv + 2}.bias``; PReLU slopes at the odd indices) are
the official ones, so ``realesr-animevideov3.pth`` (num_conv 16) and ``realesr-general-x4v3.pth``
(num_conv 32) load with ``strict=True`` and give the official outputs.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cxr_kernel.errors import UserValueError
from sr_models.archs.registry import register_arch

ACTIVATIONS = ("relu", "prelu", "leakyrelu")


def _activation(act_type: str, num_feat: int) -> nn.Module:
    if act_type == "relu":
        return nn.ReLU(inplace=True)
    if act_type == "prelu":
        return nn.PReLU(num_parameters=num_feat)
    return nn.LeakyReLU(negative_slope=0.1, inplace=True)


@register_arch(signature="body.0.weight")
class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact VGG-style generator (``realesr-*v3`` weights).

    Parameters
    ----------
    num_in_ch, num_out_ch : int
        Image channels in and out (3 for the official RGB weights). The nearest-upsampled input
        is added to the output, so they must be equal, as in the official code.
    num_feat, num_conv : int
        Trunk width (64) and convolutions between the first and the last (16 for
        animevideov3, 32 for general-x4v3).
    upscale : int
        Upscaling factor; the last conv makes ``num_out_ch * upscale**2`` channels.
    act_type : {"relu", "prelu", "leakyrelu"}
        Activation after every conv but the last (PReLU: one slope per channel).

    Forward maps (N, num_in_ch, h, w) to (N, num_out_ch, h*upscale, w*upscale), unclamped.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
        act_type: str = "prelu",
    ):
        super().__init__()
        if act_type not in ACTIVATIONS:
            raise UserValueError(
                f"Expected SRVGGNetCompact act_type in {list(ACTIVATIONS)}, got {act_type!r}."
            )
        if isinstance(upscale, bool) or not isinstance(upscale, int) or upscale < 1:
            raise UserValueError(f"Expected SRVGGNetCompact upscale as a positive int, got {upscale!r}.")
        if num_in_ch != num_out_ch:
            raise UserValueError(
                f"Expected num_in_ch == num_out_ch for SRVGGNetCompact (the input is added to the output), "
                f"got {num_in_ch} and {num_out_ch}."
            )
        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.num_feat = num_feat
        self.num_conv = num_conv
        self.upscale = upscale
        self.scale = upscale
        self.act_type = act_type
        self.body = nn.ModuleList([nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), _activation(act_type, num_feat)])
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(_activation(act_type, num_feat))
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    @classmethod
    def options_from_state_dict(cls, state_dict: dict[str, torch.Tensor], scale: int) -> dict[str, Any]:
        """Keywords read from the shapes: ``body`` alternates conv and activation, the last conv makes
        C * upscale**2 channels (``scale`` when that is not C times a square).

        ReLU and LeakyReLU have no tensors, so without PReLU slopes ``act_type`` cannot be read and is
        left out: the strict load then names the missing ``body.1.weight``.
        """
        convs = sorted(
            int(m.group(1))
            for key, value in state_dict.items()
            if (m := re.fullmatch(r"body\.(\d+)\.weight", key)) and value.ndim == 4
        )
        if len(convs) < 2:
            return {}
        first, last = (
            state_dict[f"body.{convs[0]}.weight"].shape,
            state_dict[f"body.{convs[-1]}.weight"].shape,
        )
        channels = first[1]
        upscale = math.isqrt(last[0] // channels) if last[0] % channels == 0 else 0
        options: dict[str, Any] = {
            "num_in_ch": channels,
            "num_out_ch": channels,
            "num_feat": first[0],
            "num_conv": len(convs) - 2,
            "upscale": upscale if upscale**2 * channels == last[0] else scale,
        }
        if "body.1.weight" in state_dict:
            options["act_type"] = "prelu"
        return options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        # The net learns the residual over the nearest-upsampled input.
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.upscale, mode="nearest")
