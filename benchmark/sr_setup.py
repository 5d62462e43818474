"""Turn a suite's SR model entries into ready upscalers: load given weights or train (cached by content)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmark.cache import Cache, content_key
from benchmark.config import SRModelConfig
from benchmark.degradations import degrade
from benchmark.manifest import sha256_file

SR_TRAIN_VERSION = "1"


def training_degradation(scenario: str, params: dict, scale: int) -> Callable:
    """The ``degrade(hr_crop, rng) -> lr_crop`` callable a training preset names."""
    return lambda hr, rng: degrade(scenario, hr, scale, rng, params)


def trained_weights(
    entry: SRModelConfig,
    scale: int,
    *,
    image_shas: list[str],
    load_images: Callable[[], np.ndarray],
    seed: int,
    cache: Cache,
    device: str,
    progress: bool,
) -> Path:
    """Train ``entry`` at ``scale`` (or reuse the cached result); the work dir doubles as the resume point.

    ``image_shas`` identify the HR training images; ``load_images()`` loads them only if training runs.
    """
    from sr_models.presets import resolve_preset
    from sr_models.training import train_upscaler

    preset = resolve_preset(entry.train.preset, entry.train.overrides)
    key = content_key(
        "sr-train",
        SR_TRAIN_VERSION,
        model=entry.model,
        scale=scale,
        preset=repr(preset),
        images=image_shas,
        seed=seed,
        vgg=entry.train.vgg_weights and sha256_file(entry.train.vgg_weights),
    )
    work_dir = cache.root / "sr-train" / key
    weights = work_dir / "weights.pth"
    if not weights.is_file():
        with cache.lock("sr-train", key):  # one trainer per work dir, even across concurrent runs
            if not weights.is_file():
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
    return weights


def prepare_upscaler(entry: SRModelConfig, scale: int, weights: Path | None, device: str):
    from sr_models import load_upscaler

    return load_upscaler(
        entry.model, scale, weights, device=device, tile=entry.tile, precision=entry.precision
    )


def copy_history(weights: Path, destination: Path) -> Path | None:
    history = weights.parent / "history.csv"
    if not history.is_file():
        return None
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(history, destination)
    return destination
