"""Where the evaluation grid (cell x SR model x image shard) is computed: a local process pool or Ray.

The unit of work is one shard of evaluation images, one cache batch long, so a worker holds at most one
batch of full-size images: first each (cell, shard) is degraded, then each (cell, SR model, shard) is
upscaled and measured. Workers only fill the content-addressed cache; the driver (``Study``) then
assembles every table from the cache exactly as an in-process run does, so the results do not depend
on which executor, or how many workers, computed them. The classifier stays in the driver (TensorFlow
in one process only), as do throughput figures (measured every run, never cached).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from benchmark.pipeline import sr_setup, stages
from benchmark.pipeline.cache import BATCH_SIZE, Cache
from benchmark.pipeline.config import CellConfig, SRModelConfig, Suite
from cxr_kernel.errors import UserError
from cxr_kernel.variants import HR

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to rebuild an SR model the driver prepared (weights trained or given)."""

    entry: SRModelConfig
    scale: int
    weights: Path | None
    device: str
    key: str


@dataclass(frozen=True)
class ShardTask:
    """One shard of one cell: its LR images, and with ``model`` also that model's SR images and IQ values."""

    cache_root: Path
    hr_keys: tuple[str, ...]
    hr_seed_names: tuple[str, ...]
    cell: CellConfig
    seed: int
    model: ModelSpec | None = None
    plan: stages.QualityPlan | None = None
    image_ids: tuple[str, ...] = ()  # one per HR key: named in errors (e.g. NaN SR output)


# The upscaler a worker process loaded last, reused while its tasks ask for the same model.
_loaded: dict[str, object] = {}


def _upscaler(model: ModelSpec):
    if model.key not in _loaded:
        _loaded.clear()
        _loaded[model.key] = sr_setup.prepare_upscaler(model.entry, model.scale, model.weights, model.device)
    return _loaded[model.key]


def run_shard(task: ShardTask) -> int:
    """Compute the cache entries of ``task`` (those missing); returns the number of images in the shard."""
    cache = Cache(task.cache_root)
    pixels = np.stack([cache.load_array("hr", key) for key in task.hr_keys])
    hr = stages.Images(HR, pixels, list(task.hr_keys), list(task.hr_seed_names))
    lr = stages.degrade_cell(hr, task.cell, task.seed, cache, progress=False)
    if task.model is not None:
        name = task.model.entry.name
        upscaler = _upscaler(task.model)
        ids = list(task.image_ids) or None
        stages.super_resolve(
            hr, lr, name, upscaler, task.model.key, task.plan, cache, progress=False, image_ids=ids
        )
    return len(task.hr_keys)


def grid_tasks(
    suite: Suite,
    hr: stages.Images,
    models_by_scale: dict[int, dict[str, ModelSpec]],
    cache: Cache,
    image_ids: Sequence[str],
) -> tuple[list[ShardTask], list[ShardTask]]:
    """(degrade tasks, upscale tasks) of the suite's grid; shards follow the cache's batches."""
    starts = range(0, len(hr.keys), BATCH_SIZE)
    shards = [(tuple(hr.keys[i : i + BATCH_SIZE]), tuple(hr.seed_names[i : i + BATCH_SIZE])) for i in starts]
    shard_ids = [tuple(image_ids[i : i + BATCH_SIZE]) for i in starts]
    degrade = [ShardTask(cache.root, *shard, cell, suite.seed) for cell in suite.cells for shard in shards]
    # Grouped by model, so a worker mostly reuses the model it loaded last.
    names = list(dict.fromkeys(name for models in models_by_scale.values() for name in models))
    upscale = [
        ShardTask(
            cache.root,
            *shard,
            cell,
            suite.seed,
            models_by_scale[cell.scale][name],
            stages.QualityPlan.of(suite, cell.scale),
            ids,
        )
        for name in names
        for cell in suite.cells
        if name in models_by_scale[cell.scale]
        for shard, ids in zip(shards, shard_ids, strict=True)
    ]
    return degrade, upscale


class LocalPool:
    """``workers`` spawned processes on this machine, the cores shared out between them."""

    def __init__(self, workers: int):
        self.workers = workers

    def __enter__(self) -> LocalPool:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        threads = max(1, (os.cpu_count() or 1) // self.workers)
        # spawn, not fork: the driver may already hold TensorFlow and torch thread pools.
        self.pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_set_threads,
            initargs=(threads,),
        )
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(cancel_futures=True)

    def map(self, function: Callable, tasks: list, *, gpus: int, description: str, progress: bool) -> None:
        results = self.pool.map(function, tasks)
        for _ in tqdm(results, total=len(tasks), desc=description, unit="shard", disable=not progress):
            pass


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class RayPool:
    """Tasks on a Ray cluster: the one ``RAY_ADDRESS`` names, one already joined, or a new local one."""

    def __enter__(self) -> RayPool:
        try:
            import ray
        except ImportError as error:
            raise UserError(
                "--executor ray needs Ray: pip install 'ray>=2.40' (or install this project's [ray] extra)."
            ) from error
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(include_dashboard=False, log_to_driver=False)
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            self.ray.shutdown()

    def map(self, function: Callable, tasks: list, *, gpus: int, description: str, progress: bool) -> None:
        remote = self.ray.remote(function).options(num_cpus=1, num_gpus=gpus)
        pending = [remote.remote(task) for task in tasks]
        with tqdm(total=len(tasks), desc=description, unit="shard", disable=not progress) as bar:
            while pending:
                done, pending = self.ray.wait(pending, num_returns=1)
                self.ray.get(done)  # re-raises a task's error here
                bar.update(len(done))


@contextlib.contextmanager
def open_executor(name: str, workers: int) -> Iterator[LocalPool | RayPool]:
    if name not in EXECUTORS:
        raise UserError(f"Expected --executor in {EXECUTORS}, got {name!r}.")
    with RayPool() if name == "ray" else LocalPool(workers) as pool:
        yield pool


def fill_cache(
    suite: Suite,
    hr: stages.Images,
    models_by_scale: dict[int, dict[str, ModelSpec]],
    cache: Cache,
    *,
    image_ids: Sequence[str],
    executor: str,
    workers: int,
    progress: bool,
) -> None:
    """Compute the grid's LR, SR and IQ cache entries on ``executor``; one GPU per SR task on CUDA.

    ``hr`` are the evaluation images' HR references (their keys and seed names; workers load the
    pixels from the cache); ``image_ids`` (one per image) name them in errors, as an in-process run
    does.
    """
    degrade, upscale = grid_tasks(suite, hr, models_by_scale, cache, image_ids)
    cuda = any(m.device.startswith("cuda") for models in models_by_scale.values() for m in models.values())
    with open_executor(executor, workers) as pool:
        pool.map(run_shard, degrade, gpus=0, description="LR shards", progress=progress)
        pool.map(run_shard, upscale, gpus=1 if cuda else 0, description="SR shards", progress=progress)
