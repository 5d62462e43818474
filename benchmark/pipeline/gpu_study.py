"""``python -m benchmark gpu-study``: the GPU study as one command, sized to fit 10 minutes on one H200.

What it runs (each piece through the project's own code: the pipeline, ``sr_models`` inference,
``classifier_setup`` training, ``benchmark.pipeline.perf``):

1. SR throughput of every SR model of the study per precision (fp32, bf16 on CUDA), FLOPs counted by
   ``FlopCounterMode`` and stated as a fraction of the H200's dense bf16 peak;
2. RRDBNet x4 against the official ``RealESRGANer`` (``benchmark.pipeline.perf.official_realesrgan``;
   recorded as skipped, with the reason, where the package cannot be imported);
3. the study: the official Kermany test split (``kermany-224`` copies, 224 px HR) x the cells of the
   ``kermany-test-hr`` suite x bicubic, Lanczos, its two pretrained generators, a paper-size RRDBNet
   (official weights when present, else random weights, and the record says so) and every X-ray-trained
   generator found as ``sr_models/weights/<name>.pth`` with its ``<name>.json`` sidecar; the shipped
   reference classifier. A pilot on a few images sizes it: images are cut, and the record says so,
   only when the measured pilot projects past the budget;
4. training the reference CNN with three seeds on the 5,216 train images (the ``train-classifier`` code
   path, ``classifiers/weights/reference-cnn.yaml``'s recipe), each scored on the test split; a
   one-epoch probe sizes the epochs to the budget, and any cut is stated.

The record (``benchmark.pipeline.gpu_record``) is rewritten after every stage, so a killed run keeps what it
finished. ``--smoke`` runs the same path on a few images with tiny models and one short training seed
(the CPU rehearsal CI runs); without ``../shared`` it uses the shipped mini data and pinned models.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmark.pipeline.config import PROJECT_DIR, Suite, find_suite, load_suite
from benchmark.pipeline.gpu_record import record_name, write_record
from benchmark.pipeline.store import RunStore, git_output
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import RESOURCES

#: Wall-clock budget of the whole command: the device tool runs one command for at most 600 s.
BUDGET_S = 540.0
#: Seconds kept back from the study for the classifier seeds (the target is 3 seeds in <= 300 s).
CLASSIFIER_RESERVE_S = 240.0
CLASSIFIER_TARGET_S = 300.0
#: Below this the training images, the probe and one seed's epoch cannot all fit: no seed is trained.
MIN_CLASSIFIER_S = 60.0
STUDY_TARGET_S = 600.0
#: An 8192^3 bf16 matrix product on the lent H200 ran at 769-798 TFLOP/s (the device tool's KINDS.md);
#: NVIDIA's datasheet says 989 dense. The measured figure is the honest ceiling for "fraction of peak".
H200_DENSE_BF16_TFLOPS = 790.0
PEAK_TARGET = 0.20
SEEDS = 3
PILOT_PER_CLASS = 16
PROBE_IMAGES = 512
CELLS_SUITE = "kermany-test-hr"
TRAIN_RECIPE_SUITE = PROJECT_DIR / "classifiers" / "weights" / "reference-cnn.yaml"
SHIPPED_CLASSIFIER = PROJECT_DIR / "classifiers" / "weights" / "reference-cnn.keras"
XRAY_WEIGHTS_DIR = PROJECT_DIR / "sr_models" / "weights"
#: Official RRDBNet x4 files, looked for in <shared>/weights and weights/ (first found is used).
OFFICIAL_RRDBNET = {"RRDB_ESRGAN_x4.pth": "esrgan", "RealESRGAN_x4plus.pth": "realesrgan"}
PAPER_RRDBNET = {"type": "RRDBNet", "num_block": 23, "num_feat": 64, "num_grow_ch": 32, "scale": 4}
SMOKE_RRDBNET = {"type": "RRDBNet", "num_block": 1, "num_feat": 8, "num_grow_ch": 4, "scale": 4}
INTERPOLATION = ("bicubic", "lanczos")
#: SR models whose generator is RRDBNet (the paper-size one also runs at batch 32).
RRDBNET_MODELS = ("esrgan", "realesrgan", "realesrnet")
_MB = 1024.0**2


@dataclass
class GpuStudyOptions:
    out: Path = Path("benchmarks/results")
    device: str = "cuda"
    smoke: bool = False
    shared: Path = PROJECT_DIR.parent / "shared"
    budget_s: float = BUDGET_S
    work: Path | None = None  # runs and cache; default runs/gpu-study/<UTC time> (always fresh)
    progress: bool = False
    command: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass(frozen=True)
class Sources:
    """Where the study's images and models come from: the shared Kermany copies or the shipped mini set."""

    kind: str  # "kermany-224" or "pneumonia-mini"
    manifest: Path
    data_root: Path
    classifier: Path
    pretrained: list[dict]  # suite entries of the real (or pinned) generators
    weights_dirs: tuple[Path, ...]


