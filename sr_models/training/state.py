"""Checkpoints (only the latest is kept) and the loss-history CSV of a training run."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

HISTORY_COLUMNS = ("step", "stage", "l_pix", "l_percep", "l_gan", "l_d_real", "l_d_fake")
CHECKPOINT_DIR = "checkpoints"


def _checkpoint_step(path: Path) -> int:
    return int(path.stem.removeprefix("step_"))


def latest_checkpoint(work_dir: Path) -> Path | None:
    """Return the checkpoint with the highest step in ``work_dir/checkpoints``, or None."""
    paths = sorted(Path(work_dir, CHECKPOINT_DIR).glob("step_*.pt"), key=_checkpoint_step)
    return paths[-1] if paths else None


def save_checkpoint(work_dir: Path, step: int, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically as ``checkpoints/step_<step>.pt``, then delete older checkpoints.

    Atomic (temporary file + rename) so a run killed while saving still resumes from the previous one.
    """
    folder = Path(work_dir, CHECKPOINT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:09d}.pt"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".ckpt.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    for old in folder.glob("step_*.pt"):
        if old != path:
            old.unlink()
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (tensors on CPU)."""
    return torch.load(path, map_location="cpu", weights_only=True)


class History:
    """Loss history as CSV (``HISTORY_COLUMNS``), appended in batches at each checkpoint.

    On creation, rows after ``resume_step`` (logged after the last checkpoint of an interrupted run)
    are dropped so the file matches the state training resumes from. Loss terms a stage does not
    compute are left empty.
    """

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = Path(path)
        self.pending: list[dict[str, Any]] = []
        kept: list[dict[str, str]] = []
        if self.path.exists() and resume_step > 0:
            with self.path.open(newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if int(row["step"]) <= resume_step]
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
            writer.writeheader()
            writer.writerows(kept)

    def add(self, step: int, stage: str, losses: dict[str, float]) -> None:
        self.pending.append({"step": step, "stage": stage, **losses})

    def flush(self) -> None:
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS).writerows(self.pending)
        self.pending.clear()
