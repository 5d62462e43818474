"""The images a run uses: a verified manifest of real images, or a generated set of synthetic phantoms."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark import manifest as manifests
from benchmark.phantoms import write_phantom_set
from benchmark.pipeline.cache import Cache, stage_key
from benchmark.pipeline.config import DataConfig
from benchmark.pipeline.screening import (
    DECLARED_COLUMNS,
    SKIPPED_COLUMNS,
    apply_policy,
    declared_duplicates,
    declared_note,
    screen,
    skip_note,
)


@dataclass(frozen=True)
class Dataset:
    """``images`` columns: image_id, path (absolute), label (0/1), split, sha256, patient_id.

    ``skipped``: the bad images left out under ``--on-bad-image skip`` (columns image_id, split, reason,
    detail). ``duplicates``: the copies the manifest declares (``duplicate_of``), left out (columns
    image_id, split, duplicate_of).
    """

    images: pd.DataFrame
    synthetic: bool
    note: str
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIPPED_COLUMNS))
    duplicates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DECLARED_COLUMNS))

    def split(self, name: str) -> pd.DataFrame:
        return self.images[self.images["split"] == name].reset_index(drop=True)


def _phantom_manifest(
    config: DataConfig, seed: int, cache: Cache, progress: bool
) -> tuple[pd.DataFrame, Path]:
    phantoms = config.phantoms
    per_split = {"train": phantoms.train_per_class, "test": phantoms.test_per_class}
    key = stage_key("phantoms", per_split=per_split, size=phantoms.size, seed=seed)
    root = cache.root / "phantoms" / key
    manifest_path = root / "manifest.csv"
    if _phantom_problem(cache, manifest_path) is not None:
        with cache.lock("phantoms", key):  # set aside only under the lock: a writer may be sealing
            if not _phantoms_intact(cache, manifest_path):
                write_phantom_set(root, per_class=per_split, size=phantoms.size, seed=seed)
                manifests.write_manifest(manifests.build_manifest(root, progress=progress), manifest_path)
                cache.seal(manifest_path)
    return manifests.read_manifest(manifest_path), root


def _phantom_problem(cache: Cache, manifest_path: Path) -> str | None:
    """Why a generated phantom set cannot be used (missing, its manifest unsealed or changed, an image
    not matching the manifest's sha256), or None."""
    if not manifest_path.is_file():
        return "missing"
    problem = cache.checksum_problem(manifest_path)
    if problem is None:
        table = manifests.read_manifest(manifest_path)
        _, bad = manifests.file_problems(table, manifest_path.parent, progress=False)
        problem = f"{len(bad)} image(s) changed or missing" if bad else None
    return problem


def _phantoms_intact(cache: Cache, manifest_path: Path) -> bool:
    """Whether the phantom set is usable; a damaged one is set aside whole, to be generated again."""
    problem = _phantom_problem(cache, manifest_path)
    if problem not in (None, "missing"):
        cache.set_aside(manifest_path.parent, f"phantom set: {problem}")
    return problem is None


def _hash_rank(texts: pd.Series) -> pd.Series:
    """A pseudo-random but fixed rank of each text: the first 8 bytes of its sha256, as an integer."""
    return texts.map(lambda text: int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def _keep(table: pd.DataFrame, split: str, chosen: pd.Index) -> pd.DataFrame:
    """All rows outside ``split`` and the ``chosen`` rows of it, in manifest order."""
    return table[(table["split"] != split) | table.index.isin(chosen)]


def _eval_subset(table: pd.DataFrame, split: str, per_class: int | None) -> pd.DataFrame:
    """Keep the first ``per_class`` images of each label in ``split`` by relative path, all of the rest.

    Fixed (no seed: every seed of a study is scored on the same images) and independent of the
    manifest's row order; removing an image that was not kept changes nothing. Manifests written by
    ``manifest build`` are in path order, so this is also their first rows.
    """
    if per_class is None:
        return table
    rows = table[table["split"] == split].sort_values(["label", "path"])
    return _keep(table, split, rows.groupby("label", sort=False).head(per_class).index)


def _train_subset(table: pd.DataFrame, split: str, per_class: int | None, seed: int) -> pd.DataFrame:
    """Keep a seeded random subset of ``per_class`` images of each label in ``split``, drawn by patient.

    Per label, patients are taken in a random order (rank: sha256 of seed, label and patient id) with
    all their images, until ``per_class`` images are reached; of the last patient only the images
    needed, again in a random order (sha256 of seed and path). Rows are identified by content, not
    position: the subset does not depend on the manifest's row order, and removing a row changes it
    only where that row was chosen.
    """
    if per_class is None:
        return table
    rows = table[table["split"] == split]
    prefix = f"train:{seed}:"
    ranked = rows.assign(
        _patient=_hash_rank(prefix + rows["label"].astype(str) + ":" + rows["patient_id"].astype(str)),
        _image=_hash_rank(prefix + rows["path"]),
    ).sort_values(["label", "_patient", "_image"])
    return _keep(table, split, ranked.groupby("label", sort=False).head(per_class).index)


def load_dataset(
    config: DataConfig,
    *,
    seed: int,
    cache: Cache,
    progress: bool = True,
    on_bad_image: str = "fail",
    min_side: int = 16,
) -> Dataset:
    """Resolve, subset, verify (sha256) and screen the images of a suite.

    ``max_eval_per_class`` keeps a fixed set of evaluation images (see ``_eval_subset``),
    ``max_train_per_class`` a random set of training patients seeded by ``seed`` (``_train_subset``).

    Bad images (missing, changed, unreadable, colour, smaller than ``min_side``, repeated...) raise one
    ``UserError`` listing them all, or with ``on_bad_image="skip"`` are left out and returned in
    ``Dataset.skipped``. Copies the manifest declares (``duplicate_of``) are left out before the subsets
    are drawn, checked byte-identical to their kept copy and returned in ``Dataset.duplicates``.
    """
    if config.phantoms is not None:
        table, root = _phantom_manifest(config, seed, cache, progress)
        synthetic, note = (
            True,
            "Synthetic chest-radiograph phantoms generated by benchmark.phantoms (no patient data).",
        )
    else:
        table, root = manifests.read_manifest(config.manifest), config.data_root
        synthetic, note = False, f"Images from {config.manifest.name} under {root}."
    splits = {config.eval_split, config.train_split}
    is_copy = table[manifests.DUPLICATE_OF] != ""
    declared, table = table[is_copy & table["split"].isin(splits)], table[~is_copy]
    table = _eval_subset(table, config.eval_split, config.max_eval_per_class)
    table = _train_subset(table, config.train_split, config.max_train_per_class, seed)
    table = table[table["split"].isin(splits)]
    table, problems = screen(
        table, root, min_side=min_side, cache=cache, eval_split=config.eval_split, progress=progress
    )
    duplicates = declared_duplicates(declared, table, root)
    table = apply_policy(table, problems, on_bad_image, root)
    images = pd.DataFrame(
        {
            "image_id": table["path"],
            "path": [str(manifests.resolve_image(root, p)) for p in table["path"]],
            "label": table["label"].map(manifests.LABELS).astype(int),
            "split": table["split"],
            "sha256": table["sha256"],
            "patient_id": table["patient_id"],
        }
    )
    return Dataset(
        images=images,
        synthetic=synthetic,
        note=note + declared_note(duplicates, config.eval_split) + skip_note(problems),
        skipped=problems[SKIPPED_COLUMNS],
        duplicates=duplicates,
    )
