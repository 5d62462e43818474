"""Command line: ``python -m benchmark {run,list,manifest,degrade,train-sr,ship-sr,train-classifier,
ship-classifier,report,compare,check,pin,perf,gpu-study}``.

Exit status: 0 success, 1 a regression found by ``check``, 2 an error the user can fix.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from cxr_kernel.errors import UserError

# File errors that name the path a user gave (open() of a missing --out folder, a read-only target):
# one line, exit status 2. Every other exception is a bug and keeps its traceback (exit status 1).
_PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


_FALLBACK_HELP = "use the suite's `fallback:` block (phantoms) even when its real data is present"


def _quiet_default() -> bool:
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


def _cmd_run(args) -> None:
    from benchmark.pipeline.config import load_suite
    from benchmark.pipeline.study import RunOptions, run_suite

    if args.workers < 1:
        raise UserError(f"Expected --workers >= 1, got {args.workers}. Use 1 to compute in this process.")
    suite = load_suite(args.suite, data_root=args.data_root, smoke=args.smoke, fallback=args.fallback)
    options = RunOptions(
        runs_dir=args.runs_dir,
        run_id=args.run_id,
        device=args.device,
        progress=not args.quiet,
        on_bad_image=args.on_bad_image,
        executor=args.executor,
        workers=args.workers,
        overwrite=args.overwrite,
        stage_log=not sys.stdout.isatty(),
    )
    from reports import render_run

    report = render_run(run_suite(suite, options))
    print(f"Report: {report.resolve()}")


def _cmd_list(args) -> None:
    from benchmark.degradations import DEGRADATIONS
    from benchmark.metrics import CLASSIFICATION_METRICS, IMAGE_QUALITY_METRICS
    from benchmark.pipeline.config import available_suites
    from sr_models import MODELS
    from sr_models.presets import PRESETS

    sections = {
        "suites": [f"{name}  ({path})" for name, path in available_suites().items()],
        "degradations": DEGRADATIONS.names(),
        "SR models": MODELS.names(),
        "SR training presets": sorted(PRESETS),
        "image-quality metrics": IMAGE_QUALITY_METRICS.names(),
        "classification metrics": CLASSIFICATION_METRICS.names(),
    }
    for title, names in sections.items():
        print(f"{title}:")
        for name in names:
            print(f"  {name}")


def _cmd_manifest_build(args) -> None:
    from benchmark.manifest import build_manifest, write_manifest

    table = build_manifest(
        args.data_root, splits=args.splits, checksums=not args.no_checksums, progress=not args.quiet
    )
    write_manifest(table, args.out)
    counts = table.groupby(["split", "label"]).size().to_dict()
    summary = ", ".join(f"{split}/{label} {n}" for (split, label), n in counts.items())
    print(f"Wrote {len(table)} rows to {args.out}: {summary}")


def _cmd_manifest_verify(args) -> None:
    from benchmark.manifest import read_manifest, verify_manifest, write_manifest

    table = read_manifest(args.manifest)
    verified = verify_manifest(table, args.data_root, progress=not args.quiet)
    filled = int((table["sha256"] == "").sum())
    if args.fill_checksums and filled:
        write_manifest(verified, args.manifest)
    note = f"; {filled} checksum(s) were not recorded" + (
        " and are now filled in" if args.fill_checksums else ""
    )
    print(f"OK: {len(table)} files present and matching under {args.data_root}{note if filled else ''}.")


def _parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"Expected --param KEY=VALUE, got {pair!r}.")
        key, value = pair.split("=", 1)
        try:
            params[key] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or type(error).__name__
            raise UserError(
                f"--param {pair!r}: the value is not valid YAML ({problem}). Write a number, a word or "
                "a list such as [0.1, 0.5], quoted for the shell: --param 'sigma=[0.1, 0.5]'."
            ) from None
    return params


def _check_seed(seed: int) -> None:
    from benchmark.seeding import MAX_SEED

    if not 0 <= seed <= MAX_SEED:
        raise UserError(f"Expected --seed from 0 to {MAX_SEED}, got {seed}. Use e.g. --seed 0.")


def _cmd_degrade(args) -> None:
    from benchmark.degradations import degrade
    from benchmark.images import read_grayscale, write_png
    from benchmark.seeding import item_rng

    _check_seed(args.seed)
    params = _parse_params(args.param)
    image = read_grayscale(args.input)
    height, width = (side - side % args.scale for side in image.shape)
    lr = degrade(
        args.scenario,
        image[:height, :width],
        args.scale,
        item_rng(args.seed, args.input.name),
        params,
    )
    write_png(args.output, lr)
    print(
        f"Wrote {args.output} ({lr.shape[1]}x{lr.shape[0]}, {args.scenario} x{args.scale}, seed {args.seed})."
    )


def _cmd_train_sr(args) -> None:
    from benchmark.commands.train_sr import train_from_cli

    _check_seed(args.seed)
    weights = train_from_cli(args)
    if weights is not None:  # None on torchrun ranks other than 0
        print(f"Weights: {weights}")


def _cmd_train_classifier(args) -> None:
    from benchmark.commands.train_classifier import train_from_cli

    print(f"Classifier: {train_from_cli(args)}")


def _cmd_ship_classifier(args) -> None:
    from benchmark.pipeline.classifier_ship import ship_from_cli

    ship_from_cli(args)


def _cmd_ship_sr(args) -> None:
    from benchmark.pipeline.sr_ship import ship_from_cli

    print(f"Sidecar: {ship_from_cli(args)}")


def _cmd_report(args) -> None:
    from reports import render_run

    print(f"Report: {render_run(args.run_dir).resolve()}")


def _cmd_compare(args) -> None:
    from reports.compare import render_comparison

    print(f"Comparison: {render_comparison(args.run_a, args.run_b, args.out).resolve()}")


def _cmd_check(args) -> int:
    from benchmark.commands.check import check_from_cli

    return check_from_cli(args)


def _cmd_pin(args) -> None:
    from benchmark.pipeline.config import load_suite
    from benchmark.pipeline.pinning import pin_models
    from benchmark.pipeline.study import RunOptions

    suite = load_suite(args.suite, data_root=args.data_root, smoke=args.smoke)
    options = RunOptions(runs_dir=args.runs_dir, device=args.device, progress=not args.quiet)
    record = pin_models(suite, args.out, options, require_learning=not args.smoke)
    for name, figures in record["learning"].items():
        print(f"{name}: " + ", ".join(f"{key} {value:.4f}" for key, value in figures.items()))
    print(f"Pinned {len(record['files'])} files in {args.out} (see pins.json); review and commit them.")


def _cmd_perf(args) -> None:
    from benchmark.pipeline.perf import PerfOptions, run_perf

    options = PerfOptions(
        device=args.device,
        quick=args.quick,
        out=args.out,
        repeats=args.repeats,
        sections=tuple(args.sections),
        compile_on_cpu=not args.no_compile,
        data_root=args.data_root,
        realesrgan_path=args.realesrgan_path,
    )
    print(f"\nFigures: {run_perf(options).resolve()}")


def _cmd_gpu_study(args) -> None:
    from benchmark.pipeline.gpu_study import GpuStudyOptions, run_gpu_study

    options = GpuStudyOptions(
        out=args.out,
        device=args.device,
        smoke=args.smoke,
        shared=args.shared,
        budget_s=args.budget_s,
        progress=not args.quiet,
    )
    print(f"Record: {run_gpu_study(options)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a suite end to end and write its report")
    run.add_argument("--suite", required=True, help="suite name (see `list`) or path to a suite YAML")
    run.add_argument("--data-root", type=Path, help="folder holding train/ and test/ (real-data suites)")
    run.add_argument("--runs-dir", type=Path, default=Path("runs"), help="output root (default: runs)")
    run.add_argument(
        "--run-id",
        help="write into runs/<suite>/<run-id> (default: timestamp + config hash); an existing one is "
        "resumed only with the same config",
    )
    run.add_argument(
        "--overwrite", action="store_true", help="clear the --run-id directory even if it holds another run"
    )
    run.add_argument("--device", help="torch device for SR models (default: cuda if available, else cpu)")
    run.add_argument("--smoke", action="store_true", help="apply the suite's `smoke:` block (small CI run)")
    run.add_argument("--fallback", action="store_true", help=_FALLBACK_HELP)
    run.add_argument("--quiet", action="store_true", default=None, help="no progress bars (default in CI)")
    run.add_argument(
        "--on-bad-image",
        choices=["fail", "skip"],
        default="fail",
        help="an unusable image stops the run (fail, default) or is left out and counted (skip)",
    )
    run.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where the cell x SR model x image-shard grid runs (ray: RAY_ADDRESS or a new local instance)",
    )
    run.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: in-process)")
    run.set_defaults(handler=_cmd_run)

    commands.add_parser("list", help="suites, degradations, SR models, metrics").set_defaults(
        handler=_cmd_list
    )

    manifest = commands.add_parser("manifest", help="build or verify an image manifest").add_subparsers(
        dest="manifest_command", required=True
    )
    build = manifest.add_parser(
        "build", help="manifest of a Kaggle-layout folder {train,test,val}/{NORMAL,PNEUMONIA}"
    )
    build.add_argument("data_root", type=Path)
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--splits", nargs="+", default=["train", "val", "test"])
    build.add_argument("--no-checksums", action="store_true", help="leave sha256 empty (fast)")
    build.add_argument("--quiet", action="store_true", default=None)
    build.set_defaults(handler=_cmd_manifest_build)
    verify = manifest.add_parser("verify", help="check files exist and match their sha256")
    verify.add_argument("manifest", type=Path)
    verify.add_argument("--data-root", type=Path, required=True)
    verify.add_argument("--fill-checksums", action="store_true", help="record checksums the manifest lacks")
    verify.add_argument("--quiet", action="store_true", default=None)
    verify.set_defaults(handler=_cmd_manifest_verify)

    degrade = commands.add_parser("degrade", help="degrade one image with a scenario, to look at it")
    degrade.add_argument("input", type=Path)
    degrade.add_argument("output", type=Path)
    degrade.add_argument("--scenario", required=True)
    degrade.add_argument("--scale", type=int, default=4, choices=[2, 4, 8])
    degrade.add_argument("--seed", type=int, default=0)
    degrade.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="scenario parameter"
    )
    degrade.set_defaults(handler=_cmd_degrade)

    train = commands.add_parser(
        "train-sr",
        help="train or fine-tune an SR generator on HR images of a manifest (see docs/sr_training.md)",
    )
    train.add_argument(
        "--model", required=True, help="a learned SR model of `list` (srgan, realesrgan-compact, ...)"
    )
    train.add_argument(
        "--preset",
        help="training preset (see `list`): default the model's paper preset; finetune-l1 to fine-tune",
    )
    train.add_argument("--config", type=Path, help="YAML of preset overrides (e.g. pretrain_steps: 1000)")
    train.add_argument(
        "--init-weights", type=Path, help="generator weights file to start from (its arch is used)"
    )
    train.add_argument(
        "--scenario", help="degradation the LR patches get (default: the preset's), any of `list`"
    )
    train.add_argument(
        "--manifest", type=Path, help="manifest of HR training images (default: demo phantoms)"
    )
    train.add_argument("--data-root", type=Path)
    train.add_argument("--split", default="train")
    train.add_argument(
        "--exclude-patients-of",
        type=Path,
        action="append",
        default=[],
        metavar="MANIFEST",
        help="also leave out the patients of this manifest's test images (repeatable)",
    )
    train.add_argument("--scale", type=int, default=4, choices=[2, 4])
    train.add_argument("--hr-size", type=int, default=512)
    train.add_argument(
        "--max-images", type=int, default=200, help="seeded random sample, half per class, by patient"
    )
    train.add_argument("--on-bad-image", choices=["fail", "skip"], default="fail", help="as for `run`")
    train.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    train.add_argument("--vgg-weights", type=Path, help="torchvision-format vgg19 state dict")
    train.add_argument(
        "--out",
        type=Path,
        required=True,
        help="work dir: checkpoints, history.csv, weights.pth, training.json",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device")
    train.add_argument("--quiet", action="store_true", default=None)
    train.set_defaults(handler=_cmd_train_sr)

    ship_sr = commands.add_parser(
        "ship-sr",
        help="write a shipped SR generator (.pth + .json sidecar) from train-sr's --out, scored on a suite",
    )
    ship_sr.add_argument("--from", dest="source", type=Path, required=True, help="a train-sr --out folder")
    ship_sr.add_argument("--to", type=Path, required=True, help="e.g. sr_models/weights/NAME.pth")
    ship_sr.add_argument("--suite", required=True, help="suite whose evaluation images and cells score it")
    ship_sr.add_argument(
        "--cells",
        nargs="+",
        metavar="LABEL",
        help="cells to score it in (default: all at its scale), e.g. bicubic-x4",
    )
    ship_sr.add_argument("--data-root", type=Path, help="as for `run`")
    ship_sr.add_argument("--runs-dir", type=Path, default=Path("runs"), help="cache root (runs/.cache)")
    ship_sr.add_argument("--on-bad-image", choices=["fail", "skip"], default="fail", help="as for `run`")
    ship_sr.add_argument("--quiet", action="store_true", default=None)
    ship_sr.set_defaults(handler=_cmd_ship_sr)

    classifier = commands.add_parser(
        "train-classifier", help="train a suite's classifier (cached) and score it on the eval split"
    )
    classifier.add_argument("--suite", required=True, help="suite name (see `list`) or path to a suite YAML")
    classifier.add_argument("--data-root", type=Path, help="folder holding train/ and test/")
    classifier.add_argument("--runs-dir", type=Path, default=Path("runs"), help="cache root (runs/.cache)")
    classifier.add_argument(
        "--out", type=Path, help="model, history, scores (default: runs/<suite>/classifier)"
    )
    classifier.add_argument("--smoke", action="store_true", help="apply the suite's `smoke:` block")
    classifier.add_argument("--on-bad-image", choices=["fail", "skip"], default="fail", help="as for `run`")
    classifier.add_argument(
        "--threads", type=int, help="torch threads of a `type: torch` training (default: torch's own)"
    )
    classifier.add_argument("--quiet", action="store_true", default=None)
    classifier.set_defaults(handler=_cmd_train_classifier)

    ship = commands.add_parser(
        "ship-classifier",
        help="write a shipped classifier (.keras + .json sidecar) from train-classifier's --out",
    )
    ship.add_argument("--suite", required=True, help="the suite that trained it (seed, recipe, data lists)")
    ship.add_argument("--from", dest="source", type=Path, required=True, help="train-classifier --out folder")
    ship.add_argument("--to", type=Path, required=True, help="e.g. classifiers/weights/reference-cnn.keras")
    ship.add_argument(
        "--test-dir", type=Path, required=True, help="NORMAL/ and PNEUMONIA/ folders scored independently"
    )
    ship.add_argument("--data-root", type=Path, help="folder holding train/ and test/")
    ship.add_argument("--runs-dir", type=Path, default=Path("runs"), help="cache root (runs/.cache)")
    ship.add_argument("--on-bad-image", choices=["fail", "skip"], default="fail", help="as for `run`")
    ship.add_argument("--log", type=Path, help="training log, for epoch times when history.csv has none")
    ship.add_argument("--quiet", action="store_true", default=None)
    ship.set_defaults(handler=_cmd_ship_classifier)

    report = commands.add_parser("report", help="re-render a run's report and tables from its stored results")
    report.add_argument("run_dir", type=Path)
    report.set_defaults(handler=_cmd_report)

    compare = commands.add_parser("compare", help="side-by-side page of two runs' headline results")
    compare.add_argument("run_a", type=Path)
    compare.add_argument("run_b", type=Path)
    compare.add_argument(
        "--out", type=Path, help="HTML file (default: RUN_A/comparisons/<suite>_<run-id>.html)"
    )
    compare.set_defaults(handler=_cmd_compare)

    check = commands.add_parser(
        "check", help="run a suite (or take a run) and compare its headline figures with a baseline"
    )
    check.add_argument("run_dir", type=Path, nargs="?", help="a finished run (or give --suite)")
    check.add_argument("--suite", help="run this suite in a fresh cache, then check it")
    check.add_argument(
        "--baseline", type=Path, help="baseline JSON (with --suite: data_manifests/baselines/<suite>.json)"
    )
    check.add_argument(
        "--update-baseline",
        "--write-baseline",
        action="store_true",
        help="rewrite the baseline's figures from this run, keeping its tolerances",
    )
    check.add_argument(
        "--measure-tolerances",
        action="store_true",
        help="with --suite: run it under each instruction-set cap and write the baseline with tolerances "
        "set from the measured spread",
    )
    check.add_argument(
        "--tolerance", type=float, help="one tolerance (abs and rel) for all figures, not the file's"
    )
    check.add_argument("--smoke", action="store_true", help="with --suite: its `smoke:` block")
    check.add_argument("--fallback", action="store_true", help=_FALLBACK_HELP)
    check.add_argument("--data-root", type=Path)
    check.add_argument("--runs-dir", type=Path, default=Path("runs"))
    check.add_argument("--run-id")
    check.add_argument("--quiet", action="store_true", default=None)
    check.set_defaults(handler=_cmd_check)

    pin = commands.add_parser(
        "pin", help="train a suite's SR models and classifier once and keep the files (pinned models)"
    )
    pin.add_argument("--suite", required=True, help="the training suite, e.g. pneumonia-mini-train")
    pin.add_argument("--out", type=Path, required=True, help="folder for the files and pins.json")
    pin.add_argument(
        "--smoke", action="store_true", help="apply the suite's `smoke:` block (tests; no learning floors)"
    )
    pin.add_argument("--data-root", type=Path)
    pin.add_argument("--runs-dir", type=Path, default=Path("runs"), help="cache root (runs/.cache)")
    pin.add_argument("--device")
    pin.add_argument("--quiet", action="store_true", default=None)
    pin.set_defaults(handler=_cmd_pin)

    from benchmark.pipeline.perf import SECTIONS

    perf = commands.add_parser("perf", help="measure images/s and peak memory of every stage, and vs peers")
    perf.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    perf.add_argument("--quick", action="store_true", help="small images and reduced SR models (minutes)")
    perf.add_argument("--out", type=Path, help="directory for perf.json, e.g. a run directory")
    perf.add_argument("--repeats", type=int, default=3, help="timed passes per figure (median reported)")
    perf.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    perf.add_argument("--no-compile", action="store_true", help="skip torch.compile on the CPU")
    perf.add_argument("--data-root", type=Path, help="another copy of the pneumonia-mini images")
    perf.add_argument("--realesrgan-path", type=Path, help="--target dir holding realesrgan and basicsr")
    perf.set_defaults(handler=_cmd_perf)

    from benchmark.pipeline.gpu_study import BUDGET_S, GpuStudyOptions

    gpu = commands.add_parser(
        "gpu-study",
        help="the GPU study in one command (SR speed, the study, 3 classifier seeds), sized to 10 minutes",
    )
    gpu.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder of the JSON record")
    gpu.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    gpu.add_argument(
        "--smoke", action="store_true", help="a few images, tiny models, one short seed (the CPU rehearsal)"
    )
    gpu.add_argument(
        "--shared",
        type=Path,
        default=GpuStudyOptions.shared,
        help="folder holding data/kermany-224 and weights/ (default: ../shared beside the checkout)",
    )
    gpu.add_argument(
        "--budget-s", type=float, default=BUDGET_S, help="wall-clock budget the run sizes itself to"
    )
    gpu.add_argument("--quiet", action="store_true", default=None)
    gpu.set_defaults(handler=_cmd_gpu_study)

    from benchmark.commands.power import add_power_parser

    add_power_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "quiet", False) is None:
        args.quiet = _quiet_default()
    try:
        return args.handler(args) or 0
    except UserError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except _PATH_ERRORS as error:
        if args.debug or not error.filename:
            raise
        print(f"error: {error.filename}: {error.strerror}. Check the path.", file=sys.stderr)
        return 2
    except OSError as error:
        from cxr_kernel.atomic import DiskFull, is_disk_full

        if args.debug or not is_disk_full(error):
            raise  # anything but a full disk is a bug: keep its traceback
        print(f"error: {DiskFull(error.filename or Path.cwd())}", file=sys.stderr)
        return 2
