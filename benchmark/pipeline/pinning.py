"""Pinned models: train a suite's SR models and classifier once, keep the files, evaluate them anywhere.

Training turns the last bits that differ between CPUs (oneDNN and ATen pick kernels by instruction set)
into other weights, so a regression check that trains cannot agree across machines. ``pin`` trains
what a *training* suite asks for, copies the results into a folder of the repository and records in
``pins.json`` how they were made (command, git commit, versions, data checksums), their sha256 and
whether training learned (floors below). The checked suite then loads those files: inference only.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.manifest import sha256_file
from benchmark.pipeline import sr_setup
from benchmark.pipeline.config import PROJECT_DIR, Suite
from benchmark.pipeline.store import environment
from benchmark.pipeline.study import RunOptions, Study
from benchmark.pipeline.training_record import PINS_FILE
from classifiers.training_files import best_validation_auroc
from cxr_kernel.atomic import write_text
from cxr_kernel.errors import UserError

#: The pinned classifier: ``classifier`` with the suffix of its type's files (``classifier.keras``).
CLASSIFIER_STEM = "classifier"
#: Training must at least reach these, or nothing is pinned: the classifier's validation AUROC (at
#: its best epoch) and each SR model's mean PSNR on the evaluation images against bicubic upsampling
#: of the same bicubic-downscaled input. They tell "learned" from "broken", not "good": on the mini
#: images (x4) untrained tiny generators give about 6 dB, the pinned ones 26-31 dB, bicubic 32 dB
#: (the GAN phase of 40 updates costs the tiny SRGAN and Real-ESRGAN about 5 dB).
MIN_VALIDATION_AUROC = 0.75
MAX_PSNR_BELOW_BICUBIC_DB = 10.0
#: Evaluation images the SR check upscales (the first of each class in turn).
SR_CHECK_IMAGES = 12


def _best_validation_auroc(history_csv: Path) -> float | None:
    """The classifier's validation AUROC at its kept epoch, from its history (None: no history)."""
    return best_validation_auroc(pd.read_csv(history_csv)) if history_csv.is_file() else None


def _sr_psnr_against_bicubic(upscaler, hr: np.ndarray, scale: int) -> dict[str, float]:
    """Mean PSNR (dB) of ``upscaler`` and of bicubic upsampling on bicubic-downscaled ``hr``."""
    from benchmark.degradations import degrade
    from benchmark.metrics.image_quality import psnr
    from sr_models import load_upscaler

    rng = np.random.default_rng(0)  # bicubic downscaling draws nothing; the argument is required
    lr = np.stack([degrade("bicubic", image, scale, rng) for image in hr])
    bicubic = load_upscaler("bicubic", scale).upscale(lr)
    learned = upscaler.upscale(lr)

    def mean_psnr(images):
        return float(np.mean([psnr(a, b, data_range=1.0) for a, b in zip(hr, images, strict=True)]))

    return {"psnr_db": mean_psnr(learned), "bicubic_psnr_db": mean_psnr(bicubic)}


