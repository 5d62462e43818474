"""Small building blocks shared by the generator architectures (BasicSR ``arch_util`` semantics)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from cxr_kernel.errors import UserValueError


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
        raise UserValueError(f"Expected {what} scale in {list(allowed)}, got {scale!r}. Pick one of those.")
    return scale


# -- reading hyper-parameters back from a state dict (each architecture's ``options_from_state_dict``) --

_BODY_INDEX = re.compile(r"body\.(\d+)\.")


def tensor_shape(state_dict: Mapping[str, Tensor], key: str) -> tuple[int, ...] | None:
    """The shape of ``state_dict[key]``, None when absent."""
    value = state_dict.get(key)
    return tuple(value.shape) if value is not None else None


def num_body_blocks(state_dict: Mapping[str, Tensor]) -> int:
    """1 + the largest ``i`` of the ``body.{i}.*`` keys (0 without any)."""
    return 1 + max((int(m.group(1)) for k in state_dict if (m := _BODY_INDEX.match(k))), default=-1)


def trunk_options(
    state_dict: Mapping[str, Tensor],
) -> tuple[dict[str, Any], tuple[int, ...], tuple[int, ...]] | None:
    """``num_feat``, ``num_block`` and ``num_out_ch`` of a ``conv_first`` / ``body`` / ``conv_last``
    generator, with the two convs' shapes; None when either conv is missing."""
    first, last = tensor_shape(state_dict, "conv_first.weight"), tensor_shape(state_dict, "conv_last.weight")
    if first is None or last is None:
        return None
    return (
        {"num_feat": first[0], "num_block": num_body_blocks(state_dict), "num_out_ch": last[0]},
        first,
        last,
    )
