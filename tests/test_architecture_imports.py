"""Imports run one way: each module sits on a floor and imports only from its own floor or below,
and no set of modules imports itself round a circle.

Floors, bottom to top (``FLOORS``; the longest matching prefix decides):

0. kernel: ``cxr_kernel`` (errors, atomic writes, registries, shared names).
1. libraries: degradations, metrics, statistics, SR models, classifiers, image and manifest helpers.
2. pipeline: suites, caches, stages, executors, the run store, regression checks, perf probes.
3. top: the command line (``benchmark.cli`` and its ``*_cli`` commands) and ``reports``.

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

FLOOR_NAMES = ("kernel", "libraries", "pipeline", "top")
#: module prefix -> floor; the longest matching prefix decides.
FLOORS: dict[str, int] = {
    "cxr_kernel": 0,
    "benchmark.degradations": 1,
    "benchmark.metrics": 1,
    "benchmark.stats": 1,
    "benchmark.images": 1,
    "benchmark.bit_depth": 1,
    "benchmark.image_stack": 1,
    "benchmark.manifest": 1,
    "benchmark.seeding": 1,
    "benchmark.phantoms": 1,
    "benchmark.leakage": 1,
    "sr_models": 1,
    "classifiers": 1,
    "benchmark": 2,
    "benchmark.__main__": 3,
    "benchmark.cli": 3,
    "benchmark.check_cli": 3,
    "benchmark.classifier_train_cli": 3,
    "benchmark.sr_train_cli": 3,
    "benchmark.power_cli": 3,
    "benchmark.perf_child_cli": 3,
    "reports": 3,
}


def floor_of(module: str, floors: dict[str, int] = FLOORS) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in floors:
            return floors[prefix]
    raise KeyError(f"{module} has no floor: add its package to FLOORS")


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


def upward_imports(graph: dict[str, set[str]], floors: dict[str, int] = FLOORS) -> list[str]:
    return sorted(
        f"{module} (floor {floor_of(module, floors)}) imports {target} (floor {floor_of(target, floors)})"
        for module, targets in graph.items()
        for target in targets
        if floor_of(target, floors) > floor_of(module, floors)
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
    "benchmark/pipeline.py": "from benchmark import metrics\n",
    "reports/__init__.py": "def f():\n    from benchmark.metrics import x\n",
}


def test_a_downward_project_passes(tmp_path):
    _write(tmp_path, SYNTHETIC)
    synthetic = import_graph(tmp_path)
    assert synthetic["benchmark.pipeline"] == {"benchmark.metrics"}
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