# -- refusals before any work --------------------------------------------------------------------------
def check_environment(device: str) -> None:
    """Refuse in one line unless torch sees the device and Keras will run (or runs) on PyTorch."""
    import torch

    if device not in ("cuda", "cpu"):
        raise UserError(f"Expected --device cuda or cpu, got {device!r}.")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "gpu-study --device cuda: torch sees no CUDA device (torch.cuda.is_available() is False). "
            "Run it on the GPU machine, or rehearse with --device cpu --smoke."
        )
    if os.environ.get("KERAS_BACKEND") != "torch":
        raise UserError(
            f"gpu-study runs Keras on PyTorch (the GPU machines have no TensorFlow), but KERAS_BACKEND is "
            f"{os.environ.get('KERAS_BACKEND')!r}: start it as `KERAS_BACKEND=torch python -m benchmark "
            "gpu-study ...`."
        )
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != "torch":
        raise UserError(
            f"Keras was imported on the {keras.backend.backend()!r} backend before gpu-study started; "
            "set KERAS_BACKEND=torch before anything imports keras."
        )
    if importlib.util.find_spec("keras") is None:
        raise UserError(
            "gpu-study needs Keras 3, which is not installed here: carry its wheels and install them first "
            "(benchmarks/gpu_study_device.sh does; docs/performance.md#the-gpu-study-gpu-study)."
        )


def _suite_raw(name: str) -> tuple[dict, Path]:
    path = find_suite(name)
    return yaml.safe_load(path.read_text(encoding="utf-8")), path.parent.resolve()


def _pinned_generators() -> list[dict]:
    """The pinned tiny generators of the mini study's smoke run as suite entries (absolute weight paths,
    x4 only)."""
    raw, base = _suite_raw("pneumonia-mini")
    return [
        {**entry, "weights": str((base / entry["weights"]).resolve()), "scales": [4]}
        for entry in raw["smoke"]["sr_models"]
        if entry.get("weights")
    ]


def _shared_generators(shared: Path) -> list[dict]:
    """The real pretrained generators of the ``kermany-test-hr`` suite, read from ``<shared>/weights``."""
    raw, _ = _suite_raw(CELLS_SUITE)
    entries = []
    for entry in raw["sr_models"]:
        if entry.get("weights"):
            path = shared / "weights" / Path(entry["weights"]).name
            if not path.is_file():
                raise UserError(
                    f"SR weights {path} are missing: copy {path.name} from the shared weights (see "
                    f"{shared / 'weights' / 'README.md'}) or pass --shared DIR."
                )
            entries.append({**entry, "weights": str(path)})
    return entries


def find_sources(shared: Path, *, smoke: bool) -> Sources:
    """The shared Kermany copies when present (else, with ``smoke`` only, the shipped mini set), the
    shipped classifier, and the real pretrained generators (``smoke``: the pinned tiny ones)."""
    shared = Path(shared).resolve()
    kermany = shared / "data" / "kermany-224"
    weights_dirs = (shared / "weights", PROJECT_DIR / "weights")
    generators = _pinned_generators() if smoke else None
    if (kermany / "train").is_dir() and (kermany / "test").is_dir():
        return Sources(
            "kermany-224",
            PROJECT_DIR / "data_manifests" / "pneumonia.csv",
            kermany,
            SHIPPED_CLASSIFIER,
            generators or _shared_generators(shared),
            weights_dirs,
        )
    if not smoke:
        raise UserError(
            f"gpu-study needs the Kermany copies at {kermany} (train/ and test/) and the weights in "
            f"{shared / 'weights'}: pass --shared DIR (the folder holding data/ and weights/), or rehearse "
            "with --smoke on the shipped mini data."
        )
    raw, base = _suite_raw("pneumonia-mini")
    return Sources(
        "pneumonia-mini",
        (base / raw["data"]["manifest"]).resolve(),
        (base / raw["data"]["data_root"]).resolve(),
        (base / raw["classifier"]["weights"]).resolve(),
        generators,
        weights_dirs,
    )


