"""`python -m benchmark train-sr`: train an SR model from a preset on the HR images of a manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from benchmark.cache import Cache
from benchmark.config import DataConfig, PhantomConfig
from benchmark.dataset import load_dataset
from benchmark.errors import UserError
from benchmark.sr_setup import training_degradation
from benchmark.stages import load_hr


def _overrides(path: Path | None) -> dict:
    if path is None:
        return {}
    if not path.is_file():
        raise UserError(f"Training config not found: {path}.")
    overrides = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(overrides, dict):
        raise UserError(f"Training config {path} must be a mapping of preset fields to values.")
    return overrides


def train_from_cli(args) -> Path:
    from benchmark.pipeline import default_device
    from sr_models.presets import resolve_preset
    from sr_models.training import train_upscaler

    preset = resolve_preset(args.preset or args.model, _overrides(args.config))
    if args.manifest is None:
        per_class = max(2, -(-args.max_images // 2))
        phantoms = PhantomConfig(train_per_class=per_class, test_per_class=2, size=args.hr_size)
        data = DataConfig(phantoms=phantoms, hr_size=args.hr_size)
    else:
        if args.data_root is None:
            raise UserError(
                "train-sr --manifest needs --data-root (the folder the manifest's paths are relative to)."
            )
        data = DataConfig(
            manifest=args.manifest, data_root=args.data_root, hr_size=args.hr_size, train_split=args.split
        )
    cache = Cache(args.out / ".cache")
    images = load_dataset(data, seed=args.seed, cache=cache, progress=not args.quiet).split(args.split)
    hr = load_hr(images.head(args.max_images), args.hr_size, cache, progress=not args.quiet)
    scenario, params = preset.degradation
    return train_upscaler(
        args.model,
        args.scale,
        preset=preset,
        hr_images=np.asarray(hr.pixels),
        degrade=training_degradation(scenario, params, args.scale),
        seed=args.seed,
        work_dir=args.out,
        device=args.device or default_device(),
        vgg_weights=args.vgg_weights,
        progress=not args.quiet,
    )
