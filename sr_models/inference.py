"""Running a PyTorch generator on NumPy grayscale batches: padding, tiling, precision, devices.

Tiling follows Real-ESRGAN's ``RealESRGANer.tile_process``: the input is cut into ``tile`` x ``tile``
pieces, each is run with ``overlap`` extra input pixels of context on every side (clipped at the
image border), and only the output of the un-padded piece is kept. When ``overlap`` covers the
network's receptive-field radius, the result equals untiled inference up to float rounding;
with real 23-block RRDBNets (radius > 100 px) it is an approximation whose seams shrink as
``overlap`` grows.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from cxr_kernel.errors import UserValueError
from sr_models.upscaler import Upscaler

#: Autocast dtype per precision; fp32 and tf32 run the weights in float32 (tf32 lets cuDNN round
#: conv inputs to TF32, PyTorch's default on CUDA; fp32 forces IEEE float32).
PRECISIONS = {"fp32": None, "tf32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def default_device() -> str:
    """Return "cuda" when a GPU is visible to torch, else "cpu"."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad bottom/right to multiples of ``multiple`` (reflect, or replicate if the image is too small)."""
    h, w = x.shape[-2:]
    pad_h, pad_w = _round_up(h, multiple) - h, _round_up(w, multiple) - w
    if pad_h == pad_w == 0:
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def run_net(net: nn.Module, x: Tensor, scale: int) -> Tensor:
    """Untiled forward of (N, C, h, w) with padding for ``net.input_multiple``; exact output size.

    Returns (N, C_out, h*scale, w*scale), unclamped, in the dtype ``net`` produces.
    """
    h, w = x.shape[-2:]
    out = net(_pad_to_multiple(x, getattr(net, "input_multiple", 1)))
    return out[..., : h * scale, : w * scale]


def upscale_tiled(net: nn.Module, x: Tensor, scale: int, tile: int, overlap: int) -> Tensor:
    """Tiled forward of (N, C, h, w), Real-ESRGAN style; returns (N, C_out, h*scale, w*scale).

    Parameters
    ----------
    net : nn.Module
        Maps (N, C, a, b) to (N, C_out, a*scale, b*scale); an ``input_multiple`` attribute
        (RRDBNet x2/x1) makes tile origins and sizes multiples of it so pixel-unshuffle phases
        match the untiled run.
    tile : int
        Tile side in input pixels (rounded up to ``input_multiple``).
    overlap : int
        Context added on each side of a tile in input pixels (rounded up likewise).
    """
    if tile < 1 or overlap < 0:
        raise ValueError(f"Expected tile >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}.")
    multiple = getattr(net, "input_multiple", 1)
    tile, overlap = _round_up(tile, multiple), _round_up(overlap, multiple)
    h, w = x.shape[-2:]
    padded = _pad_to_multiple(x, multiple)
    height, width = padded.shape[-2:]
    out: Tensor | None = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(bottom + overlap, height), min(right + overlap, width)
            piece = net(padded[..., y0:y1, x0:x1])
            if out is None:  # output channels and dtype are known only after the first tile
                out = piece.new_empty((*piece.shape[:2], height * scale, width * scale))
            out[..., top * scale : bottom * scale, left * scale : right * scale] = piece[
                ..., (top - y0) * scale : (bottom - y0) * scale, (left - x0) * scale : (right - x0) * scale
            ]
    return out[..., : h * scale, : w * scale]


@contextlib.contextmanager
def cudnn_conv_precision(precision: str) -> Iterator[None]:
    """Set cuDNN's float32 convolution mode ("ieee" or "tf32") for the duration.

    TF32 keeps a 10-bit mantissa (outputs ~1e-3 off IEEE float32) but is ~10x faster on an H100;
    setting it explicitly keeps "fp32" results independent of the GPU generation and defaults.
    """
    conv = torch.backends.cudnn.conv
    previous = conv.fp32_precision
    conv.fp32_precision = precision
    try:
        yield
    finally:
        conv.fp32_precision = previous