# -- the SR models -----------------------------------------------------------------------------------
def xray_generators(folder: Path = XRAY_WEIGHTS_DIR) -> list[tuple[dict, dict]]:
    """(suite entry, sidecar) of every X-ray-trained generator: ``<name>.pth`` beside ``<name>.json``.

    The sidecar names the model as a suite does (``model``) and its ``scale``; other keys (scenario,
    training figures) go to the record as they are.
    """
    found = []
    for sidecar in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        weights = sidecar.with_suffix(".pth")
        if not weights.is_file():
            continue
        try:
            meta = json.loads(sidecar.read_text())
            entry = {
                "name": f"xray-{weights.stem}",
                "model": str(meta["model"]),
                "weights": str(weights),
                "scales": [int(meta["scale"])],
            }
        except (ValueError, KeyError, TypeError) as error:
            raise UserError(
                f"X-ray generator sidecar {sidecar}: expected JSON with `model` and `scale` ({error}). Fix "
                "or remove it."
            ) from None
        found.append((entry, meta))
    return found


def _paper_rrdbnet(sources: Sources, work: Path, smoke: bool) -> tuple[dict, dict]:
    """(suite entry, record) of the paper-size RRDBNet x4: official weights if present, else random."""
    for folder in sources.weights_dirs:
        for filename, model in OFFICIAL_RRDBNET.items():
            if (folder / filename).is_file() and not smoke:
                entry = {"name": f"{model}-official", "model": model, "weights": str(folder / filename)}
                return entry, {"source": "official", "note": f"official {filename}"}
    import torch

    from sr_models.archs import build_arch
    from sr_models.weights import save_weights

    arch = SMOKE_RRDBNET if smoke else PAPER_RRDBNET
    torch.manual_seed(0)
    path = save_weights(work / "rrdbnet-random-x4.pth", build_arch(arch).state_dict(), arch=arch)
    note = (
        f"random weights (seed 0), {arch['num_block']} blocks: for timing only, no official RRDBNet file "
        f"in {', '.join(str(d) for d in sources.weights_dirs)}; its diagnosis rows mean nothing"
    )
    return {"name": "rrdbnet-random", "model": "esrgan", "weights": str(path)}, {
        "source": "random",
        "note": note,
    }


def study_sr_models(sources: Sources, work: Path, *, device: str, smoke: bool) -> tuple[list, list]:
    """The study's SR suite entries and their records (source, weights, precision)."""
    precision = "bf16" if device == "cuda" else "fp32"
    entries = [{"name": name, "model": name} for name in INTERPOLATION]
    records = [{"source": "interpolation", "note": None} for _ in INTERPOLATION]
    pretrained_source = "pinned" if smoke else "pretrained"
    for entry in sources.pretrained:
        entries.append({**entry, "precision": precision})
        records.append({"source": pretrained_source, "note": None})
    rrdbnet, note = _paper_rrdbnet(sources, work, smoke)
    entries.append({**rrdbnet, "scales": [4], "precision": precision})
    records.append(note)
    for entry, meta in xray_generators():
        entries.append({**entry, "precision": precision})
        records.append({"source": "xray", "note": json.dumps(meta, sort_keys=True)[:500]})
    for entry, record in zip(entries, records, strict=True):
        record.update(
            name=entry["name"],
            model=entry["model"],
            weights=entry.get("weights"),
            scales=entry.get("scales"),
            precision=entry.get("precision", "cpu-float32"),
        )
    return entries, records


# -- timing ------------------------------------------------------------------------------------------
class StageClock:
    """Wall time and, on CUDA, ``torch.cuda.max_memory_allocated`` of every named stage."""

    def __init__(self, device: str, budget_s: float):
        self.cuda = device == "cuda"
        self.budget_s = budget_s
        self.start = time.perf_counter()
        self.stages: list[dict] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    @contextmanager
    def stage(self, name: str):
        import torch

        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        try:
            yield
        finally:
            if self.cuda:
                torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() / _MB if self.cuda else None
            self.stages.append(
                {"stage": name, "seconds": time.perf_counter() - started, "cuda_peak_mb": peak}
            )

    def peak_mb(self) -> float | None:
        peaks = [s["cuda_peak_mb"] for s in self.stages if s["cuda_peak_mb"] is not None]
        return max(peaks) if peaks else None


