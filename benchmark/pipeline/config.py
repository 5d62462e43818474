"""Suites: YAML files validated into typed, frozen config objects with errors a user can act on."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from benchmark.stats.options import Seed, StatisticalOptions
from cxr_kernel.errors import UserError
from cxr_kernel.variants import REFERENCE_VARIANTS

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # benchmark/
PROJECT_DIR = PACKAGE_DIR.parent
SUITE_DIRS = (PACKAGE_DIR / "suites", PROJECT_DIR / "data_manifests")
MIN_LR_SIDE = 8  # the smallest LR side a cell may make (data.hr_size / scale)
#: classifier.seeds: each seed trains a classifier and repeats the analysis.
MAX_CLASSIFIER_SEEDS = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhantomConfig(_Strict):
    """Synthetic phantoms (``benchmark.phantoms``) instead of real images."""

    train_per_class: int = Field(40, ge=2)
    test_per_class: int = Field(24, ge=2)
    size: int = Field(512, ge=32)


class DataConfig(_Strict):
    manifest: Path | None = None
    data_root: Path | None = None
    phantoms: PhantomConfig | None = None
    hr_size: int = Field(512, ge=16, description="HR reference: every image resized once to this square")
    eval_split: Literal["train", "val", "test"] = "test"
    train_split: Literal["train", "val", "test"] = "train"
    max_eval_per_class: int | None = Field(None, ge=1, description="deterministic subset for mini runs")
    max_train_per_class: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_source(self):
        if (self.manifest is None) == (self.phantoms is None):
            raise ValueError("give exactly one of `manifest` (real images) or `phantoms` (synthetic)")
        return self


class CellConfig(_Strict):
    """One degradation setting: a scenario at a scale with its parameters."""

    scenario: str
    scale: Literal[2, 4, 8]
    params: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.scenario}-x{self.scale}"


class SRTrainConfig(_Strict):
    preset: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    max_images: int = Field(200, ge=1, description="HR training images drawn from the train split")
    vgg_weights: Path | None = None


class SRModelConfig(_Strict):
    name: str
    model: str
    weights: Path | None = None
    train: SRTrainConfig | None = None
    scales: list[Literal[2, 4, 8]] | None = Field(None, description="cells it runs on (default: all)")
    tile: int | None = Field(None, ge=16)
    precision: Literal["fp32", "tf32", "fp16", "bf16"] = "fp32"

    @model_validator(mode="after")
    def _weights_or_train(self):
        if self.weights is not None and self.train is not None:
            raise ValueError(f"SR model {self.name!r}: give `weights` or `train`, not both")
        return self


class PreprocessingConfig(_Strict):
    """How a model file's images are prepared (types onnx, torchscript): the [0, 1] gray image resized
    to ``size`` by ``resize``, mapped linearly onto ``scaling``, with ``channels`` identical channels in
    ``layout``; ``output`` says whether the model returns P(pneumonia) or its logit."""

    size: int = Field(ge=8)
    channels: Literal[1, 3] = 1
    scaling: tuple[float, float] = (0.0, 1.0)
    resize: Literal["nearest", "bilinear"] = "nearest"
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    output: Literal["probability", "logit"] = "probability"


class ClassifierConfig(_Strict):
    type: str = Field("keras", description="classifier backend (classifiers/backends): keras, torch, ...")
    weights: Path | None = None
    train: dict[str, Any] | None = Field(None, description="overrides of the type's training recipe")
    arch: str | None = Field(None, description="the type's model name (torch: classifiers.torch_archs)")
    input_size: int = Field(
        300, ge=32, description="square model input; the keras CNN needs 94 (five conv+pool stages)"
    )
    preprocessing: PreprocessingConfig | None = Field(None, description="types onnx, torchscript")
    allow_test_overlap: bool = Field(
        False,
        description="run even when training and test images share patients or near-duplicate images "
        "(benchmark.leakage); the overlap is listed in summary.json either way",
    )
    seeds: int = Field(
        1,
        ge=1,
        le=MAX_CLASSIFIER_SEEDS,
        description="train this many classifiers with training seeds seed, seed + 1, ...; the first is "
        "the primary analysis, the others measure training-seed variance (summary.json `seeds`)",
    )
    bootstrap_train: bool = Field(
        False,
        description="with seeds > 1: train each further seed on a patient bootstrap resample of the "
        "training split (the first seed keeps the whole split)",
    )

    @model_validator(mode="after")
    def _weights_or_train(self):
        from classifiers.backends import BACKENDS

        if (self.weights is None) == (self.train is None):
            raise ValueError("classifier: give exactly one of `weights` (a model file) or `train`")
        if self.type not in BACKENDS:
            raise ValueError(f"classifier.type {self.type!r}: expected one of {', '.join(BACKENDS.names())}")
        kind = BACKENDS.get(self.type)
        if self.train is not None and not hasattr(kind, "train"):
            raise ValueError(f"classifier.type {self.type} trains nothing: give `weights`, not `train`")
        if self.type == "keras" and self.input_size < 94:
            raise ValueError(
                f"classifier.input_size {self.input_size}: the keras CNN needs at least 94 "
                "(five conv+pool stages)"
            )
        names = kind.arch_names()
        if self.arch is not None and self.arch not in names:
            known = f"one of {', '.join(names)}" if names else "none"
            raise ValueError(f"classifier.arch {self.arch!r}: type {self.type} takes {known}")
        if self.train is not None and names and self.arch is None:
            raise ValueError(f"classifier.arch: type {self.type} trains an architecture; name one of {names}")
        if (self.preprocessing is not None) != kind.declares_input:
            need = "needs" if kind.declares_input else "takes no"
            raise ValueError(f"classifier.preprocessing: type {self.type} {need} `preprocessing` block")
        if self.weights is not None and self.seeds > 1:
            raise ValueError(
                f"classifier.seeds {self.seeds} trains {self.seeds} classifiers with different seeds, but "
                "classifier.weights loads one fixed file, which has no training seed: remove `seeds`, or "
                "replace `weights` by `train: {...}` to train the classifiers"
            )
        if self.bootstrap_train and self.seeds < 2:
            raise ValueError(
                "classifier.bootstrap_train resamples the training split of the seeds after the first, "
                "and classifier.seeds is 1: set seeds: K (K > 1), or remove bootstrap_train"
            )
        return self


#: A panel member's name names its folder in the run directory and its columns in the panel tables.
MEMBER_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


class PanelMember(ClassifierConfig):
    """One classifier of a panel (``classifiers: [...]``): a ``classifier`` block with a ``name``."""

    name: str = Field(description="the member's name in tables, columns and its folder in the run")

    @field_validator("name")
    @classmethod
    def _name_names_a_folder(cls, value: str) -> str:
        if not re.fullmatch(MEMBER_NAME, value):
            raise ValueError(
                "a classifier's name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                "digit: it names its folder in the run directory (e.g. name: resnet18)"
            )
        return value


class StatsConfig(StatisticalOptions, _Strict):
    """``benchmark.stats``: the statistical options (``benchmark.stats.options``, the limits ``analyze``
    applies too) and ``cluster`` the unit of analysis (default: patient when every evaluation image has a
    patient id)."""

    cluster: Literal["patient", "image"] | None = None


class LpipsConfig(_Strict):
    """LPIPS's weight files (``benchmark.metrics.lpips``): torchvision's AlexNet ImageNet state dict
    (alexnet-owt-7be5be79.pth) and LPIPS v0.1's linear layers (alex.pth, in the lpips pip package)."""

    backbone: Path
    linear: Path


