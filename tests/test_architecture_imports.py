"""Imports run one way: each module sits on a floor and imports only from its own floor or below,
and no set of modules imports itself round a circle.

The floors are folders (``LAYERS``): a module's floor is that of the deepest listed folder holding its
file, so a new module's floor is where it is put, and no module is listed by name.

0. kernel: ``cxr_kernel/`` (errors, atomic writes, registries, shared names).
1. libraries: ``benchmark/`` outside the two folders below (degradations, metrics, statistics, image and
   manifest helpers), ``sr_models/``, ``classifiers/``.
2. pipeline: ``benchmark/pipeline/`` (suites, caches, stages, executors, the run store, the regression
   check, the perf probes).
3. reports: ``reports/`` (drawn from a run directory).
4. commands: ``benchmark/commands/`` (the command line and each command) and ``benchmark/__main__.py``,
   an entry point by Python's own rule.

Every import counts, function-level ones included: a lazy import still runs code of that floor.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from benchmark.code_identity import import_statements

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cxr_kernel", "benchmark", "sr_models", "classifiers", "reports")

FLOOR_NAMES = ("kernel", "libraries", "pipeline", "reports", "commands")
#: folder -> floor name; the deepest folder holding a module decides.
LAYERS: dict[str, str] = {
    "cxr_kernel": "kernel",
    "benchmark": "libraries",
    "sr_models": "libraries",
    "classifiers": "libraries",
    "benchmark/pipeline": "pipeline",
    "reports": "reports",
    "benchmark/commands": "commands",
}


def floor_of(module: str, layers: dict[str, str] = LAYERS) -> int:
    parts = module.split(".")
    if parts[-1] == "__main__":
        return FLOOR_NAMES.index("commands")
    for end in range(len(parts), 0, -1):
        folder = "/".join(parts[:end])
        if folder in layers:
            return FLOOR_NAMES.index(layers[folder])
    raise KeyError(f"{module} is in no folder of LAYERS: put it in one, or add its package's folder")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the first-party modules it imports (``from a import b`` is ``a.b`` when that is one)."""
    files = module_files(root)

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for source, members in import_statements(tree, package):
            if not members:  # ``import a.b``
                targets.add(source)
            targets.update(f"{source}.{m}" if f"{source}.{m}" in files else source for m in members)
        resolved = {known(t) for t in targets if t.split(".")[0] in PACKAGES}
        graph[module] = {t for t in resolved if t and t != module}
    return graph


def upward_imports(graph: dict[str, set[str]], layers: dict[str, str] = LAYERS) -> list[str]:
    return sorted(
        f"{module} (floor {floor_of(module, layers)}) imports {target} (floor {floor_of(target, layers)})"
        for module, targets in graph.items()
        for target in targets
        if floor_of(target, layers) > floor_of(module, layers)
    )


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports (``[a, b, ..., a]``), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


# -- the project -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_has_a_floor(graph):
    assert {module: floor_of(module) for module in graph}


def test_the_floors_are_folders():
    assert all((ROOT / folder).is_dir() for folder in LAYERS)


def test_no_import_runs_up_a_floor(graph):
    assert upward_imports(graph) == []


def test_no_import_circle(graph):
    assert import_cycle(graph) is None


def test_the_kernel_imports_no_other_package(graph):
    kernel = {module: targets for module, targets in graph.items() if floor_of(module) == 0}
    assert all(floor_of(target) == 0 for targets in kernel.values() for target in targets)


# -- the checks themselves, on a made-up project -------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


SYNTHETIC = {
    "cxr_kernel/__init__.py": "",
    "cxr_kernel/errors.py": "",
    "benchmark/__init__.py": "",
    "benchmark/metrics/__init__.py": "from cxr_kernel.errors import UserError\n",
    "benchmark/pipeline/study.py": "from benchmark import metrics\n",
    "reports/__init__.py": "def f():\n    from benchmark.metrics import x\n",
}


def test_a_downward_project_passes(tmp_path):
    _write(tmp_path, SYNTHETIC)
    synthetic = import_graph(tmp_path)
    assert synthetic["benchmark.pipeline.study"] == {"benchmark.metrics"}
    assert synthetic["reports"] == {"benchmark.metrics"}
    assert upward_imports(synthetic) == []
    assert import_cycle(synthetic) is None


def test_an_upward_import_fails(tmp_path):
    # A library reaching up into reports, lazily (inside a function): still an upward import.
    _write(tmp_path, {**SYNTHETIC, "benchmark/metrics/__init__.py": "def g():\n    import reports\n"})
    problems = upward_imports(import_graph(tmp_path))
    assert problems == ["benchmark.metrics (floor 1) imports reports (floor 3)"]


def test_a_kernel_importing_a_library_fails(tmp_path):
    _write(tmp_path, {**SYNTHETIC, "cxr_kernel/errors.py": "from benchmark.metrics import y\n"})
    problems = upward_imports(import_graph(tmp_path))
    assert problems == ["cxr_kernel.errors (floor 0) imports benchmark.metrics (floor 1)"]


def test_a_circle_on_one_floor_fails(tmp_path):
    _write(
        tmp_path,
        {
            **SYNTHETIC,
            "benchmark/a.py": "from benchmark import b\n",
            "benchmark/b.py": "def h():\n    from . import a\n",
        },
    )
    synthetic = import_graph(tmp_path)
    assert upward_imports(synthetic) == []
    cycle = import_cycle(synthetic)
    assert cycle is not None and set(cycle) == {"benchmark.a", "benchmark.b"}


def test_a_floor_follows_the_folder_a_module_is_put_in(tmp_path):
    # The same import is fine from the commands folder and an upward arrow from the pipeline folder.
    _write(tmp_path, {**SYNTHETIC, "benchmark/commands/run.py": "from benchmark.pipeline import study\n"})
    assert upward_imports(import_graph(tmp_path)) == []
    _write(tmp_path, {"benchmark/pipeline/stages.py": "from benchmark.commands import run\n"})
    problems = upward_imports(import_graph(tmp_path))
    assert problems == ["benchmark.pipeline.stages (floor 2) imports benchmark.commands.run (floor 4)"]
