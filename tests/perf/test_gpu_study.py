"""``gpu-study``: its refusals, sizing, record schema and X-ray generator discovery, the CPU rehearsal
(the same code path as on a GPU, Keras on PyTorch with TensorFlow absent), and TensorFlow and PyTorch
sharing one GPU (memory growth set in one place; nothing preallocates), with the GPU faked."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError

from benchmark.code_identity import import_statements
from benchmark.commands.cli import main
from benchmark.pipeline import gpu_study
from benchmark.pipeline.gpu_record import GpuStudyRecord, read_record, record_name, write_record
from cxr_kernel.errors import UserError
from tests.support.paths import ROOT, SHARED

SOURCE_FOLDERS = ("cxr_kernel", "benchmark", "sr_models", "classifiers", "reports", "benchmarks")


# -- refusals before any work ------------------------------------------------------------------------
def test_cuda_refused_in_one_line_when_torch_sees_none(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert main(["gpu-study", "--device", "cuda", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: gpu-study --device cuda: torch sees no CUDA device") and "\n" not in err


def test_a_budget_of_no_seconds_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert main(["gpu-study", "--device", "cpu", "--smoke", "--budget-s", "0", "--out", "unused"]) == 2
    assert "Expected --budget-s > 0 seconds, got 0.0" in capsys.readouterr().err


def test_keras_backend_other_than_torch_is_refused(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(UserError, match="KERAS_BACKEND=torch"):
        gpu_study.check_environment("cpu")
    monkeypatch.delenv("KERAS_BACKEND")
    with pytest.raises(UserError, match="KERAS_BACKEND is None"):
        gpu_study.check_environment("cpu")


def test_keras_missing_is_refused_naming_the_wheels(monkeypatch):
    """The GPU machine has no Keras until its wheels are carried and installed."""
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    real = gpu_study.importlib.util.find_spec
    monkeypatch.setattr(
        gpu_study.importlib.util, "find_spec", lambda name, *a: None if name == "keras" else real(name, *a)
    )
    with pytest.raises(UserError, match="carry its wheels"):
        gpu_study.check_environment("cpu")


def test_a_faked_cuda_device_passes_the_environment_check(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    gpu_study.check_environment("cuda")


def test_full_study_without_shared_data_is_refused_naming_the_folder(tmp_path):
    with pytest.raises(UserError, match=f"{tmp_path.resolve()}.*--shared DIR"):
        gpu_study.find_sources(tmp_path, smoke=False)
    sources = gpu_study.find_sources(tmp_path, smoke=True)
    assert sources.kind == "pneumonia-mini" and sources.classifier.is_file()
    assert all(Path(entry["weights"]).is_file() for entry in sources.pretrained)


def test_missing_pretrained_weights_are_named(tmp_path):
    for split in ("train", "test"):
        (tmp_path / "data" / "kermany-224" / split).mkdir(parents=True)
    with pytest.raises(UserError, match="leftthomas_SRGAN_netG_epoch_4_100.pth are missing"):
        gpu_study.find_sources(tmp_path, smoke=False)


# -- X-ray generators are discovered, not hard-coded -------------------------------------------------
def test_xray_generators_found_by_their_sidecars(tmp_path):
    (tmp_path / "compact-bicubic-x4.pth").write_bytes(b"weights")
    (tmp_path / "compact-bicubic-x4.json").write_text(
        json.dumps({"model": "realesrgan-compact", "scale": 4, "scenario": "bicubic"})
    )
    (tmp_path / "no-weights.json").write_text(json.dumps({"model": "srgan", "scale": 4}))
    (tmp_path / "no-sidecar.pth").write_bytes(b"weights")
    found = gpu_study.xray_generators(tmp_path)
    assert [entry for entry, _ in found] == [
        {
            "name": "xray-compact-bicubic-x4",
            "model": "realesrgan-compact",
            "weights": str(tmp_path / "compact-bicubic-x4.pth"),
            "scales": [4],
        }
    ]
    assert found[0][1]["scenario"] == "bicubic"
    assert gpu_study.xray_generators(tmp_path / "absent") == []


def test_a_sidecar_without_model_is_refused(tmp_path):
    (tmp_path / "broken.pth").write_bytes(b"weights")
    (tmp_path / "broken.json").write_text(json.dumps({"scale": 4}))
    with pytest.raises(UserError, match="broken.json: expected JSON with `model` and `scale`"):
        gpu_study.xray_generators(tmp_path)


# -- sizing --------------------------------------------------------------------------------------------
PILOT_STAGES = [
    {"stage": "images: manifest, checks, leakage", "seconds": 3.0},
    {"stage": "classifier: load or train", "seconds": 2.0},
    {"stage": "HR references", "seconds": 1.0},
    {"stage": "SR models: load or train", "seconds": 4.0},
    {"stage": "cell bicubic-x4: degrade, upscale, quality, classify", "seconds": 6.0},
    {"stage": "cell bicubic-x8: degrade, upscale, quality, classify", "seconds": 3.0},
    {"stage": "statistics and tables", "seconds": 2.0},
]


def test_projection_scales_cells_linearly_and_statistics_as_n_to_the_1_5():
    # 32 pilot images -> 128 images: ratio 4; fixed 3 + 2 + 4 = 9; linear (1 + 6 + 3) x 4 = 40;
    # statistics 2 x 4^1.5 = 16.
    assert gpu_study.project_study_s(PILOT_STAGES, 32, 128) == pytest.approx(9 + 40 + 16)


def test_size_study_keeps_every_image_when_it_fits_and_else_the_largest_that_fits():
    counts = [234, 390]
    assert gpu_study.size_study(PILOT_STAGES, 32, counts, budget_s=10_000, least_per_class=16) is None
    per_class = gpu_study.size_study(PILOT_STAGES, 32, counts, budget_s=200, least_per_class=16)
    images = gpu_study._images_for(per_class, counts)
    assert gpu_study.project_study_s(PILOT_STAGES, 32, images) <= 200
    assert gpu_study.project_study_s(PILOT_STAGES, 32, gpu_study._images_for(per_class + 1, counts)) > 200
    # Never below the pilot's size, whose statistics are known to compute (2 per class, say).
    assert gpu_study.size_study(PILOT_STAGES, 32, counts, budget_s=1, least_per_class=16) == 16


def test_plan_seeds_cuts_epochs_then_seeds_then_everything():
    # 300 s for 3 seeds: 100 s each; 10 s reading + 9 epochs of 10 s = 100 s.
    assert gpu_study.plan_seeds(300, 3, 20, read_s=10, epoch_s=10) == (9, 3)
    assert gpu_study.plan_seeds(3000, 3, 20, read_s=10, epoch_s=10) == (20, 3)
    # 45 s: no seed gets 2 epochs (15 s each), two get one epoch (20 s each).
    assert gpu_study.plan_seeds(45, 3, 20, read_s=10, epoch_s=10) == (1, 2)
    assert gpu_study.plan_seeds(19, 3, 20, read_s=10, epoch_s=10) == (0, 0)


def test_headline_reads_threshold_0_5_and_threshold_free_rows():
    summary = {
        "tables": {
            "classification": [
                {"cell": "c", "variant": "HR", "metric": "accuracy", "threshold": "0.5", "estimate": 0.9},
                {
                    "cell": "c",
                    "variant": "HR",
                    "metric": "accuracy",
                    "threshold": "youden-hr",
                    "estimate": 0.1,
                },
                {"cell": "c", "variant": "HR", "metric": "auroc", "threshold": "", "estimate": 0.95},
                {"cell": "c", "variant": "HR", "metric": "brier", "threshold": "", "estimate": 0.2},
                {
                    "cell": "c",
                    "variant": "bicubic",
                    "metric": "auroc",
                    "threshold": "",
                    "estimate": float("nan"),
                },
            ],
            "flips": [
                {"cell": "c", "variant": "bicubic", "threshold": "0.5", "n_flips": 3},
                {"cell": "c", "variant": "bicubic", "threshold": "youden-hr", "n_flips": 9},
            ],
        }
    }
    assert gpu_study.headline_rows(summary["tables"]) == [
        {"cell": "c", "variant": "HR", "accuracy": 0.9, "auroc": 0.95},
        {"cell": "c", "variant": "bicubic", "auroc": None, "n_flips": 3},
    ]


# -- the record ----------------------------------------------------------------------------------------
def _minimal_record(**changes) -> dict:
    record = {
        "complete": False,
        "date": "2026-12-04",
        "device": "NVIDIA H200",
        "device_type": "cuda",
        "smoke": False,
        "command": "python -m benchmark gpu-study",
        "git_commit": None,
        "versions": {"torch": "2.11.0"},
        "budget_s": 540.0,
        "wall_s": 1.0,
        "stages": [{"stage": "SR throughput", "seconds": 1.0, "cuda_peak_mb": 10.0}],
        "cuts": [],
    }
    return {**record, **changes}


def test_record_schema_accepts_a_partial_record_and_refuses_wrong_ones(tmp_path):
    path = write_record(tmp_path / "r.json", _minimal_record())
    assert read_record(path).complete is False
    for broken in (
        _minimal_record(date="04.12.2026"),
        _minimal_record(device_type="tpu"),
        _minimal_record(unknown_field=1),
        {key: value for key, value in _minimal_record().items() if key != "wall_s"},
        _minimal_record(sr_throughput=[{"model": "x", "precision": "bf16", "batch_size": 4}]),
    ):
        with pytest.raises(ValidationError):
            write_record(tmp_path / "broken.json", broken)
    assert not (tmp_path / "broken.json").exists()


def test_record_name_is_date_and_device_and_marks_rehearsals():
    assert record_name("2026-12-04", "NVIDIA H200", smoke=False) == "2026-12-04-nvidia-h200.json"
    assert (
        record_name("2026-12-04", "cpu x86_64 2 cores", smoke=True)
        == "2026-12-04-cpu-x86-64-2-cores-smoke.json"
    )


def test_targets_state_met_unmet_and_unmeasured():
    record = {
        "wall_s": 610.0,
        "official_comparison": {"ratios": [{"name": "RRDBNet batch 4 vs RealESRGANer (cuda)", "ratio": 1.3}]},
        "sr_throughput": [
            {"arch": "RRDBNet", "precision": "bf16", "fraction_of_dense_bf16_peak": 0.12},
            {"arch": "RRDBNet", "precision": "fp32", "fraction_of_dense_bf16_peak": 0.5},
            {"arch": "SRVGGNetCompact", "precision": "bf16", "fraction_of_dense_bf16_peak": 0.3},
        ],
        "classifiers": [{"source": "trained"}] * 3,
        "classifier_train_s": 250.0,
    }
    met = [target["met"] for target in gpu_study.targets(record, full_train=True)]
    assert met == [False, True, False, True]
    assert gpu_study.targets(record, full_train=False)[3]["met"] is False
    unmeasured = gpu_study.targets({"wall_s": 5.0}, full_train=True)
    assert [target["met"] for target in unmeasured] == [True, None, None, None]


# -- TensorFlow and PyTorch on one GPU ---------------------------------------------------------------
def _python_files():
    for folder in SOURCE_FOLDERS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _uses_tf_config(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "config":
            if isinstance(node.value, ast.Name) and node.value.id in ("tf", "tensorflow"):
                return True
    return False


def test_tensorflow_is_configured_in_one_place_and_entered_only_through_it():
    """``classifiers/runtime.py`` sets memory growth; any other module importing TensorFlow imports
    ``classifiers.runtime`` too (so it ran first); the only exception is a CPU benchmark script."""
    configures, importers = [], {}
    for path in _python_files():
        relative = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_bytes())
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        modules = {module for module, _ in import_statements(tree, package)}
        if _uses_tf_config(tree):
            configures.append(relative)
        if any(module == "tensorflow" or module.startswith("tensorflow.") for module in modules):
            importers[relative] = modules
    assert configures == ["classifiers/runtime.py"]
    assert set(importers) == {
        "classifiers/runtime.py",
        "classifiers/gradcam.py",
        "benchmarks/multiplicity_gc.py",
        "benchmarks/gradcam_graph.py",
    }
    assert "classifiers.runtime" in importers["classifiers/gradcam.py"]


#: Settings that make a framework preallocate GPU memory or cap its share (starving the other).
ALLOCATOR_VARIABLES = (
    "PYTORCH_CUDA_ALLOC_CONF",
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "TF_FORCE_GPU_ALLOW_GROWTH",
)
CAPPING_CALLS = (
    "set_per_process_memory_fraction",
    "set_virtual_device_configuration",
    "set_logical_device_configuration",
)


def _memory_settings(tree: ast.AST) -> list[str]:
    """Calls that cap a framework's GPU memory, and writes of an allocator variable (reads are fine)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in CAPPING_CALLS:
                found.append(node.func.attr)
            first = node.args[0] if node.args else None
            if node.func.attr in ("setdefault", "putenv", "update") and isinstance(first, ast.Constant):
                found += [first.value] if first.value in ALLOCATOR_VARIABLES else []
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                key = target.slice if isinstance(target, ast.Subscript) else None
                if isinstance(key, ast.Constant) and key.value in ALLOCATOR_VARIABLES:
                    found.append(key.value)
        elif isinstance(node, ast.Dict):
            keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
            found += [key for key in keys if key in ALLOCATOR_VARIABLES]
    return found


