"""The files of a run directory ``runs/<suite>/<run-id>/``, named once.

The pipeline writes them (``benchmark.pipeline.study``, ``benchmark.pipeline.store``), the report, the
regression check and the perf probes read them; all use these names. Paths are relative to the run directory.
"""

from __future__ import annotations

import re

#: The run's results and statistics (the only file the report requires).
SUMMARY = "summary.json"
#: The suite as run (every default filled in).
CONFIG = "config.yaml"
#: Library versions, device and commit of the run.
ENVIRONMENT = "environment.json"
#: sha256 of every image the run read, one ``<sha256>  <image_id>`` line each.
MANIFEST = "manifest.sha256"
#: The tidy per-image results (``benchmark.stats.schema``).
RESULTS = "results.parquet"
#: P(pneumonia) and label per cell, variant and image.
PREDICTIONS = "predictions.parquet"
#: The flipped-image examples the report shows.
EXAMPLES_INDEX = "examples/index.json"
#: Images left out under ``--on-bad-image skip``, with the reason.
SKIPPED_IMAGES = "skipped_images.csv"
#: Optional timings written by ``perf``.
PERF = "perf.json"
#: A training's per-epoch history and the images it trained on, in every folder that keeps them (a
#: run's classifier folders, ``train-classifier --out``, an SR training's work folder).
HISTORY = "history.csv"
TRAIN_IMAGES = "train_images.csv"
#: The classifier's training history and training images, when the run trained it.
CLASSIFIER_HISTORY = f"classifier/{HISTORY}"
TRAIN_IMAGES_CSV = f"classifier/{TRAIN_IMAGES}"
#: With ``classifier: {seeds: K}``: every seed's P(pneumonia) (the primary seed's too); each further
#: seed's training history and images are in ``classifier_folder(None, seed)``.
SEED_PREDICTIONS = "predictions_seeds.parquet"
#: With ``classifiers: [...]`` (a panel): every member's (and training seed's) P(pneumonia), columns
#: ``classifier`` and ``seed``; the first member's files are the one classifier's (above), each further
#: member's under its own folder.
PANEL_PREDICTIONS = "predictions_panel.parquet"
PANEL_FOLDER = "classifiers/{name}"
#: Wall time and peak RSS of each stage of the run (``benchmark.resources``).
RESOURCES = "resources.json"
#: What ``reports`` draws: the page, its figures and the paper-ready tables.
REPORT = "report.html"
FIGURES_DIR = "figures"
TABLES_DIR = "tables"


def classifier_folder(member: str | None, seed: int | None) -> str:
    """The folder of a classifier's training history and images: the first (or only) classifier's
    (``member`` None) or a further panel member's, at its primary training seed (``seed`` None) or at a
    further one."""
    base = "classifier" if member is None else PANEL_FOLDER.format(name=member)
    return base if seed is None else f"{base}/seed-{seed}"


def training_history(model: str) -> str:
    """The training history of SR model ``model`` when the run trained it."""
    return f"training/{model}/{HISTORY}"


def safe_name(text: str) -> str:
    """``text`` as one file or folder name: every run of other characters than letters, digits, ``.``,
    ``_`` and ``-`` becomes ``_`` (suite, cell, variant and image names in a run directory)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


#: The key of ``summary.json`` recording every other file the run wrote: relative path -> sha256
#: (``cxr_kernel.run_files``), so a file of another run is refused when the directory is read.
FILES_RECORD = "files"
#: ``compare``'s pages beside other runs (``comparison``).
COMPARISONS_DIR = "comparisons"
#: Written into a run directory after the run by other commands (the report, ``perf --out``,
#: ``compare``), hence never recorded and never refused; folders cover everything under them.
AFTER_THE_RUN = (REPORT, PERF, FIGURES_DIR, TABLES_DIR, COMPARISONS_DIR)


def comparison(suite: str, run_id: str) -> str:
    """``compare``'s default page of a run beside run ``run_id`` of ``suite``."""
    return f"{COMPARISONS_DIR}/{safe_name(suite)}_{safe_name(run_id)}.html"
