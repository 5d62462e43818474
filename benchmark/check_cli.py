"""``check``: run a suite (or take a finished run) and compare its headline figures with a baseline.

Prints one aligned line per figure (figure / baseline / now / tolerance / verdict) and a closing
message naming every figure that moved; returns the exit status (0 pass, 1 regression).
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark import regression
from benchmark.errors import UserError

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


def _run(args) -> tuple[Path, Path]:
    """Run ``args.suite`` (through the shared cache); returns (run directory, baseline path).

    A missing baseline is reported before the run, unless this run is to write it."""
    from benchmark.config import load_suite
    from benchmark.pipeline import RunOptions, run_suite

    suite = load_suite(args.suite, data_root=args.data_root, smoke=args.smoke, fallback=args.fallback)
    baseline = args.baseline or regression.default_baseline(suite.name, smoke=args.smoke)
    if not args.update_baseline:
        regression.read_baseline(baseline)
    options = RunOptions(runs_dir=args.runs_dir, run_id=args.run_id, progress=not args.quiet)
    run_dir = run_suite(suite, options).parent
    print(f"Run: {run_dir}")
    return run_dir, baseline


def check_from_cli(args) -> int:
    if (args.run_dir is None) == (args.suite is None):
        raise UserError("Give either a run directory or `--suite NAME` (which runs the suite), not both.")
    if args.run_dir is not None:
        if args.baseline is None:
            raise UserError("`check RUN_DIR` needs `--baseline FILE`.")
        if args.smoke or args.fallback:
            raise UserError("`--smoke` and `--fallback` choose how `--suite` runs; a run directory is done.")
        run_dir, baseline = args.run_dir, args.baseline
    else:
        run_dir, baseline = _run(args)
    exists = regression.stored_baseline(baseline) is not None
    rows = regression.compare(run_dir, baseline, tolerance=args.tolerance) if exists else []
    if rows:
        print(format_table(rows))
    if args.update_baseline:
        changed = sum(row.verdict != "ok" for row in rows)
        regression.write_baseline(run_dir, baseline)
        print(
            f"Baseline {'rewritten' if exists else 'written'}: {baseline} ({changed} figure(s) changed; "
            "tolerances kept). Review `git diff` before committing."
        )
        return 0
    if not exists:
        regression.read_baseline(baseline)  # raises the error that says how to write one
    failed = [row for row in rows if row.failed]
    if not failed:
        print(f"OK: {len(rows)} figures match {baseline} within tolerance.")
        return 0
    moved = "\n  ".join(
        f"{row.name}: {_show(row.baseline)} -> {_show(row.now)} (tolerance {_show(row.tolerance)})"
        for row in failed
    )
    print(
        f"REGRESSION: {len(failed)} of {len(rows)} figure(s) moved beyond tolerance against {baseline}:\n"
        f"  {moved}\nIf the change is intended, rewrite the baseline with `--update-baseline` and commit it."
    )
    return 1
