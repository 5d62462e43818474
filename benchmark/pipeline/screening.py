"""Every image of a run checked before any work: one error listing each bad image, or a counted skip.

``--on-bad-image fail`` (the default) stops with one ``UserError`` naming every bad file and the fix;
``--on-bad-image skip`` leaves them out, and the run records them (``skipped_images.csv``) and counts
them by reason in ``summary.json`` and the report. Paths escaping the data root, unknown labels and
repeated manifest rows are errors in the manifest itself and are never skipped.

Copies the manifest declares (``duplicate_of``: Kermany's official test split holds 6 byte-identical
pairs, its train split 26 further copies) are neither bad nor used: ``declared_duplicates`` checks that each
is byte-identical to its kept copy and lists it; the run leaves it out and says so.
"""

from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from benchmark import manifest as manifests
from benchmark.images import BadImage, read_grayscale
from benchmark.pipeline.cache import Cache, stage_key
from cxr_kernel.errors import UserError

ON_BAD_IMAGE = ("fail", "skip")
# Kermany radiographs reach 2.2:1; a wider image is more likely a screenshot or a montage than one film.
MAX_ASPECT_RATIO = 3.0
SKIPPED_COLUMNS = ["image_id", "split", "reason", "detail"]
DECLARED_COLUMNS = ["image_id", "split", "duplicate_of"]


def decoded_problem(path, min_side: int) -> tuple[str, str] | None:
    """(reason, detail) if the image cannot be read as one grayscale radiograph of at least ``min_side``."""
    try:
        height, width = read_grayscale(path).shape
    except BadImage as error:
        return error.reason, error.detail
    if min(height, width) < min_side:
        return "too-small", (
            f"is {width}x{height} px, smaller than the {min_side} px the suite needs on the short side "
            "(data.hr_size / the smallest scale: the HR reference would carry less detail than its LR). "
            "Use the original-resolution file, or lower data.hr_size."
        )
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        return "aspect-ratio", (
            f"is {width}x{height} px, more than {MAX_ASPECT_RATIO:g}:1; resizing it to a square would "
            "distort it beyond any radiograph. Crop it to the film, or remove it."
        )
    return None


def _duplicates(table: pd.DataFrame, candidates: list[int], eval_split: str) -> dict[int, tuple[str, str]]:
    """Rows repeating the bytes of an evaluation image: counted twice, or leaking from training into it.

    The first evaluation copy is kept and every other copy flagged. Repeats within training only are left
    alone: they weight training but falsify no number (Kermany's own train split holds a few).
    """
    rows = table.loc[candidates]
    problems = {}
    for _, group in rows.groupby("sha256", sort=False):
        in_eval = group[group["split"] == eval_split]
        if len(group) < 2 or in_eval.empty:
            continue
        kept = in_eval.index[0]
        for position in group.index.drop(kept):
            problems[position] = (
                "duplicate",
                f"has the same content as the evaluation image {table.at[kept, 'path']}: it would be "
                + ("counted twice" if table.at[position, "split"] == eval_split else "trained on and tested")
                + ". Remove one copy from the manifest.",
            )
    return problems


