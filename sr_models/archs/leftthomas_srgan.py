"""The SRGAN generator of leftthomas/SRGAN (MIT), with that repository's module names.

``model.py`` of https://github.com/leftthomas/SRGAN names its layers ``block1`` ... ``block8``:

- ``block1``: Conv 9x9 (3 -> 64) + PReLU (keys ``block1.0.*``, ``block1.1.weight``);
- ``block2`` ... ``block6``: residual blocks conv3x3-BN-PReLU-conv3x3-BN plus identity (keys
  ``blockK.conv1``, ``bn1``, ``prelu``, ``conv2``, ``bn2``);
- ``block7``: Conv 3x3 and then PReLU in early versions (``netG_epoch_4_100.pth`` at commit b0323c6;
  ``block7.1.weight`` has one slope) or BatchNorm in later ones (``block7.1.running_mean``);
- ``block8``: per x2 step Conv 3x3 (64 -> 256) + PixelShuffle(2) + PReLU (``block8.i.conv``,
  ``block8.i.prelu``), then Conv 9x9 (64 -> 3);
- output ``(tanh(block8(block1 + block7)) + 1) / 2``: the net maps RGB in [0, 1] to [0, 1].

Here the number of residual blocks is a parameter (5 in the released files): with ``num_block``
B the residual blocks are ``block2`` ... ``block{B+1}``, the tail conv ``block{B+2}`` and the
upsampler ``block{B+3}``, so B = 5 gives exactly the names above. Its BatchNorm tensors, saved by
PyTorch < 0.4.1, lack ``num_batches_tracked``; :func:`sr_models.weights.add_missing_batch_counters`
fills it in before the strict load.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import Tensor, nn

from cxr_kernel.errors import UserValueError
from sr_models.archs.arch_util import check_scale, tensor_shape
from sr_models.archs.registry import register_arch

TAILS = ("prelu", "bn")


class LeftthomasResidualBlock(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN plus identity, as leftthomas's ``ResidualBlock``."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class LeftthomasUpsampleBlock(nn.Module):
    """Conv3x3 to 4x channels, PixelShuffle(2), PReLU (leftthomas's ``UpsampleBLock``)."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 4, kernel_size=3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(2)
        self.prelu = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.prelu(self.pixel_shuffle(self.conv(x)))


@register_arch(signature="block1.0.weight")
class LeftthomasSRGAN(nn.Module):
    """leftthomas/SRGAN generator; outputs ``(tanh(x) + 1) / 2``, i.e. images in [0, 1].

    Parameters
    ----------
    num_in_ch, num_out_ch, num_feat : int
        Channels in/out (3: the released weights are RGB) and trunk width (64).
    num_block : int
        Residual blocks (5 in leftthomas's files).
    scale : {2, 4, 8}
        One upsample block per factor of two.
    tail : {"prelu", "bn"}
        What follows the conv of the block before the upsampler: PReLU in early versions
        (``netG_epoch_4_100.pth`` of commit b0323c6), BatchNorm later.

    Forward maps (N, num_in_ch, h, w) in [0, 1] to (N, num_out_ch, h*scale, w*scale) in [0, 1].
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 5,
        scale: int = 4,
        tail: str = "prelu",
    ):
        super().__init__()
        self.scale = check_scale(scale, (2, 4, 8), "LeftthomasSRGAN")
        if tail not in TAILS:
            raise UserValueError(f"Expected LeftthomasSRGAN tail in {list(TAILS)}, got {tail!r}.")
        if isinstance(num_block, bool) or not isinstance(num_block, int) or num_block < 1:
            raise UserValueError(f"Expected LeftthomasSRGAN num_block as an int >= 1, got {num_block!r}.")
        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.num_block = num_block
        self.block1 = nn.Sequential(nn.Conv2d(num_in_ch, num_feat, kernel_size=9, padding=4), nn.PReLU())
        for index in range(2, num_block + 2):
            setattr(self, f"block{index}", LeftthomasResidualBlock(num_feat))
        tail_layer = nn.PReLU() if tail == "prelu" else nn.BatchNorm2d(num_feat)
        setattr(
            self,
            f"block{num_block + 2}",
            nn.Sequential(nn.Conv2d(num_feat, num_feat, kernel_size=3, padding=1), tail_layer),
        )
        upsampler = [LeftthomasUpsampleBlock(num_feat) for _ in range(int(math.log2(scale)))]
        upsampler.append(nn.Conv2d(num_feat, num_out_ch, kernel_size=9, padding=4))
        setattr(self, f"block{num_block + 3}", nn.Sequential(*upsampler))

    @classmethod
    def options_from_state_dict(cls, state_dict: dict[str, Tensor], scale: int) -> dict[str, Any]:
        """Keywords read from the keys: residual blocks have ``conv1``; the last block holds the
        upsample steps; a BatchNorm tail has running statistics."""
        first = tensor_shape(state_dict, "block1.0.weight")
        if first is None:
            return {}
        num_block = sum(1 for key in state_dict if re.fullmatch(r"block\d+\.conv1\.weight", key))
        tail, upsampler = f"block{num_block + 2}", f"block{num_block + 3}"
        steps = sum(1 for key in state_dict if re.fullmatch(rf"{upsampler}\.\d+\.conv\.weight", key))
        last = tensor_shape(state_dict, f"{upsampler}.{steps}.weight")
        options: dict[str, Any] = {
            "num_in_ch": first[1],
            "num_feat": first[0],
            "num_block": num_block,
            "scale": 2**steps,
            "tail": "bn" if f"{tail}.1.running_mean" in state_dict else "prelu",
        }
        if last is not None:
            options["num_out_ch"] = last[0]
        return options

    def forward(self, x: Tensor) -> Tensor:
        first = self.block1(x)
        feat = first
        for index in range(2, self.num_block + 3):
            feat = getattr(self, f"block{index}")(feat)
        out = getattr(self, f"block{self.num_block + 3}")(first + feat)
        return (torch.tanh(out) + 1) / 2
