"""Tolerances of the regression check, measured rather than guessed.

TensorFlow (oneDNN) and PyTorch (ATen) choose kernels by instruction set, so the same pinned models
give figures that differ in their last bits from one CPU to another. One machine can imitate older
CPUs by capping the instruction set (environment variables read when the libraries load), so
:func:`measure` runs a suite once per setting in :data:`ISA_SETTINGS`, each in a fresh process with a
fresh cache, and :func:`derive` sets each tolerance pattern to the largest spread it saw times a safety
factor (never below the pattern's floor). Both go into the baseline file, so a reader sees what each
tolerance rests on.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import PREDICTIONS

#: Instruction-set caps a run is repeated under. A cap above what the CPU has changes nothing.
ISA_SETTINGS: dict[str, dict[str, str]] = {
    "native": {},
    "avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "ATEN_CPU_CAPABILITY": "avx512"},
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
    "sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"},
    "no-onednn": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}
#: Figures whose values are counts of images (a label that flips moves them by a whole image): the
#: spread is the tolerance, with no factor, so one flip seen across CPUs allows one flip, not ten.
COUNT_PATTERNS = (
    "classification/*/accuracy",
    "classification/*/sensitivity",
    "classification/*/specificity",
    "classification/*/ppv",
    "classification/*/npv",
    "classification/*/f1",
    "flips/*",
)
#: Smallest tolerance of each numeric pattern (first match wins), whatever the measured spread: an
#: unmeasured CPU (another vendor, an Arm machine) may differ a little more than the ones imitated here.
FLOORS: dict[str, float] = {
    "quality/*/psnr": 1e-4,  # dB
    "quality/*/gradcam_*": 1e-5,
    "quality/*": 1e-6,
    **{pattern: 0.0 for pattern in COUNT_PATTERNS},
    "classification/*": 1e-6,
}
SAFETY_FACTOR = 10.0


def _run_under(run_arguments: list[str], env: dict[str, str], runs_dir: Path) -> Path:
    """Run directory of ``python -m benchmark run RUN_ARGUMENTS`` in a new process with ``env`` added."""
    command = [sys.executable, "-m", "benchmark", "run", *run_arguments, "--quiet"]
    command += ["--runs-dir", str(runs_dir), "--run-id", "isa"]
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(
            f"The run under {env or 'no cap'} failed (exit {result.returncode}):\n{result.stderr[-2000:]}"
        )
    (run_dir,) = runs_dir.glob("*/isa")
    return run_dir


def measure(
    run_arguments: list[str], settings: dict[str, dict[str, str]] = ISA_SETTINGS
) -> tuple[dict[str, dict], float]:
    """Figures of ``python -m benchmark run RUN_ARGUMENTS`` under each setting (each in a fresh cache),
    and the largest change of one image's probability between settings."""
    import pandas as pd

    from benchmark.pipeline.regression import run_figures
    from benchmark.pipeline.store import RunStore

    figures, probabilities = {}, []
    for name, env in settings.items():
        with tempfile.TemporaryDirectory(prefix=f"isa-{name}-") as runs_dir:
            print(f"Running under {name} {env or ''}", file=sys.stderr)
            run_dir = _run_under(run_arguments, env, Path(runs_dir))
            figures[name] = run_figures(run_dir)
            table = RunStore(run_dir).read_table(PREDICTIONS, ["cell", "variant", "image_id", "prob"])
            probabilities.append(table.set_index(["cell", "variant", "image_id"])["prob"].sort_index())
    stacked = pd.concat(probabilities, axis=1)
    return figures, float((stacked.max(axis=1) - stacked.min(axis=1)).max())


def spread(figures_by_setting: dict[str, dict]) -> dict[str, float | str | None]:
    """Per figure: max - min over the settings (numbers), ``"differs"`` for other values that are not
    all equal, 0 or None (missing everywhere) otherwise."""
    names = sorted(set().union(*figures_by_setting.values()))
    result: dict[str, float | str | None] = {}
    for name in names:
        values = [figures.get(name) for figures in figures_by_setting.values()]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) == len(values):
            result[name] = float(max(numbers) - min(numbers))
        else:
            result[name] = 0.0 if len(set(map(str, values))) == 1 else "differs"
    return result


def _first_match(name: str, patterns) -> str | None:
    return next((pattern for pattern in patterns if fnmatch.fnmatchcase(name, pattern)), None)


def derive(spread_by_figure: dict, defaults: dict, factor: float = SAFETY_FACTOR) -> dict:
    """Tolerances with the patterns of ``defaults``: numeric patterns become the largest spread of their
    figures times ``factor`` (1 for :data:`COUNT_PATTERNS`), at least their floor; exact and unchecked
    patterns stay. Raises ``UserError`` when a figure held exact differs between settings."""
    largest: dict[str, float] = {}
    for name, value in spread_by_figure.items():
        pattern = _first_match(name, defaults)
        tolerance = defaults.get(pattern, "exact")
        if tolerance is None:
            continue
        if value == "differs" or (tolerance == "exact" and value != 0):
            raise UserError(
                f"Figure {name} differs between instruction sets but its tolerance is exact "
                f"(pattern {pattern!r}); give it a numeric tolerance or null in "
                "benchmark.pipeline.regression.DEFAULT_TOLERANCES."
            )
        if tolerance != "exact":
            largest[pattern] = max(largest.get(pattern, 0.0), float(value))
    derived = {}
    for pattern, tolerance in defaults.items():
        if tolerance is None or tolerance == "exact":
            derived[pattern] = tolerance
            continue
        multiplier = 1.0 if pattern in COUNT_PATTERNS else factor
        floor = FLOORS.get(_first_match(pattern, FLOORS) or "", 0.0)
        derived[pattern] = max(floor, multiplier * largest.get(pattern, 0.0))
    return derived
