"""Super-resolution model zoo (PyTorch): interpolation baselines and learned generators.

``load_upscaler(name, scale, weights)`` returns an :class:`~sr_models.upscaler.Upscaler` whose
``upscale`` maps float32 grayscale (N, h, w) in [0, 1] to (N, h*scale, w*scale) in [0, 1].
Importing this package is cheap: ``MODELS`` names each loader as a ``"module:attribute"`` string, so
torch is imported only when a learned model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxr_kernel.registry import Registry
from sr_models.upscaler import Upscaler

INTERPOLATION = ("nearest", "bilinear", "bicubic", "lanczos")


@dataclass(frozen=True)
class LearnedModel:
    """A learned model name: the architecture of its official weights (a class of ``sr_models.archs``),
    example official files by scale, and further architectures whose files it loads too."""

    arch_type: str
    files: dict[int, str] = field(default_factory=dict)
    also_loads: tuple[str, ...] = ()


_INTERPOLATED = "sr_models.interpolation:load_interpolation"
_LEARNED = "sr_models.zoo:load_learned"

#: model name -> its loader ``(model, scale, weights, **options)``; a learned model's ``info`` is its
#: ``LearnedModel`` (tests/sr_models/test_sr_archs.py checks each names registered architectures).
MODELS = Registry("SR model", dict.fromkeys(INTERPOLATION, _INTERPOLATED))
MODELS.register(
    "realesrgan",
    _LEARNED,
    info=LearnedModel("RRDBNet", {4: "RealESRGAN_x4plus.pth", 2: "RealESRGAN_x2plus.pth"}),
)
MODELS.register("realesrnet", _LEARNED, info=LearnedModel("RRDBNet", {4: "RealESRNet_x4plus.pth"}))
MODELS.register("esrgan", _LEARNED, info=LearnedModel("RRDBNet", {4: "RRDB_ESRGAN_x4.pth"}))
MODELS.register("srresnet", _LEARNED, info=LearnedModel("SRResNet"))
MODELS.register("srgan", _LEARNED, info=LearnedModel("SRResNet", also_loads=("LeftthomasSRGAN",)))
MODELS.register("msrresnet", _LEARNED, info=LearnedModel("MSRResNet", {4: "MSRResNet_x4.pth"}))
MODELS.register(
    "realesrgan-compact", _LEARNED, info=LearnedModel("SRVGGNetCompact", {4: "realesr-general-x4v3.pth"})
)


def learned_models() -> dict[str, LearnedModel]:
    """Learned model name -> its ``LearnedModel``, in ``MODELS`` order."""
    return {name: MODELS.info(name) for name in MODELS if MODELS.info(name) is not None}


def available_models() -> list[str]:
    """Sorted model names accepted by :func:`load_upscaler`."""
    return MODELS.names()


def load_upscaler(
    model: str,
    scale: int,
    weights: str | Path | None = None,
    *,
    device: str | None = None,
    tile: int | None = None,
    precision: str = "fp32",
    arch: dict[str, Any] | None = None,
    tile_overlap: int = 16,
    batch_size: int = 4,
) -> Upscaler:
    """Build the upscaler ``model`` for ``scale``.

    Parameters
    ----------
    model : str
        One of :func:`available_models` (unknown names raise ``cxr_kernel.errors.UserError``).
    scale : int
        Upscaling factor; a learned model's weights must be for this scale.
    weights : path, optional
        Required for learned models, refused for interpolation ones.
    device, tile, precision, tile_overlap, batch_size
        Learned models only; see :class:`sr_models.inference.TorchUpscaler` (device defaults to
        "cuda" when available; precision is "fp32", "tf32", "fp16" or "bf16").
    arch : dict, optional
        ``{"type": "RRDBNet", ...}`` overriding the file's or the family's architecture.
    """
    return MODELS.get(model)(
        model,
        scale,
        weights,
        device=device,
        tile=tile,
        precision=precision,
        arch=arch,
        tile_overlap=tile_overlap,
        batch_size=batch_size,
    )


__all__ = ["MODELS", "LearnedModel", "Upscaler", "available_models", "learned_models", "load_upscaler"]
