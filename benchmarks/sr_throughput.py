"""Print SR inference throughput (images/s) per model, precision and device.

    python benchmarks/sr_throughput.py [--device cuda] [--size 128] [--images 16] [--tile 0]

Learned models run with random weights saved in the official layout (speed does not depend on the
values), so no weight file is needed. Each figure is the best of three timed passes after one warm-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sr_models import load_upscaler
from sr_models.archs import build_arch
from sr_models.weights import save_weights

LEARNED = {
    "esrgan (RRDBNet 23 blocks)": ("esrgan", {"type": "RRDBNet", "num_block": 23, "scale": 4}),
    "srgan (SRResNet 16 blocks)": ("srgan", {"type": "SRResNet", "num_block": 16, "scale": 4}),
}


def best_of_three(upscaler, batch: np.ndarray) -> float:
    upscaler.upscale(batch[:1])
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        upscaler.upscale(batch)
        timings.append(time.perf_counter() - start)
    return len(batch) / min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=128, help="LR side (output is 4x)")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--tile", type=int, default=0, help="tile size; 0 = untiled")
    parser.add_argument("--precisions", nargs="+", default=["fp32"])
    args = parser.parse_args()
    batch = np.random.default_rng(0).random((args.images, args.size, args.size), dtype=np.float32)
    tile = args.tile or "off"
    print(f"device={args.device} LR {args.size}x{args.size} -> x4, {args.images} images, tile={tile}")
    print(f"{'model':32s} {'precision':9s} {'images/s':>9s}")
    bicubic = load_upscaler("bicubic", 4)
    print(f"{'bicubic':32s} {'-':9s} {best_of_three(bicubic, batch):9.2f}")
    with tempfile.TemporaryDirectory() as directory:
        for label, (model, arch) in LEARNED.items():
            net = build_arch(arch)
            weights = save_weights(Path(directory) / f"{model}.pth", net.state_dict(), arch=arch)
            for precision in args.precisions:
                upscaler = load_upscaler(
                    model, 4, weights, device=args.device, precision=precision, tile=args.tile or None
                )
                print(f"{label:32s} {upscaler.precision:9s} {best_of_three(upscaler, batch):9.2f}")


if __name__ == "__main__":
    main()
