"""Atomic file writes: write to a temporary file beside the target, then rename over it.

Temporary names carry the writing process's id and host (``.<stem>.tmp-<pid>@<host>-<random><suffix>``),
so the next start can tell a file left by a killed process (``is_stale_temporary``) from one another
run is writing now. A write that fails because the disk is full raises :class:`DiskFull`, naming the
path and the free space, not a bare ``OSError``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cxr_kernel.errors import UserError

_UMASK = os.umask(0)
os.umask(_UMASK)
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"
TEMPORARY_PATTERN = re.compile(r"\.tmp-(?:(?P<pid>\d+)@(?P<host>[A-Za-z0-9_]+)-)?")
#: A temporary of another host (a shared cache) is only removed when it is this old.
FOREIGN_TEMPORARY_AGE_S = 24 * 3600
# numpy's short-write message ("12544 requested and 9184 written") carries no errno.
_SHORT_WRITE = re.compile(r"(\d+) requested and (\d+) written")


class DiskFull(UserError):
    """A write failed for lack of space: names the path, the free space and the fix."""

    def __init__(self, path: Path, needed: int | None = None):
        try:
            free = shutil.disk_usage(Path(path).parent).free
            free_text = f"{free / 2**20:.1f} MiB free"
        except OSError:
            free_text = "free space unknown"
        need_text = f", {needed / 2**20:.1f} MiB more needed" if needed else ""
        super().__init__(
            f"No space left on the device holding {path} ({free_text}{need_text}). Free some space "
            "there, or point --runs-dir (and its .cache) at a larger disk; nothing already stored is lost."
        )


def is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return bool(_SHORT_WRITE.search(str(error)))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def is_stale_temporary(path: Path) -> bool:
    """Whether the temporary ``path`` belongs to no live writer (its process is gone, or it is old)."""
    match = TEMPORARY_PATTERN.search(Path(path).name)
    if match is None:
        return False
    if match["pid"] and match["host"] == _HOST:
        return not _process_alive(int(match["pid"]))
    try:  # another host's, or written before temporaries were named by process
        return time.time() - Path(path).stat().st_mtime > FOREIGN_TEMPORARY_AGE_S
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on failure it is removed.

    A reader never sees a half-written file, and a killed run leaves only hidden ``.*.tmp-*`` files,
    which ``benchmark.pipeline.cache.Cache.remove_stale_temporaries`` deletes on the next start.

    Raises
    ------
    DiskFull
        If the write or the rename fails for lack of space.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Hidden, and ending in the target's suffix: writers such as Keras insist on ".keras".
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.stem}.tmp-{os.getpid()}@{_HOST}-", suffix=path.suffix
        )
    except OSError as error:
        if is_disk_full(error):
            raise DiskFull(path) from error
        raise
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode open() would
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except OSError as error:
        if is_disk_full(error):
            match = _SHORT_WRITE.search(str(error))
            needed = int(match[1]) - int(match[2]) if match else None
            raise DiskFull(path, needed) from error
        raise
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)