# -- 1. SR throughput ----------------------------------------------------------------------------------
def sr_throughput(entries: list[dict], lr_side: int, *, device: str, smoke: bool) -> list[dict]:
    """images/s of every SR model at x4 on ``lr_side`` LR images, per precision and batch size.

    Learned models run as the study loads them (``sr_models.load_upscaler``, the pipeline's batch of 4),
    in fp32 and bf16 on CUDA; RRDBNet also at batch 32. FLOPs per image are counted on the loaded net.
    """
    import torch

    from benchmark.pipeline.perf.measure import measure
    from benchmark.pipeline.perf.sr_inference import count_flops
    from sr_models import load_upscaler

    count = 2 if smoke else (64 if device == "cuda" else 4)
    batch = np.random.default_rng(0).random((count, lr_side, lr_side), dtype=np.float32)
    precisions = ("fp32", "bf16") if device == "cuda" else ("fp32",)
    rows = []
    for entry in entries:
        if entry.get("scales") and 4 not in entry["scales"]:
            continue
        learned = entry["model"] not in INTERPOLATION
        sizes = (4, 32) if entry["model"] in RRDBNET_MODELS else (4,)
        for precision in precisions if learned else ("fp32",):
            for batch_size in sizes if device == "cuda" else (4,):
                upscaler = load_upscaler(
                    entry["model"],
                    4,
                    entry.get("weights"),
                    device=device if learned else None,
                    precision=precision,
                    batch_size=batch_size,
                )
                figure = measure(
                    lambda up=upscaler: up.upscale(batch),
                    count,
                    repeats=1 if smoke else 3,
                    trace_memory=False,
                )
                row = {
                    "model": entry["name"],
                    "precision": upscaler.precision if learned else "cpu-float32",
                    "batch_size": batch_size,
                    "lr_side": lr_side,
                    "images": count,
                    "images_per_s": figure["images_per_s"],
                    "arch": type(upscaler.net).__name__ if learned else None,
                }
                if learned:
                    x = torch.zeros(1, upscaler.in_channels, lr_side, lr_side, device=upscaler.device)
                    flops = count_flops(upscaler.net, x)
                    achieved = figure["images_per_s"] * flops / 1e12
                    row |= {
                        "gflop_per_image": flops / 1e9,
                        "achieved_tflops": achieved,
                        "fraction_of_dense_bf16_peak": achieved / H200_DENSE_BF16_TFLOPS,
                    }
                rows.append(row)
                del upscaler
    return rows


# -- 2. RRDBNet vs RealESRGANer ------------------------------------------------------------------------
def official_comparison(lr_side: int, *, device: str, smoke: bool, progress: bool) -> dict:
    from benchmark.pipeline.perf import official_realesrgan
    from benchmark.pipeline.perf.results import Results

    results = Results(echo=progress)
    images = None if smoke else ((64 if device == "cuda" else 4), lr_side)
    official_realesrgan.compare(
        results, device=device, quick=smoke, repeats=1 if smoke else 3, extra_path=None, images=images
    )
    return {"figures": results.figures, "ratios": results.ratios, "skipped": results.skipped}


# -- 3. the study --------------------------------------------------------------------------------------
def _study_suite(
    sources: Sources,
    entries: list[dict],
    cells: list[dict],
    work: Path,
    *,
    per_class: int | None,
    smoke: bool,
) -> Suite:
    data = {"manifest": str(sources.manifest), "data_root": str(sources.data_root), "hr_size": 224}
    # The study evaluates a given classifier: the train split is only listed, so a few images will do.
    data["max_train_per_class"] = 4
    if per_class is not None:
        data["max_eval_per_class"] = per_class
    raw = {
        "name": "gpu-study",
        "description": f"gpu-study: {sources.kind} test split x {CELLS_SUITE} cells "
        "(benchmark/pipeline/gpu_study.py)",
        "seed": 0,
        "data": data,
        "cells": cells,
        "sr_models": entries,
        # Kermany's official split shares 170 patients between train and test (as does the mini set, 3):
        # kept as in the reference study, listed with a sensitivity analysis (benchmark.pipeline.run_leakage).
        "classifier": {"weights": str(sources.classifier), "allow_test_overlap": True},
        "stats": {"n_bootstrap": 200 if smoke else 2000},
        "examples_per_cell": 1 if smoke else 2,
    }
    path = work / f"gpu-study-{per_class or 'all'}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_suite(str(path))


