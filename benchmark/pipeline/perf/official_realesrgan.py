"""Our RRDBNet inference against the official ``realesrgan`` package's ``RealESRGANer`` on the same weights.

The official package (realesrgan 0.3.0) imports basicsr 1.4.2, which imports torchvision at import time
and ``torchvision.transforms.functional_tensor`` (removed in torchvision 0.17; the usual fix, used here,
aliases it to ``torchvision.transforms.functional``). Neither is a dependency of this project, so they
are looked for on the normal path and in ``extra_path`` (a ``pip install --target`` directory kept
outside the project's environment); when they cannot be imported the comparison is skipped and the
reason recorded. Measured in a separate venv with torch 2.14.1, torchvision 0.29.1, realesrgan 0.3.0
and basicsr 1.4.2 (docs/performance.md); the project's torch 2.13.0+cpu has no matching torchvision.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmark.pipeline.perf.measure import measure_interleaved, ratio, round_ratio
from benchmark.pipeline.perf.results import Results

#: RRDBNet x4 as in RealESRGAN_x4plus.pth / RRDB_ESRGAN_x4.pth.
OFFICIAL_X4 = {
    "num_in_ch": 3,
    "num_out_ch": 3,
    "num_feat": 64,
    "num_block": 23,
    "num_grow_ch": 32,
    "scale": 4,
}


def import_official(extra_path: Path | None):
    """Return ``(RealESRGANer, basicsr RRDBNet class)``; raises whatever importing them raises."""
    if extra_path is not None and str(extra_path) not in sys.path:
        sys.path.append(str(extra_path))  # appended: the project's own packages keep precedence
    import torchvision.transforms.functional as functional

    sys.modules.setdefault("torchvision.transforms.functional_tensor", functional)
    from basicsr.archs.rrdbnet_arch import RRDBNet
    from realesrgan import RealESRGANer

    return RealESRGANer, RRDBNet


def _outputs_inside_unit_range(net, images: np.ndarray, device: str) -> None:
    """Rescale the last (linear) layer of a random RRDBNet so its outputs on ``images`` lie in [0.1, 0.9].

    Random weights give outputs around 0 that also leave [0, 1]; then RealESRGANer's per-channel clamp
    and our clamp of the channel mean differ, and the comparison would measure clamping, not the model.
    """
    import torch

    net.to(device)  # on the device that times it: 16 images of 128 px through RRDBNet-23 are slow on a CPU
    batch = torch.from_numpy(images)[:, None].expand(-1, 3, -1, -1).to(device)
    with torch.no_grad():
        net.conv_last.bias.fill_(0.5)
        deviation = float((net(batch) - 0.5).abs().max())
        net.conv_last.weight.mul_(0.4 / deviation)


def compare(
    results: Results,
    *,
    device: str,
    quick: bool,
    repeats: int,
    extra_path: Path | None,
    images: tuple[int, int] | None = None,
) -> None:
    """Time ``RealESRGANer.enhance`` and our ``TorchUpscaler`` on the same images and weights.

    ``images`` is (count, side) of the random grey test images (default by ``quick`` and ``device``).
    Both run IEEE float32: on CUDA ``enhance`` runs inside the same cuDNN setting as our fp32 (no TF32),
    so the ratio compares equal precision.
    """
    try:
        official, official_arch = import_official(extra_path)
    except Exception as error:  # ImportError, or torchvision's RuntimeError when its ops do not load
        results.skip(
            "sr-peer",
            "RRDBNet vs official RealESRGANer",
            f"cannot import realesrgan/basicsr ({type(error).__name__}: {str(error)[:160]}). What works "
            "on x86_64 (docs/performance.md): a separate venv with torch==2.14.1 torchvision==0.29.1 "
            "realesrgan==0.3.0 basicsr==1.4.2, running this command with PYTHONPATH at the checkout (or "
            "pass --realesrgan-path DIR holding them for a torch they match).",
        )
        return
    import torch

    from sr_models.archs import build_arch
    from sr_models.inference import TorchUpscaler, cudnn_conv_precision

    arch = {**OFFICIAL_X4, "num_block": 2 if quick else 23}
    torch.manual_seed(0)
    net = build_arch({"type": "RRDBNet", **arch})
    count, side = images or ((2, 16) if quick else (4, 32) if device == "cpu" else (16, 128))
    pixels = np.random.default_rng(0).integers(0, 256, (count, side, side), dtype=np.uint8)
    images = pixels.astype(np.float32) / 255
    _outputs_inside_unit_range(net, images, device)
    bgr = [np.repeat(image[..., None], 3, axis=-1) for image in pixels]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "rrdbnet.pth"
        torch.save({"params": net.state_dict()}, path)
        theirs = official(
            scale=4, model_path=str(path), model=official_arch(**arch), tile=0, pre_pad=0, device=device
        )
    blocks = arch["num_block"]
    peer_name = f"official RealESRGANer RRDBNet-{blocks} ({device}, fp32)"

    def enhance_all() -> list[np.ndarray]:
        with cudnn_conv_precision("ieee") if device == "cuda" else contextlib.nullcontext():
            return [theirs.enhance(image, outscale=4)[0] for image in bgr]

    workloads = {peer_name: enhance_all}
    upscalers = {
        f"ours TorchUpscaler RRDBNet-{blocks} batch {size}": TorchUpscaler(
            net, 4, name="esrgan", in_channels=3, device=device, batch_size=size
        )
        for size in (1, 4)
    }
    workloads.update({name: (lambda up=up: up.upscale(images)) for name, up in upscalers.items()})
    figures = measure_interleaved(workloads, count, repeats=repeats)
    for name, figure in figures.items():
        results.add("sr-peer", name, figure, interleaved=True)
    # enhance() rounds each channel to uint8; our float output must lie within half a level of it.
    expected = np.stack([output.mean(axis=-1) for output in enhance_all()]) / 255
    for name, upscaler in upscalers.items():
        results.add_ratio(
            f"RRDBNet batch {upscaler.batch_size} vs RealESRGANer ({device})",
            ratio(figures[name], figures[peer_name]),
            ours="TorchUpscaler",
            peer="RealESRGANer.enhance",
            median_round_ratio=round_ratio(figures[name], figures[peer_name]),
            max_abs_difference=float(np.max(np.abs(upscaler.upscale(images) - expected))),
            images=count,
            lr_side=side,
            precision="fp32",
            uint8_rounding_bound=0.5 / 255,
        )
