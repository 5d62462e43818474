"""Train a ``torch`` architecture (``classifiers.torch_archs``) on in-memory images, resumably.

The reference CNN's recipe carried over to PyTorch (``classifiers.training`` is the Keras one): Adam,
binary cross-entropy on the logit with balanced class weights, the reference's augmentation (zoom of
height and width by [0.8, 1.2] each, horizontal flips, the x shear of tan(0.2 degrees)), early stopping
on the validation loss and the best epoch kept; plus the recipe's learning-rate schedule.

Every epoch ends with a checkpoint (``<stem>.resume/epoch-NNNN.pt``: weights, Adam state, the
shuffling generator's and torch's RNG state, history, best weights, early-stopping state and a
fingerprint of the inputs), written atomically. A killed training called again with the same inputs
resumes after its last finished epoch; with the same thread count it ends bit-identical to an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from classifiers.preprocessing import resize_images, validate_images
from classifiers.recipe import TorchRecipe
from classifiers.torch_archs import build
from classifiers.torch_io import SUFFIX, save_model
from classifiers.training_files import fingerprint, history_path
from cxr_kernel.atomic import atomic_path

#: The reference's ``ImageDataGenerator(shear_range=0.2, zoom_range=0.2)``: shear angle in degrees,
#: zoom of each axis.
SHEAR_DEGREES = 0.2
ZOOM = 0.2
_PREFIX = "epoch-"


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The reference's augmentation of a batch (B, 1, h, w) in [0, 1], drawn from ``generator``.

    One affine resampling per image (bilinear, border pixels repeated outside, as ``fill_mode="nearest"``):
    the output samples the input at (zx * u + tan(shear) * v, zy * v) about the centre, zx and zy
    uniform in [1 - ZOOM, 1 + ZOOM] (above 1 zooms out), zx negated for a horizontal flip with
    probability 1/2, shear uniform in [-SHEAR_DEGREES, SHEAR_DEGREES] degrees.
    """
    n = images.shape[0]
    draws = torch.rand(n, 4, generator=generator, dtype=torch.float64)
    zoom_x = 1 - ZOOM + 2 * ZOOM * draws[:, 0]
    zoom_y = 1 - ZOOM + 2 * ZOOM * draws[:, 1]
    flip = torch.where(draws[:, 2] < 0.5, -1.0, 1.0)
    shear = torch.tan(torch.deg2rad((2 * draws[:, 3] - 1) * SHEAR_DEGREES))
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 1] = zoom_x * flip, shear, zoom_y
    grid = torch.nn.functional.affine_grid(theta.float(), list(images.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(
        images, grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return out.clamp_(0.0, 1.0)


def _batch_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The generator of batch ``index`` of ``epoch``: a batch's augmentation depends on nothing else."""
    entropy = np.random.SeedSequence([seed, epoch, index]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(entropy[0] >> np.uint64(1)))


def _learning_rate(recipe: TorchRecipe, epoch: int) -> float:
    if recipe.lr_schedule == "cosine":
        return recipe.learning_rate * (1 + math.cos(math.pi * epoch / recipe.epochs)) / 2
    return recipe.learning_rate


@torch.no_grad()
def _evaluate(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int) -> dict:
    """Unweighted loss, accuracy at 0.5 and AUROC of ``model`` (eval mode) on a validation set."""
    model.eval()
    logits = torch.cat(
        [model(torch.from_numpy(images[i : i + batch_size, None])) for i in range(0, len(images), batch_size)]
    )[:, 0]
    return _scores(logits, torch.from_numpy(labels), None)


def _scores(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None) -> dict:
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, weight=weights)
    probabilities = torch.sigmoid(logits).numpy()
    y = labels.numpy()
    auc = roc_auc_score(y, probabilities) if len(np.unique(y)) == 2 else math.nan
    return {"loss": float(loss), "accuracy": float(np.mean((probabilities >= 0.5) == y)), "auc": float(auc)}


def train_torch_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    arch: str,
    recipe: TorchRecipe,
    seed: int,
    out_path: Path,
    input_size: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = True,
    resume_dir: Path | None = None,
    threads: int | None = None,
) -> Path:
    """Train ``torch_archs.build(arch)`` and save its best epoch to ``out_path`` (``.pt``).

    Parameters as ``classifiers.training.train_classifier`` (images float32 (N, H, W) in [0, 1],
    resized to ``input_size`` by nearest neighbour; labels 1 = pneumonia; ``validation`` or the
    recipe's stratified fraction; history with ``seconds`` and ``images_per_second`` per epoch in
    ``history_path(out_path)``); ``threads`` sets ``torch.set_num_threads`` (results are bit-identical
    only at the same count). The resume folder defaults to ``<stem>.resume`` beside ``out_path`` and is
    removed once ``out_path`` is written.
    """
    out_path = Path(out_path)
    if out_path.suffix != SUFFIX:
        raise ValueError(f"Expected out_path ending in {SUFFIX}, got {out_path}.")
    if threads is not None:
        torch.set_num_threads(threads)
    validate_images(images)
    y = np.asarray(labels, dtype=np.float32)
    size = (input_size, input_size)
    if validation is not None:
        train_x, train_y = images, y
        val_x, val_y = (
            validate_images(validation[0], "validation images"),
            np.asarray(validation[1], np.float32),
        )
    elif recipe.validation_fraction > 0:
        fit, held = train_test_split(
            np.arange(len(images)), test_size=recipe.validation_fraction, stratify=y, random_state=seed
        )
        train_x, train_y, val_x, val_y = images[fit], y[fit], images[held], y[held]
    else:
        train_x, train_y, val_x, val_y = images, y, None, None
    if recipe.early_stopping_patience is not None and val_x is None:
        raise ValueError("Expected a validation set for early stopping; set validation_fraction > 0.")
    train_x = resize_images(train_x, size)
    val_x = None if val_x is None else resize_images(val_x, size)

    weights = np.ones_like(train_y)
    if recipe.class_weight == "balanced":
        per_class = compute_class_weight("balanced", classes=np.array([0.0, 1.0]), y=train_y)
        weights = per_class[train_y.astype(int)].astype(np.float32)

    torch.manual_seed(seed)
    model = build(arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    order_rng = np.random.default_rng(seed)
    settings = {"recipe": dataclasses.asdict(recipe), "seed": seed, "input_size": input_size, "arch": arch}
    identity = fingerprint([train_x, train_y, weights, val_x, val_y], settings)
    folder = Path(resume_dir) if resume_dir is not None else out_path.with_name(f"{out_path.stem}.resume")
    state = _resume(folder, identity, model, optimizer, order_rng, progress)
    monitor = "loss" if val_x is None else "val_loss"

    while state["epoch"] < recipe.epochs and not state["stopped"]:
        epoch = state["epoch"]
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(recipe, epoch)
        started = time.perf_counter()
        model.train()
        order = order_rng.permutation(len(train_x))
        logits, batch_labels, batch_weights = [], [], []
        for index, start in enumerate(range(0, len(order), recipe.batch_size)):
            idx = order[start : start + recipe.batch_size]
            x = torch.from_numpy(train_x[idx, None])
            if recipe.augment:
                x = augment(x, _batch_generator(seed, epoch, index))
            target, weight = torch.from_numpy(train_y[idx]), torch.from_numpy(weights[idx])
            optimizer.zero_grad(set_to_none=True)
            out = model(x)[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(out, target, weight=weight)
            loss.backward()
            optimizer.step()
            logits.append(out.detach())
            batch_labels.append(target)
            batch_weights.append(weight)
        trained = time.perf_counter()
        row = {
            "epoch": epoch + 1,
            **_scores(torch.cat(logits), torch.cat(batch_labels), torch.cat(batch_weights)),
        }
        if val_x is not None:
            row.update({f"val_{k}": v for k, v in _evaluate(model, val_x, val_y, recipe.batch_size).items()})
        row["learning_rate"] = _learning_rate(recipe, epoch)
        row["seconds"] = time.perf_counter() - started
        row["images_per_second"] = len(train_x) / (trained - started)
        state["history"].append(row)
        current = row[monitor]
        improved = current < state["best"]  # NaN never improves
        if improved:
            state.update(best=current, best_epoch=epoch + 1, wait=0)
            state["best_weights"] = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            state["wait"] += 1
            patience = recipe.early_stopping_patience
            state["stopped"] = patience is not None and state["wait"] >= patience
        state["epoch"] = epoch + 1
        _checkpoint(folder, state, identity, model, optimizer, order_rng)
        if progress:
            _print(row, recipe.epochs, monitor if improved else None)

    if state["best_weights"] is None:
        raise RuntimeError(
            f"Training gave no finite {monitor} in {len(state['history'])} epoch(s), so there is no best "
            f"epoch to save to {out_path}. Lower the learning rate; delete {folder} to train from the start."
        )
    model.load_state_dict(state["best_weights"])
    save_model(out_path, model, arch=arch, input_size=input_size)
    with atomic_path(history_path(out_path)) as temporary:
        pd.DataFrame(state["history"]).to_csv(temporary, index=False)
    shutil.rmtree(folder, ignore_errors=True)
    return out_path


def _checkpoint(folder, state, identity, model, optimizer, order_rng) -> None:
    payload = {
        "fingerprint": identity,
        **{
            k: state[k] for k in ("epoch", "best", "best_epoch", "wait", "stopped", "history", "best_weights")
        },
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "order_rng": order_rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
    }
    path = Path(folder) / f"{_PREFIX}{state['epoch']:04d}.pt"
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    for older in Path(folder).glob(f"{_PREFIX}*.pt"):
        if older != path:
            older.unlink(missing_ok=True)


def _resume(folder, identity, model, optimizer, order_rng, progress) -> dict:
    """The training state after the latest checkpoint in ``folder`` (restored into the objects), or a
    fresh one. A checkpoint of other inputs or settings is refused."""
    fresh = {"epoch": 0, "best": math.inf, "best_epoch": None, "wait": 0, "stopped": False}
    fresh.update(history=[], best_weights=None)
    files = sorted(Path(folder).glob(f"{_PREFIX}*.pt")) if Path(folder).is_dir() else []
    if not files:
        return fresh
    latest = files[-1]
    try:
        payload = torch.load(latest, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged file: torch raises many types
        raise ValueError(
            f"Could not read the checkpoint {latest} ({error}). Delete {folder} to train from the start."
        ) from error
    if payload.get("fingerprint") != identity:
        raise ValueError(
            f"Expected the checkpoint {latest} to be of this training (same images, labels, recipe, seed, "
            f"input size and arch), got one of another. Delete {folder} to train from the start."
        )
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    order_rng.bit_generator.state = payload["order_rng"]
    torch.set_rng_state(payload["torch_rng"])
    if progress:
        print(f"Resuming after epoch {payload['epoch']} from {latest}", flush=True)
    return {key: payload[key] for key in fresh}


def _print(row: dict, epochs: int, improved: str | None) -> None:
    skip = ("epoch", "seconds", "images_per_second")
    metrics = "  ".join(f"{name} {value:.4g}" for name, value in row.items() if name not in skip)
    mark = f"  (best {improved})" if improved else ""
    print(
        f"epoch {row['epoch']}/{epochs}  {row['seconds']:.1f} s  {row['images_per_second']:.1f} images/s  "
        f"{metrics}{mark}",
        flush=True,
    )
