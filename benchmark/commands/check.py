"""``check``: run a suite (or take a finished run) and compare its headline figures with a baseline.

Prints one aligned line per figure (figure / baseline / now / tolerance / verdict) and a closing
message naming every figure that moved; returns the exit status (0 pass, 1 regression).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from benchmark.pipeline import regression
from benchmark.pipeline.store import RunStore
from cxr_kernel.errors import UserError

HEADER = ("figure", "baseline", "now", "tolerance", "verdict")


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def format_table(rows: list[regression.Comparison]) -> str:
    """Plain text columns, aligned, one figure a line."""
    cells = [HEADER] + [
        (
            row.name,
            _show(row.baseline),
            _show(row.now),
            "not checked" if row.tolerance is None else _show(row.tolerance),
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    lines = ("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)) for line in cells)
    return "\n".join(line.rstrip() for line in lines)


def _run(args, suite) -> Path:
    """Run ``suite`` in a fresh cache (deleted afterwards); returns the run directory.

    A fresh cache cannot answer with results of other code or other inputs, so the check tests the
    code as it is; the pinned models keep the run short.
    """
    from benchmark.pipeline.study import RunOptions, run_suite
    from reports import render_run

    with tempfile.TemporaryDirectory(prefix="check-cache-") as cache_dir:
        options = RunOptions(
            runs_dir=args.runs_dir,
            cache_dir=Path(cache_dir),
            run_id=args.run_id,
            progress=not args.quiet,
            stage_log=not sys.stdout.isatty(),
        )
        run_dir = run_suite(suite, options)
        render_run(run_dir)
    print(f"Run: {run_dir}")
    return run_dir


def _suite_arguments(args) -> list[str]:
    """The arguments that make `run` run what `check --suite` runs."""
    extra = ["--smoke"] if args.smoke else []
    extra += ["--fallback"] if args.fallback else []
    return ["--suite", args.suite, *extra, *(["--data-root", str(args.data_root)] if args.data_root else [])]


def _measure_tolerances(args, suite, baseline: Path) -> int:
    """Run the suite under every instruction-set setting, write the baseline with measured tolerances."""
    from benchmark.pipeline import tolerances

    figures, probability_spread = tolerances.measure(_suite_arguments(args))
    spread = tolerances.spread(figures)
    derived = tolerances.derive(spread, regression.DEFAULT_TOLERANCES)
    moved = {name: value for name, value in spread.items() if value}
    measurement = {
        "settings": tolerances.ISA_SETTINGS,
        "safety_factor": tolerances.SAFETY_FACTOR,
        "label_band": regression.LABEL_BAND,
        "max_probability_spread": probability_spread,
        "figures_that_differ": len(moved),
        "largest_spread": dict(sorted(moved.items(), key=lambda item: -float(item[1]))[:20]),
    }
    regression.write_baseline(
        baseline, suite.name, figures["native"], tolerances=derived, measurement=measurement
    )
    print(
        f"Baseline written with measured tolerances: {baseline} ({len(figures)} settings; "
        f"{len(moved)} figure(s) differ between them; largest probability change {probability_spread:.3g}). "
        "Review `git diff` before committing."
    )
    return 0


def check_from_cli(args) -> int:
    if (args.run_dir is None) == (args.suite is None):
        raise UserError("Give either a run directory or `--suite NAME` (which runs the suite), not both.")
    if args.run_dir is not None:
        if args.baseline is None:
            raise UserError("`check RUN_DIR` needs `--baseline FILE`.")
        if args.smoke or args.fallback or args.measure_tolerances:
            raise UserError(
                "`--smoke`, `--fallback` and `--measure-tolerances` choose how `--suite` runs; a run "
                "directory is done."
            )
        run_dir, baseline = args.run_dir, args.baseline
    else:
        from benchmark.pipeline.config import load_suite

        suite = load_suite(args.suite, data_root=args.data_root, smoke=args.smoke, fallback=args.fallback)
        baseline = args.baseline or regression.default_baseline(suite.name, smoke=args.smoke)
        if args.measure_tolerances:
            return _measure_tolerances(args, suite, baseline)
        if not args.update_baseline:
            regression.read_baseline(baseline)  # a missing baseline is reported before the run
        run_dir = _run(args, suite)
    exists = regression.stored_baseline(baseline) is not None
    rows = regression.compare(run_dir, baseline, tolerance=args.tolerance) if exists else []
    if rows:
        print(format_table(rows))
    if args.update_baseline:
        changed = sum(row.verdict != "ok" for row in rows)
        suite_name = RunStore(run_dir).read_summary().suite
        regression.write_baseline(baseline, suite_name, regression.run_figures(run_dir))
        print(
            f"Baseline {'rewritten' if exists else 'written'}: {baseline} ({changed} figure(s) changed; "
            "tolerances kept). Review `git diff` before committing."
        )
        return 0
    if not exists:
        regression.read_baseline(baseline)  # raises the error that says how to write one
    failed = [row for row in rows if row.failed]
    near = sum(row.now or 0 for row in rows if row.name.endswith("/near_threshold"))
    band = (
        f" {near} label(s) within {regression.LABEL_BAND} of the threshold were not compared." if near else ""
    )
    if not failed:
        print(f"OK: {len(rows)} figures match {baseline} within tolerance.{band}")
        return 0
    moved = "\n  ".join(
        f"{row.name}: {_show(row.baseline)} -> {_show(row.now)} (tolerance {_show(row.tolerance)})"
        for row in failed
    )
    print(
        f"REGRESSION: {len(failed)} of {len(rows)} figure(s) moved beyond tolerance against {baseline}:\n"
        f"  {moved}\nIf the change is intended, rewrite the baseline with `--update-baseline` and commit it."
        + band
    )
    return 1
