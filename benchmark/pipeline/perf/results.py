"""Collects perf figures, prints each as it is measured, and writes them all as one JSON file."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

from cxr_kernel.atomic import write_text


def _megabytes(value: float | None) -> str:
    return f"{value:9.1f}" if value is not None else f"{'-':>9s}"


class Results:
    """Figures (group, name, measurement, details), ratios against peers, and skipped measurements."""

    def __init__(self, *, echo: bool = True):
        self.figures: list[dict[str, Any]] = []
        self.ratios: list[dict[str, Any]] = []
        self.skipped: list[dict[str, str]] = []
        self.stages: list[dict[str, Any]] = []
        self.echo = echo

    def _print(self, line: str) -> None:
        if self.echo:
            print(line, flush=True)

    def header(self, title: str) -> None:
        self._print(f"\n== {title}")
        self._print(f"{'name':58s} {'images/s':>10s} {'traced MB':>9s} {'maxRSS MB':>9s} {'cuda MB':>9s}")

    def add(self, group: str, name: str, figure: dict[str, Any], **details: Any) -> dict[str, Any]:
        """Record and print one measurement from :func:`benchmark.pipeline.perf.measure.measure`."""
        row = {"group": group, "name": name, **figure, **details}
        self.figures.append(row)
        self._print(
            f"{name:58s} {figure['images_per_s']:10.2f} {_megabytes(figure['peak_traced_mb'])} "
            f"{_megabytes(figure['max_rss_mb'])} {_megabytes(figure['cuda_peak_mb'])}"
        )
        return row

    def add_ratio(self, name: str, value: float, *, ours: str, peer: str, **details: Any) -> None:
        """Record ``value`` = our images/s over the peer's (> 1: ours is faster)."""
        self.ratios.append({"name": name, "ratio": value, "ours": ours, "peer": peer, **details})
        notes = " ".join(f"{key}={value:.3g}" for key, value in details.items() if isinstance(value, float))
        self._print(f"  ratio {name}: {value:.2f}x ({ours} / {peer}) {notes}".rstrip())

    def add_stages(self, run: str, record: dict[str, Any]) -> None:
        """Record and print a run's ``resources.json``: wall time and peak RSS per stage."""
        self.stages.append({"run": run, **record})
        self._print(f"  stages of {run} ({record['peak_rss_method']}):")
        for stage in record["stages"]:
            self._print(
                f"    {stage['stage'][:56]:56s} {stage['seconds']:8.1f} s "
                f"peak {_megabytes(stage['stage_peak_rss_mb'])} MB"
            )

    def skip(self, group: str, name: str, reason: str) -> None:
        self.skipped.append({"group": group, "name": name, "reason": reason})
        self._print(f"SKIPPED {group} {name}: {reason}")

    def as_dict(self, settings: dict[str, Any]) -> dict[str, Any]:
        import numpy
        import torch

        return {
            "settings": settings,
            "environment": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "processor": platform.processor(),
                "numpy": numpy.__version__,
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            },
            "figures": self.figures,
            "ratios": self.ratios,
            "skipped": self.skipped,
            "stages": self.stages,
        }

    def write(self, path: Path, settings: dict[str, Any]) -> Path:
        """Write everything as JSON to ``path`` atomically."""
        return write_text(path, json.dumps(self.as_dict(settings), indent=2, default=str) + "\n")