def test_memory_settings_finder_sees_writes_and_caps_not_reads():
    written = ast.parse(
        "os.environ['PYTORCH_CUDA_ALLOC_CONF'] = 'x'\n"
        "os.environ.setdefault('TF_FORCE_GPU_ALLOW_GROWTH', '1')\n"
        "env = {**os.environ, 'XLA_PYTHON_CLIENT_PREALLOCATE': 'true'}\n"
        "torch.cuda.set_per_process_memory_fraction(0.5)\n"
    )
    assert len(_memory_settings(written)) == 4
    assert _memory_settings(ast.parse("os.environ.get('PYTORCH_CUDA_ALLOC_CONF')")) == []


def test_no_module_preallocates_or_caps_gpu_memory():
    """torch's caching allocator reserves memory as tensors need it and TensorFlow grows on demand
    (above); nothing in the project preallocates or caps one framework's share."""
    for path in _python_files():
        assert _memory_settings(ast.parse(path.read_bytes())) == [], path


class _FakeGPU:
    def __init__(self, name):
        self.name, self.device_type = name, "GPU"


def test_memory_growth_is_set_on_every_fake_gpu(monkeypatch):
    tf = pytest.importorskip("tensorflow")
    from classifiers import runtime

    gpus, grown = [_FakeGPU("/physical_device:GPU:0"), _FakeGPU("/physical_device:GPU:1")], []
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, on: grown.append((gpu, on)))
    runtime._configure_tensorflow()
    assert grown == [(gpus[0], True), (gpus[1], True)]

    def too_late(gpu, on):
        raise RuntimeError("Physical devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", too_late)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runtime._configure_tensorflow()
    assert [str(w.message) for w in caught if "memory growth" in str(w.message)][:1] == [
        "Could not enable memory growth on /physical_device:GPU:0: TensorFlow already initialised it. "
        "Import classifiers before running any TensorFlow op."
    ]


