"""Print images/s of each IQ metric: ``measure_quality_batch`` against a per-image loop of its peer.

    python benchmarks/iq_metrics.py [--images 32] [--size 512] [--source xray|random] [--threads 1]
        [--xrays ../shared/data/kermany-hr] [--metrics psnr ssim ...]

Peers, one call per image on float64 copies made before timing: ``benchmark.metrics.references`` (the
tests' independent references: scikit-image's PSNR, SSIM and MSE, NumPy for MAE, the per-image GMSD,
pytorch_msssim's MS-SSIM, a 15x15 ``scipy.ndimage.correlate`` with MATLAB's fspecial('log') for HFEN).
Pairs are
real X-rays from ../shared/data/kermany-hr (HR at ``--size``, the other image bicubic down x4 and back
up) or uniform noise with a noisy copy.  The peers run with ``--threads`` BLAS/OpenMP/torch threads
(``measure_quality_batch`` always runs BLAS single-threaded).  Each figure is the best of three passes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from benchmark.images import read_grayscale, resize_square
from benchmark.metrics import measure_quality_batch
from benchmark.metrics.references import REFERENCES

# ../shared/data beside the checkout (or beside the folder of worktrees).
XRAYS = next(
    (
        folder / "shared" / "data" / "kermany-hr"
        for folder in Path(__file__).resolve().parents[1].parents
        if (folder / "shared" / "data" / "kermany-hr").is_dir()
    ),
    Path("../shared/data/kermany-hr"),
)


def pairs(source: str, count: int, size: int, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(count, size, size) float32 references and images in [0, 1]."""
    if source == "random":
        rng = np.random.default_rng(0)
        references = rng.random((count, size, size), dtype=np.float32)
        images = np.clip(references + rng.normal(0, 0.05, references.shape), 0, 1).astype(np.float32)
        return references, images
    files = sorted(folder.glob("*/*.jpeg"))[:count]
    if len(files) < count:
        raise SystemExit(f"Expected {count} X-rays in {folder}, found {len(files)}. Use --source random.")
    references = np.stack([resize_square(read_grayscale(path), size) for path in files])
    images = np.stack([resize_square(resize_square(hr, size // 4), size) for hr in references])
    return references, np.clip(images, 0, 1)


def best_of_three(function) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(3):
        start = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--source", choices=["xray", "random"], default="xray")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--xrays", type=Path, default=XRAYS, help="folder of */*.jpeg X-rays")
    parser.add_argument("--metrics", nargs="+", choices=sorted(REFERENCES), default=list(REFERENCES))
    args = parser.parse_args()
    references, images = pairs(args.source, args.images, args.size, args.xrays)
    as_float = [(r.astype(np.float64), i.astype(np.float64)) for r, i in zip(references, images, strict=True)]
    torch.set_num_threads(args.threads)  # the MS-SSIM peer's threads
    print(f"{args.images} {args.source} pairs of {args.size}x{args.size}, {args.threads} thread(s)")
    print(f"{'metric':<8} {'batch img/s':>12} {'loop img/s':>11} {'ratio':>6} {'max |diff|':>11}")
    totals = np.zeros(2)
    with threadpool_limits(args.threads):
        for name in args.metrics:
            peer = REFERENCES[name]
            batch_s, batch = best_of_three(
                lambda name=name: measure_quality_batch(references, images, [name])
            )
            loop_s, loop = best_of_three(lambda peer=peer: np.array([peer(r, i) for r, i in as_float]))
            totals += batch_s, loop_s
            difference = np.max(np.abs(batch[name] - loop))
            print(f"{name:<8} {rate(args.images, batch_s, loop_s)} {difference:11.2e}")
    print(f"{'all':<8} {rate(args.images, *totals)}")


def rate(count: int, batch_s: float, loop_s: float) -> str:
    return f"{count / batch_s:12.1f} {count / loop_s:11.1f} {loop_s / batch_s:6.1f}"


if __name__ == "__main__":
    main()
