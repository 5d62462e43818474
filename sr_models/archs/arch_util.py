"""Small building blocks shared by the generator architectures (BasicSR ``arch_util`` semantics)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def default_init_weights(modules: nn.Module | Iterable[nn.Module], scale: float = 1.0) -> None:
    """Kaiming-normal init scaled by ``scale``, zero bias (BasicSR ``default_init_weights``).

    ESRGAN/MSRResNet scale the initial residual-branch weights by 0.1 so very deep residual
    stacks start close to the identity; training from scratch relies on it.
    """
    if isinstance(modules, nn.Module):
        modules = [modules]
    for module in modules:
        for m in module.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def check_scale(scale: int, allowed: Iterable[int], what: str) -> int:
    """Return ``scale`` if it is one of ``allowed``, else raise a ValueError saying which are."""
    allowed = tuple(allowed)
    if isinstance(scale, bool) or not isinstance(scale, int) or scale not in allowed:
        raise ValueError(f"Expected {what} scale in {list(allowed)}, got {scale!r}. Pick one of those.")
    return scale
