"""Print images/s of each IQ metric: ``measure_quality_batch`` against a per-image loop of its peer.

    python benchmarks/iq_metrics.py [--images 32] [--size 512] [--source xray|random] [--threads 1]
        [--xrays ../shared/data/kermany-hr]

Peers, one call per image: scikit-image's ``peak_signal_noise_ratio``, ``structural_similarity``
(Gaussian window, sigma 1.5, population covariance) and ``mean_squared_error``; NumPy for MAE (scikit-
image has none); the per-image ``gmsd`` (scipy.ndimage); pytorch_msssim's ``ms_ssim`` (float64 window); a
direct 15x15 ``scipy.ndimage.correlate`` with MATLAB's fspecial('log', 15, 1.5) for HFEN.  Pairs are
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
from pytorch_msssim import ms_ssim
from scipy import ndimage
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity
from threadpoolctl import threadpool_limits

from benchmark.images import read_grayscale, resize_square
from benchmark.metrics import measure_quality_batch
from benchmark.metrics.filters import gaussian_taps
from benchmark.metrics.image_quality import gmsd

# ../shared/data beside the checkout (or beside the folder of worktrees).
XRAYS = next(
    (
        folder / "shared" / "data" / "kermany-hr"
        for folder in Path(__file__).resolve().parents[1].parents
        if (folder / "shared" / "data" / "kermany-hr").is_dir()
    ),
    Path("../shared/data/kermany-hr"),
)


def fspecial_log(size: int = 15, sigma: float = 1.5) -> np.ndarray:
    """MATLAB's fspecial('log', size, sigma)."""
    offsets = np.arange(size) - size // 2
    squared = offsets[:, None] ** 2 + offsets[None, :] ** 2
    gauss = np.exp(-squared / (2 * sigma**2))
    h1 = gauss / gauss.sum() * (squared - 2 * sigma**2) / sigma**4
    return h1 - h1.mean()


LOG_KERNEL = fspecial_log()


def hfen_peer(reference: np.ndarray, image: np.ndarray) -> float:
    log_reference = ndimage.correlate(reference, LOG_KERNEL, mode="constant")
    log_image = ndimage.correlate(image, LOG_KERNEL, mode="constant")
    return float(np.linalg.norm(log_image - log_reference) / np.linalg.norm(log_reference))


# pytorch_msssim's default window is float32 (MS-SSIM 6e-7 off on X-rays); pass the float64 Gaussian.
WINDOW = torch.from_numpy(gaussian_taps(11, 1.5))[None, None, None]


def ms_ssim_peer(reference: np.ndarray, image: np.ndarray) -> float:
    pair = [torch.from_numpy(array)[None, None] for array in (reference, image)]
    return float(ms_ssim(*pair, data_range=1.0, win=WINDOW))


PEERS = {
    "psnr": lambda r, i: peak_signal_noise_ratio(r, i, data_range=1.0),
    "ssim": lambda r, i: structural_similarity(
        r, i, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    ),
    "mse": mean_squared_error,
    "mae": lambda r, i: float(np.mean(np.abs(r - i))),
    "gmsd": lambda r, i: gmsd(r, i, data_range=1.0),
    "ms_ssim": ms_ssim_peer,
    "hfen": hfen_peer,
}


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
    args = parser.parse_args()
    references, images = pairs(args.source, args.images, args.size, args.xrays)
    as_float = [(r.astype(np.float64), i.astype(np.float64)) for r, i in zip(references, images, strict=True)]
    torch.set_num_threads(args.threads)
    print(f"{args.images} {args.source} pairs of {args.size}x{args.size}, {args.threads} thread(s)")
    print(f"{'metric':<8} {'batch img/s':>12} {'loop img/s':>11} {'ratio':>6} {'max |diff|':>11}")
    totals = np.zeros(2)
    with threadpool_limits(args.threads):
        for name, peer in PEERS.items():
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
