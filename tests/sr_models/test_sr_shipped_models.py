"""The X-ray generators shipped in sr_models/weights: each loads under its sidecar's model name, matches
the sidecar's checksum, is listed by the suites that run real generators, and (with ../shared) beats
bicubic on real test images in the cell it was trained for."""

from __future__ import annotations

import json

import pytest

from benchmark.manifest import sha256_file
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.config import PROJECT_DIR, SRModelConfig, load_suite
from benchmark.pipeline.sr_ship import evaluate_quality, quality_summary
from sr_models import load_upscaler

WEIGHTS = PROJECT_DIR / "sr_models" / "weights"
SHIPPED = sorted(WEIGHTS.glob("*.pth"))
SUITES = ("kermany-test-hr", "kermany-hr", "kermany-224", "pneumonia")
SHARED = PROJECT_DIR.parent / "shared" / "data" / "kermany-224"


def _sidecar(path):
    return json.loads(path.with_suffix(".json").read_text())


def test_generators_are_shipped():
    assert len(SHIPPED) >= 3


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_generator_loads_as_its_sidecar_says(path):
    sidecar = _sidecar(path)
    assert sidecar["weights_sha256"] == sha256_file(path)
    upscaler = load_upscaler(sidecar["model"], sidecar["scale"], path, device="cpu")
    assert upscaler.scale == sidecar["scale"]
    training = sidecar["training"]
    assert training["patches_seen"] == training["steps"] * training["recipe"]["batch_size"]
    assert sidecar["evaluation"]["cells"][f"{sidecar['scenario']}-x{sidecar['scale']}"]["images"] > 0


@pytest.mark.parametrize("suite", SUITES)
def test_suites_with_real_generators_list_every_shipped_one(suite):
    # `pneumonia` names official files that are not shipped: read its entries without loading it.
    import yaml

    from benchmark.pipeline.config import find_suite

    source = find_suite(suite)
    entries = yaml.safe_load(source.read_text())["sr_models"]
    listed = {(source.parent / e["weights"]).resolve() for e in entries if e.get("weights")}
    assert set(SHIPPED) <= listed


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data/kermany-224 (real X-rays) not beside the checkout"
)
def test_compact_bicubic_generator_beats_bicubic_on_real_test_images(tmp_path):
    path = WEIGHTS / "cxr-compact-bicubic-x4.pth"
    suite = load_suite("kermany-224")
    data = suite.data.model_copy(update={"max_eval_per_class": 3})
    cells = [cell for cell in suite.cells if cell.label == "bicubic-x4"]
    suite = suite.model_copy(update={"data": data, "cells": cells})
    entries = [SRModelConfig(name="cxr", model="realesrgan-compact", weights=path)]
    entries.append(SRModelConfig(name="bicubic", model="bicubic"))
    quality, _ = evaluate_quality(
        suite, entries, 4, cache=Cache(tmp_path), on_bad_image="skip", progress=False
    )
    summary = quality_summary(quality, "cxr")["bicubic-x4"]
    assert summary["images"] == 6 and summary["images_psnr_above_bicubic"] == 6
