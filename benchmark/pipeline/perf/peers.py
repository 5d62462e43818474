"""Side-by-side peers timed in the same run: IQ metrics vs a per-image scikit-image loop, resizing vs PIL.

Each comparison reports a ratio (our images/s over the peer's) and the largest difference between
the values both sides compute, so a speed-up never hides a changed result.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from benchmark.metrics import measure_quality_batch
from benchmark.metrics.references import REFERENCES
from benchmark.pipeline.perf.measure import measure, ratio
from benchmark.pipeline.perf.results import Results

# The tests' independent references (``benchmark.metrics.references``) that scikit-image provides.
_SKIMAGE = {name: REFERENCES[name] for name in ("psnr", "ssim")}


def quality_function() -> tuple[str, Callable]:
    """Our way to score a stack: ``(path, function(references, images, metrics) -> {name: (N,) array})``."""
    return "measure_quality_batch", lambda refs, images, names: measure_quality_batch(
        refs, images, names, data_range=1.0
    )


def sample_pairs(count: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (reference, distorted) stacks in [0, 1] with smooth structure, like radiographs."""
    from benchmark.phantoms import make_phantom

    references = np.stack(
        [make_phantom(("NORMAL", "PNEUMONIA")[i % 2], i, size=side) for i in range(count)]
    ).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 0.03, references.shape).astype(np.float32)
    return references, np.clip(references + noise, 0, 1)


def _skimage_values(peer: Callable, references: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The peer's way: one scikit-image call per pair, on float64 copies."""
    pairs = zip(references, images, strict=True)
    return np.array([peer(r.astype(np.float64), i.astype(np.float64)) for r, i in pairs])


def compare_metrics(results: Results, references: np.ndarray, images: np.ndarray, repeats: int) -> None:
    path, ours = quality_function()
    for name, peer in _SKIMAGE.items():
        mine = measure(lambda name=name: ours(references, images, [name]), len(images), repeats=repeats)
        theirs = measure(
            lambda peer=peer: _skimage_values(peer, references, images), len(images), repeats=repeats
        )
        results.add("metric-peer", f"{name} ours ({path})", mine, path=path)
        results.add("metric-peer", f"{name} skimage per-image loop", theirs)
        difference = np.asarray(ours(references, images, [name])[name], dtype=np.float64) - _skimage_values(
            peer, references, images
        )
        results.add_ratio(
            f"{name} vs skimage",
            ratio(mine, theirs),
            ours=path,
            peer="skimage loop",
            max_abs_difference=float(np.max(np.abs(difference))),
        )


def _pil_resize(images: np.ndarray, size: tuple[int, int], eight_bit: bool) -> list[np.ndarray]:
    out = []
    for image in images:
        if eight_bit:
            pil = Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L")
            out.append(np.asarray(pil.resize(size, Image.Resampling.BICUBIC), dtype=np.float32) / 255)
        else:
            out.append(np.asarray(Image.fromarray(image, mode="F").resize(size, Image.Resampling.BICUBIC)))
    return out


def compare_resize(results: Results, images: np.ndarray, repeats: int) -> None:
    """Bicubic /4 (degradations) and x4 (the SR baseline) against plain PIL calls on the same images.

    Both sides are clipped to [0, 1] before their values are compared (the upscaler clips, PIL not).
    """
    from benchmark.degradations.resize import downsample
    from sr_models import load_upscaler

    side = images.shape[-1]
    small = np.clip(np.stack([downsample(image, 4) for image in images]), 0, 1)
    upscaler = load_upscaler("bicubic", 4)
    cases = {
        "downsample /4": (
            images,
            (side // 4, side // 4),
            lambda: np.stack([downsample(i, 4) for i in images]),
        ),
        "upscale x4": (small, (side, side), lambda: upscaler.upscale(small)),
    }
    for label, (inputs, size, ours) in cases.items():
        mine = measure(ours, len(inputs), repeats=repeats)
        results.add("resize-peer", f"bicubic {label} ours", mine)
        for eight_bit, peer_name in ((False, "PIL float32 'F'"), (True, "PIL 8-bit 'L'")):
            theirs = measure(
                lambda e=eight_bit, x=inputs, s=size: _pil_resize(x, s, e), len(inputs), repeats=repeats
            )
            results.add("resize-peer", f"bicubic {label} {peer_name}", theirs)
            difference = np.clip(ours(), 0, 1) - np.clip(np.stack(_pil_resize(inputs, size, eight_bit)), 0, 1)
            results.add_ratio(
                f"bicubic {label} vs {peer_name}",
                ratio(mine, theirs),
                ours="benchmark",
                peer=peer_name,
                max_abs_difference=float(np.max(np.abs(difference))),
            )


def run(results: Results, *, quick: bool, repeats: int) -> None:
    count, side = (8, 128) if quick else (16, 512)
    references, images = sample_pairs(count, side)
    compare_metrics(results, references, images, repeats)
    compare_resize(results, references, repeats)
