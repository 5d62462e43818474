"""The identity of the code that produces a cache entry, derived from the source itself.

A cache key must change when the code that computes its value changes. A hand-kept version table falls
behind the first time someone forgets to bump it, so each stage's identity is computed instead: the
sha256 of the source of the modules that produce it, and the versions of the third-party libraries
they import.

Which modules produce a stage is one explicit line per stage (``PRODUCERS``): the stage's own module
(``benchmark/pipeline/stages.py`` for the per-image stages) and the packages or modules doing the work. Every
first-party module those import (found by parsing their source, function-level imports included) is
hashed with them, so a new helper a producer starts importing is picked up without editing this file.
A package listed as a folder is hashed whole: registries there name their entries by string
(``"sr_models.zoo:load_learned"``), which no import statement shows.

Modules in ``INERT`` are not followed: they validate, name or store values but compute none of them
(a config value that changes a result is in the key as a value, not as code). Per-stage lists, rather
than one hash of the whole tree, keep a change to the statistics or the report from invalidating a
trained classifier (hours on the real study) or the SR images.

Source is read with ``\\r\\n`` folded to ``\\n``, so a checkout's line endings do not matter. Each
identity is computed once per process.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import json
import sys
from collections.abc import Iterator
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("cxr_kernel", "benchmark", "classifiers", "sr_models", "reports")

#: stage -> source files or package folders (relative to the project) whose code makes its values.
PRODUCERS: dict[str, tuple[str, ...]] = {
    "hr": ("benchmark/pipeline/stages.py", "benchmark/images.py"),
    "lr": ("benchmark/pipeline/stages.py", "benchmark/degradations", "benchmark/seeding.py"),
    "lr_display": ("benchmark/pipeline/stages.py", "classifiers/preprocessing.py"),
    "sr": ("benchmark/pipeline/stages.py", "sr_models"),
    "quality": ("benchmark/pipeline/stages.py", "benchmark/metrics"),
    "predict": ("benchmark/pipeline/stages.py", "classifiers"),
    "gradcam": ("benchmark/pipeline/stages.py", "classifiers"),
    "classifier": ("benchmark/pipeline/classifier_setup.py", "benchmark/images.py", "classifiers"),
    "sr-train": (
        "benchmark/pipeline/sr_setup.py",
        "benchmark/degradations",
        "benchmark/seeding.py",
        "sr_models",
    ),
    "phantoms": ("benchmark/pipeline/dataset.py", "benchmark/phantoms.py", "benchmark/manifest.py"),
    "image-check": ("benchmark/pipeline/screening.py", "benchmark/images.py"),
    "near-duplicates": ("benchmark/leakage.py", "benchmark/images.py"),
}

#: Modules that compute no stored value: not followed when collecting a stage's imports. The stage
#: modules themselves (stages, pipeline, dataset, ...) are hashed but not followed either: they import
#: every stage's producers, and each stage lists its own.
INERT = frozenset(
    {
        "cxr_kernel.atomic",
        "benchmark.pipeline.cache",
        "benchmark.code_identity",
        "benchmark.pipeline.config",
        "cxr_kernel.errors",
        "benchmark.image_stack",
        "benchmark.pipeline.executors",
        "benchmark.pipeline.screening",
        "benchmark.pipeline.stages",
        "benchmark.pipeline.study",
        "benchmark.pipeline.dataset",
        "benchmark.pipeline.classifier_setup",
        "benchmark.pipeline.sr_setup",
    }
)

#: Third-party imports that never change a number: left out so their upgrades keep the cache.
NOT_NUMERICAL = frozenset({"tqdm", "filelock", "yaml", "pydantic", "jinja2", "typing_extensions"})


def _module_path(module: str, root: Path) -> Path | None:
    """The source file of first-party ``module`` under ``root`` (a module or a package), or None."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_statements(tree: ast.AST, package: str) -> Iterator[tuple[str, list[str]]]:
    """(module, names imported from it) of every import in ``tree``, the code of a module of ``package``,
    relative imports resolved: ``import a.b`` is ``("a.b", [])``, ``from .c import d`` in ``a`` is
    ``("a.c", ["d"])``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module, [alias.name for alias in node.names]


@functools.cache
def _imports(path: Path, root: Path) -> tuple[set[str], set[str]]:
    """(first-party modules, third-party top-level names) imported anywhere in ``path``.

    ``from a.b import c`` yields ``a.b`` and, when it is a module, ``a.b.c``; importing ``a.b.c`` also
    runs ``a/__init__.py`` and ``a/b/__init__.py``, so those count too.
    """
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = _module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for module, members in import_statements(tree, package):
        names.add(module)
        names.update(f"{module}.{member}" for member in members)
    first, third = set(), set()
    for name in names:
        top = name.split(".")[0]
        if top in FIRST_PARTY:
            parts = name.split(".")
            first.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
        elif top and top not in sys.stdlib_module_names and top != "__future__":
            third.add(top)
    return {m for m in first if _module_path(m, root) is not None}, third


def producing_sources(stage: str, root: Path = PROJECT_DIR) -> tuple[list[Path], set[str]]:
    """(source files, third-party import names) behind ``stage``: its ``PRODUCERS`` and their imports."""
    if stage not in PRODUCERS:
        raise KeyError(f"Expected a stage in {sorted(PRODUCERS)}, got {stage!r}; add it to PRODUCERS.")
    files: set[Path] = set()
    for entry in PRODUCERS[stage]:
        path = root / entry
        files.update(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    libraries: set[str] = set()
    pending = sorted(files)
    while pending:
        path = pending.pop()
        first, third = _imports(path, root)
        libraries |= third
        # A listed stage module (stages.py, ...) is hashed, but only its third-party imports count:
        # it imports every stage's producers, and each stage lists its own.
        if _module_name(path, root) in INERT:
            continue
        for name in first:
            if name in INERT:
                continue
            found = _module_path(name, root)
            if found not in files:
                files.add(found)
                pending.append(found)
    return sorted(files), libraries - NOT_NUMERICAL


@functools.lru_cache(maxsize=1)
def _providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distribution_versions(names: set[str]) -> dict[str, str]:
    """Installed version of each distribution providing one of the import ``names``."""
    providers = _providers()
    versions = {}
    for name in sorted(names):
        for distribution in providers.get(name, []):
            try:
                versions[distribution] = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def source_digest(files: list[Path], root: Path) -> str:
    """sha256 over each file's project-relative path and its source (line endings normalised)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


@functools.cache
def code_identity(stage: str, root: Path = PROJECT_DIR) -> str:
    """A string that changes whenever the code or a numerical library behind ``stage`` changes."""
    files, libraries = producing_sources(stage, root)
    payload = {"source": source_digest(files, root), "libraries": _distribution_versions(libraries)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