def screen(
    table: pd.DataFrame,
    data_root,
    *,
    min_side: int,
    cache: Cache,
    eval_split: str = "test",
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verify, deduplicate and decode-check every manifest row.

    Returns
    -------
    table : the rows with checksums filled in (bad rows included).
    problems : one row per bad image, columns ``SKIPPED_COLUMNS`` plus ``position`` (row in ``table``).
    """
    table = table.reset_index(drop=True)
    digests, problems = manifests.file_problems(table, data_root, progress=progress)
    table = table.assign(sha256=digests)
    problems |= _duplicates(table, [p for p in range(len(table)) if p not in problems], eval_split)
    for position in tqdm(range(len(table)), desc="check images", unit="img", disable=not progress):
        if position in problems:
            continue
        # Only good verdicts are cached: a bad file is re-checked, in case a codec was installed since.
        key = stage_key("image-check", sha256=table.at[position, "sha256"], min_side=min_side)
        if cache.contains("image-check", key, ".json"):
            continue
        found = decoded_problem(manifests.resolve_image(data_root, table.at[position, "path"]), min_side)
        if found is None:
            cache.json("image-check", key, lambda: "ok")
        else:
            problems[position] = found
    rows = [
        (position, table.at[position, "path"], table.at[position, "split"], reason, detail)
        for position, (reason, detail) in sorted(problems.items())
    ]
    return table, pd.DataFrame(rows, columns=["position", *SKIPPED_COLUMNS])


def declared_duplicates(declared: pd.DataFrame, table: pd.DataFrame, data_root) -> pd.DataFrame:
    """The declared copies (manifest rows with ``duplicate_of``), each checked byte-identical to its kept
    copy; columns ``DECLARED_COLUMNS``. ``table`` holds the screened rows (their sha256 is reused).

    Raises ``UserError`` naming every declared copy that is missing or differs from its kept copy: the
    declaration is then wrong for this copy of the data, and the manifest must be fixed.
    """
    screened = dict(zip(table["path"], table["sha256"], strict=True))
    digests: dict[str, str | None] = {}

    def digest(path: str) -> str | None:
        if path not in digests:
            file = manifests.resolve_image(data_root, path)
            digests[path] = screened.get(path) or (manifests.sha256_file(file) if file.is_file() else None)
        return digests[path]

    wrong = []
    for row in declared.itertuples():
        copy, kept = digest(row.path), digest(row.duplicate_of)
        if copy is None or kept is None:
            wrong.append(f"{row.path}: declared a copy of {row.duplicate_of}, but one of the two is missing")
        elif copy != kept:
            wrong.append(f"{row.path}: declared a copy of {row.duplicate_of}, but their contents differ")
    if wrong:
        raise UserError(
            f"{len(wrong)} declared duplicate(s) under {data_root} are not byte-identical copies:\n"
            f"{manifests.problem_list(wrong)}\nClear their {manifests.DUPLICATE_OF} entries in the manifest "
            "(the run then screens them as any other image), or fix the data copy."
        )
    return pd.DataFrame(
        {"image_id": declared["path"], "split": declared["split"], "duplicate_of": declared["duplicate_of"]},
        columns=DECLARED_COLUMNS,
    ).reset_index(drop=True)


def declared_note(declared: pd.DataFrame, eval_split: str) -> str:
    """One sentence for the report: how many declared copies were left out, per split."""
    if declared.empty:
        return ""
    counts = declared["split"].value_counts()
    per_split = ", ".join(
        f"{counts[split]} of the {split} split"
        for split in sorted(counts.index, key=lambda s: s != eval_split)
    )
    return (
        f" {len(declared)} declared byte-identical copies left out ({per_split}; the manifest's "
        f"{manifests.DUPLICATE_OF} column names each kept copy; listed in summary.json)."
    )


def apply_policy(table: pd.DataFrame, problems: pd.DataFrame, policy: str, data_root) -> pd.DataFrame:
    """The rows to use: all if none is bad, the good ones under ``skip``; ``UserError`` under ``fail``."""
    if policy not in ON_BAD_IMAGE:
        raise UserError(f"Expected --on-bad-image one of {ON_BAD_IMAGE}, got {policy!r}.")
    if problems.empty:
        return table
    if policy == "fail":
        lines = [f"{row.image_id}: {row.detail}" for row in problems.itertuples()]
        raise UserError(
            f"{len(problems)} of {len(table)} images under {data_root} cannot be used:\n"
            f"{manifests.problem_list(lines)}\nFix or remove these files, or rerun with "
            "`--on-bad-image skip` to leave them out (they are then listed in skipped_images.csv and "
            "counted in the report)."
        )
    return table.drop(index=problems["position"]).reset_index(drop=True)


def skip_note(problems: pd.DataFrame) -> str:
    """One sentence for the report: how many images were skipped, by reason."""
    if problems.empty:
        return ""
    counts = problems["reason"].value_counts()
    reasons = ", ".join(f"{count} {reason}" for reason, count in counts.items())
    return f" {len(problems)} bad image(s) skipped (--on-bad-image skip): {reasons}; see skipped_images.csv."
