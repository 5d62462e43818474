"""SR inference throughput: every model family, CPU layouts and ``torch.compile``, CUDA precisions.

Learned models run with random weights (speed does not depend on their values), built from the same
architectures the zoo loads. FLOPs per image come from ``torch.utils.flop_counter.FlopCounterMode``
(a multiply-add counts as two FLOPs), so achieved FLOP/s and, on CUDA, the fraction of the GPU's peak
can be stated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.pipeline.perf.measure import measure
from benchmark.pipeline.perf.results import Results

# Dense peak FLOP/s of an H100 SXM5 (NVIDIA datasheet, without sparsity) per precision.
H100_SXM_PEAK_TFLOPS = {"fp32": 67.0, "tf32": 494.7, "fp16": 989.0, "bf16": 989.0}

#: Learned models and their official architectures; ``quick`` shrinks the block count only.
LEARNED = {
    "srgan": {"type": "SRResNet", "num_block": 16, "scale": 4},
    "esrgan": {"type": "RRDBNet", "num_block": 23, "scale": 4},
    "realesrgan-x2": {"type": "RRDBNet", "num_block": 23, "scale": 2},
}
QUICK_BLOCKS = {"SRResNet": 4, "RRDBNet": 2}


def architecture(name: str, quick: bool) -> dict[str, Any]:
    arch = dict(LEARNED[name])
    if quick:
        arch["num_block"] = QUICK_BLOCKS[arch["type"]]
    return arch


def flops_per_image(arch: dict[str, Any], side: int) -> int:
    """FLOPs of one forward pass of ``arch`` on a side x side image, counted on the meta device.

    The meta device carries shapes only, so counting costs no arithmetic even for RRDBNet-23.
    """
    import torch

    from sr_models.archs import build_arch

    with torch.device("meta"):
        net = build_arch(arch)
        x = torch.empty(1, net.num_in_ch, side, side)
    return count_flops(net, x)


def count_flops(net, x) -> int:
    """FLOPs of ``net(x)`` by ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        net(x)
    return counter.get_total_flops()


def _upscaler(net, arch: dict, *, device: str, precision: str = "fp32", channels_last: bool | None = None):
    from sr_models.inference import TorchUpscaler

    return TorchUpscaler(
        net,
        arch["scale"],
        name=arch["type"],
        in_channels=net.num_in_ch,
        device=device,
        precision=precision,
        channels_last=channels_last,
    )


def _variants(device: str, compile_on_cpu: bool) -> list[dict[str, Any]]:
    """(label, precision, channels_last, compiled) combinations worth timing on ``device``."""
    if device == "cuda":
        variants = [{"precision": p, "channels_last": True, "compiled": False} for p in H100_SXM_PEAK_TFLOPS]
        variants.append({"precision": "fp16", "channels_last": False, "compiled": False})
        variants.append({"precision": "fp16", "channels_last": True, "compiled": True})
        return variants
    variants = [
        {"precision": "fp32", "channels_last": False, "compiled": False},
        {"precision": "fp32", "channels_last": True, "compiled": False},
    ]
    if compile_on_cpu:
        variants.append({"precision": "fp32", "channels_last": False, "compiled": True})
    return variants


def _label(variant: dict[str, Any]) -> str:
    layout = "channels_last" if variant["channels_last"] else "contiguous"
    return f"{variant['precision']} {layout}" + (" compiled" if variant["compiled"] else "")


def measure_interpolation(results: Results, batch: np.ndarray, repeats: int) -> None:
    from sr_models import load_upscaler

    for mode in ("bicubic", "lanczos"):
        upscaler = load_upscaler(mode, 4)
        figure = measure(lambda upscaler=upscaler: upscaler.upscale(batch), len(batch), repeats=repeats)
        results.add("sr", f"{mode} x4", figure, device="cpu", lr_side=batch.shape[-1])


def measure_learned(
    results: Results, batch: np.ndarray, *, device: str, quick: bool, repeats: int, compile_on_cpu: bool
) -> None:
    """Time each learned model in each variant of ``_variants`` on ``batch`` (N, h, w)."""
    import torch

    from sr_models.archs import build_arch

    side = batch.shape[-1]
    for name in LEARNED:
        arch = architecture(name, quick)
        flops = flops_per_image(arch, side)
        for variant in _variants(device, compile_on_cpu):
            torch.manual_seed(0)
            net = build_arch(arch)
            upscaler = _upscaler(
                net,
                arch,
                device=device,
                precision=variant["precision"],
                channels_last=variant["channels_last"],
            )
            if variant["compiled"]:
                upscaler.net = torch.compile(upscaler.net)
            figure = measure(lambda upscaler=upscaler: upscaler.upscale(batch), len(batch), repeats=repeats)
            achieved = figure["images_per_s"] * flops / 1e12
            extra = {}
            if device == "cuda":
                extra["fraction_of_h100_sxm_peak"] = achieved / H100_SXM_PEAK_TFLOPS[variant["precision"]]
                extra["gpu"] = torch.cuda.get_device_name()
            results.add(
                "sr",
                f"{name} ({arch['type']}-{arch['num_block']}) {_label(variant)}",
                figure,
                device=device,
                lr_side=side,
                arch=arch,
                **variant,
                gflop_per_image=flops / 1e9,
                achieved_tflops=achieved,
                **extra,
            )


def run(results: Results, *, device: str, quick: bool, repeats: int, compile_on_cpu: bool) -> None:
    """Interpolation baselines on the CPU, then every learned model on ``device``."""
    side, count = (16, 2) if quick else (24, 2)  # full-size models on a 2-core CPU take seconds per image
    batch = np.random.default_rng(0).random((count, side, side), dtype=np.float32)
    measure_interpolation(results, np.random.default_rng(0).random((8, 128, 128), dtype=np.float32), repeats)
    if device == "cuda":
        side, count = (64, 8) if quick else (128, 16)
        batch = np.random.default_rng(0).random((count, side, side), dtype=np.float32)
    measure_learned(
        results, batch, device=device, quick=quick, repeats=repeats, compile_on_cpu=compile_on_cpu
    )
