"""`python -m benchmark perf`: the figures it records and the peers it compares against.

Speed itself is never asserted (COMMON: speed is measured by benchmark scripts, not timed tests).
"""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
import torch

from benchmark.commands.cli import main
from benchmark.metrics.references import REFERENCES
from benchmark.pipeline.perf import PerfOptions, run_perf
from benchmark.pipeline.perf.end_to_end import run_child
from benchmark.pipeline.perf.measure import measure, measure_interleaved, ratio, round_ratio
from benchmark.pipeline.perf.official_realesrgan import compare as compare_official
from benchmark.pipeline.perf.peers import quality_function, sample_pairs
from benchmark.pipeline.perf.results import Results
from benchmark.pipeline.perf.sr_inference import flops_per_image


def test_measure_runs_warmup_repeats_and_one_traced_pass_and_reports_the_median():
    calls = []
    figure = measure(lambda: calls.append(np.ones(1000)), 10, repeats=3, warmup=2)
    assert len(calls) == 2 + 3 + 1
    assert figure["images_per_s"] == pytest.approx(10 / statistics.median(figure["seconds"]))
    assert figure["peak_traced_mb"] > 0 and figure["max_rss_mb"] > 0 and figure["cuda_peak_mb"] is None


def test_interleaved_rounds_alternate_the_order_so_load_changes_hit_every_workload():
    calls = []
    figures = measure_interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 4, repeats=3, warmup=1
    )
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-ups, then a-b, b-a, a-b
    assert [len(f["seconds"]) for f in figures.values()] == [3, 3]
    assert figures["a"]["images_per_s"] == 4 / statistics.median(figures["a"]["seconds"])
    paired = {"seconds": [1.0, 2.0, 4.0]}, {"seconds": [2.0, 2.0, 12.0]}
    assert round_ratio(*paired) == 2.0  # median of 2, 1, 3


def test_ratio_is_ours_over_the_peer():
    assert ratio({"images_per_s": 30.0}, {"images_per_s": 10.0}) == 3.0


def test_flop_count_of_a_tiny_rrdbnet_matches_the_analytic_count():
    """2 FLOPs per multiply-add of every 3x3 convolution, summed by hand over the architecture."""
    arch = {"type": "RRDBNet", "num_block": 1, "num_feat": 8, "num_grow_ch": 4, "scale": 4}
    side, feat, grow = 6, 8, 4

    def conv(cin, cout, pixels):
        return 2 * 9 * cin * cout * pixels

    lr, x2, x4 = side * side, 4 * side * side, 16 * side * side
    dense = [conv(feat + k * grow, grow if k < 4 else feat, lr) for k in range(5)]
    expected = (
        conv(3, feat, lr)  # conv_first
        + 3 * sum(dense)  # one RRDB = three residual dense blocks
        + conv(feat, feat, lr)  # conv_body
        + conv(feat, feat, x2)  # conv_up1 after nearest x2
        + conv(feat, feat, x4)  # conv_up2
        + conv(feat, feat, x4)  # conv_hr
        + conv(feat, 3, x4)  # conv_last
    )
    assert flops_per_image(arch, side) == expected


def test_our_quality_path_gives_scikit_image_values(tmp_path):
    references, images = sample_pairs(3, 64)
    path, ours = quality_function()
    values = ours(references, images, ["psnr", "ssim"])
    for index, (reference, image) in enumerate(zip(references, images, strict=True)):
        reference, image = reference.astype(np.float64), image.astype(np.float64)
        assert values["psnr"][index] == pytest.approx(REFERENCES["psnr"](reference, image), abs=1e-6)
        assert values["ssim"][index] == pytest.approx(REFERENCES["ssim"](reference, image), abs=1e-6)
    assert path in ("measure_quality_batch", "measure_quality loop")


def test_perf_cli_writes_figures_ratios_and_settings_as_json(tmp_path, capsys):
    status = main(["perf", "--quick", "--sections", "peers", "--repeats", "1", "--out", str(tmp_path)])
    assert status == 0
    written = json.loads((tmp_path / "perf.json").read_text())
    ratios = {row["name"]: row for row in written["ratios"]}
    assert {"psnr vs skimage", "ssim vs skimage", "bicubic upscale x4 vs PIL float32 'F'"} <= set(ratios)
    assert ratios["ssim vs skimage"]["max_abs_difference"] < 1e-6
    assert ratios["bicubic downsample /4 vs PIL float32 'F'"]["max_abs_difference"] == 0.0
    assert all(row["images_per_s"] > 0 for row in written["figures"])
    assert written["settings"]["quick"] == "True" and written["environment"]["torch"] == torch.__version__
    assert "ratio ssim vs skimage" in capsys.readouterr().out


def test_unknown_section_and_missing_cuda_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown perf section"):
        run_perf(PerfOptions(sections=("gpu",), out=tmp_path))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees none"):
            run_perf(PerfOptions(device="cuda", out=tmp_path))


def test_official_realesrgan_is_skipped_with_a_reason_when_it_cannot_be_imported(tmp_path):
    try:
        import realesrgan  # noqa: F401

        pytest.skip("realesrgan is importable here; the comparison runs instead")
    except Exception:
        pass
    results = Results(echo=False)
    compare_official(results, device="cpu", quick=True, repeats=1, extra_path=tmp_path / "absent")
    assert [row["name"] for row in results.skipped] == ["RRDBNet vs official RealESRGANer"]
    assert "--realesrgan-path" in results.skipped[0]["reason"]
    assert "torch==2.14.1 torchvision==0.29.1" in results.skipped[0]["reason"]


def test_a_failing_child_command_raises_with_its_error():
    with pytest.raises(RuntimeError, match="exit 2"):
        run_child(["run", "--suite", "no-such-suite"], timeout=300)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_figures_carry_precision_and_fraction_of_peak(tmp_path):
    run_perf(PerfOptions(device="cuda", quick=True, repeats=1, sections=("sr",), out=tmp_path))
    figures = json.loads((tmp_path / "perf.json").read_text())["figures"]
    learned = [row for row in figures if row.get("precision")]
    assert {row["precision"] for row in learned} == {"fp32", "tf32", "fp16", "bf16"}
    assert all(0 < row["fraction_of_h100_sxm_peak"] < 1 and row["cuda_peak_mb"] > 0 for row in learned)
