"""A "Methods" paragraph a paper can adapt, written from the run's config.yaml and stored tables.

Every fact comes from the resolved config or the stored records (which tests, which CI methods, which
corrections the run reports); keys a config lacks are left out of the text rather than guessed.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import yaml

from benchmark.stats.analysis import MULTIPLICITY_FAMILIES
from benchmark.stats.vocabulary import INTERVAL_METHOD_TEXT, PAIRED_TEST_TEXT, PRIMARY_METHOD_TEXT
from cxr_kernel.run_summary import RunSummary
from cxr_kernel.variants import HR
from reports.formatting import correction_label, metric_label, ordered, test_label
from reports.provenance import (
    ClassifierProvenance,
    configured_classifier,
    declared_copies_text,
    leakage_text,
    training_description,
)
from reports.tables import ci_note

CORRECTION_NAMES = {"Holm": "Holm's step-down method", "BH": "the Benjamini-Hochberg procedure"}
FAMILY_TEXT = {
    "primary": "the primary family (the primary endpoints' tests against HR{scope})",
    "exploratory": "the exploratory family (the same tests between SR variants, per cell)",
    "supplementary": (
        "supplementary families (tests that restate hypotheses the primary tests answer; per cell, test "
        "and metric)"
    ),
}


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + f" and {items[-1]}"


def _data(config: dict[str, Any], summary: RunSummary, counts: dict[str, int]) -> str:
    data = config.get("data") or {}
    per_class = _join([f"{n} {label}" for label, n in counts.items()])
    total = sum(counts.values()) or summary.n_eval
    source = (
        "synthetic chest-radiograph phantoms (no patient data)"
        if summary.synthetic_data
        else f"the `{data.get('eval_split', 'test')}` split of `{data['manifest']}` (each image's sha256 in "
        "the run's manifest.sha256)"
        if data.get("manifest")
        else "the suite's images"
    )
    text = f"We evaluated {total} test images{f' ({per_class})' if per_class else ''} from {source}."
    copies = declared_copies_text(summary, data.get("eval_split", "test"))
    if copies:
        text += f" The manifest declares known duplicates (its `duplicate_of` column): {copies}"
    if data.get("hr_size"):
        size = data["hr_size"]
        text += f" Each high-resolution (HR) reference was resized once to {size}×{size} pixels."
    return text


def _cells(config: dict[str, Any], summary: RunSummary) -> str:
    cells = config.get("cells") or [c.model_dump(exclude_unset=True) for c in summary.cells]
    described = []
    for cell in cells:
        params = cell.get("params") or {}
        extra = f" ({json.dumps(params, sort_keys=True)})" if params else ""
        described.append(f"{cell.get('scenario')} ×{cell.get('scale')}{extra}")
    return (
        f"Low-resolution (LR) inputs were produced by the degradation scenarios {_join(described)}."
        if described
        else ""
    )


def _models(config: dict[str, Any]) -> str:
    described = []
    for model in config.get("sr_models") or []:
        how = model.get("model", "")
        train = model.get("train") or {}
        if model.get("weights"):
            how += f", weights `{model['weights']}`"
        elif train:
            how += f", trained with preset {train.get('preset')}"
        if model.get("precision") and model["precision"] != "fp32":
            how += f", {model['precision']}"
        name = model.get("name")
        described.append(name if how == name else f"{name} ({how})")
    return f"The LR images were upscaled by {_join(described)}." if described else ""


def _classifier(config: dict[str, Any], provenance: ClassifierProvenance | None) -> str:
    """Which classifier, its input, its threshold, and what it was trained on (as recorded)."""
    classifier = configured_classifier(config)
    stats = config.get("stats") or {}
    kind = classifier.get("type") or "keras"
    model = (
        "CNN"
        if kind == "keras"
        else f"{kind} model" + (f" {classifier['arch']}" if classifier.get("arch") else "")
    )
    if classifier.get("weights"):
        source = f"the {model} in `{classifier['weights']}`"
        size = provenance.input_size if provenance else None  # a given file keeps its own input
    elif classifier.get("train"):
        epochs = classifier["train"].get("epochs")
        trained = "the reference five-layer CNN" if kind == "keras" else f"the {model}"
        source = f"{trained} trained in this run" + (f" for up to {epochs} epochs" if epochs else "")
        size = (provenance.input_size if provenance else None) or classifier.get("input_size")
    else:
        return ""
    threshold = stats.get("threshold")
    resize = provenance.resize if provenance else "nearest neighbour"
    text = (
        f"HR, LR and every super-resolved image were classified by {source}"
        + (f" at {size}×{size} input" if size else "")
        + f", each image resized to the input by {resize}"
        + (f", calling pneumonia at P ≥ {threshold}" if threshold is not None else "")
        + "."
    )
    if provenance is not None:
        text += f" The classifier ({provenance.origin}) was trained on {training_description(provenance)}."
        if provenance.data:
            text += f" Its training images: {provenance.data}."
        if provenance.own_test:
            text += f" On its own test set it scored {provenance.own_test}."
    return text


def _seeds(seeds: dict[str, Any] | None) -> str:
    """How training-seed variance was measured (``classifier: {seeds: K}``), or nothing."""
    if not seeds:
        return ""
    resampled = any(c.get("bootstrap_train") for c in seeds.get("classifiers") or [])
    return (
        f"To measure training variance, {seeds['k']} classifiers were trained with seeds "
        f"{_join([str(s) for s in seeds['seeds']])}"
        + (", each further seed on a patient bootstrap resample of the training images" if resampled else "")
        + f"; the tables report the primary seed ({seeds['primary_seed']}), and each seed's classifier was "
        "analysed on its own with the same tests, counting how many seeds reach each conclusion."
    )


def model_input(record: dict[str, Any]) -> str:
    """`torch, 128×128 gray input, nearest` from a classifier's stored description (``describe``)."""
    spec = record.get("input") or {}
    size = spec.get("size") or []
    parts = [str(record.get("type") or "")]
    if len(size) == 2:
        channels = {1: "gray", 3: "RGB"}.get(spec.get("channels"), "")
        parts.append(f"{size[0]}×{size[1]} {channels} input".replace("  ", " "))
    if spec.get("resize"):
        parts.append(str(spec["resize"]))
    return ", ".join(p for p in parts if p)


