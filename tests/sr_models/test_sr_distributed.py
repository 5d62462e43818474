"""`train-sr` under torchrun: two gloo ranks on CPU take the same steps as one process on the whole batch,
and a checkpoint resumes with a different number of ranks.

Tiny Real-ESRGAN: its U-Net discriminator has no batch norm, so with gradients averaged over ranks
the two-rank run equals the one-process run up to floating-point summation order, GAN stage included.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.commands.cli import main
from benchmark.pipeline.config import PROJECT_DIR
from sr_models.training.distributed import Ranks

pytestmark = pytest.mark.slow

# One Adam step moves a weight by up to the learning rate (5e-4 to 2e-3 here); summation order by ~1e-7.
TOLERANCE = 1e-5


def _arguments(out: Path, pretrain: int, gan: int) -> list[str]:
    config = out.parent / f"{out.name}-{pretrain}-{gan}.yaml"
    config.write_text(f"pretrain_steps: {pretrain}\ngan_steps: {gan}\ncheckpoint_every: 100\n")
    return [
        "train-sr",
        *("--model", "realesrgan", "--preset", "tiny-realesrgan", "--config", str(config)),
        *("--hr-size", "64", "--max-images", "4", "--out", str(out), "--quiet"),
    ]


def _torchrun(out: Path, pretrain: int, gan: int, ranks: int = 2) -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_DIR),
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    result = subprocess.run(
        [*command, "-m", "benchmark", *_arguments(out, pretrain, gan)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Weights:") == 1  # rank 0 alone reports


def _single(out: Path, pretrain: int, gan: int) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(_arguments(out, pretrain, gan)) == 0
    finally:
        torch.set_num_threads(threads)


def _largest_difference(a: Path, b: Path) -> float:
    """Largest absolute difference between the generator weights (plain and EMA) of two runs."""
    first, second = (torch.load(run / "weights.pth", weights_only=True) for run in (a, b))
    pairs = [(first[part][k], second[part][k]) for part in ("params", "params_ema") for k in first[part]]
    assert len(pairs) == sum(len(second[part]) for part in ("params", "params_ema"))
    return max(float((x - y).abs().max()) for x, y in pairs)


def _history(out: Path) -> list[dict[str, str]]:
    with (out / "history.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_ranks_take_the_steps_of_one_process_on_the_whole_batch(tmp_path):
    _torchrun(tmp_path / "two", pretrain=2, gan=2)
    _single(tmp_path / "one", pretrain=2, gan=2)
    assert [p.name for p in (tmp_path / "two" / "checkpoints").iterdir()] == ["step_000000004.pt"]
    assert _largest_difference(tmp_path / "two", tmp_path / "one") < TOLERANCE
    # The logged losses are those of the global batch (the mean of the ranks' shares).
    two, one = _history(tmp_path / "two"), _history(tmp_path / "one")
    assert [row["step"] for row in two] == ["1", "2", "3", "4"]
    for column in ("l_pix", "l_gan", "l_d_real", "l_d_fake"):
        logged = [float(row[column] or "nan") for row in two]
        np.testing.assert_allclose(logged, [float(row[column] or "nan") for row in one], rtol=1e-5)


def test_checkpoints_resume_across_world_sizes(tmp_path):
    resumed = tmp_path / "resumed"
    _torchrun(resumed, pretrain=2, gan=0)  # 2 ranks: pretraining
    _single(resumed, pretrain=2, gan=1)  # 1 rank: one GAN step more
    _torchrun(resumed, pretrain=2, gan=2)  # 2 ranks again: the last GAN step
    _single(tmp_path / "straight", pretrain=2, gan=2)
    assert [row["step"] for row in _history(resumed)] == ["1", "2", "3", "4"]
    assert _largest_difference(resumed, tmp_path / "straight") < TOLERANCE


def test_a_batch_that_does_not_split_evenly_is_refused_with_the_fix():
    assert Ranks(rank=1, world_size=2).share(4) == slice(2, 4)
    with pytest.raises(ValueError, match="multiple of 3"):
        Ranks(rank=0, world_size=3).share(4)
