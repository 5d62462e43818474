"""``python -m benchmark perf``: measured throughput and peak memory of every stage, and ratios to peers.

A benchmark script, not a test: it prints figures and writes them to ``<out>/perf.json``; nothing is
asserted about speed. Sections (all by default): ``sr`` (every SR model; CPU layouts and
``torch.compile``, CUDA precisions), ``peers`` (IQ metrics vs scikit-image, bicubic vs PIL),
``realesrgan`` (RRDBNet vs the official RealESRGANer), ``stages`` (degradations, IQ metrics, classifier)
and ``end-to-end`` (the mini suite, and peak memory against the number of images).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cxr_kernel.errors import UserValueError

SECTIONS = ("sr", "peers", "realesrgan", "stages", "end-to-end")


@dataclass
class PerfOptions:
    device: str = "cpu"
    quick: bool = False
    out: Path | None = None
    repeats: int = 3
    sections: tuple[str, ...] = SECTIONS
    compile_on_cpu: bool = True
    data_root: Path | None = None
    realesrgan_path: Path | None = None
    started: str = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    )


def default_out() -> Path:
    return Path("runs") / "perf" / dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")


def run_perf(options: PerfOptions) -> Path:
    """Measure the chosen sections, print each figure, and write ``perf.json``; returns its path."""
    import torch

    from benchmark.pipeline.perf import end_to_end, official_realesrgan, peers, sr_inference, stage_throughput
    from benchmark.pipeline.perf.results import Results

    if options.device == "cuda" and not torch.cuda.is_available():
        raise UserValueError(
            "Expected a CUDA device for --device cuda, but torch sees none. Use --device cpu."
        )
    unknown = sorted(set(options.sections) - set(SECTIONS))
    if unknown:
        raise UserValueError(f"Unknown perf section(s) {unknown}. Valid: {', '.join(SECTIONS)}.")
    results = Results()
    steps = {
        "sr": lambda: sr_inference.run(
            results,
            device=options.device,
            quick=options.quick,
            repeats=options.repeats,
            compile_on_cpu=options.compile_on_cpu,
        ),
        "peers": lambda: peers.run(results, quick=options.quick, repeats=options.repeats),
        "realesrgan": lambda: official_realesrgan.compare(
            results,
            device=options.device,
            quick=options.quick,
            repeats=options.repeats,
            extra_path=options.realesrgan_path,
        ),
        "stages": lambda: stage_throughput.run(results, quick=options.quick, repeats=options.repeats),
        "end-to-end": lambda: end_to_end.run(
            results, quick=options.quick, device=options.device, data_root=options.data_root
        ),
    }
    if options.device != "cuda" and torch.cuda.is_available() is False:
        results.skip("sr", "CUDA precisions", "torch sees no CUDA device; run with --device cuda on a GPU")
    for name in SECTIONS:
        if name in options.sections:
            results.header(name)
            steps[name]()
    path = (options.out or default_out()) / "perf.json"
    return results.write(path, {key: str(value) for key, value in asdict(options).items()})
