"""Where the classifier and the test images came from, for the header and the methods paragraph.

Read from what the run and its classifier recorded, never guessed: a classifier trained in the run
(`classifier/train_images.csv`, `classifier/history.csv`, config.yaml), a shipped file's sidecar
(`<weights>.json`, written by `ship-classifier`) or the pinned models' `pins.json`, each used only when
its recorded sha256 equals the one the run loaded; the leakage check in summary.json. The source
resolution of the training images is read from the image files' headers when they are reachable.
Facts that nothing recorded are reported as not recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from PIL import Image, UnidentifiedImageError

from benchmark.pipeline.training_record import record_beside
from classifiers.training_files import best_validation_auroc
from cxr_kernel.run_summary import ClassifierRecord, RunSummary
from reports.rundir import RunData, resolve_inside

MAX_SIZED = 6000  # image headers read at most, to tell the training images' source resolution


#: ``InputSpec.resize`` in words.
RESIZE_WORDS = {"nearest": "nearest neighbour", "bilinear": "bilinear interpolation (antialiased)"}


@dataclass
class ClassifierProvenance:
    """What is known about the classifier's training; None where nothing recorded it."""

    origin: str  # "trained in this run", "shipped file with sidecar ...", "file (no provenance found)"
    n_train: int | None = None
    n_fit: int | None = None
    n_validation: int | None = None
    n_patients: int | None = None
    validation: str | None = None  # how the validation images were held out
    validation_auroc: float | None = None
    source_sizes: str | None = None  # e.g. "224×224" or "from 180×180 to 2916×2583 pixels"
    source_side: int | None = None  # the side when every training image is one square size
    input_size: int | None = None
    resize: str = "nearest neighbour"  # every image reaches the classifier by this rule (README)
    seed: Any = None
    data: str | None = None  # manifest / data root of the training images
    own_test: str | None = None  # the classifier's own test scores, where recorded
    notes: list[str] = field(default_factory=list)


def _config(run: RunData) -> dict[str, Any]:
    try:
        config = yaml.safe_load(run.config_text or "") or {}
    except yaml.YAMLError:
        return {}
    return config if isinstance(config, dict) else {}


def image_sizes(paths: list[Path]) -> tuple[str | None, int | None]:
    """(`224×224` when every readable image has that size, else the range; the side when all are one
    square size). (None, None) when no image is readable."""
    sizes: Counter[tuple[int, int]] = Counter()
    for path in paths[:MAX_SIZED]:
        try:
            with Image.open(path) as image:
                sizes[image.size] += 1
        except (OSError, UnidentifiedImageError):
            continue
    if not sizes:
        return None, None
    if len(sizes) == 1:
        ((width, height),) = sizes
        return f"{width}×{height}", width if width == height else None
    smallest, largest = min(sizes, key=lambda s: s[0] * s[1]), max(sizes, key=lambda s: s[0] * s[1])
    return f"from {smallest[0]}×{smallest[1]} to {largest[0]}×{largest[1]} pixels", None


def _trained_in_run(run: RunData, info: ClassifierRecord, config: dict[str, Any]) -> ClassifierProvenance:
    data = config.get("data") or {}
    found = ClassifierProvenance("trained in this run", seed=config.get("seed"))
    listed = resolve_inside(run.run_dir, str(info.train_images_csv or ""))
    if listed is not None:
        images = pd.read_csv(listed)
        roles = images.get("role", pd.Series(dtype=str))
        found.n_train = len(images)
        found.n_fit, found.n_validation = int((roles == "fit").sum()), int((roles == "validation").sum())
        if "patient_id" in images.columns:
            found.n_patients = int(images["patient_id"].nunique())
        found.validation = "patients held out" if found.n_validation else None
        root = Path(str(data.get("data_root") or ""))
        if data.get("data_root") and root.is_dir():
            found.source_sizes, found.source_side = image_sizes([root / str(i) for i in images["image_id"]])
    history = resolve_inside(run.run_dir, str(info.history_csv or ""))
    if history is not None:
        try:
            found.validation_auroc = best_validation_auroc(pd.read_csv(history))
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            pass
    found.data = data.get("manifest")
    found.input_size = configured_classifier(config).get("input_size")
    return found


