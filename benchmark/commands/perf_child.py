"""Run one ``python -m benchmark`` command and print its wall time and peak memory as a JSON line.

    python -m benchmark.commands.perf_child [--trace] -- run --suite demo --smoke ...

A separate process per measurement, so each peak belongs to that command alone (``ru_maxrss`` never
goes down within a process). ``--trace`` adds tracemalloc's peak (NumPy and Python allocations).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import tracemalloc

from benchmark.pipeline.perf.measure import CHILD_MARKER as MARKER
from benchmark.resources import max_rss_mb


def main(argv: list[str]) -> int:
    trace = argv[:1] == ["--trace"]
    command = argv[argv.index("--") + 1 :]
    from benchmark.commands.cli import main as benchmark_main

    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = benchmark_main(command)
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] / 1024.0**2 if trace else None
    figures = {"status": status, "seconds": seconds, "max_rss_mb": max_rss_mb(), "peak_traced_mb": traced}
    print(MARKER + json.dumps(figures), flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
