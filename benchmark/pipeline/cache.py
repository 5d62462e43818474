"""Content-addressed cache: key = hash(inputs, stage, parameters, producing code); values are files.

Nothing is cached on failure (a value is only renamed into place once fully written), so a killed run
resumes by recomputing just the missing entries. Runs sharing one cache compute each entry once: the
compute-and-store of an entry holds a file lock (``root/.locks``; the OS releases it when a process
dies, even by ``kill -9``), and an entry that appeared while waiting is loaded, not recomputed.
Locks are striped by the key's first two hex digits (at most 256 lock files per stage).

Every entry is written with its sha256 beside it (``<entry>.sha256``, written before the entry is
renamed into place) and checked on every read: an entry that does not match, has no checksum or
does not parse is moved to ``root/.corrupt/<stage>/``, named in one warning line and recomputed. It is
never used, and never stops a run.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from tqdm.auto import tqdm

from benchmark.code_identity import code_identity
from benchmark.image_stack import ImageStack
from benchmark.manifest import sha256_file
from cxr_kernel.atomic import TEMPORARY_PATTERN, atomic_path, is_stale_temporary
from cxr_kernel.errors import UserFileNotFound

# Images computed (and held in memory) at a time by ``Cache.arrays``; also the executors' shard size.
BATCH_SIZE = 8
CHECKSUM_SUFFIX = ".sha256"
CORRUPT_DIR = ".corrupt"
logger = logging.getLogger(__name__)


def content_key(stage: str, version: str, **parts: Any) -> str:
    """sha256 of a canonical JSON of everything that changes a stage's output."""
    payload = json.dumps({"stage": stage, "version": version, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def stage_key(stage: str, **parts: Any) -> str:
    """Key of an entry of ``stage``: ``parts`` (every input it reads) and the identity of its code.

    The code identity (``benchmark.code_identity``) is derived from the producing modules' source and
    the versions of the libraries they import, so a code change is a cache miss without any bump.
    """
    return content_key(stage, code_identity(stage), **parts)


def checksum_path(path: Path) -> Path:
    """The sidecar holding the sha256 of the cache file ``path``."""
    return path.with_name(path.name + CHECKSUM_SUFFIX)


class CorruptEntry(Exception):
    """A cache file whose content does not match its checksum, or does not parse."""


class Cache:
    """Files under ``root/<stage>/<key[:2]>/<key><suffix>``, each with its ``.sha256`` beside it."""

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

    # -- verification -------------------------------------------------------------------------------
    def seal(self, path: Path) -> None:
        """Write the checksum of a file produced in place (e.g. an SR training's weights)."""
        with atomic_path(checksum_path(path)) as temporary:
            temporary.write_text(sha256_file(path))

    def checksum_problem(self, path: Path) -> str | None:
        """Why the stored file ``path`` cannot be trusted ("no checksum", "checksum mismatch"), or None."""
        try:
            expected = checksum_path(path).read_text().strip()
        except OSError:
            return "no checksum"
        return None if sha256_file(path) == expected else "checksum mismatch"

    def verified(self, path: Path) -> bool:
        """Whether ``path`` exists and matches its checksum; a mismatch is set aside (one warning)."""
        if not path.is_file():
            return False
        problem = self.checksum_problem(path)
        if problem is not None:
            self.set_aside(path, problem)
        return problem is None

    def set_aside(self, path: Path, why: str) -> Path:
        """Move a corrupt entry (a file or a folder) and its checksum to ``root/.corrupt``; warn once."""
        relative = Path(path).relative_to(self.root)
        destination = self.root / CORRUPT_DIR / relative.parent / f"{time.time_ns()}-{relative.name}"
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, destination)
        except FileNotFoundError:  # another process set it aside first
            return destination
        sidecar = checksum_path(Path(path))
        if sidecar.is_file():
            os.replace(sidecar, checksum_path(destination))
        logger.warning("Cache entry %s is corrupt (%s): moved to %s and recomputed.", path, why, destination)
        return destination

    def _read(self, stage: str, key: str, suffix: str, parse: Callable[[bytes], Any]) -> Any:
        """The parsed entry, or raise ``CorruptEntry`` / ``FileNotFoundError``."""
        path = self.path(stage, key, suffix)
        data = path.read_bytes()
        try:
            expected = checksum_path(path).read_text().strip()
        except FileNotFoundError:
            raise CorruptEntry("no checksum") from None
        if hashlib.sha256(data).hexdigest() != expected:
            raise CorruptEntry("checksum mismatch")
        try:
            return parse(data)
        except (ValueError, EOFError, OSError) as error:
            raise CorruptEntry(f"unreadable: {error}") from None

    def _cached(self, stage: str, key: str, suffix: str, parse: Callable[[bytes], Any]) -> tuple[bool, Any]:
        """(found, value) of a verified entry; a corrupt one is set aside and reported as not found."""
        try:
            return True, self._read(stage, key, suffix, parse)
        except FileNotFoundError:
            return False, None
        except CorruptEntry as error:
            with self.lock(stage, key):  # re-check: another run may have replaced it meanwhile
                try:
                    return True, self._read(stage, key, suffix, parse)
                except FileNotFoundError:
                    return False, None
                except CorruptEntry:
                    self.set_aside(self.path(stage, key, suffix), str(error))
                    return False, None

    def contains(self, stage: str, key: str, suffix: str) -> bool:
        """Whether a verified entry is stored (a corrupt one is set aside and counts as missing)."""
        path = self.path(stage, key, suffix)
        return path.is_file() and self._cached(stage, key, suffix, lambda data: None)[0]

    def _store(self, path: Path, data: bytes) -> None:
        with atomic_path(path) as temporary:
            temporary.write_bytes(data)
            with atomic_path(checksum_path(path)) as sidecar:  # before the entry: never one without it
                sidecar.write_text(hashlib.sha256(data).hexdigest())

    def _get_or_compute(
        self, stage: str, key: str, suffix: str, parse, serialise, compute: Callable[[], Any]
    ) -> Any:
        found, value = self._cached(stage, key, suffix, parse)
        if found:
            return value
        with self.lock(stage, key):
            found, value = self._cached(stage, key, suffix, parse)  # another run stored it meanwhile
            if found:
                return value
            value = compute()
            self._store(self.path(stage, key, suffix), serialise(value))
        return value

    # -- entries ------------------------------------------------------------------------------------
    def array(self, stage: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """Load the cached array for ``key`` or compute, store and return it."""
        return self._get_or_compute(stage, key, ".npy", _parse_array, _serialise_array, compute)

    def load_array(self, stage: str, key: str) -> np.ndarray:
        """A stored, verified array; ``FileNotFoundError`` naming the fix if missing or corrupt."""
        found, value = self._cached(stage, key, ".npy", _parse_array)
        if not found:
            raise UserFileNotFound(
                f"Cache entry {self.path(stage, key, '.npy')} is missing or was corrupt; run again to "
                "recompute it."
            )
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

        Stored entries are verified first (a corrupt one is set aside and counted as missing). Each
        item is stored as soon as its batch finishes, so a killed run loses at most one batch, and at
        most one batch of computed arrays is in memory at a time.
        """

        def missing_of(indices):
            return [i for i in indices if not self.contains(stage, keys[i], ".npy")]

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
        return self._get_or_compute(
            stage, key, ".json", lambda data: json.loads(data.decode()), _serialise_json, compute
        )

    def file(self, stage: str, key: str, suffix: str, produce: Callable[[Path], None]) -> Path:
        """Path of a verified cached file; ``produce(temporary_path)`` writes it when missing or corrupt."""
        path = self.path(stage, key, suffix)
        if not (path.is_file() and self.checksum_problem(path) is None):
            with self.lock(stage, key):  # set aside only under the lock: a writer may be mid-way
                if not self.verified(path):
                    with atomic_path(path) as temporary:
                        produce(temporary)
                        with atomic_path(checksum_path(path)) as sidecar:
                            sidecar.write_text(sha256_file(temporary))
        return path

    # -- housekeeping -------------------------------------------------------------------------------
    def remove_stale_temporaries(self) -> list[Path]:
        """Delete temporary files left by killed processes (``cxr_kernel.atomic``); returns them.

        A temporary of a live process (another run filling this cache now) is kept.
        """
        removed = []
        if not self.root.is_dir():
            return removed
        for directory, _, names in os.walk(self.root):
            for name in names:
                if TEMPORARY_PATTERN.search(name) and is_stale_temporary(Path(directory) / name):
                    path = Path(directory) / name
                    try:
                        path.unlink()
                    except FileNotFoundError:
                        continue
                    removed.append(path)
        return removed


def _parse_array(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def _serialise_array(value) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value), allow_pickle=False)
    return buffer.getvalue()


def _serialise_json(value) -> bytes:
    return json.dumps(value).encode()
