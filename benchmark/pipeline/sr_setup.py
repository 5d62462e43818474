"""Turn a suite's SR model entries into ready upscalers: load given weights or train (cached by content)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmark.degradations import degrade
from benchmark.manifest import sha256_file
from benchmark.pipeline.cache import Cache, content_key, stage_key
from benchmark.pipeline.config import SRModelConfig
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import HISTORY


def training_degradation(scenario: str, params: dict, scale: int) -> Callable:
    """The ``degrade(hr_crop, rng) -> lr_crop`` callable a training preset names."""
    return lambda hr, rng: degrade(scenario, hr, scale, rng, params)


def training_key(entry: SRModelConfig, scale: int, *, hr_keys: list[str], seed: int, device: str) -> str:
    """Cache key of a trained SR model: everything its training reads.

    ``hr_keys`` are the HR training images' cache keys, so the key follows each file's content, the
    HR size they are resized to and the code that reads them. The model, scale, resolved preset
    (degradation included), seed, perceptual-loss weights, device class (CPU and CUDA kernels do
    not train bit-identical models) and the training code complete it.
    """
    from sr_models.presets import resolve_preset

    preset = resolve_preset(entry.train.preset, entry.train.overrides)
    return stage_key(
        "sr-train",
        model=entry.model,
        scale=scale,
        preset=repr(preset),
        images=list(hr_keys),
        seed=seed,
        vgg=entry.train.vgg_weights and sha256_file(entry.train.vgg_weights),
        device_class="cuda" if "cuda" in device else "cpu",
    )


def trained_weights(
    entry: SRModelConfig,
    scale: int,
    *,
    hr_keys: list[str],
    load_images: Callable[[], np.ndarray],
    seed: int,
    cache: Cache,
    device: str,
    progress: bool,
) -> Path:
    """Train ``entry`` at ``scale`` (or reuse the cached result); the work dir doubles as the resume point.

    ``hr_keys`` are the HR training images' cache keys (``stages.hr_keys``); ``load_images()`` loads
    them only if training runs. Finished weights carry a checksum: weights that do not match it are
    set aside with their work dir (its checkpoints are suspect too) and trained again.
    """
    from sr_models.presets import resolve_preset
    from sr_models.training import train_upscaler

    preset = resolve_preset(entry.train.preset, entry.train.overrides)
    key = training_key(entry, scale, hr_keys=hr_keys, seed=seed, device=device)
    work_dir = cache.root / "sr-train" / key
    weights = work_dir / "weights.pth"
    if not (weights.is_file() and cache.checksum_problem(weights) is None):
        # One trainer per work dir, even across concurrent runs; a corrupt one is set aside only under
        # the lock, as a trainer may be sealing its weights.
        with cache.lock("sr-train", key):
            if not _usable(cache, weights):
                scenario, params = preset.degradation
                train_upscaler(
                    entry.model,
                    scale,
                    preset=preset,
                    hr_images=load_images(),
                    degrade=training_degradation(scenario, params, scale),
                    seed=seed,
                    work_dir=work_dir,
                    device=device,
                    vgg_weights=entry.train.vgg_weights,
                    progress=progress,
                )
                cache.seal(weights)
    return weights


def _usable(cache: Cache, weights: Path) -> bool:
    """Whether finished weights are stored and verified; a corrupt work dir is set aside."""
    if not weights.is_file():
        return False
    problem = cache.checksum_problem(weights)
    if problem is not None:  # its checkpoints are suspect too: the whole run is set aside
        cache.set_aside(weights.parent, f"weights.pth: {problem}")
    return problem is None


def model_key(entry: SRModelConfig, scale: int, weights: Path | None, device: str) -> str:
    """What identifies an SR model's outputs: family, scale, tiling, precision, weights (sha256) and
    device class. Part of every SR entry's key, whose code identity covers the inference code."""
    return content_key(
        "model",
        "1",
        model=entry.model,
        scale=scale,
        tile=entry.tile,
        precision=entry.precision,
        weights=weights and sha256_file(weights),
        device_class="cuda" if "cuda" in device else "cpu",
    )


def check_training_configs(entries: list[SRModelConfig]) -> None:
    """Resolve every SR training preset and its overrides, and find its VGG19 file, before any work.

    A misspelt override or a missing perceptual-loss file otherwise surfaces only once the classifier
    has trained.
    """
    from sr_models.presets import resolve_preset

    for entry in entries:
        if entry.train is None:
            continue
        try:
            preset = resolve_preset(entry.train.preset, entry.train.overrides)
        except ValueError as error:
            raise UserError(f"sr_models[{entry.name}].train: {error}") from None
        if preset.arch is None:
            raise UserError(
                f"sr_models[{entry.name}].train: preset {entry.train.preset!r} fine-tunes a weights file "
                "(its architecture is the file's); fine-tune with `train-sr --init-weights FILE` and give "
                "the result as `weights:`, or pick a preset with an arch."
            )
        vgg = entry.train.vgg_weights
        if preset.needs_vgg and (vgg is None or not Path(vgg).is_file()):
            found = "is not given" if vgg is None else f"{vgg} is not found"
            raise UserError(
                f"sr_models[{entry.name}].train: preset {entry.train.preset!r} uses a perceptual loss, and "
                f"its VGG19 file {found}. Set `vgg_weights:` to a torchvision vgg19-dcbb9e9d.pth, or "
                "`overrides: {perceptual_weight: 0}` to train without it."
            )


def check_given_weights(entries: list[SRModelConfig], scales: list[int]) -> None:
    """Load every given weights file (on the CPU) for each scale it runs at, before any work.

    A file that is no plain tensor pickle, has another architecture's keys or shapes, or is for
    another scale raises here, naming the file, not after the classifier has trained (hours).
    """
    from sr_models import load_upscaler

    for entry in entries:
        if entry.weights is None:
            continue
        for scale in dict.fromkeys(scales):
            if entry.scales is None or scale in entry.scales:
                load_upscaler(entry.model, scale, entry.weights, device="cpu", tile=entry.tile)


def prepare_upscaler(entry: SRModelConfig, scale: int, weights: Path | None, device: str):
    from sr_models import load_upscaler

    return load_upscaler(
        entry.model, scale, weights, device=device, tile=entry.tile, precision=entry.precision
    )


def training_history(weights: Path) -> Path | None:
    """The history the training that wrote ``weights`` left beside them (None: there is none)."""
    history = weights.parent / HISTORY
    return history if history.is_file() else None
