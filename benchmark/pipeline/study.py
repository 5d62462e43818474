"""One study end to end: suite -> images -> classifier and SR models -> per-cell evaluation -> results.

The report is drawn from the stored results by the caller (the CLI, a floor above: ``reports``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.pipeline import classifier_setup, executors, sr_setup, stages
from benchmark.pipeline import store as run_store
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.config import ClassifierConfig, Suite
from benchmark.pipeline.dataset import Dataset, load_dataset
from benchmark.pipeline.run_leakage import check_run_leakage, overlap_sensitivity
from benchmark.pipeline.store import RunStore, environment, new_run_id
from benchmark.resources import StageMeter
from benchmark.stats.flips import most_flipped
from benchmark.stats.inputs import QUALITY_INPUT_COLUMNS
from cxr_kernel import run_layout
from cxr_kernel.run_layout import safe_name
from cxr_kernel.run_summary import (
    CellRecord,
    ClassifierRecord,
    ImageCounts,
    LpipsWeights,
    RunSummary,
    SkippedImages,
    Throughput,
    TrainingHistory,
)
from cxr_kernel.variants import HR


@dataclass
class RunOptions:
    runs_dir: Path = Path("runs")
    cache_dir: Path | None = None  # default: <runs_dir>/.cache, shared by every run
    run_id: str | None = None
    device: str | None = None
    progress: bool = True
    on_bad_image: str = "fail"  # or "skip": leave bad images out, recorded in skipped_images.csv
    executor: str = "local"  # or "ray": where the grid of cell x SR model x image shard is computed
    workers: int = 1  # local processes; 1 computes everything in this process
    overwrite: bool = False  # clear a run directory holding another config instead of refusing
    stage_log: bool = False  # print one line per stage (and cell) to stdout, e.g. into a log file


@dataclass
class Member:
    """One classifier of the run at one training seed: a panel member (``name``; None for the suite's
    one classifier) at its primary seed, or at a further one (``classifier: {seeds: K}``)."""

    name: str | None
    seed: int
    classifier: object
    sha256: str
    info: ClassifierRecord  # where it came from: summary.json's ``classifier`` record
    resampled: bool  # trained on a patient bootstrap resample (``bootstrap_train``)


@dataclass
class _Collected:
    predictions: list[pd.DataFrame] = field(default_factory=list)
    member_predictions: dict[int, list[pd.DataFrame]] = field(default_factory=dict)  # by member
    quality: list[pd.DataFrame] = field(default_factory=list)
    throughput: list[Throughput] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)


@dataclass
class _Analysis:
    """What ``Study.analyse`` found, for the summary."""

    variants: list[str]  # in the order the predictions name them
    statistics: dict  # the design record (benchmark.stats.design)
    leakage: dict  # the leakage check, with its sensitivity analysis when it found an overlap
    tables: dict[str, pd.DataFrame]
    across: dict  # "seeds" and / or "panel" when the run has more than one classifier member


def most_flipped_positions(
    probabilities: dict[str, np.ndarray], threshold: float, image_ids: list[str]
) -> list[int]:
    """Positions of images whose predicted class differs from HR's for some variant, in the order of
    ``benchmark.stats.flips.most_flipped`` (most variants first, ties by image id).

    Chooses which images the report shows as flipped examples; the flip statistics are in benchmark.stats.
    """
    hr = np.asarray(probabilities[HR]) >= threshold
    counts = np.zeros(hr.size, dtype=int)
    for name, p in probabilities.items():
        if name != HR:
            counts += (np.asarray(p) >= threshold) != hr
    position = {image_id: i for i, image_id in enumerate(image_ids)}
    ranked = most_flipped({image_id: int(n) for image_id, n in zip(image_ids, counts, strict=True)})
    return [position[image_id] for image_id, _ in ranked]


def _example_stem(image_id: str) -> str:
    """A file-name stem unique to ``image_id``: its safe spelling and a short hash of the id itself
    (``x y.jpeg`` and ``x_y.jpeg`` spell the same, and once overwrote each other's strips)."""
    return f"{safe_name(image_id)}-{hashlib.sha256(image_id.encode()).hexdigest()[:8]}"


class Study:
    """Runs one suite into one run directory; every expensive step goes through the shared cache."""

    def __init__(self, suite: Suite, options: RunOptions):
        self.suite, self.options = suite, options
        self.cache = Cache(options.cache_dir or Path(options.runs_dir) / ".cache")
        self.device = options.device or _default_device()
        run_id = run_store.check_run_id(options.run_id) if options.run_id is not None else new_run_id(suite)
        self.directory = Path(options.runs_dir) / safe_name(suite.name) / run_id
        run_store.check_run_directory(self.directory, options.runs_dir, suite, overwrite=options.overwrite)
        self.run_id = run_id
        self.store = RunStore(self.directory)  # writes nothing until the run (or pinning) does

    # -- inputs -------------------------------------------------------------------------------------
    def hr_images(self, table: pd.DataFrame) -> stages.Images:
        return stages.load_hr(table, self.suite.data.hr_size, self.cache, progress=self.options.progress)

    @staticmethod
    def alternating_classes(table: pd.DataFrame, count: int) -> pd.DataFrame:
        """The first ``count`` rows taking the classes in turn, so both are represented."""
        return table.loc[
            table.groupby("label", sort=False).cumcount().sort_values(kind="stable").index[:count]
        ]

    def load_classifier(
        self,
        dataset: Dataset,
        config: ClassifierConfig | None = None,
        seed: int | None = None,
        folder: str = run_layout.classifier_folder(None, None),
        resample: bool = False,
    ):
        """A classifier of the suite (``config``, default the first) given, or trained through the cache
        with training ``seed`` (default the suite's), and its provenance; its history and training
        images are copied to ``folder``. ``resample`` trains on a patient bootstrap resample."""
        from classifiers import history_path

        config = config or self.suite.classifier
        seed = self.suite.seed if seed is None else seed
        train = dataset.split(self.suite.data.train_split)
        if resample:
            train = classifier_setup.bootstrap_training_split(train, seed)
        path = classifier_setup.classifier_file(
            config, train, seed=seed, cache=self.cache, progress=self.options.progress
        )
        history, history_csv = history_path(path), f"{folder}/{run_layout.HISTORY}"
        if history.is_file():
            self.store.copy_file(history, history_csv)
        trained_on = classifier_setup.training_list(config, train, seed=seed)
        train_images_csv = f"{folder}/{run_layout.TRAIN_IMAGES}"
        if trained_on is not None:
            self.store.write_csv(train_images_csv, trained_on)
        classifier = classifier_setup.load_classifier(config, path)
        return classifier, ClassifierRecord(
            source="file" if config.weights else "trained",
            path=str(path),
            sha256=classifier.identity,
            classifier=classifier.describe(),
            history_csv=history_csv if history.is_file() else None,
            train_images_csv=train_images_csv if trained_on is not None else None,
        )

    def members(self, dataset: Dataset) -> list[Member]:
        """Every classifier at every training seed: each panel member (or the one classifier) at the
        suite's seed, then its further seeds (``seeds: K``); the first is the primary analysis's."""
        members = []
        for index, (name, config) in enumerate(self.suite.panel):
            folder_name = None if index == 0 else name
            seeds = classifier_setup.training_seeds(config, self.suite.seed)
            for position, seed in enumerate(seeds):
                folder = run_layout.classifier_folder(folder_name, seed if position else None)
                resample = config.bootstrap_train and position > 0
                classifier, info = self.load_classifier(dataset, config, seed, folder, resample)
                members.append(Member(name, seed, classifier, info.sha256, info, resample))
        return members

    def load_upscalers(self, dataset: Dataset, scale: int, training: list[TrainingHistory]) -> dict:
        """name -> (upscaler, executors.ModelSpec) for every SR model of the suite at ``scale``."""
        train = dataset.split(self.suite.data.train_split)
        upscalers = {}
        for entry in self.suite.sr_models:
            if entry.scales is not None and scale not in entry.scales:
                continue
            weights = entry.weights
            if entry.train is not None:
                subset = self.alternating_classes(train, entry.train.max_images)
                weights = sr_setup.trained_weights(
                    entry,
                    scale,
                    hr_keys=stages.hr_keys(subset["sha256"], self.suite.data.hr_size),
                    load_images=lambda subset=subset: np.asarray(self.hr_images(subset).pixels),
                    seed=self.suite.seed,
                    cache=self.cache,
                    device=self.device,
                    progress=self.options.progress,
                )
                name, history = f"{entry.name}-x{scale}", sr_setup.training_history(weights)
                if history is not None:
                    self.store.copy_file(history, run_layout.training_history(name))
                    if not any(t.model == name for t in training):
                        training.append(
                            TrainingHistory(model=name, history_csv=run_layout.training_history(name))
                        )
            model_key = sr_setup.model_key(entry, scale, weights, self.device)
            spec = executors.ModelSpec(entry, scale, weights, self.device, model_key)
            upscalers[entry.name] = (sr_setup.prepare_upscaler(entry, scale, weights, self.device), spec)
        return upscalers

    # -- evaluation ---------------------------------------------------------------------------------
    def _examples(
        self,
        cell_label: str,
        table: pd.DataFrame,
        variants: list[stages.Images],
        flipped: list[int],
        heat_maps: dict[str, np.ndarray],
    ) -> list[dict]:
        """Image strips (HR, LR, each SR) for the first images of each class and the most flipped ones,
        each image with its Grad-CAM map (``heat_maps``: variant name -> (N, h, w) maps in [0, 1])."""
        first = self.alternating_classes(table, self.suite.examples_per_cell).index
        chosen = list(dict.fromkeys([*first, *flipped[: self.suite.examples_per_cell]]))
        entries = []
        for index in chosen:
            images, heat = {}, {}
            for variant in variants:
                image_id, name = _example_stem(table.at[index, "image_id"]), safe_name(variant.name)
                stem = f"examples/{safe_name(cell_label)}/{image_id}__{name}"
                images[variant.name] = self.store.write_png(f"{stem}.png", variant.pixels[index])
                if variant.name in heat_maps:
                    heat[variant.name] = self.store.write_png(
                        f"{stem}__gradcam.png", heat_maps[variant.name][index]
                    )
            entries.append(
                {
                    "cell": cell_label,
                    "image_id": table.at[index, "image_id"],
                    "label": int(table.at[index, "label"]),
                    "images": images,
                    "gradcam": heat,
                }
            )
        return entries

    def _evaluate_cell(self, cell, hr, table, upscalers, members: list[Member], out: _Collected) -> None:
        """Degrade, upscale and measure one cell, and classify every variant with every member."""
        progress = self.options.progress
        lr = stages.degrade_cell(hr, cell, self.suite.seed, self.cache, progress=progress)
        upscaled = []
        plan = stages.QualityPlan.of(self.suite, cell.scale)
        for name, (upscaler, spec) in upscalers.items():
            sr, measured = stages.super_resolve(
                hr,
                lr,
                name,
                upscaler,
                spec.key,
                plan,
                self.cache,
                progress=progress,
                image_ids=list(table["image_id"]),
            )
            out.quality.append(measured.assign(cell=cell.label))
            out.throughput.append(
                Throughput(
                    cell=cell.label,
                    variant=name,
                    device=self.device,
                    images_per_s=stages.throughput(upscaler, lr),
                )
            )
            upscaled.append(sr)
        for index in range(len(members)):
            self._classify(cell, table, hr, lr, upscaled, members, index, out)

    def _classify(self, cell, table, hr, lr, upscaled, members: list[Member], index: int, out) -> None:
        """P(pneumonia) of every variant of one cell by ``members[index]``; the first member's are the
        primary analysis's, with Grad-CAM similarity to HR and the example strips."""
        member, primary = members[index], index == 0
        # the LR images are shown to each classifier resized straight to its own input size
        shown = [hr, *stages.display_lr(lr, member.classifier.input_size), *upscaled]
        explains = primary and member.classifier.explains
        predicted = {}
        for variant in shown:
            if explains and variant is not hr:
                similarity = stages.gradcam_similarity(
                    member.classifier, member.sha256, hr, variant, self.cache
                )
                out.quality.append(similarity.assign(cell=cell.label))
            probabilities = stages.predict(member.classifier, member.sha256, variant, self.cache)
            predicted[variant.name] = probabilities
            rows = pd.DataFrame(
                {
                    "cell": cell.label,
                    "variant": variant.name,
                    "image_id": table["image_id"],
                    "label": table["label"].to_numpy(),
                    "prob": probabilities,
                }
            )
            if primary:
                out.predictions.append(rows)
            if len(members) > 1:
                rows = rows.assign(classifier=member.name, seed=member.seed)
                out.member_predictions.setdefault(index, []).append(rows)
        if primary:
            flipped = most_flipped_positions(predicted, self.suite.stats.threshold, list(table["image_id"]))
            heat_maps = {
                v.name: stages.gradcam_maps(member.classifier, member.sha256, v, self.cache)
                for v in (shown if explains else [])
            }
            out.examples += self._examples(cell.label, table, shown, flipped, heat_maps)

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> Path:
        """The study: check the suite, read the images, load or train the models, evaluate every cell,
        analyse, and record it all in the run directory; returns the directory."""
        meter = StageMeter(log=_log_line if self.options.stage_log else None)
        self.check_inputs()
        meter.lap("images: manifest, checks, leakage")
        dataset = self.dataset()
        evaluation = dataset.split(self.suite.data.eval_split)
        leakage = check_run_leakage(self.suite, dataset, evaluation, self.cache)
        self.start_directory(dataset)  # only now that nothing above refused the run
        meter.lap("classifier: load or train")
        members = self.members(dataset)
        meter.lap("HR references")
        hr = self.hr_images(evaluation)
        meter.lap("SR models: load or train")
        training: list[TrainingHistory] = []
        upscalers = self.upscalers_by_scale(dataset, training)
        collected = self.evaluate(hr, evaluation, upscalers, members, meter)
        meter.lap("statistics and tables")
        analysis = self.analyse(collected, dataset, evaluation, leakage, members)
        self.store.write_json(run_layout.RESOURCES, meter.as_dict())
        self.store.write_summary(self.summary(dataset, evaluation, analysis, collected, training, members))
        return self.store.directory

    def check_inputs(self) -> None:
        """Refuse what can be known wrong before any work: training recipes, given SR weights and
        classifier files (each ``UserError`` names the file or key and the fix)."""
        self.cache.remove_stale_temporaries()
        sr_setup.check_training_configs(self.suite.sr_models)
        sr_setup.check_given_weights(self.suite.sr_models, [cell.scale for cell in self.suite.cells])
        for _, config in self.suite.panel:
            if config.weights is not None:
                classifier_setup.check_given_classifier(config)
            else:
                classifier_setup.training_recipe(config.train, config.type)  # unknown keys raise here

    def dataset(self) -> Dataset:
        """The suite's images: manifest read, checked and screened (bad images by ``on_bad_image``)."""
        return load_dataset(
            self.suite.data,
            seed=self.suite.seed,
            cache=self.cache,
            progress=self.options.progress,
            on_bad_image=self.options.on_bad_image,
            min_side=self.suite.data.hr_size // min(cell.scale for cell in self.suite.cells),
        )

    def start_directory(self, dataset: Dataset) -> None:
        """Clear what an earlier run left (a refusal before this leaves the directory as it was) and
        record the config, the environment, the skipped images and the images' checksums."""
        run_store.clear_run_directory(self.directory)
        self.store.write_config(self.suite)
        self.store.write_json(run_layout.ENVIRONMENT, environment(self.suite, self.device))
        if not dataset.skipped.empty:
            self.store.write_csv(run_layout.SKIPPED_IMAGES, dataset.skipped)
        self.store.write_checksums(dataset.images)

    def upscalers_by_scale(self, dataset: Dataset, training: list[TrainingHistory]) -> dict[int, dict]:
        """scale -> ``load_upscalers`` for every scale of the suite's cells, in cell order."""
        scales = dict.fromkeys(cell.scale for cell in self.suite.cells)
        return {scale: self.load_upscalers(dataset, scale, training) for scale in scales}

    def evaluate(
        self, hr, evaluation: pd.DataFrame, upscalers: dict, members: list[Member], meter
    ) -> _Collected:
        """Every cell degraded, upscaled, measured and classified; the grid of cell x SR model x image
        shard is first computed into the cache by the executor when the run has one."""
        if self.options.executor != "local" or self.options.workers > 1:
            meter.lap(f"grid on the {self.options.executor} executor")
            executors.fill_cache(
                self.suite,
                hr,
                {scale: {n: spec for n, (_, spec) in ups.items()} for scale, ups in upscalers.items()},
                self.cache,
                image_ids=list(evaluation["image_id"]),
                executor=self.options.executor,
                workers=self.options.workers,
                progress=self.options.progress,
            )
        collected = _Collected()
        for cell in self.suite.cells:
            meter.lap(f"cell {cell.label}: degrade, upscale, quality, classify")
            self._evaluate_cell(cell, hr, evaluation, upscalers[cell.scale], members, collected)
        return collected

    def analyse(
        self,
        collected: _Collected,
        dataset: Dataset,
        evaluation: pd.DataFrame,
        leakage: dict,
        members: list[Member],
    ) -> _Analysis:
        """The per-image results and predictions stored, and the statistics of the primary classifier,
        of the leakage sensitivity analysis and of every further member."""
        from benchmark.stats.analysis import analyze
        from benchmark.stats.design import analysis_options
        from benchmark.stats.schema import tidy_results

        index = evaluation.reset_index()[["index", "image_id"]].rename(columns={"index": "image_index"})
        quality = pd.concat(collected.quality).merge(index, on="image_index").drop(columns="image_index")
        quality = quality[list(QUALITY_INPUT_COLUMNS)]
        predictions = pd.concat(collected.predictions, ignore_index=True)
        self.store.write_results(tidy_results(self.run_id, quality, predictions))
        self.store.write_table(run_layout.PREDICTIONS, predictions)
        options, statistics = analysis_options(
            self.suite.stats, evaluation, self.suite.seed, synthetic=dataset.synthetic
        )
        tables = analyze(quality, predictions, **options)
        sensitivity = overlap_sensitivity(leakage, predictions, options, list(self.suite.stats.primary))
        if sensitivity is not None:
            leakage["sensitivity"] = sensitivity
        self.store.write_json(run_layout.EXAMPLES_INDEX, collected.examples)
        across = (
            self._member_analysis(collected.member_predictions, tables, options, members)
            if len(members) > 1
            else {}
        )
        return _Analysis(list(dict.fromkeys(predictions["variant"])), statistics, leakage, tables, across)

    def summary(
        self,
        dataset: Dataset,
        evaluation: pd.DataFrame,
        analysis: _Analysis,
        collected: _Collected,
        training: list[TrainingHistory],
        members: list[Member],
    ) -> RunSummary:
        """The run's record (summary.json; ``RunStore.write_summary`` adds the files' checksums)."""
        from benchmark.metrics import run_records
        from benchmark.stats.records import table_records

        suite = self.suite
        return RunSummary(
            suite=suite.name,
            run_id=self.run_id,
            created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            synthetic_data=dataset.synthetic,
            data_note=dataset.note,
            n_images=ImageCounts(eval=len(evaluation), train=len(dataset.split(suite.data.train_split))),
            skipped_images=SkippedImages(
                policy=self.options.on_bad_image,
                count=len(dataset.skipped),
                by_reason=dataset.skipped["reason"].value_counts().to_dict(),
            ),
            declared_duplicates=dataset.duplicates.to_dict("records"),
            cells=[
                CellRecord(cell=c.label, scenario=c.scenario, scale=c.scale, params=c.params)
                for c in suite.cells
            ],
            variants=analysis.variants,
            statistics=analysis.statistics,
            leakage=analysis.leakage,
            tables={name: table_records(table) for name, table in analysis.tables.items()},
            throughput=collected.throughput,
            training=training,
            classifier=members[0].info,
            lpips_weights=_lpips_provenance(suite),
            metric_specs=run_records(suite.metrics),
            **analysis.across,
        )

    def _member_analysis(self, frames, tables, options, members: list[Member]) -> dict:
        """Every further member's analysis, compared: ``seeds`` (the first classifier's training seeds,
        ``classifier: {seeds: K}``) and ``panel`` (the classifiers of ``classifiers: [...]``, each at
        its primary seed, with its own tables and seeds); the predictions go to
        ``predictions_seeds.parquet`` (one classifier) or ``predictions_panel.parquet`` (a panel)."""
        from benchmark.stats.agreement import agreement_summary, classifier_panel, seed_summary
        from benchmark.stats.analysis import analyze
        from benchmark.stats.records import table_records

        frame = pd.concat([rows for index in sorted(frames) for rows in frames[index]], ignore_index=True)
        panel = self.suite.classifiers is not None
        predictions = run_layout.PANEL_PREDICTIONS if panel else run_layout.SEED_PREDICTIONS
        self.store.write_table(predictions, frame if panel else frame.drop(columns="classifier"))
        no_quality = pd.DataFrame(columns=list(QUALITY_INPUT_COLUMNS))
        groups: dict[str | None, list[tuple[Member, dict]]] = {}
        for index, member in enumerate(members):
            if index == 0:
                analysis = tables
            else:
                rows = pd.concat(frames[index], ignore_index=True).drop(columns=["classifier", "seed"])
                analysis = analyze(no_quality, rows, **options)
            groups.setdefault(member.name, []).append((member, analysis))
        confidence = options["confidence"]
        records = []
        for name, group in groups.items():
            first = group[0][0]
            record = {"name": name, **first.info.model_dump(exclude_unset=True)}
            if len(group) > 1:
                seeds = seed_summary(
                    [m.seed for m, _ in group],
                    [analysis for _, analysis in group],
                    confidence=confidence,
                    classifiers=[
                        {
                            "seed": m.seed,
                            "bootstrap_train": m.resampled,
                            **m.info.model_dump(exclude_unset=True),
                        }
                        for m, _ in group
                    ],
                )
                resampled = any(m.resampled for m, _ in group)
                record["seeds"] = {**seeds, "bootstrap_train": resampled, "predictions": predictions}
            if first is not members[0]:
                record["tables"] = {key: table_records(t) for key, t in group[0][1].items()}
            records.append(record)
        # the first classifier's seeds and tables stay where a run of one classifier keeps them
        out = {"seeds": records[0].pop("seeds")} if "seeds" in records[0] else {}
        if len(groups) > 1:
            compared = agreement_summary(
                classifier_panel(list(groups)),
                [group[0][1] for group in groups.values()],
                confidence=confidence,
            )
            out["panel"] = {**compared, "members": records, "predictions": predictions}
        return out


def _log_line(text: str) -> None:
    print(text, flush=True)


def _default_device() -> str:
    """``sr_models.inference.default_device``, imported when a study starts (it imports torch)."""
    from sr_models.inference import default_device

    return default_device()


def _lpips_provenance(suite: Suite) -> LpipsWeights | None:
    """The LPIPS weight files and their sha256 when the suite measures LPIPS (else None)."""
    weights = suite.quality.lpips
    if "lpips" not in suite.metrics or weights is None:
        return None
    from benchmark.metrics.lpips_network import weights_sha256

    return LpipsWeights(
        backbone=str(weights.backbone), linear=str(weights.linear), sha256=weights_sha256(weights)
    )


def run_suite(suite: Suite, options: RunOptions) -> Path:
    """Run ``suite``; returns the run directory (``reports.render_run`` draws its report)."""
    return Study(suite, options).run()
