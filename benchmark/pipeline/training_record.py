"""The training images of a given classifier file, as recorded beside it, for the leakage check.

Two records are read, each only when its sha256 of the model equals the loaded file's:

- a ``ship-classifier`` sidecar ``<weights>.json``: the manifest, data root and split it trained on and
  the sha256 of the list (``manifest.list_checksum``). The list is rebuilt from that manifest's split
  (with or without the copies the manifest declares, and the images the ship left out) and used only
  when its files reproduce the recorded checksum.
- the pins ``pins.json`` beside a pinned file: the manifest, data root and the ids of the training
  images, and their sha256; used only when the named files have exactly those checksums.

A path the record holds that does not exist here is looked for in the project's ``data_manifests/`` (a
manifest) or relative to the project (pins); nothing found, or a checksum that does not match, leaves
the training data unknown, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark import manifest as manifests
from benchmark.pipeline.config import PROJECT_DIR

PINS_FILE = "pins.json"


@dataclass(frozen=True)
class TrainingRecord:
    """``images`` (columns image_id, path (absolute), patient_id, sha256) or None when unknown;
    ``source`` the record's file name; ``note`` how the list was verified, or why it is unknown."""

    images: pd.DataFrame | None
    source: str
    note: str


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _existing(recorded, *fallbacks: Path) -> Path | None:
    """The recorded path if it exists, else the first fallback that does."""
    candidates = [Path(str(recorded))] if recorded else []
    return next((path for path in [*candidates, *fallbacks] if path.exists()), None)


def _with_checksums(rows: pd.DataFrame, data_root: Path) -> pd.DataFrame | None:
    """``rows`` (manifest rows) as image records with each file's sha256; None if a file is missing."""
    paths = [manifests.resolve_image(data_root, relative) for relative in rows["path"]]
    if not all(path.is_file() for path in paths):
        return None
    return pd.DataFrame(
        {
            "image_id": rows["path"].to_numpy(),
            "path": [str(path) for path in paths],
            "patient_id": rows["patient_id"].to_numpy(),
            "sha256": [manifests.sha256_file(path) for path in paths],
        }
    )


def _from_sidecar(sidecar: dict, name: str) -> TrainingRecord:
    data = sidecar.get("data") or {}
    train = data.get("train") or {}
    recorded = train.get("list_sha256")
    manifest_path = _existing(
        data.get("manifest"), PROJECT_DIR / "data_manifests" / Path(str(data.get("manifest") or "-")).name
    )
    data_root = _existing(data.get("data_root"))
    if not recorded or manifest_path is None or data_root is None:
        return TrainingRecord(
            None,
            name,
            f"{name} names its training list by manifest {data.get('manifest')}, data root "
            f"{data.get('data_root')} and checksum, and one of them is not found here",
        )
    table = manifests.read_manifest(manifest_path)
    split = table[table["split"] == train.get("split", "train")]
    images = _with_checksums(split, data_root)
    if images is None:
        return TrainingRecord(
            None, name, f"training images of {manifest_path.name} missing under {data_root}"
        )
    copies = set(split.loc[split[manifests.DUPLICATE_OF] != "", "path"])
    skipped = {row.get("image_id") for row in data.get("skipped_images") or []}
    for left_out, how in (
        (set(), "every row"),
        (copies, "every row but the declared copies"),
        (skipped, "every row but the images the ship skipped"),
        (copies | skipped, "every row but the declared copies and the skipped images"),
    ):
        candidate = images[~images["image_id"].isin(left_out)]
        if manifests.list_checksum(candidate) == recorded:
            return TrainingRecord(
                candidate.reset_index(drop=True),
                name,
                f"{len(candidate)} images: {how} of split {train.get('split', 'train')} of "
                f"{manifest_path.name}, whose files reproduce the list_sha256 {name} records",
            )
    return TrainingRecord(
        None,
        name,
        f"no list drawn from split {train.get('split', 'train')} of {manifest_path} under {data_root} "
        f"reproduces the list_sha256 {name} records (another copy of the data?)",
    )


def _from_pins(pins: dict, name: str) -> TrainingRecord:
    recorded = pins.get("training_images") or {}
    ids, checksums = recorded.get("ids"), sorted(recorded.get("sha256") or [])
    manifest_path = _existing(PROJECT_DIR / str(recorded.get("manifest") or "-"))
    data_root = _existing(PROJECT_DIR / str(recorded.get("data_root") or "-"))
    if not ids or manifest_path is None or data_root is None:
        return TrainingRecord(
            None, name, f"{name} records no training image ids with their manifest and data root"
        )
    table = manifests.read_manifest(manifest_path)
    rows = table[table["path"].isin(set(ids))]
    images = _with_checksums(rows, data_root) if len(rows) == len(ids) else None
    if images is None or sorted(images["sha256"]) != checksums:
        return TrainingRecord(
            None,
            name,
            f"the {len(ids)} training images {name} names are not all in {manifest_path.name} under "
            f"{data_root} with the checksums it records",
        )
    return TrainingRecord(
        images,
        name,
        f"{len(images)} images named in {name}, their files matching its checksums",
    )


def record_beside(weights: Path, sha256: Any) -> tuple[str, str, dict] | None:
    """The record beside the classifier file ``weights`` that describes the file of this sha256:
    ``("sidecar", its name, sidecar)`` when the sidecar names it as its model or as one of its exports
    (``mobilenet-v2.onnx`` beside its ``.pt``), else ``("pins", PINS_FILE, pins)`` when ``pins.json``
    lists it; None without one."""
    weights = Path(weights)
    if not weights.name:
        return None
    sidecar = _read_json(weights.with_suffix(".json"))
    exports = (sidecar or {}).get("exports") or {}
    if sidecar and (sidecar.get("model_sha256") == sha256 or exports.get(weights.name) == sha256):
        return "sidecar", weights.with_suffix(".json").name, sidecar
    pins = _read_json(weights.parent / PINS_FILE)
    if pins and ((pins.get("files") or {}).get(weights.name) or {}).get("sha256") == sha256:
        return "pins", PINS_FILE, pins
    return None


def recorded_training(weights: Path, sha256: str) -> TrainingRecord:
    """The training images recorded beside the classifier file ``weights`` (whose sha256 is given)."""
    found = record_beside(weights, sha256)
    if found is None:
        weights = Path(weights)
        return TrainingRecord(
            None,
            "",
            f"no sidecar ({weights.with_suffix('.json').name}) or {PINS_FILE} with this file's sha256 beside "
            f"{weights}: training data unknown",
        )
    kind, name, record = found
    return (_from_sidecar if kind == "sidecar" else _from_pins)(record, name)
