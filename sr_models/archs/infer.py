"""Read an architecture's hyper-parameters back from the tensor shapes of its state dict.

Official files carry no arch description, yet e.g. ``RealESRGAN_x4plus_anime_6B.pth`` has 6 blocks
and ``RealESRGAN_x2plus.pth`` a 12-channel first conv; reading shapes lets one family name cover
them all while loading stays ``strict=True`` (a wrong guess fails loudly there).

Each architecture reads its own (``options_from_state_dict`` on its class, registered with
``sr_models.archs.registry.register_arch``); these are the lookups over all of them.
"""

from __future__ import annotations

import sr_models.archs  # noqa: F401  (imports, so registers, every architecture)
from sr_models.archs.registry import guess_arch_type, infer_arch

__all__ = ["guess_arch_type", "infer_arch"]
