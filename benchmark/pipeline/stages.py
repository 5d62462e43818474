"""The cached per-image stages: HR reference -> LR (degrade) -> SR (upscale) -> IQ metrics and P(pneumonia).

Every value is keyed by the content it came from (image sha256, stage parameters, weights sha256) and
the identity of the code producing it (``benchmark.code_identity``), so a re-run computes only what
changed and a killed run resumes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.degradations import degrade
from benchmark.image_stack import ImageStack
from benchmark.images import read_grayscale, resize_square
from benchmark.metrics import measure_quality_batch
from benchmark.pipeline.cache import Cache, content_key, stage_key
from benchmark.pipeline.config import CellConfig, LpipsConfig, Suite
from benchmark.seeding import item_rng
from cxr_kernel.errors import UserError
from cxr_kernel.variants import HR, LR, LR_DISPLAYS
from sr_models.upscaler import NonFiniteOutput


@dataclass(frozen=True)
class Images:
    """A variant of the evaluation set: (N, H, W) float32 in [0, 1] and one content key per image.

    ``pixels`` is an :class:`ImageStack` (loaded image by image) when it comes from the cache.
    ``seed_names`` (HR images only) name each image when deriving its degradation generator.
    """

    name: str
    pixels: np.ndarray | ImageStack
    keys: list[str]
    seed_names: list[str] | None = None


def hr_seed_names(shas, size: int) -> list[str]:
    """A fixed name of each HR image (sha256, size) from which its degradations' generators derive.

    It was the HR cache key before keys carried the code identity, and must stay what it was: a change
    would redraw every noise realisation, and so every figure, without any code change.
    """
    return [content_key("hr", "1", sha256=sha, size=size) for sha in shas]


def hr_keys(shas, size: int) -> list[str]:
    """Cache keys of the HR references of images with these sha256 checksums at ``size``."""
    return [stage_key("hr", sha256=sha, size=size) for sha in shas]


def load_hr(table: pd.DataFrame, size: int, cache: Cache, *, progress: bool) -> Images:
    """HR references: each image read once and resized to ``size`` x ``size``."""
    keys = hr_keys(table["sha256"], size)
    paths = list(table["path"])
    pixels = cache.stack(
        "hr",
        keys,
        lambda batch: [resize_square(read_grayscale(paths[i]), size) for i in batch],
        progress=progress,
        description=HR,
    )
    return Images(HR, pixels, keys, hr_seed_names(table["sha256"], size))


def degrade_cell(hr: Images, cell: CellConfig, seed: int, cache: Cache, *, progress: bool) -> Images:
    """LR images of one cell; each image has its own generator derived from (seed, cell, image).

    ``hr.seed_names`` must be set (``load_hr`` sets them).
    """
    identity = json.dumps(
        {"scenario": cell.scenario, "scale": cell.scale, "params": cell.params}, sort_keys=True
    )
    keys = [stage_key("lr", hr=key, cell=identity, seed=seed) for key in hr.keys]

    def compute(batch):
        return [
            degrade(
                cell.scenario,
                hr.pixels[i],
                cell.scale,
                item_rng(seed, identity, hr.seed_names[i]),
                cell.params,
            )
            for i in batch
        ]

    return Images(
        LR, cache.stack("lr", keys, compute, progress=progress, description=f"{LR} {cell.label}"), keys
    )


def display_lr(lr: Images, size: tuple[int, int]) -> list[Images]:
    """The LR images shown at the classifier's input ``size``, once per ``LR_DISPLAYS`` method."""
    from classifiers.preprocessing import resize_images

    return [
        Images(
            name,
            resize_images(lr.pixels, size, method),
            [stage_key("lr_display", lr=key, size=size, method=method) for key in lr.keys],
        )
        for name, method in LR_DISPLAYS.items()
    ]


def upscale(
    lr: Images, name: str, upscaler, model_key: str, cache: Cache, *, progress: bool, image_ids=None
) -> Images:
    """SR images of one model; NaN or Inf output stops the run naming the model and the images
    (``image_ids``, one per LR image), and is never cached."""
    keys = [stage_key("sr", lr=key, model=model_key) for key in lr.keys]

    def compute(batch):
        try:
            return upscaler.upscale(lr.pixels[batch])
        except NonFiniteOutput as error:
            names = [image_ids[batch[i]] if image_ids is not None else batch[i] for i in error.positions]
            raise UserError(
                f"SR model {name!r} returned NaN or Inf for {len(names)} image(s): {names}. "
                "Check its weights (a diverged training run?), or run it at precision fp32."
            ) from None

    pixels = cache.stack("sr", keys, compute, progress=progress, description=f"SR {name}")
    return Images(name, pixels, keys)


@dataclass(frozen=True)
class QualityPlan:
    """How a cell's SR images are measured against HR: the suite's metrics, border crop, convention and
    LPIPS weights at the cell's scale."""

    metrics: tuple[str, ...]
    crop_border: int
    convention: str = "skimage"
    lpips_weights: LpipsConfig | None = None

    @classmethod
    def of(cls, suite: Suite, scale: int) -> QualityPlan:
        quality = suite.quality
        return cls(tuple(suite.metrics), suite.quality_crop(scale), quality.convention, quality.lpips)