def _class_counts(manifest: Path) -> list[int]:
    from benchmark.manifest import read_manifest

    test = read_manifest(manifest)
    return test[test["split"] == "test"]["label"].value_counts().tolist()


def _images_for(per_class: int, counts: list[int]) -> int:
    return sum(min(per_class, count) for count in counts)


def project_study_s(stages: list[dict], pilot_images: int, images: int) -> float:
    """Seconds a run on ``images`` images is projected to take from a pilot run's stages.

    Per-image stages (HR references, every cell) scale linearly; the statistics scale as n^1.5 (the
    bootstrap is linear in n, the leave-one-patient-out jackknife of BCa intervals quadratic in its
    share); model loading and the rest are fixed. The pilot's first calls carry the warm-ups (cuDNN,
    Keras), so the linear part overestimates.
    """
    ratio = images / pilot_images
    total = 0.0
    for stage in stages:
        name, seconds = stage["stage"], stage["seconds"]
        if name.startswith(("cell ", "HR references")):
            total += seconds * ratio
        elif name.startswith("statistics"):
            total += seconds * ratio**1.5
        else:
            total += seconds
    return total


def size_study(
    stages: list[dict], pilot_images: int, counts: list[int], budget_s: float, *, least_per_class: int
) -> int | None:
    """``max_eval_per_class`` for the largest test set projected to fit ``budget_s``, never below
    ``least_per_class`` (the pilot's size: its statistics are known to compute); None = every image."""
    if project_study_s(stages, pilot_images, sum(counts)) <= budget_s:
        return None
    low, high = least_per_class, max(counts)
    while low < high:
        middle = (low + high + 1) // 2
        if project_study_s(stages, pilot_images, _images_for(middle, counts)) <= budget_s:
            low = middle
        else:
            high = middle - 1
    return low


def headline_rows(tables: dict[str, list[dict]]) -> list[dict]:
    """Per cell and variant: accuracy, sensitivity, specificity, AUROC (threshold 0.5) and flips vs HR,
    from a run's tables (summary.json ``tables``)."""
    rows: dict[tuple[str, str], dict] = {}
    for row in tables.get("classification", []):
        if row.get("threshold") not in ("0.5", "") or row.get("metric") not in (
            "accuracy",
            "sensitivity",
            "specificity",
            "auroc",
        ):
            continue
        key = (row["cell"], row["variant"])
        rows.setdefault(key, {"cell": key[0], "variant": key[1]})[row["metric"]] = _finite(row["estimate"])
    for row in tables.get("flips", []):
        key = (row["cell"], row["variant"])
        if key in rows and row.get("threshold") == "0.5":
            rows[key]["n_flips"] = int(row["n_flips"])
    return list(rows.values())


def _finite(value) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def run_study(
    sources: Sources, entries: list[dict], work: Path, clock: StageClock, options: GpuStudyOptions, cuts: list
) -> dict:
    """Pilot, size, then run the study through the pipeline; returns the record's study fields."""
    from benchmark.pipeline.study import RunOptions, run_suite

    raw, _ = _suite_raw(CELLS_SUITE)
    cells = raw["smoke"]["cells"] if options.smoke else raw["cells"]
    runs = work / "runs"

    def run(per_class: int | None, run_id: str) -> Path:
        suite = _study_suite(sources, entries, cells, work, per_class=per_class, smoke=options.smoke)
        run_options = RunOptions(
            runs_dir=runs,
            run_id=run_id,
            device=options.device,
            progress=options.progress,
            on_bad_image="skip",
        )
        return run_suite(suite, run_options)

    per_class = 2 if options.smoke else None
    if not options.smoke:
        with clock.stage(f"study pilot: {PILOT_PER_CLASS} images per class"):
            pilot = run(PILOT_PER_CLASS, "pilot")
        pilot_stages = RunStore(pilot).read_json(RESOURCES)["stages"]
        pilot_images = RunStore(pilot).read_summary().n_eval
        budget = clock.left() - min(CLASSIFIER_RESERVE_S, max(clock.left() / 2, 0))
        counts = _class_counts(sources.manifest)
        per_class = size_study(pilot_stages, pilot_images, counts, budget, least_per_class=PILOT_PER_CLASS)
        if per_class is not None:
            projected = project_study_s(pilot_stages, pilot_images, sum(counts))
            cuts.append(
                f"study: test images {sum(counts)} -> {_images_for(per_class, counts)} (the first "
                f"{per_class} per class by path): the {pilot_images}-image pilot projects {projected:.0f} s "
                f"for all, {budget:.0f} s were left for the study"
            )
    with clock.stage("study: pipeline run"):
        run_dir = run(per_class, "study")
    summary = RunStore(run_dir).read_summary()
    return {
        "run_dir": str(run_dir),
        "test_images": summary.n_eval,
        "cells": [cell.cell for cell in summary.cells],
        "headline": headline_rows(summary.tables),
        "study_stages": RunStore(run_dir).read_json(RESOURCES)["stages"],
        "skipped_images": summary.skipped_images.count,
        "classifier_sha256": summary.classifier.sha256,
    }


