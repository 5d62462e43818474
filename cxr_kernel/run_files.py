"""Every file of a run directory tied to its run: recorded in ``summary.json``, checked on read.

The pipeline writes ``summary.json`` last, with the sha256 of every other file then in the directory
(``record``). Whoever reads the directory (``report``, ``compare``, ``check``) calls ``verify``
first: a file whose checksum differs from the record, or a file the run did not write (other than
what later commands add, ``run_layout.AFTER_THE_RUN``), is refused in one line naming it. A file the
pipeline will write in future is covered without change, since the record lists whatever is there.
A directory written before the record existed is read with a one-line warning.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cxr_kernel.checksums import sha256_file
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import AFTER_THE_RUN, SUMMARY

_WARNED: set[Path] = set()  # directories already warned about in this process


class ForeignRunFile(UserError):
    """A run directory holds a file that is not the one its run wrote."""


class RunFileMissing(UserError, FileNotFoundError):
    """A file a reader needs is not in the run directory (the CLI shows the message, no traceback)."""


class RunFileInvalid(UserError, ValueError):
    """A run-directory file exists but cannot be read as the pipeline writes it."""


def _run_files(directory: Path) -> list[str]:
    """Relative paths of the files the run owns: all but summary.json, temporaries (``.name``) and
    what later commands write."""
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if not path.is_file() or relative == SUMMARY or any(p.startswith(".") for p in path.parts[-1:]):
            continue
        if any(relative == after or relative.startswith(f"{after}/") for after in AFTER_THE_RUN):
            continue
        found.append(relative)
    return found


def record(directory: Path) -> dict[str, str]:
    """sha256 of every file of the run directory (``_run_files``), for summary.json."""
    directory = Path(directory)
    return {relative: sha256_file(directory / relative) for relative in _run_files(directory)}


def verify(directory: Path, recorded: dict[str, str] | None, run: str) -> None:
    """Refuse a run directory holding a file its run did not write (``ForeignRunFile``); ``recorded``
    is summary.json's ``FILES_RECORD`` of run ``run`` (None: written before the record existed)."""
    directory = Path(directory)
    fix = f"Re-run the suite with --run-id {run} to rewrite the directory from the cache, or remove the file."
    if not isinstance(recorded, dict):
        if directory.resolve() in _WARNED:
            return
        _WARNED.add(directory.resolve())
        print(
            f"warning: {directory / SUMMARY} records no checksums of the run's files (written before they "
            f"were recorded), so they cannot be checked to belong to run {run}. Re-run the suite with "
            f"--run-id {run} to record them (the cache makes it quick).",
            file=sys.stderr,
        )
        return
    for relative in _run_files(directory):
        expected = recorded.get(relative)
        if expected is None:
            raise ForeignRunFile(
                f"{directory / relative} does not belong to run {run}: it did not write it. {fix}"
            )
        if sha256_file(directory / relative) != expected:
            raise ForeignRunFile(
                f"{directory / relative} does not belong to run {run}: its sha256 differs from the one "
                f"{SUMMARY} records (another run's file, or changed since). {fix}"
            )
