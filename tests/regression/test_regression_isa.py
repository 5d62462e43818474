"""The regression check holds on other CPUs and still catches real changes there.

Each instruction-set cap (benchmark.pipeline.tolerances.ISA_SETTINGS: what oneDNN and ATen may use) starts a
new process, since both libraries read it when they load. In it, the pinned smoke study runs from a
fresh cache and must match the one committed baseline; then three deliberate changes (a scaled
degradation, a changed metric, a changed decision threshold) must each fail the check.
"""

import json
import os
import subprocess
import sys

import pytest

from benchmark.pipeline.regression import default_baseline
from benchmark.pipeline.tolerances import ISA_SETTINGS
from tests.support.suite_files import absolute_suite

PROBE = """
import json
import sys
from benchmark.commands.cli import main

suite, changed_threshold, runs = sys.argv[1:4]
common = ["--smoke", "--baseline", {baseline!r}, "--quiet"]

def check(suite_file, name):
    return main(["check", "--suite", suite_file, *common, "--runs-dir", f"{{runs}}/{{name}}"])

results = {{"unchanged": check(suite, "unchanged")}}

# The unchanged check rendered the report; the changed runs skip it (half of a smoke run's time): the
# figures the check compares come from summary.json and the parquet files.
import reports
reports.render_report = lambda run_dir: run_dir / "report.html"
results["threshold"] = check(changed_threshold, "threshold")

import benchmark.pipeline.stages as stages
degrade = stages.degrade
stages.degrade = lambda *args, **kwargs: 0.8 * degrade(*args, **kwargs)
results["degradation"] = check(suite, "degradation")
stages.degrade = degrade

from benchmark.metrics import IMAGE_QUALITY_METRICS
ssim = IMAGE_QUALITY_METRICS.info("ssim")
batched = ssim.batched
object.__setattr__(ssim, "batched", lambda reference, image, scale: batched(reference, image, scale) * 0.999)
results["metric"] = check(suite, "metric")
print("RESULTS", json.dumps(results))
"""


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["native", "avx2", "sse41"])
def test_check_passes_on_this_cpu_capped_and_catches_deliberate_changes(setting, tmp_path):
    probe = PROBE.format(baseline=str(default_baseline("pneumonia-mini", smoke=True)))
    suite = absolute_suite(tmp_path, "pneumonia-mini")
    changed_threshold = absolute_suite(
        tmp_path, "pneumonia-mini", changes=lambda raw: raw["stats"].update(threshold=0.3)
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, suite, changed_threshold, str(tmp_path / "runs")],
        env={**os.environ, **ISA_SETTINGS[setting]},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout[result.stdout.index("RESULTS") + 8 :].strip())
    assert results == {"unchanged": 0, "threshold": 1, "degradation": 1, "metric": 1}, result.stdout[-5000:]