def pin_models(suite: Suite, out_dir: Path, options: RunOptions, *, require_learning: bool = True) -> dict:
    """Train every SR model with ``train:`` and the classifier of ``suite``; copy them into ``out_dir``.

    Returns the record also written to ``out_dir/pins.json``. With ``require_learning`` raises
    ``UserError`` when training did not learn (floors above), leaving ``out_dir`` as it was; without
    it (a few images, for tests) the figures are only recorded.
    """
    from classifiers import history_path
    from classifiers.backends import backend

    if suite.classifier.train is None:
        raise UserError(
            f"Suite {suite.name!r} gives a classifier file; `pin` needs `classifier: {{train: ...}}`."
        )
    out_dir = Path(out_dir)
    sr_setup.check_training_configs(suite.sr_models)  # refused before any training
    with tempfile.TemporaryDirectory(prefix="pin-") as scratch:
        cache_dir = options.cache_dir or Path(options.runs_dir) / ".cache"  # training is cached as in `run`
        study = Study(
            suite,
            RunOptions(
                **{**vars(options), "runs_dir": Path(scratch), "cache_dir": cache_dir, "run_id": "pin"}
            ),
        )
        provenance = environment(suite, study.device)  # read before training: its commit
        dataset = study.dataset()
        train = dataset.split(suite.data.train_split)
        _, classifier_info = study.load_classifier(dataset)
        trained, training = {}, []
        evaluation = study.alternating_classes(dataset.split(suite.data.eval_split), SR_CHECK_IMAGES)
        hr = np.asarray(study.hr_images(evaluation).pixels)
        learning: dict[str, dict] = {}
        for scale, upscalers in study.upscalers_by_scale(dataset, training).items():
            for name, (upscaler, spec) in upscalers.items():
                if spec.entry.train is not None:
                    trained[f"{name}-x{scale}.pth"] = spec.weights
                    learning[f"{name}-x{scale}"] = _sr_psnr_against_bicubic(upscaler, hr, scale)
        history = history_path(Path(classifier_info.path))
        learning["classifier"] = {"validation_auroc": _best_validation_auroc(history)}
        if require_learning:
            _require_learning(learning)

        out_dir.mkdir(parents=True, exist_ok=True)
        for file_name, source in trained.items():
            shutil.copyfile(source, out_dir / file_name)
        kind = backend(suite.classifier.type)
        pinned = kind.ship(Path(classifier_info.path), out_dir / f"{CLASSIFIER_STEM}{kind.suffix}")
    files = sorted([*trained, *(path.name for path in pinned["files"])])
    record = {
        "suite": suite.name,
        "command": shlex.join(["python", "-m", "benchmark", *sys.argv[1:]]),
        "files": {
            name: {"sha256": sha256_file(out_dir / name), "bytes": (out_dir / name).stat().st_size}
            for name in files
        },
        "training_images": _training_images(suite, train),
        "learning": learning,
        "floors": {
            "min_validation_auroc": MIN_VALIDATION_AUROC,
            "max_psnr_below_bicubic_db": MAX_PSNR_BELOW_BICUBIC_DB,
        },
        "environment": provenance,
    }
    write_text(out_dir / PINS_FILE, json.dumps(record, indent=1, default=str) + "\n")
    return record


def _project_relative(path: Path | None) -> str | None:
    """``path`` relative to the project when inside it (pins travel with the repository), else as is."""
    if path is None:
        return None
    path = Path(path).resolve()
    return path.relative_to(PROJECT_DIR).as_posix() if path.is_relative_to(PROJECT_DIR) else str(path)


def _training_images(suite: Suite, train: pd.DataFrame) -> dict:
    """The classifier's training list for pins.json: ids (manifest paths), their sha256, and the manifest
    and data root they are read from (``benchmark.pipeline.training_record`` checks a run's leakage
    with it)."""
    return {
        "count": len(train),
        "sha256": sorted(train["sha256"]),
        "ids": sorted(train["image_id"]),
        "split": suite.data.train_split,
        "manifest": _project_relative(suite.data.manifest),
        "data_root": _project_relative(suite.data.data_root),
    }


def _require_learning(learning: dict[str, dict]) -> None:
    failures = []
    auroc = learning["classifier"]["validation_auroc"]
    if auroc is None or auroc < MIN_VALIDATION_AUROC:
        failures.append(f"classifier validation AUROC {auroc} < {MIN_VALIDATION_AUROC}")
    for name, figures in learning.items():
        if (
            "psnr_db" in figures
            and figures["psnr_db"] < figures["bicubic_psnr_db"] - MAX_PSNR_BELOW_BICUBIC_DB
        ):
            failures.append(
                f"{name} PSNR {figures['psnr_db']:.2f} dB is more than {MAX_PSNR_BELOW_BICUBIC_DB} dB below "
                f"bicubic's {figures['bicubic_psnr_db']:.2f} dB"
            )
    if failures:
        raise UserError(
            "Training did not learn, so nothing was pinned: "
            + "; ".join(failures)
            + ". Train longer or check the recipe in the suite."
        )
