"""Timing and peak memory of one workload: images/s (median of repeats) and three memory figures.

Memory is measured in a separate, untimed pass because tracing slows allocation-heavy code:
``tracemalloc`` sees NumPy's buffers (NumPy reports them to it) but not PyTorch's or TensorFlow's
CPU tensors; ``ru_maxrss`` is the process's high-water resident set so far (it never goes down, so it
bounds every workload run before it); ``torch.cuda.max_memory_allocated`` is reset and read around
the pass when CUDA is in use.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from benchmark.resources import max_rss_mb

_MB = 1024.0**2
#: Prefixes the JSON line a ``benchmark.commands.perf_child`` process prints; ``end_to_end`` reads it.
CHILD_MARKER = "PERF-CHILD "


def _cuda_in_use() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized()


def measure(
    function: Callable[[], Any], items: int, *, repeats: int = 3, warmup: int = 1, trace_memory: bool = True
) -> dict[str, Any]:
    """Run ``function`` ``warmup`` + ``repeats`` times, then once more under the memory tracers.

    Parameters
    ----------
    function : callable
        One pass over ``items`` images; its result is discarded.
    items : int
        Images processed per call, for images/s.
    repeats, warmup : int
        Timed calls (the figure is their median) and untimed calls before them (lazy initialisation,
        kernel selection and compilation are not throughput).
    trace_memory : bool
        Whether to make the extra traced pass (skip it for workloads too slow to run again).

    Returns
    -------
    dict
        ``images_per_s`` (median), ``seconds`` (every timed call), ``items``, ``repeats``,
        ``peak_traced_mb`` (tracemalloc, NumPy/Python only; None when not traced), ``max_rss_mb``
        and ``cuda_peak_mb`` (None without CUDA).
    """
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    peak_traced, cuda_peak = None, None
    if trace_memory:
        cuda = _cuda_in_use()
        if cuda:
            torch = sys.modules["torch"]
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        tracemalloc.start()
        try:
            function()
            peak_traced = tracemalloc.get_traced_memory()[1] / _MB
        finally:
            tracemalloc.stop()
        if cuda:
            cuda_peak = torch.cuda.max_memory_allocated() / _MB
    return _figure(seconds, items, peak_traced, cuda_peak)


def measure_interleaved(
    functions: dict[str, Callable[[], Any]], items: int, *, repeats: int = 3, warmup: int = 1
) -> dict[str, dict[str, Any]]:
    """Time several workloads in alternating rounds, the order reversed every round.

    A change of machine load during the measurement then slows every workload alike, so ratios between
    them hold on a shared machine where back-to-back ``measure`` calls do not.  Figures are those of
    ``measure`` without the memory pass; each also holds ``round_seconds`` for per-round ratios.
    """
    for function in functions.values():
        for _ in range(warmup):
            function()
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    order = list(functions)
    for round_index in range(repeats):
        for name in order if round_index % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            functions[name]()
            seconds[name].append(time.perf_counter() - start)
    return {name: _figure(times, items, None, None) for name, times in seconds.items()}


def _figure(seconds: list[float], items: int, peak_traced: float | None, cuda_peak: float | None) -> dict:
    return {
        "images_per_s": items / statistics.median(seconds),
        "seconds": seconds,
        "items": items,
        "repeats": len(seconds),
        "peak_traced_mb": peak_traced,
        "max_rss_mb": max_rss_mb(),
        "cuda_peak_mb": cuda_peak,
    }


def ratio(ours: dict[str, Any], peer: dict[str, Any]) -> float:
    """Speed-up of ``ours`` over ``peer`` (> 1 means ours is faster), from their median images/s."""
    return ours["images_per_s"] / peer["images_per_s"]


def round_ratio(ours: dict[str, Any], peer: dict[str, Any]) -> float:
    """Median over rounds of peer seconds / our seconds (``measure_interleaved`` figures)."""
    return statistics.median(p / o for o, p in zip(ours["seconds"], peer["seconds"], strict=True))
