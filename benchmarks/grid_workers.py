"""Print the wall-clock time of `run` with 1 and with 2 local workers (each a median of repeats).

    python benchmarks/grid_workers.py [--repeats 3] [--workers 1 2] [--work-dir /tmp/grid-workers]

The suite, written by this script, evaluates 48 phantoms at 256 px in 2 cells with 3 SR models
(bicubic, Lanczos, a tiny ESRGAN): 12 LR and 36 SR shards of 8 images. A first, untimed run trains the
classifier and the ESRGAN; every timed run starts from a copy of that cache without the grid's stages
(LR, SR, IQ values, predictions), so it computes the whole grid and nothing else new. The times are of
the whole command (start-up, classifier predictions, statistics and report included), as a user sees it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SUITE = """
name: grid-workers
seed: 0
data: {phantoms: {train_per_class: 8, test_per_class: 24, size: 256}, hr_size: 256}
cells:
  - {scenario: bicubic, scale: 4}
  - {scenario: bicubic-noise, scale: 4}
sr_models:
  - {name: bicubic, model: bicubic}
  - {name: lanczos, model: lanczos}
  - name: esrgan-tiny
    model: esrgan
    train: {preset: tiny-esrgan, max_images: 8, overrides: {pretrain_steps: 10, gan_steps: 2}}
classifier: {train: {epochs: 1, batch_size: 8, augment: false}, input_size: 94}
metrics: [psnr, ssim, mse, mae]
stats: {n_bootstrap: 200}
examples_per_cell: 0
"""
GRID_STAGES = ("lr", "sr", "quality", "predict")


def run(suite: Path, runs: Path, workers: int) -> float:
    command = [sys.executable, "-m", "benchmark", "run", "--suite", str(suite), "--runs-dir", str(runs)]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--run-id", "r", "--quiet", "--workers", str(workers)],
        check=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def fresh_grid(warm: Path, runs: Path) -> None:
    """``runs`` with the warm run's cache, less the grid's stages."""
    shutil.rmtree(runs, ignore_errors=True)
    shutil.copytree(
        warm / ".cache", runs / ".cache", ignore=lambda folder, names: [n for n in names if n in GRID_STAGES]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/grid-workers"))
    args = parser.parse_args()

    args.work_dir.mkdir(parents=True, exist_ok=True)
    suite = args.work_dir / "grid-workers.yaml"
    suite.write_text(SUITE)
    warm = args.work_dir / "warm"
    print(f"warm-up run (trains the classifier and the tiny ESRGAN): {run(suite, warm, 1):.1f} s")
    timings: dict[int, list[float]] = {w: [] for w in args.workers}
    for repeat in range(args.repeats):
        for workers in args.workers:  # interleaved, so a change in machine load hits every setting alike
            fresh_grid(warm, args.work_dir / "timed")
            timings[workers].append(run(suite, args.work_dir / "timed", workers))
            print(f"repeat {repeat + 1}, --workers {workers}: {timings[workers][-1]:.1f} s", flush=True)
    base = statistics.median(timings[args.workers[0]])
    for workers, values in timings.items():
        median = statistics.median(values)
        print(
            f"--workers {workers}: median {median:.1f} s over {len(values)} runs "
            f"(speed-up {base / median:.2f}x against --workers {args.workers[0]})"
        )


if __name__ == "__main__":
    main()