# -- 4. classifier seeds -------------------------------------------------------------------------------
def _training_suite(sources: Sources, work: Path, smoke: bool) -> Suite:
    recipe = dict(yaml.safe_load(TRAIN_RECIPE_SUITE.read_text())["classifier"]["train"])
    data = {"manifest": str(sources.manifest), "data_root": str(sources.data_root), "hr_size": 224}
    classifier = {"train": recipe, "seeds": SEEDS, "allow_test_overlap": True}
    if smoke:
        data |= {"max_train_per_class": 8, "max_eval_per_class": 2}
        recipe |= {"epochs": 1, "batch_size": 8, "validation_fraction": 0.0, "early_stopping_patience": None}
        classifier |= {"seeds": 1, "input_size": 96}
    raw = {
        "name": "gpu-study-classifier",
        "seed": 0,
        "data": data,
        "cells": [{"scenario": "bicubic", "scale": 4}],
        "sr_models": [{"name": "bicubic", "model": "bicubic"}],
        "classifier": classifier,
    }
    path = work / "gpu-study-classifier.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_suite(str(path))


def plan_seeds(
    budget_s: float, seeds: int, recipe_epochs: int, read_s: float, epoch_s: float
) -> tuple[int, int]:
    """(epochs, seeds) to train within ``budget_s``: every seed with as many epochs as fit (at most the
    recipe's), else as many seeds as fit one epoch each; (0, 0) when not even that fits.

    ``read_s`` is one seed's image reading and set-up, ``epoch_s`` one epoch over the training split.
    """
    fit = math.floor((budget_s / seeds - read_s) / epoch_s) if epoch_s > 0 else recipe_epochs
    if fit >= 1:
        return min(recipe_epochs, fit), seeds
    affordable = min(seeds, math.floor(budget_s / (read_s + epoch_s)))
    return (1, affordable) if affordable >= 1 else (0, 0)


def _history_figures(path: Path) -> dict:
    import pandas as pd

    from classifiers import history_path

    history = pd.read_csv(history_path(path))
    best = int(history["val_loss"].idxmin()) + 1 if "val_loss" in history else None
    rate = history["images_per_second"].median() if "images_per_second" in history else None
    return {"epochs_run": len(history), "best_epoch": best, "train_images_per_s": _finite(rate)}


