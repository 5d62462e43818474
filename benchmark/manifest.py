"""Manifests: CSV rows ``path,label,split,sha256,patient_id`` naming every image relative to a data root.

An optional column ``duplicate_of`` declares a row a known byte-identical copy of another row (the kept
copy, named by its path): a run leaves the declared copy out instead of refusing it, checks that the two
files are indeed identical, and lists it (``benchmark.pipeline.screening.declared_duplicates``). Manifests
without the column are valid; ``write_manifest`` writes it only when a row uses it.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from cxr_kernel.atomic import atomic_path
from cxr_kernel.checksums import sha256_file
from cxr_kernel.errors import UserError

COLUMNS = ["path", "label", "split", "sha256", "patient_id"]
DUPLICATE_OF = "duplicate_of"  # optional: the path of the kept copy this row repeats byte for byte
LABELS = {"NORMAL": 0, "PNEUMONIA": 1}
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".dcm", ".dicom")
_PATIENT_PATTERNS = (re.compile(r"^(person\d+)_"), re.compile(r"^((?:NORMAL2-)?IM-\d+)-"))


def list_checksum(images: pd.DataFrame) -> str:
    """sha256 of a list of images (columns image_id, sha256): its ``<sha256>  <image_id>`` lines (as in
    a run's manifest.sha256), sorted."""
    lines = sorted(f"{row.sha256}  {row.image_id}\n" for row in images.itertuples())
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def patient_id(file_name: str) -> str:
    """Patient id from a Kermany file name (``person12_bacteria_47.jpeg`` -> ``person12``,
    ``IM-0115-0001.jpeg`` -> ``IM-0115``); the file stem when the name follows neither pattern."""
    for pattern in _PATIENT_PATTERNS:
        match = pattern.match(file_name)
        if match:
            return match.group(1)
    return Path(file_name).stem


def resolve_image(data_root: Path, relative: str) -> Path:
    """Absolute path of a manifest entry; refuses absolute entries and entries that escape the data root
    (``../``, or a symlink inside the root pointing out of it)."""
    root = Path(data_root).resolve()
    path = (root / relative).resolve()
    if Path(relative).is_absolute() or not path.is_relative_to(root):
        raise UserError(
            f"Manifest path {relative!r} escapes the data root {root}. "
            "Manifest paths must be relative paths inside the data root."
        )
    return path


def read_manifest(path: Path) -> pd.DataFrame:
    """Read and validate a manifest CSV; errors name the file and the offending row."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Manifest not found: {path}. Build one with `python -m benchmark manifest build`.")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(
            f"Manifest {path} is not a readable CSV ({error}). Rebuild it with `manifest build`."
        ) from None
    missing = [column for column in COLUMNS[:4] if column not in table.columns]
    if missing:
        raise UserError(f"Manifest {path} lacks column(s) {missing}; expected columns {COLUMNS}.")
    if "patient_id" not in table.columns:
        table["patient_id"] = [patient_id(Path(p).name) for p in table["path"]]
    for column, allowed in (("label", tuple(LABELS)), ("split", SPLITS)):
        bad = table.index[~table[column].isin(allowed)]
        if len(bad):
            row = bad[0]
            raise UserError(
                f"Manifest {path}, row {row + 2}: {column} {table.at[row, column]!r} is not one of "
                f"{allowed}. Correct that row (values are case-sensitive) or remove it."
            )
    # "a/b.png", "./a/b.png" and "a//b.png" name one file
    normalised = table["path"].map(posixpath.normpath)
    duplicated = normalised.index[normalised.duplicated()]
    if len(duplicated):
        row = duplicated[0]
        first = normalised.index[normalised == normalised[row]][0]
        raise UserError(
            f"Manifest {path}, row {row + 2}: {table.at[row, 'path']!r} names the same file as row "
            f"{first + 2} ({table.at[first, 'path']!r}). Remove one of the two rows."
        )
    if DUPLICATE_OF not in table.columns:
        table[DUPLICATE_OF] = ""
    _check_declared_duplicates(path, table, normalised)
    return table[[*COLUMNS, DUPLICATE_OF]].reset_index(drop=True)


def _check_declared_duplicates(path: Path, table: pd.DataFrame, normalised: pd.Series) -> None:
    """Each ``duplicate_of`` names another row of the same label that is itself no declared copy."""
    row_of = {name: row for row, name in normalised.items()}

    def problem(row: int) -> str | None:
        kept = row_of.get(posixpath.normpath(table.at[row, DUPLICATE_OF]))
        if kept is None:
            return "names no row of the manifest"
        if kept == row:
            return "names the row itself"
        if table.at[kept, "label"] != table.at[row, "label"]:
            return f"names a {table.at[kept, 'label']} image"
        return "names a row that is itself a declared copy" if table.at[kept, DUPLICATE_OF] else None

    for row in table.index[table[DUPLICATE_OF] != ""]:
        found = problem(row)
        if found:
            raise UserError(
                f"Manifest {path}, row {row + 2}: {DUPLICATE_OF} {table.at[row, DUPLICATE_OF]!r} {found}. "
                f"It must give the path of the kept copy (another {table.at[row, 'label']} row, not itself "
                "declared a copy); leave it empty for an image that repeats no other."
            )


def write_manifest(table: pd.DataFrame, path: Path) -> Path:
    """Write ``COLUMNS``, and ``duplicate_of`` when any row declares a copy."""
    declares = DUPLICATE_OF in table.columns and (table[DUPLICATE_OF].fillna("") != "").any()
    with atomic_path(Path(path)) as temporary:
        table[[*COLUMNS, DUPLICATE_OF] if declares else COLUMNS].to_csv(temporary, index=False)
    return Path(path)


def build_manifest(data_root: Path, *, splits=SPLITS, checksums: bool = True, progress: bool = True):
    """Manifest of a Kaggle-layout folder ``{split}/{NORMAL,PNEUMONIA}/*.jpeg`` under ``data_root``."""
    root = Path(data_root)
    files = sorted(
        file
        for split in splits
        for label in LABELS
        for file in (root / split / label).glob("*")
        if file.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        hint = f" Did you mean {root / 'chest_xray'}?" if (root / "chest_xray").is_dir() else ""
        raise UserError(
            f"No images found under {root} in the layout {{{','.join(splits)}}}/{{NORMAL,PNEUMONIA}}/*.jpeg."
            f"{hint}"
        )
    resolved_root = root.resolve()
    outside = [file for file in files if not file.resolve().is_relative_to(resolved_root)]
    if outside:  # `run` refuses these rows (resolve_image), so the manifest must not hold them
        shown = ", ".join(f"{f.relative_to(root).as_posix()} -> {f.resolve()}" for f in outside[:3])
        raise UserError(
            f"{len(outside)} image(s) under {root} lie outside it through symbolic links ({shown}"
            f"{', ...' if len(outside) > 3 else ''}); a run refuses paths that leave the data root. "
            "Copy the files into the data root, or give the folder the links point to as the data root."
        )
    rows = []
    for file in tqdm(files, desc="manifest", unit="img", disable=not progress):
        split, label = file.parent.parent.name, file.parent.name
        digest = sha256_file(file) if checksums else ""
        rows.append((file.relative_to(root).as_posix(), label, split, digest, patient_id(file.name)))
    return pd.DataFrame(rows, columns=COLUMNS)


def file_problems(
    table: pd.DataFrame, data_root: Path, *, progress: bool = True
) -> tuple[list[str], dict[int, tuple[str, str]]]:
    """sha256 of every manifest file, and the rows whose file is missing or differs from its checksum.

    Returns
    -------
    digests : one per row; the recorded checksum where the file is missing.
    problems : row position -> (reason, detail), reason "missing" or "checksum".

    Raises
    ------
    UserError
        If a path escapes the data root (never skippable: the manifest itself must be fixed).
    """
    problems, digests = {}, []
    rows = tqdm(table.itertuples(), total=len(table), desc="verify", unit="img", disable=not progress)
    for position, row in enumerate(rows):
        path = resolve_image(data_root, row.path)
        if not path.is_file():
            problems[position] = ("missing", f"missing file {path}")
            digests.append(row.sha256)
            continue
        digest = sha256_file(path)
        if row.sha256 and digest != row.sha256:
            problems[position] = (
                "checksum",
                f"checksum mismatch for {path}: manifest {row.sha256[:12]}..., file {digest[:12]}...",
            )
        digests.append(digest)
    return digests, problems


def problem_list(problems: list[str], shown: int = 10) -> str:
    """The first ``shown`` problems, one per indented line, and how many more there are."""
    more = f"\n  ... and {len(problems) - shown} more" if len(problems) > shown else ""
    return "  " + "\n  ".join(problems[:shown]) + more


def verify_manifest(table: pd.DataFrame, data_root: Path, *, progress: bool = True) -> pd.DataFrame:
    """Check every file exists and matches its recorded sha256; return the table with checksums filled in.

    Rows without a recorded checksum get the computed one (the shipped ``pneumonia.csv`` names files
    only, since checksums depend on the user's copy). Raises ``UserError`` listing every problem.
    """
    digests, problems = file_problems(table, data_root, progress=progress)
    if problems:
        raise UserError(
            f"{len(problems)} of {len(table)} manifest entries failed verification under {data_root}:\n"
            f"{problem_list([detail for _, detail in problems.values()])}\nFix the data copy, or rebuild "
            "the manifest with `python -m benchmark manifest build`."
        )
    return table.assign(sha256=digests)
