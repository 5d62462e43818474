"""The record ``gpu-study`` writes (``benchmarks/results/<date>-<gpu>.json``): its schema and its writer.

One pydantic model states every field; the writer validates before it writes (atomically), so a record
on disk always parses. A run killed part-way leaves the record of the stages it finished, with
``complete: false``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cxr_kernel.atomic import write_text

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageTime(_Strict):
    stage: str
    seconds: float = Field(ge=0)
    cuda_peak_mb: float | None = Field(None, description="torch.cuda.max_memory_allocated in the stage")


class SRModelRecord(_Strict):
    name: str
    model: str
    weights: str | None
    source: Literal["interpolation", "pretrained", "official", "random", "xray", "pinned"]
    scales: list[int] | None
    precision: str
    note: str | None = None


class SRThroughput(_Strict):
    model: str
    precision: str = Field(description="the precision it ran at (fp32 on a CPU whatever was asked)")
    batch_size: int = Field(ge=1)
    lr_side: int = Field(ge=1)
    images: int = Field(ge=1)
    images_per_s: float = Field(gt=0)
    arch: str | None = Field(None, description="the generator's class, e.g. RRDBNet; None: interpolation")
    gflop_per_image: float | None = Field(None, description="torch FlopCounterMode, multiply-add = 2")
    achieved_tflops: float | None = None
    fraction_of_dense_bf16_peak: float | None = None


class ClassifierRecord(_Strict):
    name: str
    source: Literal["shipped", "trained"]
    path: str
    sha256: str
    seed: int | None = None
    train_images: int | None = None
    epochs_run: int | None = None
    epochs_allowed: int | None = None
    best_epoch: int | None = None
    train_s: float | None = None
    train_images_per_s: float | None = Field(None, description="median over epochs, from history.csv")
    test: dict[str, float | int | None] | None = Field(None, description="HR test split, threshold 0.5")


class HeadlineRow(_Strict):
    cell: str
    variant: str
    accuracy: float | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    auroc: float | None = None
    n_flips: int | None = None


class Target(_Strict):
    target: str
    value: float | None
    met: bool | None = Field(description="None: not measured in this run")


class GpuStudyRecord(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    complete: bool
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    device: str = Field(description="torch's device name, e.g. 'NVIDIA H200', or the CPU")
    device_type: Literal["cuda", "cpu"]
    smoke: bool
    command: str
    git_commit: str | None
    versions: dict[str, str | None]
    budget_s: float = Field(gt=0)
    wall_s: float = Field(ge=0)
    stages: list[StageTime]
    study_stages: list[StageTime] = Field(
        default_factory=list, description="the pipeline run's own stages (its resources.json)"
    )
    cuts: list[str] = Field(description="what was left out or shortened to fit the budget, and why")
    test_images: int | None = None
    cells: list[str] = Field(default_factory=list)
    sr_models: list[SRModelRecord] = Field(default_factory=list)
    classifiers: list[ClassifierRecord] = Field(default_factory=list)
    classifier_train_s: float | None = None
    sr_throughput: list[SRThroughput] = Field(default_factory=list)
    official_comparison: dict | None = Field(None, description="RRDBNet vs the official RealESRGANer")
    peak_gpu_memory_mb: float | None = Field(None, description="torch.cuda.max_memory_allocated, whole run")
    gpu_memory: dict | None = None
    headline: list[HeadlineRow] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    run_dir: str | None = None


def record_name(date: str, device: str, *, smoke: bool) -> str:
    """``<date>-<device>.json`` with the device name in lower-case words joined by '-' (``-smoke`` added
    for a rehearsal, so it can never be mistaken for, or overwrite, a measured record)."""
    slug = re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-") or "device"
    return f"{date}-{slug}{'-smoke' if smoke else ''}.json"


def write_record(path: Path, record: dict) -> Path:
    """Validate ``record`` against :class:`GpuStudyRecord` and write it to ``path`` atomically."""
    validated = GpuStudyRecord.model_validate(record)
    return write_text(path, json.dumps(validated.model_dump(mode="json"), indent=2) + "\n")


def read_record(path: Path) -> GpuStudyRecord:
    """Parse and validate a record file (raises pydantic's ``ValidationError`` when it does not fit)."""
    return GpuStudyRecord.model_validate_json(Path(path).read_text())
