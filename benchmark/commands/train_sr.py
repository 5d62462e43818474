"""`python -m benchmark train-sr`: train or fine-tune an SR generator on the HR images of a manifest.

Before any image is read, the preset, its overrides, the degradation, the initial weights (their
architecture must fit the model and scale) and the VGG19 file a perceptual loss needs are checked.
The training images are a seeded random sample of the train split, half per class, drawn by patient
(``benchmark.pipeline.dataset``), from which every patient of the manifest's test split and of the test
splits of ``--exclude-patients-of`` manifests is removed first. ``--out`` receives, besides what
``train_upscaler`` writes, ``train_images.csv`` (the images used) and ``training.json`` (command,
commit, recipe, data checksums, excluded patients, skipped images).
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmark.manifest import read_manifest, sha256_file, write_manifest
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.classifier_ship import list_checksum
from benchmark.pipeline.config import DataConfig, PhantomConfig
from benchmark.pipeline.dataset import Dataset, load_dataset
from benchmark.pipeline.sr_setup import training_degradation
from benchmark.pipeline.stages import load_hr
from benchmark.pipeline.store import git_state
from cxr_kernel.atomic import write_text
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import TRAIN_IMAGES

#: The evaluation split whose patients never train (Kermany's own and other suites' test images).
EVAL_SPLIT = "test"
TRAINING_RECORD = "training.json"


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


def _preset(args):
    """The resolved preset (``--scenario`` replacing its degradation), checked before any image."""
    from sr_models.presets import PRESETS, resolve_preset

    name = args.preset or args.model
    if name not in PRESETS and args.preset is None:
        suggestion = "finetune-l1" if args.init_weights else "a preset of `list`"
        raise UserError(
            f"train-sr --model {args.model} has no preset of its name: give --preset ({suggestion})."
        )
    overrides = _overrides(args.config)
    if args.scenario is not None:
        overrides["degradation"] = (args.scenario, dict(overrides.get("degradation", (None, {}))[1]))
    try:
        preset = resolve_preset(name, overrides)
    except ValueError as error:
        raise UserError(
            f"train-sr preset {name!r}{f' with {args.config}' if args.config else ''}: {error}"
        ) from None
    if preset.needs_vgg and (args.vgg_weights is None or not args.vgg_weights.is_file()):
        found = "no --vgg-weights" if args.vgg_weights is None else f"no file at {args.vgg_weights}"
        raise UserError(
            f"train-sr preset {name!r} uses a perceptual loss (perceptual_weight "
            f"{preset.perceptual_weight}) and got {found}: give --vgg-weights vgg19-dcbb9e9d.pth "
            "(torchvision's VGG19), or perceptual_weight: 0 in --config, or an L1 preset (finetune-l1)."
        )
    return name, preset


def _check_degradation(preset, scale: int) -> None:
    """Degrade one blank patch: an unknown scenario or parameter, or a wrong size, fails here."""
    scenario, params = preset.degradation
    lr = training_degradation(scenario, params, scale)(
        np.full((preset.hr_patch, preset.hr_patch), 0.5, np.float32), np.random.default_rng(0)
    )
    side = preset.hr_patch // scale
    if np.shape(lr) != (side, side):
        raise UserError(
            f"Expected degradation {scenario!r} to map a {preset.hr_patch}-px patch to {side} px at "
            f"x{scale}, got {np.shape(lr)}."
        )


def excluded_patients(table: pd.DataFrame, others: list[Path]) -> dict[str, list[str]]:
    """Patients whose images must not train: per source, the patient ids of its test-split rows
    (the training manifest's own, then each ``--exclude-patients-of`` manifest's)."""
    sources = {"training manifest": table}
    for path in others:
        if not path.is_file():
            raise UserError(f"--exclude-patients-of: no manifest at {path}.")
        sources[str(path)] = read_manifest(path)
    out = {}
    for name, frame in sources.items():
        rows = frame[frame["split"] == EVAL_SPLIT]
        out[name] = sorted({str(p) for p in rows["patient_id"].dropna() if str(p)})
    return out


def _manifest_images(args, cache: Cache, progress: bool) -> tuple[Dataset, dict]:
    """The sampled training images of ``--manifest`` and what was excluded, recorded."""
    if args.data_root is None:
        raise UserError(
            "train-sr --manifest needs --data-root (the folder the manifest's paths are relative to)."
        )
    if args.split == EVAL_SPLIT:
        raise UserError(f"train-sr --split {EVAL_SPLIT}: the test split never trains. Use --split train.")
    table = read_manifest(args.manifest)
    excluded = excluded_patients(table, args.exclude_patients_of)
    banned = set().union(*excluded.values())
    pool = table[(table["split"] == args.split) & ~table["patient_id"].astype(str).isin(banned)]
    if pool.empty:
        raise UserError(f"{args.manifest}: no {args.split!r} images left once the test patients are removed.")
    pool_path = args.out / "train_pool.csv"
    write_manifest(pool, pool_path)
    data = DataConfig(
        manifest=pool_path,
        data_root=args.data_root,
        hr_size=args.hr_size,
        train_split=args.split,
        max_train_per_class=-(-args.max_images // 2),
    )
    dataset = load_dataset(
        data, seed=args.seed, cache=cache, progress=progress, on_bad_image=args.on_bad_image
    )
    train_rows = table[table["split"] == args.split]
    record = {
        "manifest": str(args.manifest),
        "manifest_sha256": sha256_file(args.manifest),
        "data_root": str(args.data_root),
        "split": args.split,
        "patients_excluded": {name: len(ids) for name, ids in excluded.items()},
        "patients_excluded_ids": sorted(banned),
        "train_images_of_excluded_patients": int(len(train_rows) - len(pool)),
        "sample": f"seeded random (seed {args.seed}), up to {-(-args.max_images // 2)} images per class, "
        "whole patients in a random order (benchmark.pipeline.dataset._train_subset)",
        "skipped_images": dataset.skipped.to_dict(orient="records"),
    }
    return dataset, record


def _phantom_images(args, cache: Cache, progress: bool) -> tuple[Dataset, dict]:
    per_class = max(2, -(-args.max_images // 2))
    phantoms = PhantomConfig(train_per_class=per_class, test_per_class=2, size=args.hr_size)
    data = DataConfig(phantoms=phantoms, hr_size=args.hr_size)
    dataset = load_dataset(data, seed=args.seed, cache=cache, progress=progress)
    return dataset, {"phantoms": f"{per_class} synthetic phantoms per class (seed {args.seed})"}


def _train(args, ranks) -> Path:
    import torch

    from sr_models.inference import default_device
    from sr_models.training import train_upscaler
    from sr_models.training.distributed import barrier
    from sr_models.training.networks import initial_generator

    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"Expected --threads >= 1, got {args.threads}.")
        torch.set_num_threads(args.threads)
    if args.max_images < 1:
        raise UserError(f"Expected --max-images >= 1, got {args.max_images}.")
    name, preset = _preset(args)
    if args.hr_size < preset.hr_patch:
        raise UserError(f"Expected --hr-size >= the preset's hr_patch {preset.hr_patch}, got {args.hr_size}.")
    _check_degradation(preset, args.scale)
    arch, _ = initial_generator(args.model, args.scale, preset, args.init_weights)
    args.out.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet and ranks.is_main
    cache = Cache(args.out / ".cache")
    # Rank 0 fills the image cache while the others wait; they then read it instead of recomputing.
    if not ranks.is_main:
        barrier(ranks)
    images_of = _phantom_images if args.manifest is None else _manifest_images
    dataset, data_record = images_of(args, cache, progress)
    images = dataset.split(args.split)
    hr = load_hr(images, args.hr_size, cache, progress=progress)
    if ranks.is_main:
        barrier(ranks)
    used = images[["image_id", "label", "patient_id", "sha256"]]
    checksum = list_checksum(used)
    if ranks.is_main:
        write_text(args.out / TRAIN_IMAGES, used.to_csv(index=False))
        command = shlex.join(["python", "-m", "benchmark", *sys.argv[1:]])
        previous = args.out / TRAINING_RECORD
        earlier = json.loads(previous.read_text())["commands"] if previous.is_file() else []
        record = {
            "commands": [*earlier, command],  # the first trained, later ones resumed or extended it
            **git_state(),
            "model": args.model,
            "preset": name,
            "config": args.config and str(args.config),
            "recipe": dataclasses.asdict(preset),
            "generator": arch,
            "scenario": preset.degradation[0],
            "scenario_params": preset.degradation[1],
            "scale": args.scale,
            "hr_size": args.hr_size,
            "seed": args.seed,
            "threads": torch.get_num_threads(),
            "init_weights": args.init_weights and str(args.init_weights),
            "init_weights_sha256": args.init_weights and sha256_file(args.init_weights),
            "train_images": len(used),
            "train_images_by_label": {
                str(k): int(v) for k, v in used["label"].value_counts().sort_index().items()
            },
            "train_patients": int(used["patient_id"].nunique()),
            "train_list_sha256": checksum,
            **data_record,
        }
        write_text(args.out / TRAINING_RECORD, json.dumps(record, indent=1, default=str) + "\n")
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
        init_weights=args.init_weights,
        data_id=f"{checksum}@{args.hr_size}",
    )