def super_resolve(
    hr: Images,
    lr: Images,
    name: str,
    upscaler,
    model_key: str,
    plan: QualityPlan,
    cache: Cache,
    *,
    progress: bool,
    image_ids=None,
) -> tuple[Images, pd.DataFrame]:
    """One SR variant of a cell, upscaled and measured against HR (both cached): the one call list the
    in-process run and the executors' workers share, so the cache they fill is the one it reads."""
    sr = upscale(lr, name, upscaler, model_key, cache, progress=progress, image_ids=image_ids)
    measured = quality(
        hr,
        sr,
        list(plan.metrics),
        plan.crop_border,
        cache,
        convention=plan.convention,
        lpips_weights=plan.lpips_weights,
    )
    return sr, measured


def throughput(upscaler, lr: Images, *, max_images: int = 4) -> float:
    """Images per second of ``upscaler`` on the first few LR images (measured every run, never cached)."""
    batch = lr.pixels[:max_images]
    upscaler.upscale(batch[:1])  # warm-up: lazy initialisation and kernel selection are not throughput
    start = time.perf_counter()
    upscaler.upscale(batch)
    return len(batch) / (time.perf_counter() - start)


def quality(
    hr: Images,
    sr: Images,
    metrics: list[str],
    crop_border: int,
    cache: Cache,
    *,
    convention: str = "skimage",
    lpips_weights=None,
    batch_size: int = 16,
) -> pd.DataFrame:
    """Per-image IQ metrics of ``sr`` against ``hr``: columns variant, image_index, metric, value.

    Missing values are computed ``batch_size`` images at a time (``measure_quality_batch``) and each
    image's values are cached as soon as its batch finishes.  With ``lpips`` among ``metrics`` the
    sha256 of its weight files (``lpips_weights``) is part of the key, so other weights recompute.
    """
    if "lpips" in metrics:
        from benchmark.metrics.lpips_network import load_network, weights_sha256

        load_network(lpips_weights)  # a missing weights file raises its UserError here
        network = {"lpips": weights_sha256(lpips_weights)}
    else:
        network = {}  # keys of weight-free metrics stay as they were before LPIPS existed
    keys = [
        stage_key(
            "quality",
            sr=key,
            hr=hr_key,
            metrics=metrics,
            crop=crop_border,
            convention=convention,
            **network,
        )
        for key, hr_key in zip(sr.keys, hr.keys, strict=True)
    ]
    missing = [i for i, key in enumerate(keys) if not cache.contains("quality", key, ".json")]
    computed = {}
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        columns = measure_quality_batch(
            hr.pixels[batch],
            sr.pixels[batch],
            metrics,
            crop_border=crop_border,
            convention=convention,
            lpips_weights=lpips_weights,
        )
        for position, index in enumerate(batch):
            values = {metric: float(column[position]) for metric, column in columns.items()}
            computed[index] = cache.json("quality", keys[index], lambda values=values: values)
    rows = []
    for index, key in enumerate(keys):
        values = cache.json("quality", key, lambda index=index: computed[index])
        rows += [(sr.name, index, metric, float(value)) for metric, value in values.items()]
    return pd.DataFrame(rows, columns=["variant", "image_index", "metric", "value"])


def predict(
    classifier, classifier_sha: str, images: Images, cache: Cache, *, batch_size: int = 32
) -> np.ndarray:
    """P(pneumonia) for every image of a variant, cached per (classifier, exact images).

    Images are loaded ``batch_size`` at a time (the classifier's own batch), never all at once.
    """
    key = stage_key("predict", classifier=classifier_sha, images=images.keys)

    def compute() -> list[float]:
        pixels = images.pixels
        batches = (pixels[start : start + batch_size] for start in range(0, len(pixels), batch_size))
        return np.concatenate(
            [classifier.predict(batch, batch_size=batch_size) for batch in batches]
        ).tolist()

    probabilities = cache.json("predict", key, compute)
    return np.asarray(probabilities, dtype=np.float64)


def gradcam_maps(classifier, classifier_sha: str, images: Images, cache: Cache) -> np.ndarray:
    """(N, h, w) saliency maps in [0, 1] of ``images`` (``classifier.explain``: Grad-CAM for the keras
    and torch types), cached per (classifier, exact image)."""
    keys = [stage_key("gradcam", classifier=classifier_sha, image=k) for k in images.keys]
    return cache.arrays(
        "gradcam",
        keys,
        lambda batch: classifier.explain(images.pixels[batch]),
        batch_size=32,
        progress=False,
    )


def gradcam_similarity(
    classifier, classifier_sha: str, hr: Images, variant: Images, cache: Cache
) -> pd.DataFrame:
    """Per-image similarity of ``variant``'s Grad-CAM maps to HR's (``classifiers.saliency.map_similarity``).

    Columns variant, image_index, metric, value.
    """
    from classifiers.saliency import map_similarity

    similarity = map_similarity(
        gradcam_maps(classifier, classifier_sha, variant, cache),
        gradcam_maps(classifier, classifier_sha, hr, cache),
    )
    rows = [
        (variant.name, index, metric, float(value))
        for metric, values in similarity.items()
        for index, value in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=["variant", "image_index", "metric", "value"])