class QualityConfig(_Strict):
    """How IQ metrics are computed (``benchmark.metrics.batch``): ``basicsr`` rounds images to uint8 and
    crops ``scale`` pixels per side, as BasicSR's calculate_psnr/calculate_ssim, for numbers comparable
    with SR papers. ``lpips`` names the weight files the ``lpips`` metric needs."""

    convention: Literal["skimage", "basicsr"] = "skimage"
    lpips: LpipsConfig | None = None


class Suite(_Strict):
    name: str = Field(description="also its folder under the runs directory")
    description: str = ""
    seed: Seed = 0
    data: DataConfig
    cells: list[CellConfig] = Field(min_length=1)
    sr_models: list[SRModelConfig] = Field(min_length=1)
    classifier: ClassifierConfig | None = Field(
        None, description="the one classifier; with `classifiers`, the first panel member (set for you)"
    )
    classifiers: list[PanelMember] | None = Field(
        None, min_length=1, description="a panel: every variant is classified by each member"
    )
    metrics: list[str] = Field(default_factory=lambda: ["psnr", "ssim", "mse", "mae"])
    crop_border: int = Field(0, ge=0, description="pixels cropped from each side before IQ metrics")
    quality: QualityConfig = Field(default_factory=QualityConfig)
    stats: StatsConfig = Field(default_factory=StatsConfig)
    examples_per_cell: int = Field(2, ge=0)
    smoke: dict[str, Any] | None = Field(None, description="overrides applied by `run --smoke` (CI)")
    fallback: dict[str, Any] | None = Field(
        None, description="overrides applied when the real data root is absent (or `--fallback`)"
    )

    @field_validator("name")
    @classmethod
    def _name_names_a_folder(cls, value: str) -> str:
        if not any(character.isalnum() for character in value):
            raise ValueError(
                "a suite name must contain a letter or digit: it names the run's folder under the runs "
                "directory, and '.', '..' or '/' would put it elsewhere"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _one_classifier_section(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        if "classifier" in raw and "classifiers" in raw:
            raise ValueError(
                "give `classifier: {...}` (one classifier) or `classifiers: [{name: ..., ...}, ...]` (a "
                "panel), not both: move the `classifier` block into the list with a `name`"
            )
        if "classifier" not in raw and "classifiers" not in raw:
            raise ValueError("missing `classifier: {...}` (or `classifiers: [...]`, a panel)")
        return raw

    @model_validator(mode="after")
    def _unique_names(self):
        if self.classifiers:
            # the first member is the primary classifier, read where one classifier is read
            object.__setattr__(self, "classifier", self.classifiers[0])
        for kind, names in (
            ("cell", [c.label for c in self.cells]),
            ("SR model", [m.name for m in self.sr_models]),
            ("classifier", [m.name for m in self.classifiers or []]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(
                    f"{kind} names must be unique; repeated: {repeated} (set `name:` to tell them apart)"
                )
        for cell in self.cells:
            size, scale = self.data.hr_size, cell.scale
            if size % scale:
                raise ValueError(
                    f"data.hr_size {size} is not divisible by scale {scale} (cell {cell.label}); "
                    f"use {size - size % scale} or {size - size % scale + scale}"
                )
            if size // scale < MIN_LR_SIDE:
                raise ValueError(
                    f"data.hr_size {size} at scale {scale} (cell {cell.label}) makes {size // scale} px "
                    f"LR images, below the {MIN_LR_SIDE} px least; use hr_size {MIN_LR_SIDE * scale} or more"
                )
        if "lpips" in self.metrics and self.quality.lpips is None:
            raise ValueError(
                "metrics lists lpips, which needs its weights: add `quality: {lpips: {backbone: "
                "alexnet-owt-7be5be79.pth, linear: alex.pth}}` (torchvision's AlexNet ImageNet file and "
                "lpips/weights/v0.1/alex.pth from the lpips pip package)"
            )
        if self.quality.convention == "basicsr" and self.crop_border:
            raise ValueError("quality.convention basicsr crops each cell's scale itself; remove crop_border")
        reserved = set(REFERENCE_VARIANTS) & {m.name for m in self.sr_models}
        if reserved:
            raise ValueError(f"SR model names {sorted(reserved)} are reserved for the reference variants")
        return self

    @property
    def panel(self) -> list[tuple[str | None, ClassifierConfig]]:
        """(name, config) of each classifier: the panel's members, or the one classifier (name None)."""
        if self.classifiers:
            return [(member.name, member) for member in self.classifiers]
        return [(None, self.classifier)]

    def stored(self) -> dict:
        """The suite as a run stores it (``config.yaml``): ``classifier`` or ``classifiers``, as given."""
        unused = "classifier" if self.classifiers else "classifiers"
        return self.model_dump(mode="json", exclude={unused})

    def quality_crop(self, scale: int) -> int:
        """Pixels cropped per side before IQ metrics in a cell of ``scale`` (BasicSR crops the scale)."""
        return scale if self.quality.convention == "basicsr" else self.crop_border


def available_suites() -> dict[str, Path]:
    return {path.stem: path for directory in SUITE_DIRS for path in sorted(directory.glob("*.yaml"))}


def find_suite(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise UserError(f"Suite file not found: {path}.")
        return path
    suites = available_suites()
    if name_or_path not in suites:
        raise UserError(
            f"Unknown suite {name_or_path!r}. Available: {', '.join(sorted(suites))} (or a .yaml path)."
        )
    return suites[name_or_path]


def _deep_merge(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _section_model(model: type[BaseModel], location: tuple) -> type[BaseModel] | None:
    """The config class that holds the key at ``location`` (list indices skipped)."""
    for part in location[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        candidates = [field.annotation] if field else []
        while candidates:
            annotation = candidates.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
                break
            candidates.extend(get_args(annotation))
        else:
            return None
    return model


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        section = _section_model(Suite, error["loc"])
        valid = f" Valid keys there: {', '.join(section.model_fields)}." if section else ""
        return f"unknown key {where!r}.{valid}"
    if not error["loc"]:  # a rule over several keys: its message names them
        return f"{where}: {error['msg']}"
    return f"{where}: {error['msg']} (got {error.get('input')!r})"


def parse_suite(raw: dict, *, source: Path) -> Suite:
    try:
        return Suite.model_validate(raw)
    except ValidationError as error:
        lines = "\n  ".join(_describe(e) for e in error.errors())
        raise UserError(f"Invalid suite {source}:\n  {lines}") from None


def _absolute(path: Path | None, base: Path) -> Path | None:
    return None if path is None else (path if path.is_absolute() else (base / path).resolve())


def _resolve_paths(suite: Suite, base: Path, data_root: Path | None) -> Suite:
    """Make suite paths absolute (relative to the suite file) and apply a CLI data root."""
    data = suite.data.model_copy(
        update={
            "manifest": _absolute(suite.data.manifest, base),
            "data_root": data_root.resolve()
            if data_root is not None
            else _absolute(suite.data.data_root, base),
        }
    )
    models = [
        m.model_copy(
            update={
                "weights": _absolute(m.weights, base),
                "train": m.train
                and m.train.model_copy(update={"vgg_weights": _absolute(m.train.vgg_weights, base)}),
            }
        )
        for m in suite.sr_models
    ]
    members = suite.classifiers and [
        m.model_copy(update={"weights": _absolute(m.weights, base)}) for m in suite.classifiers
    ]
    classifier = members[0] if members else suite.classifier
    classifier = classifier.model_copy(update={"weights": _absolute(classifier.weights, base)})
    lpips = suite.quality.lpips
    quality = suite.quality.model_copy(
        update={
            "lpips": lpips
            and LpipsConfig(backbone=_absolute(lpips.backbone, base), linear=_absolute(lpips.linear, base))
        }
    )
    return suite.model_copy(
        update={
            "data": data,
            "sr_models": models,
            "classifier": classifier,
            "classifiers": members,
            "quality": quality,
        }
    )


def _where_to_get(path: Path) -> str:
    from sr_models.weights import where_to_get

    source = where_to_get(path)
    return f" Get it from {source}" if source else ""


def _check_references(suite: Suite, source: Path) -> None:
    """Names and files a suite refers to, checked before any work starts."""
    from benchmark.degradations import check_params
    from benchmark.metrics import IMAGE_QUALITY_METRICS
    from sr_models import MODELS

    for index, cell in enumerate(suite.cells):
        try:
            check_params(cell.scenario, cell.params)
        except UserError as error:
            raise UserError(f"Suite {source}: cells[{index}] ({cell.scenario}): {error}") from None
    for model in suite.sr_models:
        MODELS.check(model.model)
    for metric in suite.metrics:
        IMAGE_QUALITY_METRICS.check(metric)
    files = [("data.manifest", suite.data.manifest)]
    files += [
        (f"classifiers[{name}].weights" if name else "classifier.weights", config.weights)
        for name, config in suite.panel
    ]
    files += [(f"sr_models[{m.name}].weights", m.weights) for m in suite.sr_models]
    missing = [
        f"{key} file not found: {path}.{_where_to_get(path)}"
        for key, path in files
        if path and not path.is_file()
    ]
    if missing:
        raise UserError(f"Suite {source}:\n  " + "\n  ".join(missing))
    if "lpips" in suite.metrics:
        from benchmark.metrics.lpips_network import load_network

        try:
            load_network(suite.quality.lpips)  # a missing or wrong file stops the run here, not after SR
        except UserError as error:
            raise UserError(f"Suite {source}: {error}") from None
    if suite.data.manifest is not None and suite.data.data_root is None:
        raise UserError(
            f"Suite {source} reads real images: give the data root with `--data-root PATH` "
            "(the folder holding train/ and test/)."
        )


def _use_fallback(raw: dict, source: Path, data_root: Path | None, forced: bool) -> bool:
    """Whether to apply the ``fallback:`` block: forced, or no CLI data root and the suite's is absent."""
    if not raw.get("fallback"):
        if forced:
            raise UserError(f"Suite {source} has no `fallback:` block, so `--fallback` cannot apply.")
        return False
    if forced:
        return True
    suite_root = (raw.get("data") or {}).get("data_root")
    if data_root is not None or suite_root is None or (source.parent / suite_root).is_dir():
        return False
    print(
        f"Note: {source.parent / suite_root} not found; running the suite's `fallback:` block instead.",
        file=sys.stderr,
    )
    return True


def load_suite(
    name_or_path: str, *, data_root: Path | None = None, smoke: bool = False, fallback: bool = False
) -> Suite:
    """Load, validate and resolve a suite by registry name or YAML path.

    ``smoke`` deep-merges the suite's own ``smoke:`` block over it (the small end-to-end run CI does).
    ``data_root`` (from the CLI) takes precedence over the YAML's ``data.data_root``. The ``fallback:``
    block (e.g. phantoms in place of real images) is merged first when ``fallback`` is true or when
    the suite's own data root is absent and none was given.
    """
    source = find_suite(name_or_path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise UserError(f"Suite {source} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise UserError(f"Suite {source} must be a mapping of keys, got {type(raw).__name__}.")
    if _use_fallback(raw, source, data_root, fallback):
        raw = _deep_merge(raw, raw["fallback"])
    if smoke:
        if not raw.get("smoke"):
            raise UserError(f"Suite {source} has no `smoke:` block, so `--smoke` cannot shrink it.")
        raw = _deep_merge(raw, raw["smoke"])
    suite = _resolve_paths(parse_suite(raw, source=source), source.parent.resolve(), data_root)
    _check_references(suite, source)
    return suite