def test_gpu_memory_record_reads_the_faked_device(monkeypatch):
    import torch

    mb = 1024**2
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (100_000 * mb, 143_771 * mb))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: 30_000 * mb)
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda: 32_000 * mb)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda: 31_000 * mb)
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    memory = gpu_study.gpu_memory("cuda")
    assert memory["free_at_end_mb"] == 100_000 and memory["total_mb"] == 143_771
    assert memory["max_allocated_mb"] == 30_000 and memory["pytorch_cuda_alloc_conf"] is None
    assert gpu_study.gpu_memory("cpu") is None


# -- the rehearsal ---------------------------------------------------------------------------------------
# As on the GPU machine: Keras on PyTorch, and `import tensorflow` fails as if it were not installed.
_REHEARSAL = """
import sys
sys.modules["tensorflow"] = None
from benchmark.commands.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("data", ["shared", "shipped"])
def test_cpu_rehearsal_runs_the_gpu_code_path_and_writes_a_valid_record(tmp_path, data):
    if data == "shared" and not (SHARED / "data" / "kermany-224").is_dir():
        pytest.skip(f"{SHARED}/data/kermany-224 is absent (the shipped-data rehearsal covers this)")
    shared = SHARED if data == "shared" else tmp_path / "no-shared"
    environment = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(ROOT)}
    command = [
        "gpu-study",
        "--device",
        "cpu",
        "--smoke",
        "--out",
        str(tmp_path / "out"),
        "--shared",
        str(shared),
    ]
    completed = subprocess.run(
        [sys.executable, "-c", _REHEARSAL, *command, "--quiet"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    (path,) = (tmp_path / "out").glob("*-smoke.json")
    record = read_record(path)
    assert isinstance(record, GpuStudyRecord) and record.complete and record.smoke
    assert record.device_type == "cpu" and record.versions["keras_backend"] == "torch"
    assert record.test_images == 4 and record.cells == ["bicubic-x4"]
    sources = {model.name: model.source for model in record.sr_models}
    assert sources["bicubic"] == "interpolation" and sources["rrdbnet-random"] == "random"
    assert "pinned" in sources.values()
    variants = {row.variant for row in record.headline}
    assert {"HR", "LR-nearest", *sources} <= variants
    measured = {row.model for row in record.sr_throughput}
    assert measured == {name for name, source in sources.items()}
    assert all(row.precision in ("fp32", "cpu-float32") for row in record.sr_throughput)
    arches = {row.model: row.arch for row in record.sr_throughput}
    assert arches["rrdbnet-random"] == "RRDBNet" and arches["bicubic"] is None
    shipped, trained = record.classifiers
    assert shipped.source == "shipped" and trained.source == "trained" and trained.seed == 0
    assert trained.epochs_run == 1 and trained.test["n_images"] == 4
    assert record.classifier_train_s == pytest.approx(trained.train_s)
    stages = [stage.stage for stage in record.stages]
    assert stages[:3] == [
        "SR models: weights and discovery",
        "SR throughput per model and precision",
        "RRDBNet vs official RealESRGANer",
    ]
    assert "study: pipeline run" in stages and "classifier: train seed 0" in stages
    assert record.wall_s >= sum(stage.seconds for stage in record.stages)
    assert record.peak_gpu_memory_mb is None and record.gpu_memory is None
    assert (Path(record.run_dir) / "summary.json").is_file()