def _from_sidecar(sidecar: dict[str, Any], name: str) -> ClassifierProvenance:
    """A `ship-classifier` sidecar: training list, validation rule, history, seed, own test scores."""
    data = sidecar.get("data") or {}
    train = data.get("train") or {}
    found = ClassifierProvenance(f"shipped file, provenance from {name}", seed=sidecar.get("seed"))
    found.n_train, found.n_fit, found.n_validation = (
        train.get("n_images"),
        train.get("n_fit"),
        train.get("n_validation"),
    )
    found.validation = "patients held out" if "patient" in str(train.get("validation", "")) else None
    history = pd.DataFrame(sidecar.get("history") or [])
    best = sidecar.get("best_epoch")
    if best is not None and "epoch" in history.columns and "val_auc" in history.columns:
        kept = history.loc[history["epoch"] == best, "val_auc"]
        found.validation_auroc = None if kept.empty else float(kept.iloc[0])
    found.input_size = sidecar.get("input_size")
    found.data = " · ".join(str(data[k]) for k in ("manifest", "data_root") if data.get(k)) or None
    if data.get("manifest") and data.get("data_root") and Path(data["data_root"]).is_dir():
        try:
            listed = pd.read_csv(data["manifest"])
        except (OSError, ValueError):
            listed = pd.DataFrame()
        if {"path", "split"} <= set(listed.columns):
            split = listed[listed["split"] == train.get("split", "train")]
            paths = [Path(data["data_root"]) / p for p in split["path"]]
            found.source_sizes, found.source_side = image_sizes(paths)
    test = sidecar.get("test_metrics") or {}
    if test.get("auroc") is not None:
        found.own_test = (
            f"accuracy {test.get('accuracy', float('nan')):.3f}, AUROC {test['auroc']:.3f} on "
            f"{test.get('n_images')} images of {test.get('directory')}"
        )
    return found


def _from_pins(pins: dict[str, Any], name: str) -> ClassifierProvenance:
    """The pinned models' record: training image count, validation AUROC."""
    found = ClassifierProvenance(f"pinned file, provenance from {name}")
    found.n_train = (pins.get("training_images") or {}).get("count")
    found.validation_auroc = ((pins.get("learning") or {}).get("classifier") or {}).get("validation_auroc")
    found.seed = (pins.get("environment") or {}).get("seed")
    return found


def classifier_provenance(run: RunData) -> ClassifierProvenance:
    """What the run, the classifier's sidecar or the pins record about the classifier's training."""
    info = run.summary.classifier or ClassifierRecord()
    config = _config(run)
    if info.source == "trained":
        found = _trained_in_run(run, info, config)
    else:
        weights = Path(str(info.path or ""))
        files = (info.classifier or {}).get("files") or [{}]
        found = _recorded_beside(weights, files[0].get("sha256") or info.sha256)
    # The input the loaded classifier declared (summary.json records it), where stored: a given file
    # keeps its own input size (config.yaml's input_size, the fallback of older runs, is training's).
    if info.input_size is not None:
        found.input_size = info.input_size
    found.resize = RESIZE_WORDS.get(info.input_resize, found.resize)
    return found


def _recorded_beside(weights: Path, sha256: Any) -> ClassifierProvenance:
    """Provenance from a sidecar or pins.json next to a given weights file whose checksum matches."""
    found = record_beside(weights, sha256)
    if found is None:
        return ClassifierProvenance("given file; no record of its training data was found beside it")
    kind, name, record = found
    return (_from_sidecar if kind == "sidecar" else _from_pins)(record, name)


