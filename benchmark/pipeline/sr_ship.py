"""`python -m benchmark ship-sr`: turn a `train-sr --out` folder into a shipped SR generator.

Writes ``<to>.pth`` (the generator alone: ``params`` and its ``arch``, fp32) and ``<to>.json``, its
sidecar: the model name a suite gives it, the degradation it saw, scale, training commands, git commit,
checksums of the initial weights and of the training list, the patients left out, patches seen, training
time and patches/s, and the image quality of the written file on a suite's evaluation images, in every
cell of the suite at the generator's scale, beside the suite's interpolation baselines and the weights
training started from (when that file is still where training read it). That quality is computed by
the run's own stages (``benchmark.pipeline.stages``: same images, degradation seeds, HR size, metrics
and cache keys), so ``run --suite`` with the shipped file as an SR model gives the same per-image
values.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.manifest import sha256_file
from benchmark.pipeline import sr_setup, stages
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.config import SRModelConfig, Suite, load_suite
from benchmark.pipeline.dataset import load_dataset
from benchmark.pipeline.store import git_state
from cxr_kernel.atomic import write_text
from cxr_kernel.errors import UserError
from sr_models import INTERPOLATION

#: What ``train-sr --out`` holds and shipping reads.
TRAINED_FILES = ("weights.pth", "training.json", "progress.json")
SHARED_CPU_NOTE = (
    "trained on the CPU with one torch thread, beside other jobs on 2 shared cores: times are indicative"
)


def evaluate_quality(
    suite: Suite,
    entries: list[SRModelConfig],
    scale: int,
    *,
    cache: Cache,
    on_bad_image: str,
    progress: bool,
    device: str = "cpu",
    labels: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-image IQ of ``entries`` in the cells of ``suite`` at ``scale`` (those named in ``labels``, or
    all), as ``run`` computes it.

    Returns (quality: columns cell, variant, image_id, metric, value; skipped images of the suite).
    """
    cells = [cell for cell in suite.cells if cell.scale == scale and (labels is None or cell.label in labels)]
    unknown = sorted(set(labels or ()) - {cell.label for cell in cells})
    if unknown or not cells:
        at_scale = [cell.label for cell in suite.cells if cell.scale == scale]
        raise UserError(
            f"Suite {suite.name!r} has no x{scale} cell {unknown or ''}; its x{scale} cells: "
            f"{at_scale or 'none'}."
        )
    dataset = load_dataset(
        suite.data,
        seed=suite.seed,
        cache=cache,
        progress=progress,
        on_bad_image=on_bad_image,
        min_side=suite.data.hr_size // min(cell.scale for cell in suite.cells),
    )
    table = dataset.split(suite.data.eval_split)
    hr = stages.load_hr(table, suite.data.hr_size, cache, progress=progress)
    frames = []
    for cell in cells:
        lr = stages.degrade_cell(hr, cell, suite.seed, cache, progress=progress)
        for entry in entries:
            upscaler = sr_setup.prepare_upscaler(entry, scale, entry.weights, device)
            key = sr_setup.model_key(entry, scale, entry.weights, device)
            ids = list(table["image_id"])
            sr = stages.upscale(lr, entry.name, upscaler, key, cache, progress=progress, image_ids=ids)
            values = stages.quality(
                hr,
                sr,
                suite.metrics,
                suite.quality_crop(scale),
                cache,
                convention=suite.quality.convention,
                lpips_weights=suite.quality.lpips,
            )
            frames.append(values.assign(cell=cell.label, image_id=values["image_index"].map(ids.__getitem__)))
    quality = pd.concat(frames, ignore_index=True)[["cell", "variant", "image_id", "metric", "value"]]
    return quality, dataset.skipped


def quality_summary(quality: pd.DataFrame, model: str, baseline: str = "bicubic") -> dict:
    """Per cell: images, mean PSNR and SSIM of every variant, and the model's gain over ``baseline``
    (mean difference and on how many images it is positive)."""
    summary = {}
    for cell, rows in quality.groupby("cell", sort=False):
        wide = rows.pivot_table(index="image_id", columns=["metric", "variant"], values="value")
        entry = {"images": int(len(wide))}
        for metric in ("psnr", "ssim"):
            entry[metric] = {variant: float(wide[metric][variant].mean()) for variant in wide[metric].columns}
            gain = wide[metric][model] - wide[metric][baseline]
            entry[f"{metric}_gain_over_{baseline}"] = float(gain.mean())
            entry[f"images_{metric}_above_{baseline}"] = int((gain > 0).sum())
        summary[cell] = entry
    return summary


