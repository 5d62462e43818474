"""Wall time and peak resident memory of each stage of a run (the run directory's ``resources.json``).

The process's high-water mark (``ru_maxrss``) never goes down, so it only says which stage first
reached the peak. Each stage's own peak is sampled instead: a daemon thread reads the resident set
(``VmRSS`` in ``/proc/self/status``) every 20 ms while the stage runs. Resetting the kernel's
high-water mark (``/proc/self/clear_refs``) would be exact, but it also erases the peak that
``/usr/bin/time -v`` and ``perf`` read, so it is not done. Where there is no ``/proc`` (macOS),
``stage_peak_rss_mb`` is None and only the running high-water mark is recorded.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

_MB = 1024.0**2
_STATUS = Path("/proc/self/status")
SAMPLE_INTERVAL_S = 0.02


def max_rss_mb() -> float:
    """The process's peak resident set size so far in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MB if sys.platform == "darwin" else peak / 1024.0


def rss_mb() -> float | None:
    """The current resident set size in MiB (``VmRSS``); None where ``/proc`` is missing."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


class _PeakSampler(threading.Thread):
    """Samples ``rss_mb`` until stopped; ``peak`` is the largest value seen (None without ``/proc``)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self._done = rss_mb(), threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_INTERVAL_S):
            self._sample()

    def _sample(self) -> None:
        value = rss_mb()
        if value is not None:
            self.peak = max(self.peak or 0.0, value)

    def stop(self) -> float | None:
        self._done.set()
        self.join()
        self._sample()
        return self.peak


class StageMeter:
    """Records, per named stage, its wall time, its sampled peak RSS and the process's peak so far.

    ``lap(name)`` ends the running stage and starts ``name``; ``finish()`` ends the last one. With ``log``
    (e.g. ``print`` when stdout is a log file, not a terminal) each stage announces itself in one line:
    the time, its name, and how long the stage before took.
    """

    def __init__(self, log: Callable[[str], None] | None = None):
        self.stages: list[dict] = []
        self._running: tuple[str, _PeakSampler, float] | None = None
        self._log = log

    def lap(self, name: str) -> None:
        self.finish()
        if self._log is not None:
            self._log(self._announcement(name))
        sampler = _PeakSampler()
        sampler.start()
        self._running = (name, sampler, time.perf_counter())

    def finish(self) -> None:
        if self._running is None:
            return
        name, sampler, start = self._running
        seconds, peak = time.perf_counter() - start, sampler.stop()
        self._running = None
        self.stages.append(
            {
                "stage": name,
                "seconds": seconds,
                "stage_peak_rss_mb": peak,
                "rss_after_mb": rss_mb(),
                "process_peak_rss_mb": max_rss_mb(),
            }
        )

    def _announcement(self, name: str) -> str:
        """`[08:01:02] HR references (before: classifier: load or train, 3.2 s, peak RSS 812 MB)`."""
        line = f"[{dt.datetime.now().strftime('%H:%M:%S')}] {name}"
        if self.stages:
            last = self.stages[-1]
            peak = last["stage_peak_rss_mb"] or last["process_peak_rss_mb"]
            line += f" (before: {last['stage']}, {last['seconds']:.1f} s, peak RSS {peak:.0f} MB)"
        return line

    def as_dict(self) -> dict:
        """The record written to ``resources.json``: the stages and how their peaks were measured."""
        running = self._running is not None
        self.finish()
        if running and self._log is not None:
            self._log(self._announcement("stages done"))
        return {
            "peak_rss_method": f"VmRSS sampled every {SAMPLE_INTERVAL_S * 1000:.0f} ms during each stage; "
            "process_peak_rss_mb is ru_maxrss (the process's high-water mark so far)",
            "stages": self.stages,
        }
