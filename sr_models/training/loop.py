"""The two-stage SR training loop: pixel-loss pretraining, then GAN training (SRGAN/ESRGAN/Real-ESRGAN).

One iteration follows BasicSR's ``SRGANModel``/``ESRGANModel``/``RealESRGANModel.optimize_parameters``:
a generator update with the discriminator frozen, then a discriminator update on the real patch and
the detached SR output. Under torchrun each rank trains on its share of every batch with
DistributedDataParallel (see :mod:`sr_models.training.distributed`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from cxr_kernel.checksums import sha256_file
from cxr_kernel.errors import UserValueError
from cxr_kernel.run_layout import HISTORY
from sr_models.archs import build_arch
from sr_models.inference import default_device
from sr_models.losses import (
    GANLoss,
    PerceptualLoss,
    pixel_loss,
    relativistic_discriminator_loss,
    relativistic_generator_loss,
)
from sr_models.presets import TrainingPreset, resolve_preset
from sr_models.training.data import Degrade, sample_batch
from sr_models.training.distributed import Ranks, barrier, current_ranks, mean_over_ranks, wrap
from sr_models.training.networks import build_discriminator, build_perceptual, initial_generator
from sr_models.training.state import History, latest_checkpoint, load_checkpoint, save_checkpoint
from sr_models.weights import save_weights

# Preset fields that may change between an interrupted run and its resumption (pretrain_steps too,
# while the run has not passed it: see _check_resumable).
_RESUMABLE_CHANGES = ("pretrain_steps", "gan_steps", "checkpoint_every", "log_every", "note")
PROGRESS_FILE = "progress.json"


def _scalar(x: torch.Tensor) -> torch.Tensor:
    return x.detach().float()


class _Run:
    """Networks, optimisers and one-step updates of a training run (all on ``device``).

    ``net_g``/``net_d`` are the plain modules (optimised, checkpointed, EMA-averaged); ``train_g``/
    ``train_d`` the same modules in DistributedDataParallel when distributed, used for the forward
    passes whose gradients are to be averaged over ranks.
    """

    def __init__(
        self,
        preset: TrainingPreset,
        arch: dict[str, Any],
        device: torch.device,
        perceptual: PerceptualLoss | None,
        ranks: Ranks,
        init_state: dict[str, torch.Tensor] | None = None,
    ):
        self.preset, self.device = preset, device
        self.cuda = device.type == "cuda"
        # channels_last lets cuDNN use its faster NHWC kernels; pointless on CPU.
        self.memory_format = torch.channels_last if self.cuda else torch.contiguous_format
        net_g = build_arch(arch)
        if init_state is not None:  # before the EMA copies it and DDP broadcasts it
            net_g.load_state_dict(init_state, strict=True)
        self.net_g = net_g.to(device, memory_format=self.memory_format).train()
        self.in_ch, self.out_ch = arch["num_in_ch"], arch["num_out_ch"]
        self.net_d = build_discriminator(preset, self.out_ch).to(device, memory_format=self.memory_format)
        self.net_d.train()
        self.train_g = wrap(self.net_g, ranks, device)
        self.train_d = wrap(self.net_d, ranks, device)
        self.ema = None
        if preset.ema_decay is not None:
            self.ema = AveragedModel(
                self.net_g, multi_avg_fn=get_ema_multi_avg_fn(preset.ema_decay), use_buffers=True
            )
        self.perceptual = perceptual.to(device) if perceptual is not None else None
        self.pixel = pixel_loss(preset.pixel_loss)
        self.gan = GANLoss("lsgan" if preset.gan_type == "lsgan" else "vanilla")
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=preset.lr, betas=preset.betas)
        self.sched_d = torch.optim.lr_scheduler.MultiStepLR(
            self.opt_d, list(preset.lr_milestones), preset.lr_gamma
        )
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=self.cuda)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.cuda)
        self.stage: str | None = None
        self.opt_g: torch.optim.Optimizer | None = None
        self.sched_g: torch.optim.lr_scheduler.LRScheduler | None = None

    def start_stage(self, stage: str) -> None:
        """Give the generator a fresh Adam and LR schedule for ``stage`` (as BasicSR's separate runs do)."""
        if stage == self.stage:
            return
        p = self.preset
        lr, milestones = (
            (p.pretrain_lr or p.lr, p.pretrain_lr_milestones)
            if stage == "pretrain"
            else (p.lr, p.lr_milestones)
        )
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=lr, betas=p.betas)
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, list(milestones), p.lr_gamma)
        self.stage = stage

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.cuda:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=torch.float16)

    def to_tensor(self, images: np.ndarray, channels: int) -> torch.Tensor:
        """(B, H, W) float32 -> (B, channels, H, W) on the device, grayscale replicated."""
        x = torch.from_numpy(images).to(self.device)[:, None].expand(-1, channels, -1, -1)
        return x.contiguous(memory_format=self.memory_format)

    def _step(
        self,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        loss: torch.Tensor,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()

    def _generator_step(self, loss: torch.Tensor) -> None:
        self._step(self.opt_g, self.scaler_g, loss, self.sched_g)
        if self.ema is not None:
            self.ema.update_parameters(self.net_g)

    def pretrain_step(self, lr: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        with self._autocast():
            l_pix = self.pixel(self.train_g(lr), target)
        self._generator_step(l_pix)
        return {"l_pix": _scalar(l_pix)}

    def gan_step(self, lr: torch.Tensor, gt: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        p, ragan = self.preset, self.preset.gan_type == "ragan"
        # The frozen discriminator runs unwrapped: DDP would wait for gradients of its parameters.
        self.net_d.requires_grad_(False)
        with self._autocast():
            sr = self.train_g(lr)
            losses = {"l_pix": self.pixel(sr, target)}
            if self.perceptual is not None:
                losses["l_percep"] = self.perceptual(sr, target)
            fake_logits = self.net_d(sr)
            if ragan:
                losses["l_gan"] = relativistic_generator_loss(self.net_d(gt), fake_logits)
            else:
                losses["l_gan"] = self.gan(fake_logits, target_is_real=True)
            l_g = p.pixel_weight * losses["l_pix"] + p.gan_weight * losses["l_gan"]
            if "l_percep" in losses:
                l_g = l_g + p.perceptual_weight * losses["l_percep"]
        self._generator_step(l_g)

        self.net_d.requires_grad_(True)
        with self._autocast():
            real_logits, fake_logits = self.train_d(gt), self.train_d(sr.detach())
            if ragan:
                l_d_real, l_d_fake = relativistic_discriminator_loss(real_logits, fake_logits)
            else:
                l_d_real = self.gan(real_logits, target_is_real=True)
                l_d_fake = self.gan(fake_logits, target_is_real=False)
        self._step(self.opt_d, self.scaler_d, l_d_real + l_d_fake, self.sched_d)
        losses.update(l_d_real=l_d_real, l_d_fake=l_d_fake)
        return {k: _scalar(v) for k, v in losses.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "net_g": self.net_g.state_dict(),
            "net_d": self.net_d.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "stage": self.stage,
            "opt_g": self.opt_g.state_dict() if self.opt_g is not None else None,
            "sched_g": self.sched_g.state_dict() if self.sched_g is not None else None,
            "opt_d": self.opt_d.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net_g.load_state_dict(state["net_g"])
        self.net_d.load_state_dict(state["net_d"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        if state["stage"] is not None:
            self.start_stage(state["stage"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.sched_g.load_state_dict(state["sched_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}


def _fingerprint(
    model: str,
    scale: int,
    seed: int,
    preset: TrainingPreset,
    images: np.ndarray,
    generator: dict[str, Any],
    init_weights: Path | None,
    data_id: str | None,
) -> dict[str, Any]:
    fields = {k: v for k, v in dataclasses.asdict(preset).items() if k not in _RESUMABLE_CHANGES}
    return {
        "model": model,
        "scale": scale,
        "seed": seed,
        "images_shape": list(images.shape),
        "generator": generator,
        "init_weights_sha256": None if init_weights is None else sha256_file(init_weights),
        "data_id": data_id,
        **fields,
    }


def _check_resumable(
    checkpoint: Path, state: dict[str, Any], fingerprint: dict, preset: TrainingPreset
) -> None:
    """Refuse to resume from a checkpoint of other settings, or past the steps asked for.

    ``pretrain_steps`` may change while the checkpoint is within both the old and the new pixel-loss
    stage (a finished L1 run extended): the steps done are then those of the longer run.
    """
    differs = sorted(
        k
        for k in fingerprint.keys() | state["fingerprint"].keys()
        if fingerprint.get(k) != state["fingerprint"].get(k)
    )
    if differs:
        raise UserValueError(
            f"Expected {checkpoint} to come from the same training settings, got differences in "
            f"{differs}. Use a fresh work_dir, or the original settings to resume."
        )
    done, before = state["step"], state.get("pretrain_steps", preset.pretrain_steps)
    if before != preset.pretrain_steps and done > min(before, preset.pretrain_steps):
        raise UserValueError(
            f"Expected pretrain_steps {before} as when {checkpoint} was saved (step {done}, past the "
            f"pixel-loss stage), got {preset.pretrain_steps}. Only a run still in that stage can change it."
        )
    total = preset.pretrain_steps + preset.gan_steps
    if done > total:
        raise UserValueError(
            f"Expected at most {total} steps done, got {checkpoint} at step {done}. "
            "Use a fresh work_dir or more steps (pretrain_steps while in the pixel-loss stage, else "
            "gan_steps)."
        )


def _write_progress(work_dir: Path, step: int, batch_size: int, seconds: float) -> None:
    """``progress.json``: steps, patches seen and the training seconds behind them (data loading and
    start-up excluded; summed over resumptions)."""
    payload = {
        "step": step,
        "patches_seen": step * batch_size,
        "train_seconds": round(seconds, 3),
        "patches_per_second": round(step * batch_size / seconds, 2) if seconds > 0 else None,
    }
    temporary = Path(work_dir, f".{PROGRESS_FILE}.tmp")
    temporary.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    temporary.replace(Path(work_dir, PROGRESS_FILE))


def _check_inputs(scale: int, preset: TrainingPreset, hr_images: np.ndarray) -> np.ndarray:
    if preset.hr_patch % scale:
        raise UserValueError(
            f"Expected hr_patch divisible by scale {scale}, got {preset.hr_patch}. Change hr_patch."
        )
    images = np.asarray(hr_images)
    if images.ndim != 3 or images.dtype != np.float32:
        raise UserValueError(
            f"Expected hr_images as a float32 (N, H, W) array, got {images.dtype} with shape {images.shape}. "
            "Convert grayscale images with .astype(np.float32) / 255."
        )
    if len(images) == 0 or min(images.shape[1:]) < preset.hr_patch:
        raise UserValueError(
            f"Expected at least one image of at least {preset.hr_patch}x{preset.hr_patch} pixels (hr_patch), "
            f"got shape {images.shape}. Use larger images or a smaller hr_patch."
        )
    return images


def train_upscaler(
    model: str,
    scale: int,
    *,
    preset: str | TrainingPreset,
    hr_images: np.ndarray,
    degrade: Degrade,
    seed: int,
    work_dir: Path,
    device: str | None = None,
    vgg_weights: Path | None = None,
    progress: bool = True,
    init_weights: Path | None = None,
    data_id: str | None = None,
) -> Path:
    """Train an SR generator for ``model`` and return the path of its weights file.

    Parameters
    ----------
    model
        A learned model name (``sr_models.MODELS``: ``"srgan"``, ``"esrgan"``, ``"realesrgan-compact"``,
        ...); the generator's architecture must be one that model loads.
    scale
        Upscaling factor; the generator is built for it.
    preset
        A name in ``sr_models.presets.PRESETS`` or a :class:`TrainingPreset`.
    hr_images
        (N, H, W) float32 HR images in [0, 1], H and W >= ``preset.hr_patch``.
    degrade
        ``degrade(hr_crop, rng)`` maps a (P, P) float32 crop to its (P // scale, P // scale) LR.
    seed
        Seeds the network initialisation (torch) and the crops/degradations (NumPy): on CPU two runs
        with the same arguments give identical weights.
    work_dir
        Receives ``checkpoints/`` (the latest only; a rerun resumes from it: networks, optimisers,
        EMA, step, RNG states), ``history.csv`` (step, stage, raw unweighted loss terms; empty where
        a stage lacks a term), ``weights.pth`` (rewritten at every checkpoint) and ``progress.json``
        (steps, patches seen, training seconds, patches/s). A finished run is extended by more
        ``gan_steps``, or more ``pretrain_steps`` while it has not entered the GAN stage.
    device
        Torch device; default CUDA when available. On CUDA training uses fp16 autocast with
        gradient scaling and channels_last.
    vgg_weights
        Local torchvision VGG19 state dict, required when the GAN stage uses a perceptual loss.
    progress
        Show a tqdm progress bar.
    init_weights
        A generator weights file to start from (official files or this project's); its architecture
        is used when the preset has none (``arch`` None, the ``finetune-*`` presets), see
        :func:`sr_models.training.networks.initial_generator`.
    data_id
        Identifies the training images (e.g. a checksum of their list); a resumption must give the same.

    Under torchrun (process group initialised, e.g. by
    :func:`sr_models.training.distributed.init_from_environment`) every rank draws the same global batch
    from the shared seeded generator and trains on its contiguous share of it; gradients are averaged, so
    the weights match a single process's up to floating-point summation order (batch-norm
    discriminators on CPU excepted: gloo has no SyncBatchNorm). Rank 0 alone writes checkpoints,
    history and weights; checkpoints resume with any number of ranks.

    Returns
    -------
    ``work_dir / "weights.pth"`` written with ``sr_models.weights.save_weights`` (``params``, the
    EMA's ``params_ema`` when the preset has EMA, and the complete ``arch`` dict).
    """
    preset = resolve_preset(preset) if isinstance(preset, str) else preset
    images = _check_inputs(scale, preset, hr_images)
    arch, init_state = initial_generator(model, scale, preset, init_weights)
    perceptual = build_perceptual(preset, vgg_weights)
    dev = torch.device(device or default_device())
    ranks = current_ranks()
    dev = ranks.device(dev)
    share = ranks.share(preset.batch_size)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = _fingerprint(model, scale, seed, preset, images, arch, init_weights, data_id)
    total = preset.pretrain_steps + preset.gan_steps
    cuda_devices = (
        [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    )
    weights = work_dir / "weights.pth"

    def save_generator() -> None:
        save_weights(
            weights,
            _cpu_state(run.net_g),
            arch=arch,
            params_ema=_cpu_state(run.ema.module) if run.ema is not None else None,
        )

    # fork_rng: seeding must not leak into the caller's global torch RNG state.
    with torch.random.fork_rng(devices=cuda_devices, device_type="cuda"):
        torch.manual_seed(seed)
        run = _Run(preset, arch, dev, perceptual, ranks, init_state)
        input_multiple = getattr(run.net_g, "input_multiple", 1)
        if (preset.hr_patch // scale) % input_multiple:
            raise UserValueError(
                f"Expected the LR patch ({preset.hr_patch // scale}) divisible by {input_multiple} for "
                f"{arch['type']} x{scale}, got hr_patch {preset.hr_patch}. "
                f"Use a multiple of {scale * input_multiple}."
            )
        rng = np.random.default_rng(seed)
        step, seconds = 0, 0.0
        checkpoint = latest_checkpoint(work_dir)
        if checkpoint is not None:
            state = load_checkpoint(checkpoint)
            _check_resumable(checkpoint, state, fingerprint, preset)
            run.load_state_dict(state["run"])
            torch.set_rng_state(state["torch_rng"])
            if state["cuda_rng"] is not None and dev.type == "cuda":
                torch.cuda.set_rng_state(state["cuda_rng"], dev)
            rng.bit_generator.state = state["np_rng"]
            step, seconds = state["step"], state.get("train_seconds", 0.0)

        history = History(work_dir / HISTORY, resume_step=step) if ranks.is_main else None
        bar = tqdm(
            total=total,
            initial=step,
            disable=not progress or not ranks.is_main,
            desc=f"train {model} x{scale}",
        )
        started = time.perf_counter() - seconds
        while step < total:
            stage = "pretrain" if step < preset.pretrain_steps else "gan"
            run.start_stage(stage)
            lr, gt, target = sample_batch(
                images,
                patch=preset.hr_patch,
                batch_size=preset.batch_size,
                scale=scale,
                degrade=degrade,
                rng=rng,
                usm=preset.usm_gt,
            )
            # Every rank draws the whole batch (the generator's stream is then independent of the number
            # of ranks, so the union of the shares is the single-process batch) and keeps its share.
            lr, gt, target = lr[share], gt[share], target[share]
            lr_t, target_t = run.to_tensor(lr, run.in_ch), run.to_tensor(target, run.out_ch)
            if stage == "pretrain":
                losses = run.pretrain_step(lr_t, target_t)
            else:
                losses = run.gan_step(lr_t, run.to_tensor(gt, run.out_ch), target_t)
            step += 1
            bar.update()
            if step % preset.log_every == 0 or step == total:
                # One device sync per logged step; the mean over ranks is the global batch's loss.
                values = {k: float(v) for k, v in mean_over_ranks(losses, ranks).items()}
                if history is not None:
                    history.add(step, stage, values)
                bar.set_postfix(stage=stage, **{k: f"{v:.4g}" for k, v in values.items()})
            if step % preset.checkpoint_every == 0 or step == total:
                barrier(ranks)
                if ranks.is_main:
                    seconds = time.perf_counter() - started
                    save_checkpoint(
                        work_dir,
                        step,
                        {
                            "step": step,
                            "pretrain_steps": preset.pretrain_steps,
                            "train_seconds": seconds,
                            "fingerprint": fingerprint,
                            "run": run.state_dict(),
                            "torch_rng": torch.get_rng_state(),
                            "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
                            "np_rng": rng.bit_generator.state,
                        },
                    )
                    history.flush()
                    save_generator()
                    _write_progress(work_dir, step, preset.batch_size, seconds)
                barrier(ranks)  # no rank runs ahead of a checkpoint that is not yet on disk
        bar.close()

    if ranks.is_main:
        save_generator()
    barrier(ranks)
    return weights