def _read_trained(folder: Path) -> tuple[dict, dict]:
    missing = [name for name in TRAINED_FILES if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"ship-sr --from {folder}: missing {missing}; give the --out folder of a train-sr run."
        )
    return (json.loads((folder / name).read_text()) for name in ("training.json", "progress.json"))


def ship_from_cli(args) -> Path:
    """Write the generator and its sidecar as the arguments say; return the sidecar's path."""
    from sr_models.weights import load_state_dict, save_weights

    training, progress_record = _read_trained(args.source)
    if args.to.suffix != ".pth":
        raise UserError(
            f"ship-sr --to {args.to}: give a .pth path (the sidecar is written beside it as .json)."
        )
    suite = load_suite(args.suite, data_root=args.data_root)
    model, scale = training["model"], int(training["scale"])
    state, arch = load_state_dict(args.source / "weights.pth")
    save_weights(args.to, state, arch=arch)
    name = args.to.stem
    entries = [SRModelConfig(name=name, model=model, weights=args.to)]
    entries += [
        SRModelConfig(name=e.name, model=e.model) for e in suite.sr_models if e.model in INTERPOLATION
    ]
    if not any(e.name == "bicubic" and e.model == "bicubic" for e in entries):
        entries.append(SRModelConfig(name="bicubic", model="bicubic"))
    init = training["init_weights"] and Path(training["init_weights"])
    if init and init.is_file() and sha256_file(init) == training["init_weights_sha256"]:
        entries.append(SRModelConfig(name=f"start-{init.stem}", model=model, weights=init))
    quality, skipped = evaluate_quality(
        suite,
        entries,
        scale,
        cache=Cache(args.runs_dir / ".cache"),
        on_bad_image=args.on_bad_image,
        progress=not args.quiet,
        labels=args.cells,
    )
    sidecar = {
        "model": model,
        "weights": args.to.name,
        "weights_sha256": sha256_file(args.to),
        "parameters": int(sum(np.prod(v.shape) for v in state.values())),
        "arch": arch,
        "scenario": training["scenario"],
        "scenario_params": training["scenario_params"],
        "scale": scale,
        "training": {
            "commands": training["commands"],
            "git_commit": training["git_commit"],
            "git_uncommitted_changes": training["git_uncommitted_changes"],
            "preset": training["preset"],
            "recipe": training["recipe"],
            "init_weights": training["init_weights"],
            "init_weights_sha256": training["init_weights_sha256"],
            "manifest": training.get("manifest"),
            "hr_size": training["hr_size"],
            "seed": training["seed"],
            "train_images": training["train_images"],
            "train_images_by_label": training["train_images_by_label"],
            "train_patients": training["train_patients"],
            "train_list_sha256": training["train_list_sha256"],
            "patients_excluded": training.get("patients_excluded"),
            "patients_excluded_ids": training.get("patients_excluded_ids"),
            "skipped_images": training.get("skipped_images"),
            "steps": progress_record["step"],
            "patches_seen": progress_record["patches_seen"],
            "train_seconds": progress_record["train_seconds"],
            "patches_per_second": progress_record["patches_per_second"],
            "threads": training["threads"],
            "note": SHARED_CPU_NOTE,
        },
        "evaluation": {
            "suite": suite.name,
            "split": suite.data.eval_split,
            "hr_size": suite.data.hr_size,
            "seed": suite.seed,
            "metrics": "mean of per-image values, computed by benchmark.pipeline.stages as `run` does "
            f"(convention {suite.quality.convention}, crop_border {suite.quality_crop(scale)})",
            "skipped_images": skipped["image_id"].tolist(),
            "device": "cpu",
            "cells": quality_summary(quality, name),
        },
        "shipped_by": shlex.join(["python", "-m", "benchmark", *sys.argv[1:]]),
        "shipped_at_commit": git_state()["git_commit"],
    }
    path = args.to.with_suffix(".json")
    write_text(path, json.dumps(sidecar, indent=1) + "\n")
    return path
