"""The facts at the top of a report: what data, which code, which environment, which seeds, how long."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from cxr_kernel.variants import HR
from reports.formatting import fmt_label
from reports.provenance import (
    ClassifierProvenance,
    declared_copies_text,
    leakage_text,
    training_description,
)
from reports.rundir import RunData

PACKAGES_SHOWN = ("torch", "tensorflow", "tensorflow-cpu", "keras", "numpy", "scikit-learn", "statsmodels")


def class_counts(run: RunData) -> dict[str, int]:
    """Test images per class, counted from the HR rows of the stored predictions (first cell)."""
    predictions = run.predictions
    if predictions is None or predictions.empty:
        return {}
    first = predictions[predictions["cell"] == predictions["cell"].iloc[0]]
    rows = first[first["variant"] == HR] if (first["variant"] == HR).any() else first
    counts = rows.drop_duplicates("image_id")["label"].value_counts().sort_index()
    return {fmt_label(label): int(n) for label, n in counts.items()}


def _duration(started: Any, finished: Any) -> str:
    try:
        seconds = (
            dt.datetime.fromisoformat(str(finished)) - dt.datetime.fromisoformat(str(started))
        ).total_seconds()
    except ValueError:
        return ""
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def _seeds(run: RunData) -> str:
    seeds = {}
    if run.config_text:
        try:
            config = yaml.safe_load(run.config_text)
        except yaml.YAMLError:
            config = None
        if isinstance(config, dict) and config.get("seed") is not None:
            seeds["suite"] = config["seed"]
    environment = run.environment or {}
    if environment.get("seed") is not None and environment["seed"] != seeds.get("suite"):
        seeds["environment"] = environment["seed"]
    return ", ".join(f"{k} {v}" for k, v in seeds.items())


def _test_set(run: RunData) -> str:
    """`11 images of 11 patients (8 normal, 3 pneumonia), split test of <manifest>`."""
    counts = class_counts(run)
    statistics = run.summary.statistics or {}
    total = sum(counts.values()) or run.summary.n_eval
    if not total:
        return ""
    patients = statistics.get("n_patients") if statistics.get("unit_of_analysis") == "patient" else None
    text = f"{total} images" + (f" of {patients} patients" if patients else "")
    if counts:
        text += f" ({', '.join(f'{n} {label}' for label, n in counts.items())})"
    try:
        data = (yaml.safe_load(run.config_text or "") or {}).get("data") or {}
    except (yaml.YAMLError, AttributeError):
        data = {}
    if data.get("manifest"):
        text += f", split {data.get('eval_split', 'test')} of {data['manifest']}"
    skipped = run.summary.skipped_images.count if run.summary.skipped_images else None
    text += f"; {skipped} images skipped (skipped_images.csv)" if skipped else ""
    copies = declared_copies_text(run.summary, data.get("eval_split", "test"))
    return text + (f". {copies}" if copies else "")


def header_facts(run: RunData, provenance: ClassifierProvenance | None = None) -> list[tuple[str, str]]:
    """(label, text) pairs for the header; facts the run did not record are left out."""
    summary, environment = run.summary, run.environment or {}
    facts = [
        ("Suite", f"{summary.suite} · run {summary.run_id}"),
        ("Date", str(summary.created or "")),
        ("Test set", _test_set(run)),
    ]
    if provenance is not None:
        facts.append(("Classifier training", f"{provenance.origin}: {training_description(provenance)}"))
        if provenance.own_test:
            facts.append(("Classifier's own test", provenance.own_test))
    facts.append(("Leakage check", leakage_text(summary) if summary.leakage else ""))
    if summary.n_images and summary.n_images.train is not None:
        facts.append(("Suite's train split", f"{summary.n_images.train} images"))
    if run.manifest_sha256:
        facts.append(("Manifest", f"{len(run.manifest_lines or [])} checksums, sha256 {run.manifest_sha256}"))
    lpips = summary.lpips_weights
    if lpips is not None:
        facts.append(("LPIPS weights", f"{lpips.backbone}, {lpips.linear} (sha256 {lpips.sha256})"))
    commit = environment.get("git_commit")
    if commit:
        dirty = " (with uncommitted changes)" if environment.get("git_uncommitted_changes") else ""
        facts.append(("Code version", f"git {commit}{dirty}"))
    packages = environment.get("packages") or {}
    shown = [f"{name} {packages[name]}" for name in PACKAGES_SHOWN if name in packages]
    python = str(environment.get("python", "")).split(" ")[0]
    env = ", ".join(
        p for p in [f"Python {python}" if python else "", *shown, str(environment.get("device") or "")] if p
    )
    facts.append(("Environment", env))
    facts.append(("Seeds", _seeds(run)))
    facts.append(("Total time", _duration(environment.get("started"), summary.created)))
    return [(label, text) for label, text in facts if text]