def _panel(panel: dict[str, Any] | None) -> str:
    """The panel of classifiers (``classifiers: [...]``), or nothing."""
    if not panel:
        return ""
    described = [
        f"{member.get('name')}"
        + (f" ({model_input(member.get('classifier'))})" if member.get("classifier") else "")
        for member in panel.get("members") or []
    ]
    return (
        f"Every image was classified by each of a panel of {panel['k']} classifiers "
        f"({_join(described or panel['classifiers'])}); the tables report the first "
        f"({panel['primary_classifier']}), and each classifier was analysed on its own with the same "
        "tests, counting how many classifiers reach each conclusion."
    )


def _design(config: dict[str, Any], summary: RunSummary | None, paired: pd.DataFrame) -> list[str]:
    """Sentences on the unit of analysis, the prespecified families and non-inferiority."""
    design = (summary.statistics if summary else None) or {}
    parts = []
    if design.get("unit_of_analysis") == "patient":
        parts.append(
            f"The unit of analysis was the patient ({design.get('n_patients')} patients, "
            f"{design.get('n_images')} images): intervals and tests account for several images per patient."
        )
    elif design.get("unit_of_analysis") == "image":
        parts.append("Every image was analysed as an independent unit (no patient ids were used).")
    if not paired.empty and {"family", "family_size", "test", "metric", "method"} <= set(paired.columns):
        primary = paired[paired["family"] == "primary"]
        if not primary.empty:
            endpoints = _join([metric_label(m) for m in ordered(primary["metric"], [])])
            methods = _join(
                [
                    PRIMARY_METHOD_TEXT.get(m, m)
                    for m in ordered(primary["method"], [])
                    if m in PRIMARY_METHOD_TEXT
                ]
                or [test_label(t) for t in ordered(primary["test"], [])]
            )
            parts.append(
                f"Primary endpoints were {endpoints} against HR, each tested once ({methods}; McNemar "
                "on the pneumonia images for sensitivity and on the normal images for specificity)."
            )
        scope = " over all cells" if design.get("correct_across_cells") else ", per cell"
        described = []
        for family in MULTIPLICITY_FAMILIES:
            rows = paired[paired["family"] == family]
            if rows.empty:
                continue
            sizes = sorted({int(n) for n in rows["family_size"] if pd.notna(n)})
            size = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]}"
            described.append(FAMILY_TEXT[family].format(scope=scope) + f": {size} tests each")
        if described:
            parts.append(
                "Multiplicity was corrected by Holm's step-down method (family-wise error) and the "
                "Benjamini-Hochberg procedure (false discovery rate), separately within each of: "
                + "; ".join(described)
                + "."
            )
        if (paired["test"] == "bootstrap").any() and config.get("stats", {}).get("n_bootstrap"):
            floor = 2 / (int(config["stats"]["n_bootstrap"]) + 1)
            parts.append(f"Paired-bootstrap p-values cannot fall below 2/(B+1) = {floor:.2g}.")
    if summary and summary.leakage:
        parts.append(
            "Leakage check (patients and near-duplicate radiographs shared by the classifier's training "
            f"images and the test images): {leakage_text(summary)}."
        )
    detectable = [r.get("detectable_difference") for r in (summary.rows("power") if summary else [])]
    detectable = [d for d in detectable if d is not None and d == d]
    if detectable:
        low, high = f"{min(detectable):.3f}", f"{max(detectable):.3f}"
        parts.append(
            "At the observed discordance, McNemar's test on these images detects accuracy differences to HR "
            f"of {low if low == high else f'{low} to {high}'} with 80% power (Connor 1987)."
        )
    margins = design.get("margins") or {}
    if margins:
        listed = _join([f"{metric_label(m)} {v:g}" for m, v in margins.items()])
        parts.append(
            f"Non-inferiority to HR was judged with margins {listed}: a variant is non-inferior when the "
            "lower limit of the two-sided interval of its difference to HR (a one-sided bound at half the "
            "error rate) lies above −margin, inferior when the whole interval lies below it; equivalence "
            "by two one-sided tests (TOST). Differences of proportions use Newcombe's (1998) paired hybrid "
            "score interval, AUROC differences the DeLong (clustered: Obuchowski) standard error."
        )
    return parts


