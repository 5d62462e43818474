"""Super-resolution model zoo (PyTorch): interpolation baselines and learned generators.

``load_upscaler(name, scale, weights)`` returns an :class:`~sr_models.upscaler.Upscaler` whose
``upscale`` maps float32 grayscale (N, h, w) in [0, 1] to (N, h*scale, w*scale) in [0, 1].
Importing this package is cheap: torch is imported only when a learned model is loaded (the learned
model names are declared by the architectures in ``sr_models/archs`` and read from their source).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from cxr_kernel.registry import Registry
from sr_models.upscaler import Upscaler

INTERPOLATION = ("nearest", "bilinear", "bicubic", "lanczos")


def declared_models() -> list[str]:
    """The learned model names the architectures declare (``@register_arch(models={...})`` in
    ``sr_models/archs/*.py``), read from their source so that naming a model imports no torch.

    ``tests/test_sr_archs.py`` checks these are the names the imported architectures register.
    """
    names = []
    for path in sorted((Path(__file__).parent / "archs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_arch":
                models = next((k.value for k in node.keywords if k.arg == "models"), None)
                names += list(ast.literal_eval(models)) if models is not None else []
    return names


def _learned_models() -> dict[str, str]:
    return {name: f"sr_models.zoo:{name.replace('-', '_')}" for name in declared_models()}


MODELS = Registry(
    "SR model",
    {mode: f"sr_models.interpolation:{mode}" for mode in INTERPOLATION},
    more=_learned_models,
)


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
    factory = MODELS.get(model)
    return factory(
        scale,
        weights,
        device=device,
        tile=tile,
        precision=precision,
        arch=arch,
        tile_overlap=tile_overlap,
        batch_size=batch_size,
    )


__all__ = ["MODELS", "Upscaler", "available_models", "load_upscaler"]
