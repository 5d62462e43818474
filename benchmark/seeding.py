"""Per-item random generators derived by hashing identity, so no global seeding is needed."""

from __future__ import annotations

import hashlib

import numpy as np

#: The largest seed a run takes (numpy's generators take seeds in [0, 2**32) from YAML integers).
MAX_SEED = 2**32 - 1


def item_seed(base_seed: int, *identity: object) -> int:
    digest = hashlib.sha256("|".join(map(str, (base_seed, *identity))).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def item_rng(base_seed: int, *identity: object) -> np.random.Generator:
    """``np.random.Generator`` for one item, e.g. ``item_rng(seed, cell, image_sha256)``."""
    return np.random.default_rng(item_seed(base_seed, *identity))
