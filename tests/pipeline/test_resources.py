"""benchmark.resources: each stage's own peak resident memory, not the process's running high-water mark."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from benchmark.resources import StageMeter, rss_mb

pytestmark = pytest.mark.skipif(rss_mb() is None, reason="no /proc/self/status on this platform")


def _hold(megabytes: int) -> None:
    block = np.ones(megabytes * 2**20 // 8)  # written, so resident
    time.sleep(0.1)  # several sampling intervals
    del block


def test_a_stage_that_allocated_reports_it_and_the_next_stage_does_not():
    meter = StageMeter()
    baseline = rss_mb()
    meter.lap("large")
    _hold(400)
    meter.lap("small")
    _hold(50)
    stages = {stage["stage"]: stage for stage in meter.as_dict()["stages"]}
    assert stages["large"]["stage_peak_rss_mb"] - baseline > 380
    assert stages["small"]["stage_peak_rss_mb"] - baseline < 150
    # the kernel's high-water mark keeps the 400 MB in the later stage: why stages are sampled
    assert stages["small"]["process_peak_rss_mb"] - baseline > 380


def test_finish_is_idempotent_and_as_dict_ends_the_running_stage():
    meter = StageMeter()
    meter.lap("only")
    record = meter.as_dict()
    meter.finish()
    assert [stage["stage"] for stage in record["stages"]] == ["only"] and len(meter.stages) == 1
    assert "sampled" in record["peak_rss_method"]


def test_each_stage_announces_itself_with_the_time_taken_by_the_one_before():
    lines = []
    meter = StageMeter(log=lines.append)
    meter.lap("images")
    meter.lap("cell bicubic-x4")
    meter.as_dict()
    assert len(lines) == 3 and lines[2].split("] ")[1].startswith("stages done (before: cell bicubic-x4, ")
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] images", lines[0])
    before = meter.stages[0]
    assert f"] cell bicubic-x4 (before: images, {before['seconds']:.1f} s, peak RSS " in lines[1]
    assert re.search(r"peak RSS \d+ MB\)$", lines[1])