def _statistics(config: dict[str, Any], tables: dict[str, Any], summary: RunSummary | None = None) -> str:
    metrics = [metric_label(m) for m in config.get("metrics") or []]
    stats = config.get("stats") or {}
    parts = []
    if metrics:
        border = config.get("crop_border")
        parts.append(
            f"Image quality against HR was measured per image by {_join(metrics)}"
            + (f" after cropping {border} border pixels" if border else "")
            + "."
        )
    level = stats.get("confidence")
    notes = [ci_note(tables.get(name) or []) for name in ("classification", "quality")]
    notes = [n for n in notes if n]
    if notes:
        confidence = f"{100 * level:g}% " if level else ""
        parts.append(f"We report {confidence}confidence intervals by method: {'; '.join(notes)}.")
        methods = pd.DataFrame(
            [r for name in ("classification", "quality") for r in tables.get(name) or []]
        ).get("ci_method", pd.Series(dtype=str))
        parts += [note for method, note in INTERVAL_METHOD_TEXT.items() if (methods == method).any()]
    paired = pd.DataFrame(tables.get("paired_tests") or [])
    if not paired.empty and {"test", "metric"} <= set(paired.columns):
        tests = []
        for test in ordered(paired["test"], []):
            metrics_tested = ordered(paired.loc[paired["test"] == test, "metric"], [])
            tests.append(f"{test_label(test)} ({_join([metric_label(m) for m in metrics_tested])})")
        references = _join([str(r) for r in ordered(paired.get("reference", pd.Series(dtype=str)), [HR])])
        corrections = [correction_label(c) for c in paired.columns if correction_label(c)]
        sentence = (
            f"Each variant was compared with {references} on the same images by paired tests: {_join(tests)}"
        )
        if corrections and "family" not in paired.columns:
            names = _join([CORRECTION_NAMES.get(c, c) for c in corrections])
            sentence += f"; p-values were adjusted for multiple comparisons by {names}"
        parts.append(sentence + ".")
        parts += [PAIRED_TEST_TEXT[test] for test in ordered(paired["test"], []) if test in PAIRED_TEST_TEXT]
    parts += _design(config, summary, paired)
    if stats.get("n_bootstrap"):
        parts.append(f"Bootstrap intervals used {stats['n_bootstrap']} resamples")
        parts[-1] += f" with seed {config['seed']}." if config.get("seed") is not None else "."
    if tables.get("flips"):
        parts.append("A flip is a change of the predicted class relative to the prediction on the HR image.")
    return " ".join(parts)


def methods_paragraph(
    config_text: str | None,
    summary: RunSummary,
    counts: dict[str, int],
    provenance: ClassifierProvenance | None = None,
) -> str:
    """The paragraph, or an empty string when the run has no config.yaml.

    Parameters
    ----------
    counts : dict
        Test images per class name, as counted from the stored predictions.
    provenance : ClassifierProvenance, optional
        What was recorded about the classifier's training (`reports.provenance`).
    """
    if not config_text:
        return ""
    try:
        config = yaml.safe_load(config_text) or {}
    except yaml.YAMLError:
        return ""  # the page shows config.yaml verbatim; no paragraph from a file that does not parse
    if not isinstance(config, dict):
        return ""
    sentences = [
        _data(config, summary, counts),
        _cells(config, summary),
        _models(config),
        _classifier(config, provenance),
        _panel(summary.panel),
        _seeds(summary.seeds),
        _statistics(config, summary.tables, summary),
    ]
    return " ".join(s for s in sentences if s)
