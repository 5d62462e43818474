"""`python -m benchmark train-sr`: train an SR model from a preset on the HR images of a manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from benchmark.cache import Cache
from benchmark.config import DataConfig, PhantomConfig
from benchmark.dataset import load_dataset
from benchmark.sr_setup import training_degradation
from benchmark.stages import load_hr
from cxr_kernel.errors import UserError


def _overrides(path: Path | None) -> dict:
    if path is None:
        return {}
    if not path.is_file():
        raise UserError(f"Training config not found: {path}.")
    overrides = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(overrides, dict):
        raise UserError(f"Training config {path} must be a mapping of preset fields to values.")
    return overrides


def train_from_cli(args) -> Path | None:
    """Train as the arguments say and return the weights file.

    Under torchrun this process is one data-parallel rank of the run (docs/scaling.md); ranks other
    than 0 return None, so the run is reported once.
    """
    import torch.distributed as dist

    from sr_models.training.distributed import barrier, init_from_environment

    ranks = init_from_environment()
    try:
        weights = _train(args, ranks)
        # Every rank reaches teardown together (not after an error, where a barrier could wait forever):
        # a rank that left while rank 0 was still saving once aborted at exit under load ("terminate
        # called without an active exception").
        barrier(ranks)
        return weights if ranks.is_main else None
    finally:
        if ranks.distributed:
            dist.destroy_process_group()


def _train(args, ranks) -> Path:
    from benchmark.pipeline import default_device
    from sr_models.presets import resolve_preset
    from sr_models.training import train_upscaler
    from sr_models.training.distributed import barrier

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
    progress = not args.quiet and ranks.is_main
    cache = Cache(args.out / ".cache")
    # Rank 0 fills the image cache while the others wait; they then read it instead of recomputing.
    if not ranks.is_main:
        barrier(ranks)
    images = load_dataset(data, seed=args.seed, cache=cache, progress=progress).split(args.split)
    hr = load_hr(images.head(args.max_images), args.hr_size, cache, progress=progress)
    if ranks.is_main:
        barrier(ranks)
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
        progress=progress,
    )