class TorchUpscaler(Upscaler):
    """Wraps a generator as an :class:`Upscaler` for grayscale batches.

    Grayscale images are replicated to the net's ``in_channels`` and the output channels are
    averaged back: official RGB models (Real-ESRGAN, ESRGAN) thus see R = G = B images, the
    closest RGB equivalent of a radiograph.

    Parameters
    ----------
    net : nn.Module
        Generator mapping (N, in_channels, h, w) to (N, C_out, h*scale, w*scale), values ~[0, 1].
    scale : int
        Must equal ``net.scale`` when the net has one.
    name : str
        Model name for records.
    in_channels : int
        Channels the net expects (3 for official weights, 1 for grayscale-trained ones).
    device : str, optional
        Torch device; default "cuda" if available, else "cpu".
    tile, tile_overlap : int
        Tile side and context in input pixels; ``tile=None`` runs whole images.
    batch_size : int
        Images per forward pass.
    channels_last : bool, optional
        NHWC memory layout for the net and its inputs; default (None) on CUDA only, where cuDNN's
        NHWC kernels are faster (``python -m benchmark perf`` measures it on the CPU).
    precision : {"fp32", "tf32", "fp16", "bf16"}
        fp16/bf16 autocast and tf32 convolutions apply only on CUDA; elsewhere a warning is
        issued and ``precision`` reads "fp32" (``requested_precision`` keeps what was asked).
        "fp32" on CUDA means IEEE float32 convolutions (no TF32).
    """

    def __init__(
        self,
        net: nn.Module,
        scale: int,
        *,
        name: str,
        in_channels: int,
        device: str | None = None,
        tile: int | None = None,
        tile_overlap: int = 16,
        batch_size: int = 4,
        precision: str = "fp32",
        channels_last: bool | None = None,
    ):
        super().__init__(name, scale)
        net_scale = getattr(net, "scale", scale)
        if net_scale != scale:
            raise UserValueError(f"Expected a x{scale} network for {name!r}, got a x{net_scale} one.")
        if precision not in PRECISIONS:
            raise UserValueError(f"Expected precision in {list(PRECISIONS)}, got {precision!r}.")
        if (tile is not None and tile < 1) or tile_overlap < 0 or batch_size < 1:
            raise UserValueError(
                f"Expected tile >= 1 (or None), tile_overlap >= 0, batch_size >= 1, got "
                f"tile={tile}, tile_overlap={tile_overlap}, batch_size={batch_size}."
            )
        self.device = torch.device(device or default_device())
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UserValueError(
                f"Expected a CUDA device for {name!r}, but torch sees none. Use device 'cpu'."
            )
        self.requested_precision = precision
        self.precision = precision if self.device.type == "cuda" else "fp32"
        if self.precision != precision:
            warnings.warn(
                f"{name}: {precision} runs only on CUDA; using fp32 on {self.device}.", stacklevel=2
            )
        self.in_channels = in_channels
        self.tile, self.tile_overlap, self.batch_size = tile, tile_overlap, batch_size
        if channels_last is None:
            channels_last = self.device.type == "cuda"
        self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net = net.eval().requires_grad_(False).to(self.device, memory_format=self._memory_format)

    def _precision(self) -> contextlib.AbstractContextManager:
        if self.device.type != "cuda":
            return contextlib.nullcontext()
        if PRECISIONS[self.precision] is None:
            return cudnn_conv_precision("ieee" if self.precision == "fp32" else "tf32")
        return torch.autocast(device_type="cuda", dtype=PRECISIONS[self.precision])

    def _upscale(self, batch: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(batch), self.batch_size):
            x = torch.from_numpy(batch[start : start + self.batch_size]).to(self.device)
            x = x[:, None].expand(-1, self.in_channels, -1, -1).contiguous(memory_format=self._memory_format)
            with torch.inference_mode(), self._precision():
                if self.tile is None:
                    y = run_net(self.net, x, self.scale)
                else:
                    y = upscale_tiled(self.net, x, self.scale, self.tile, self.tile_overlap)
            outputs.append(y.float().mean(dim=1).clamp_(0.0, 1.0).cpu().numpy())
        return np.concatenate(outputs)

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "device": str(self.device),
            "precision": self.precision,
            "requested_precision": self.requested_precision,
            "tile": self.tile,
            "tile_overlap": self.tile_overlap,
            "batch_size": self.batch_size,
            "channels_last": self._memory_format == torch.channels_last,
            "parameters": sum(p.numel() for p in self.net.parameters()),
        }