def train_seeds(
    sources: Sources, work: Path, clock: StageClock, options: GpuStudyOptions, cuts: list
) -> list:
    """Train the reference CNN with each seed (the ``train-classifier`` path), sized by a one-epoch probe."""
    import pandas as pd

    from benchmark.manifest import sha256_file
    from benchmark.pipeline.cache import Cache
    from benchmark.pipeline.classifier_eval import binary_scores
    from benchmark.pipeline.classifier_setup import (
        classifier_file,
        read_training_images,
        training_recipe,
        training_seeds,
    )
    from benchmark.pipeline.dataset import load_dataset
    from benchmark.pipeline.study import Study
    from classifiers import history_path, load_classifier

    if clock.left() < MIN_CLASSIFIER_S and not options.smoke:
        cuts.append(f"classifier seeds: none trained, {clock.left():.0f} s were left after the study")
        return []
    suite = _training_suite(sources, work, options.smoke)
    config = suite.classifier
    cache = Cache(work / "runs" / ".cache")
    with clock.stage("classifier: training images"):
        dataset = load_dataset(
            suite.data, seed=suite.seed, cache=cache, progress=options.progress, on_bad_image="skip"
        )
        train, test = dataset.split("train"), dataset.split("test")
        test_images = read_training_images(test["path"], config.input_size)
    recipe = training_recipe(config.train)
    subset = Study.alternating_classes(train, min(PROBE_IMAGES, len(train) // 2))
    # One epoch of the training pass alone (no validation split): it times the fit, and its cache key
    # differs from every seed's, so no seed is taken from the probe's cache entry.
    one_epoch = {"epochs": 1, "validation_fraction": 0.0, "early_stopping_patience": None}
    probe = config.model_copy(update={"train": {**config.train, **one_epoch}, "seeds": 1})
    with clock.stage(f"classifier: one-epoch probe on {len(subset)} images"):
        started = time.perf_counter()
        probe_file = classifier_file(probe, subset, seed=suite.seed, cache=cache, progress=options.progress)
        probe_s = time.perf_counter() - started
    epoch_s = float(pd.read_csv(history_path(probe_file))["seconds"].iloc[0])
    scale = len(train) / len(subset)
    read_s, epoch_full_s = max(probe_s - epoch_s, 0.0) * scale, epoch_s * scale
    budget = min(CLASSIFIER_TARGET_S, clock.left())
    seeds = training_seeds(config, suite.seed)
    epochs, count = plan_seeds(budget, len(seeds), recipe.epochs, read_s, epoch_full_s)
    probed = f"the one-epoch probe on {len(subset)} images took {epoch_s:.1f} s ({budget:.0f} s left)"
    if 0 < epochs < recipe.epochs:
        cuts.append(
            f"classifier seeds: at most {epochs} of the recipe's {recipe.epochs} epochs (early stopping "
            f"patience {recipe.early_stopping_patience}) on {len(train)} images: {probed}"
        )
    if count < len(seeds):
        cuts.append(f"classifier seeds: {count} of {len(seeds)} trained: {probed}")
        seeds = seeds[:count]
    config = config.model_copy(update={"train": {**config.train, "epochs": epochs}})
    records = []
    for seed in seeds:
        with clock.stage(f"classifier: train seed {seed}"):
            started = time.perf_counter()
            path = classifier_file(config, train, seed=seed, cache=cache, progress=options.progress)
            seconds = time.perf_counter() - started
        probabilities = load_classifier(path).predict(test_images)
        records.append(
            {
                "name": f"reference-cnn-seed{seed}",
                "source": "trained",
                "path": str(path),
                "sha256": sha256_file(path),
                "seed": seed,
                "train_images": len(train),
                "epochs_allowed": epochs,
                "train_s": seconds,
                "test": _scores(binary_scores(test["label"].to_numpy(), probabilities)),
                **_history_figures(path),
            }
        )
    return records


def _scores(scores: dict) -> dict:
    return {key: value for key, value in scores.items() if isinstance(value, (int, float))}


# -- the record ----------------------------------------------------------------------------------------
def device_name(device: str) -> str:
    import platform

    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"cpu {platform.machine()} {os.cpu_count()} cores"


def _versions() -> dict:
    import platform

    import keras
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "torch_deterministic_algorithms": str(torch.are_deterministic_algorithms_enabled()),
        "cudnn_benchmark": str(torch.backends.cudnn.benchmark),
    }


def gpu_memory(device: str) -> dict | None:
    """What the run left of the GPU: torch's caching allocator grows on demand (nothing preallocated)."""
    if device != "cuda":
        return None
    import torch

    free, total = torch.cuda.mem_get_info()
    return {
        "max_allocated_mb": torch.cuda.max_memory_allocated() / _MB,
        "max_reserved_mb": torch.cuda.max_memory_reserved() / _MB,
        "reserved_at_end_mb": torch.cuda.memory_reserved() / _MB,
        "free_at_end_mb": free / _MB,
        "total_mb": total / _MB,
        "pytorch_cuda_alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF"),
        "tensorflow_installed": importlib.util.find_spec("tensorflow") is not None,
    }


