"""A read-only stack of cached images that loads each one only when it is used.

The pipeline passes whole evaluation sets between stages; holding them as :class:`ImageStack` keeps
only file paths in memory, so a stage that walks the set in batches holds one batch of full-size
images at a time, however many images the suite has.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np


class ImageStack(Sequence):
    """(N, H, W) images stored one per ``.npy`` file, indexed like an array along the first axis.

    ``stack[i]`` loads one image; ``stack[a:b]``, ``stack[[i, j]]`` or ``stack[mask]`` load and stack those
    images; iterating loads one image per step; ``np.asarray(stack)`` loads them all (for callers that
    really need every image at once, e.g. training).
    """

    def __init__(self, paths: Sequence[Path]):
        self.paths = [Path(path) for path in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return np.load(self.paths[index])
        if isinstance(index, slice):
            chosen = self.paths[index]
        else:
            positions = np.arange(len(self))[np.asarray(index)]
            chosen = [self.paths[i] for i in np.atleast_1d(positions)]
        return np.stack([np.load(path) for path in chosen])

    def __iter__(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            yield np.load(path)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        stacked = np.stack([np.load(path) for path in self.paths])
        return stacked if dtype is None else stacked.astype(dtype)

    def _first(self) -> np.ndarray:
        return np.load(self.paths[0], mmap_mode="r")  # reads the header only

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self._first().shape)

    @property
    def dtype(self) -> np.dtype:
        return self._first().dtype
