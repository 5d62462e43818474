"""A run's leakage check and its sensitivity analysis (``summary.json["leakage"]``).

The classifier's training images are those of the suite's training split when the run trains it, or
those its file's sidecar or pins record (``benchmark.pipeline.training_record``) when the suite gives a file.
They are compared with the test images (``benchmark.leakage``: shared patients, near-duplicate
radiographs); an overlap refuses the run unless the suite allows it. When allowed, the headline
estimates are computed again without the test images of the shared patients and the near-duplicates
(``overlap_sensitivity``), so a reader sees how much the overlap could move them.
"""

from __future__ import annotations

import pandas as pd

from benchmark.manifest import sha256_file
from benchmark.pipeline.cache import Cache, stage_key
from benchmark.pipeline.config import ClassifierConfig, Suite
from benchmark.pipeline.dataset import Dataset
from cxr_kernel.errors import UserError


def _near_duplicates(train: pd.DataFrame, test: pd.DataFrame, cache: Cache) -> pd.DataFrame:
    """``leakage.near_duplicates``, cached by both lists' ids and contents (thumbnails of thousands of
    training images would otherwise be read again by every run)."""
    from benchmark.leakage import near_duplicates

    def listed(frame: pd.DataFrame) -> list[str]:
        return [
            f"{sha}  {image_id}" for sha, image_id in zip(frame["sha256"], frame["image_id"], strict=True)
        ]

    key = stage_key("near-duplicates", test=listed(test), train=listed(train))
    records = cache.json("near-duplicates", key, lambda: near_duplicates(test, train).to_dict("records"))
    return pd.DataFrame(records, columns=["test_image", "train_image", "distance"])


def check_run_leakage(suite: Suite, dataset: Dataset, evaluation: pd.DataFrame, cache: Cache) -> dict:
    """The summary.json record of the leakage check; ``UserError`` on an overlap the suite does not allow.

    Every classifier of a panel is checked; the record is the first classifier's (the headline tables
    are its), with ``members`` (each classifier's counts) for a panel.
    """
    if dataset.synthetic:
        return {"checked": False, "reason": "synthetic phantoms"}
    records = []
    for name, config in suite.panel:
        try:
            records.append(_classifier_leakage(config, dataset, evaluation, cache, suite.data.train_split))
        except UserError as error:
            raise UserError(f"classifiers[{name}]: {error}" if name else str(error)) from None
    if len(records) == 1:
        return records[0]
    members = [
        {
            "name": name,
            "checked": record["checked"],
            **({"reason": record["reason"]} if "reason" in record else {}),
            "shared_patients": len(record.get("patients") or []),
            "near_duplicates": len(record.get("near_duplicates") or []),
            "training_images": record.get("training_images"),
        }
        for (name, _), record in zip(suite.panel, records, strict=True)
    ]
    return {**records[0], "members": members}


def _classifier_leakage(
    config: ClassifierConfig, dataset: Dataset, evaluation: pd.DataFrame, cache: Cache, train_split: str
) -> dict:
    """One classifier's leakage record: its training images (the split, or its file's record) against
    the test images."""
    from benchmark.leakage import check_leakage

    if config.weights is None:
        train = dataset.split(train_split)
        source = {"source": "the suite's training split", "n_images": len(train)}
    else:
        from benchmark.pipeline.training_record import recorded_training

        record = recorded_training(config.weights, sha256_file(config.weights))
        if record.images is None:
            return {"checked": False, "reason": f"classifier file given; {record.note}"}
        train = record.images
        source = {"source": record.source, "n_images": len(train), "note": record.note}
    duplicates = _near_duplicates(train, evaluation, cache)
    checked = check_leakage(train, evaluation, allowed=config.allow_test_overlap, duplicates=duplicates)
    return {**checked, "training_images": source}


def overlapping_test_images(leakage: dict) -> list[str]:
    """The test images of the shared patients and the near-duplicate test images, sorted."""
    images = {i for row in leakage.get("patients") or [] for i in str(row["test_images"]).split(";") if i}
    images |= {str(row["test_image"]) for row in leakage.get("near_duplicates") or []}
    return sorted(images)


def overlap_sensitivity(
    leakage: dict, predictions: pd.DataFrame, options: dict, primary: list[str]
) -> dict | None:
    """The primary endpoints of every cell and variant (fixed threshold; AUROC) on the test images that
    share no patient with, and are no near-duplicate of, a training image; None without an overlap.

    ``options`` are ``analyze``'s (same seed, bootstrap and unit of analysis as the main tables).
    """
    from benchmark.stats.analysis import classification_table
    from benchmark.stats.records import table_records
    from benchmark.stats.schema import YOUDEN_THRESHOLD

    left_out = overlapping_test_images(leakage) if leakage.get("checked") else []
    if not left_out:
        return None
    kept = predictions[~predictions["image_id"].isin(left_out)]
    labels = kept.drop_duplicates("image_id")["label"]
    record = {
        "left_out_images": len(set(left_out) & set(predictions["image_id"])),
        "n_images": int(kept["image_id"].nunique()),
        "n_pneumonia": int((labels == 1).sum()),
        "endpoints": list(primary),
    }
    if min(record["n_pneumonia"], record["n_images"] - record["n_pneumonia"]) < 2:
        # the main tables need 2 of each class (DeLong's variance); so does this subset
        return {**record, "note": "the remaining images hold fewer than 2 of a class: no estimates"}
    table = classification_table(kept, options)
    table = table[table["metric"].isin(primary) & (table["threshold"] != YOUDEN_THRESHOLD)]
    return {**record, "classification": table_records(table.reset_index(drop=True))}