def targets(record: dict, full_train: bool) -> list[dict]:
    """The issue's four targets with the measured value and whether it was met (None: not measured)."""
    ratios = (record.get("official_comparison") or {}).get("ratios", [])
    batch4 = [r["ratio"] for r in ratios if "batch 4" in r["name"]]
    rrdbnet = [
        row["fraction_of_dense_bf16_peak"]
        for row in record.get("sr_throughput", [])
        if row.get("arch") == "RRDBNet" and row["precision"] == "bf16"
    ]
    seeds = [c for c in record.get("classifiers", []) if c["source"] == "trained"]
    train_s = record.get("classifier_train_s")
    seeds_met = None
    if train_s is not None:
        seeds_met = train_s <= CLASSIFIER_TARGET_S and len(seeds) == SEEDS and full_train
    return [
        {
            "target": "whole study <= 600 s",
            "value": record["wall_s"],
            "met": record["wall_s"] <= STUDY_TARGET_S,
        },
        {
            "target": "RRDBNet x4 >= 1.0x RealESRGANer (fp32 both, batch 4)",
            "value": batch4[0] if batch4 else None,
            "met": batch4[0] >= 1.0 if batch4 else None,
        },
        {
            "target": f"RRDBNet x4 bf16 > {PEAK_TARGET:.0%} of {H200_DENSE_BF16_TFLOPS:.0f} TFLOP/s at the "
            "study's LR side (untiled)",
            "value": max(rrdbnet) if rrdbnet else None,
            "met": max(rrdbnet) > PEAK_TARGET if rrdbnet else None,
        },
        {
            "target": f"{SEEDS} classifier seeds, full recipe, every train image <= "
            f"{CLASSIFIER_TARGET_S:.0f} s",
            "value": train_s,
            "met": seeds_met,
        },
    ]


def run_gpu_study(options: GpuStudyOptions) -> Path:
    """Run every stage within ``options.budget_s`` and write the record; returns its path."""
    if not options.budget_s > 0:
        raise UserError(
            f"Expected --budget-s > 0 seconds, got {options.budget_s}. The default is {BUDGET_S:.0f}."
        )
    check_environment(options.device)
    sources = find_sources(options.shared, smoke=options.smoke)
    # Keras' determinism settings for torch (classifiers.runtime) before CUDA starts: the SR models then
    # run under the settings every pipeline run has once its classifier is loaded.
    from classifiers import configure_backend

    configure_backend()
    started = dt.datetime.now(dt.timezone.utc)
    work = (options.work or Path("runs") / "gpu-study" / started.strftime("%Y%m%d-%H%M%S")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    clock = StageClock(options.device, options.budget_s)
    name = device_name(options.device)
    path = Path(options.out) / record_name(started.date().isoformat(), name, smoke=options.smoke)
    cuts: list[str] = []
    record: dict[str, Any] = {
        "date": started.date().isoformat(),
        "device": name,
        "device_type": options.device,
        "smoke": options.smoke,
        "command": " ".join(options.command),
        "git_commit": git_output("rev-parse", "HEAD"),
        "versions": _versions(),
        "budget_s": options.budget_s,
        "cuts": cuts,
    }

    def save(complete: bool = False) -> Path:
        fields = {"wall_s": clock.elapsed(), "stages": clock.stages, "peak_gpu_memory_mb": clock.peak_mb()}
        return write_record(path, {**record, **fields, "complete": complete})

    lr_side = 224 // 4
    with clock.stage("SR models: weights and discovery"):
        entries, record["sr_models"] = study_sr_models(
            sources, work, device=options.device, smoke=options.smoke
        )
    with clock.stage("SR throughput per model and precision"):
        record["sr_throughput"] = sr_throughput(entries, lr_side, device=options.device, smoke=options.smoke)
    save()
    with clock.stage("RRDBNet vs official RealESRGANer"):
        record["official_comparison"] = official_comparison(
            lr_side, device=options.device, smoke=options.smoke, progress=options.progress
        )
    save()
    study = run_study(sources, entries, work, clock, options, cuts)
    record |= {key: study[key] for key in ("run_dir", "test_images", "cells", "headline")}
    record["classifiers"] = [
        {
            "name": SHIPPED_CLASSIFIER.stem if sources.kind == "kermany-224" else "pinned-mini-classifier",
            "source": "shipped",
            "path": str(sources.classifier),
            "sha256": study["classifier_sha256"],
        }
    ]
    record["study_stages"] = [
        {"stage": stage["stage"], "seconds": stage["seconds"]} for stage in study["study_stages"]
    ]
    save()
    seeds = train_seeds(sources, work, clock, options, cuts)
    record["classifiers"] += seeds
    record["classifier_train_s"] = sum(seed["train_s"] for seed in seeds) if seeds else None
    record["gpu_memory"] = gpu_memory(options.device)
    record["wall_s"] = clock.elapsed()
    untrimmed = not options.smoke and not any(cut.startswith("classifier") for cut in cuts)
    record["targets"] = targets(record, full_train=untrimmed)
    return save(complete=True)
