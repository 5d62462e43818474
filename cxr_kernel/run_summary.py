"""The run record ``summary.json``, typed: what a run found and where its files came from.

``benchmark.pipeline.store.RunStore`` is its only writer and reader. The keys and their order are those the
pipeline has always written, so old run directories still read: a key a run wrote is written back
(``exclude_unset``), one an older run never wrote is None here. The tables, the statistics design,
the leakage check and the seeds / panel comparisons stay records of the modules that make them
(``benchmark.stats``, ``benchmark.pipeline.run_leakage``); this model fixes the record around them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from cxr_kernel.run_files import RunFileInvalid

Record = dict[str, Any]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageCounts(_Part):
    eval: int
    train: int | None = None


class SkippedImages(_Part):
    """Images left out under ``--on-bad-image skip`` (``policy``), by reason."""

    policy: str
    count: int
    by_reason: dict[str, int] = {}


class CellRecord(_Part):
    cell: str
    scenario: str
    scale: int
    params: Record | None = None


class Throughput(_Part):
    cell: str
    variant: str
    device: str | None = None
    images_per_s: float | None = None


class TrainingHistory(_Part):
    """An SR model the run trained and the history file of its training."""

    model: str
    history_csv: str


class ClassifierRecord(_Part):
    """Where the run's classifier came from: a given file or one trained through the cache."""

    source: str | None = None  # "file" or "trained"
    path: str | None = None
    sha256: str | None = None
    classifier: Record | None = None  # classifiers.interface.Classifier.describe()
    history_csv: str | None = None
    train_images_csv: str | None = None

    @property
    def input_size(self) -> int | None:
        """The side of the square input the loaded classifier declared (None: not recorded)."""
        size = ((self.classifier or {}).get("input") or {}).get("size")
        return int(size[0]) if size else None

    @property
    def input_resize(self) -> str | None:
        return ((self.classifier or {}).get("input") or {}).get("resize")


class LpipsWeights(_Part):
    backbone: str
    linear: str
    sha256: Any


class RunSummary(_Part):
    """``summary.json``; fields in the order the file has always had."""

    suite: str
    run_id: str
    created: str | None = None
    synthetic_data: bool | None = None
    data_note: str | None = None
    n_images: ImageCounts | None = None
    skipped_images: SkippedImages | None = None
    declared_duplicates: list[Record] = []
    cells: list[CellRecord] = []
    variants: list[str] = []
    statistics: Record | None = None  # benchmark.stats.design.analysis_options
    leakage: Record | None = None  # benchmark.pipeline.run_leakage
    tables: dict[str, list[Record]]  # benchmark.stats.records.table_records, by table name
    throughput: list[Throughput] = []
    training: list[TrainingHistory] = []
    classifier: ClassifierRecord | None = None
    lpips_weights: LpipsWeights | None = None
    metric_specs: dict[str, Record] | None = None
    seeds: Record | None = None  # classifier: {seeds: K}
    panel: Record | None = None  # classifiers: [...]
    files: dict[str, str] | None = None  # run_layout.FILES_RECORD: written last, of every other file

    @field_validator("tables", mode="before")
    @classmethod
    def _records_by_name(cls, tables: Any) -> Any:
        malformed = (
            [type(tables).__name__]
            if not isinstance(tables, dict)
            else [
                n
                for n, rows in tables.items()
                if not (isinstance(rows, list) and all(isinstance(r, dict) for r in rows))
            ]
        )
        if malformed:
            raise ValueError(f"expected each table name to map to a list of records, got {malformed}")
        return tables

    @property
    def n_eval(self) -> int | None:
        return self.n_images.eval if self.n_images else None

    def rows(self, table: str) -> list[Record]:
        """The records of one table ([] when the run has none)."""
        return self.tables.get(table) or []

    def to_json(self) -> str:
        """The file's text: the keys set (none an older run lacked), indented as always."""
        return json.dumps(self.model_dump(exclude_unset=True), indent=2, default=str, allow_nan=True)

    @classmethod
    def from_json(cls, text: str, path: Path) -> RunSummary:
        """Parse ``text`` read from ``path``; ``UserError`` naming the file, the key and the fix."""
        fix = "Re-run the suite to rewrite it (the cache makes it quick)."
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise RunFileInvalid(f"{path} is not valid JSON ({error}). {fix}") from None
        if not isinstance(data, dict):
            raise RunFileInvalid(
                f"{path} holds a JSON {type(data).__name__}, not a run summary object. {fix}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the file"
            raise RunFileInvalid(
                f"{path} is not a run summary this version reads: {where}: {first['msg']}. {fix}"
            ) from None
