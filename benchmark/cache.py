"""Content-addressed cache: key = hash(inputs, stage, parameters, stage code version); values are files.

Nothing is cached on failure (a value is only renamed into place once fully written), so a killed run
resumes by recomputing just the missing entries. Runs sharing one cache compute each entry once: the
compute-and-store of an entry holds a file lock (``root/.locks``; the OS releases it when a process
dies, even by ``kill -9``), and an entry that appeared while waiting is loaded, not recomputed.
Locks are striped by the key's first two hex digits (at most 256 lock files per stage).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from tqdm.auto import tqdm

from benchmark.atomic import atomic_path
from benchmark.image_stack import ImageStack

# Images computed (and held in memory) at a time by ``Cache.arrays``; also the executors' shard size.
BATCH_SIZE = 8


def content_key(stage: str, version: str, **parts: Any) -> str:
    """sha256 of a canonical JSON of everything that changes a stage's output."""
    payload = json.dumps({"stage": stage, "version": version, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class Cache:
    """Files under ``root/<stage>/<key[:2]>/<key><suffix>``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._locks: dict[Path, FileLock] = {}

    def path(self, stage: str, key: str, suffix: str) -> Path:
        return self.root / stage / key[:2] / f"{key}{suffix}"

    def lock(self, stage: str, key: str) -> FileLock:
        """The lock held while the entry ``key`` of ``stage`` is computed and stored.

        One object per lock file, so a nested acquire of the same stripe in this process re-enters it
        instead of waiting for itself.
        """
        path = self.root / ".locks" / stage / f"{key[:2]}.lock"
        if path not in self._locks:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._locks[path] = FileLock(path)
        return self._locks[path]

    def array(self, stage: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """Load the cached array for ``key`` or compute, store and return it."""
        path = self.path(stage, key, ".npy")
        if path.is_file():
            return np.load(path)
        with self.lock(stage, key):
            if path.is_file():  # another run stored it while this one waited
                return np.load(path)
            value = compute()
            with atomic_path(path) as temporary:
                with open(temporary, "wb") as handle:
                    np.save(handle, value)
        return value

    def arrays(
        self,
        stage: str,
        keys: list[str],
        compute: Callable[[list[int]], np.ndarray],
        *,
        batch_size: int = BATCH_SIZE,
        progress: bool = True,
        description: str = "",
    ) -> np.ndarray:
        """Stack of cached arrays for ``keys``, all in memory (see :meth:`stack`)."""
        return np.asarray(
            self.stack(
                stage, keys, compute, batch_size=batch_size, progress=progress, description=description
            )
        )

    def stack(
        self,
        stage: str,
        keys: list[str],
        compute: Callable[[list[int]], np.ndarray],
        *,
        batch_size: int = 8,
        progress: bool = True,
        description: str = "",
    ) -> ImageStack:
        """Cached arrays for ``keys``, loaded on use; ``compute(indices)`` makes the missing ones by batch.

        Each item is stored as soon as its batch finishes, so a killed run loses at most one batch, and
        at most one batch of computed arrays is in memory at a time.
        """

        def missing_of(indices):
            return [i for i in indices if not self.path(stage, keys[i], ".npy").is_file()]

        missing = missing_of(range(len(keys)))
        batches = [missing[start : start + batch_size] for start in range(0, len(missing), batch_size)]
        with tqdm(
            total=len(missing), desc=description or stage, unit="img", disable=not progress or not missing
        ) as bar:
            for batch in batches:
                with self.lock(stage, content_key("batch", "1", keys=[keys[i] for i in batch])):
                    batch = missing_of(batch)  # a concurrent run may have stored some meanwhile
                    for index, value in zip(batch, compute(batch) if batch else [], strict=True):
                        self.array(stage, keys[index], lambda value=value: value)
                bar.update(len(batch))
        return ImageStack([self.path(stage, key, ".npy") for key in keys])

    def json(self, stage: str, key: str, compute: Callable[[], Any]) -> Any:
        path = self.path(stage, key, ".json")
        if path.is_file():
            return json.loads(path.read_text())
        with self.lock(stage, key):
            if path.is_file():
                return json.loads(path.read_text())
            value = compute()
            with atomic_path(path) as temporary:
                temporary.write_text(json.dumps(value))
        return value

    def file(self, stage: str, key: str, suffix: str, produce: Callable[[Path], None]) -> Path:
        """Path of a cached file; ``produce(temporary_path)`` writes it when missing."""
        path = self.path(stage, key, suffix)
        if not path.is_file():
            with self.lock(stage, key):
                if not path.is_file():
                    with atomic_path(path) as temporary:
                        produce(temporary)
        return path