def declared_copies_text(summary: RunSummary, eval_split: str = "test") -> str:
    """The byte-identical copies the manifest declared and the run left out, as stored ("" if none).

    `6 declared byte-identical copies left out of the 624 test images listed, so 618 were evaluated
    (a copy = its kept image: ...); figures on all 624 listed images (the reference study's) count each
    twice. 26 copies left out of the train split.`
    """
    copies = summary.declared_duplicates
    if not copies:
        return ""
    tested = [c for c in copies if c.get("split") == eval_split]
    trained = len(copies) - len(tested)
    text = ""
    if tested:
        evaluated = summary.n_eval
        listed = f"{evaluated + len(tested)} " if isinstance(evaluated, int) else ""
        pairs = "; ".join(f"{c.get('image_id')} = {c.get('duplicate_of')}" for c in tested)
        text = (
            f"{len(tested)} declared byte-identical copies left out of the {listed}{eval_split} images "
            f"listed"
            + (f", so {evaluated} were evaluated" if isinstance(evaluated, int) else "")
            + f" (copy = kept image: {pairs}); figures on all {listed}listed images (as in studies that "
            "kept every listed file) count each of these images twice."
        )
    if trained:
        text += f" {trained} declared copies left out of the classifier's training split."
    return text.strip()


def leakage_text(summary: RunSummary) -> str:
    """The leakage check between the classifier's training images and the test images, as stored."""
    leakage = summary.leakage or {}
    if not leakage:
        return "not recorded"
    if not leakage.get("checked"):
        return f"not run ({leakage.get('reason') or 'no reason recorded'})"
    patients, copies = len(leakage.get("patients") or []), len(leakage.get("near_duplicates") or [])
    allowed = " (allowed by the suite; listed in summary.json)" if patients or copies else ""
    text = f"{patients} shared patients and {copies} near-duplicate images found{allowed}"
    training = leakage.get("training_images") or {}
    if training.get("source"):
        text += f", against the {training.get('n_images')} training images of {training['source']}"
    sensitivity = leakage.get("sensitivity") or {}
    if sensitivity:
        text += (
            f"; the headline estimates without their {sensitivity.get('left_out_images')} test images "
            f"({sensitivity.get('n_images')} left) are in the leakage sensitivity section"
        )
    return text


def configured_classifier(config: dict[str, Any]) -> dict[str, Any]:
    """The stored config's classifier block: ``classifier``, or a panel's first member."""
    return config.get("classifier") or next(iter(config.get("classifiers") or []), {})


def training_description(found: ClassifierProvenance) -> str:
    """`5216 images (4694 fit, 522 validation; patients held out), stored at 224×224 and resized by
    nearest neighbour to 300×300 (upsampled); validation AUROC 0.980 at the kept epoch; seed 0`."""
    if found.n_train is None:
        return "training images not recorded"
    split = [f"{found.n_fit} fit" if found.n_fit is not None else "", ""]
    if found.n_validation is not None:
        split[1] = f"{found.n_validation} validation" + (f"; {found.validation}" if found.validation else "")
    split_text = ", ".join(p for p in split if p)
    patients = f" of {found.n_patients} patients" if found.n_patients else ""
    text = f"{found.n_train} images{patients}" + (f" ({split_text})" if split_text else "")
    size = f"{found.input_size}×{found.input_size}" if found.input_size else "the input size"
    if found.source_sizes:
        direction = ""
        if found.source_side and found.input_size and found.source_side != found.input_size:
            direction = " (upsampled)" if found.source_side < found.input_size else " (downsampled)"
        text += f", stored at {found.source_sizes} and resized by {found.resize} to {size}{direction}"
    else:
        text += f", resized by {found.resize} to {size} (source resolution not recorded)"
    if found.validation_auroc is not None:
        text += f"; validation AUROC {found.validation_auroc:.3f} at the kept epoch"
    if found.seed is not None:
        text += f"; seed {found.seed}"
    return text
