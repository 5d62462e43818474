"""Training presets: paper recipes for SRGAN, ESRGAN and Real-ESRGAN, the seed study's recipe, and
tiny CPU configurations for tests and the demo suite.

Family -> networks: ``"srgan"``: SRResNet generator + VGG-style discriminator; ``"esrgan"``: RRDBNet
+ VGG-style discriminator (RaGAN); ``"realesrgan"``: RRDBNet + U-Net discriminator with spectral norm;
``"finetune"``: no architecture of its own (``arch`` None): the generator of the weights file training
starts from (``init_weights``), any registered model. The generator ``arch`` dict is completed with
``scale`` at training time. ``degradation`` is only recorded here (scenario name, params); the caller
resolves it to a callable.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from cxr_kernel.errors import UserValueError
from cxr_kernel.registry import Registry

#: the published recipe a preset follows (its ``family``), which fixes its networks (see the module doc).
PRESET_FAMILIES = ("srgan", "esrgan", "realesrgan", "finetune")
GAN_TYPES = ("vanilla", "lsgan", "ragan")
#: a preset's ``discriminator`` -> its class (``for_preset(preset, in_channels)`` builds it), imported on use.
DISCRIMINATORS = Registry(
    "discriminator",
    {
        "vgg": "sr_models.archs.discriminators:VGGStyleDiscriminator",
        "unet": "sr_models.archs.discriminators:UNetDiscriminatorSN",
    },
)
PIXEL_LOSSES = ("l1", "mse")

_NO_VGG_NOTE = (
    "perceptual_weight is 0 because VGG19 weights cannot be downloaded at run time; with a local "
    "vgg19-dcbb9e9d.pth pass vgg_weights= and set perceptual_weight > 0. The GAN-stage pixel weight is "
    "raised to 1.0 so the GAN stage keeps a content term."
)


@dataclass(frozen=True)
class TrainingPreset:
    """Hyper-parameters of a two-stage (pixel-loss pretraining, then GAN) SR training run.

    Step counts are optimiser updates; ``lr_milestones`` count from the start of the GAN stage,
    ``pretrain_lr_milestones`` from step 0; at each milestone the LR is multiplied by ``lr_gamma``.
    ``pixel_weight`` applies in the GAN stage (the pretraining loss is the pixel loss alone).
    ``arch`` None (the fine-tune presets) takes the architecture of the initial weights file.
    ``ema_decay`` None disables the generator EMA. ``usm_gt`` USM-sharpens the pixel/perceptual
    targets (not the discriminator's real input), as Real-ESRGAN does. ``log_every`` is the
    history.csv row interval. ``seed`` is the default seed the caller passes to training.
    """

    family: str
    arch: dict[str, Any] | None
    hr_patch: int
    batch_size: int
    pretrain_steps: int
    gan_steps: int
    lr: float
    betas: tuple[float, float]
    pixel_loss: str
    pixel_weight: float
    perceptual_weight: float
    perceptual_layers: dict[str, float]
    gan_type: str
    gan_weight: float
    discriminator: str
    ema_decay: float | None
    usm_gt: bool
    degradation: tuple[str, dict[str, Any]]
    checkpoint_every: int
    seed: int = 0
    pretrain_lr: float | None = None
    pretrain_lr_milestones: tuple[int, ...] = ()
    lr_milestones: tuple[int, ...] = ()
    lr_gamma: float = 0.5
    perceptual_criterion: str = "l1"
    discriminator_feat: int = 64
    log_every: int = 1
    note: str = ""

    @property
    def needs_vgg(self) -> bool:
        """Whether training uses the perceptual loss (only the GAN stage computes it)."""
        return self.perceptual_weight > 0 and self.gan_steps > 0

    def __post_init__(self) -> None:
        choices = {
            "family": PRESET_FAMILIES,
            "gan_type": GAN_TYPES,
            "discriminator": tuple(DISCRIMINATORS),
            "pixel_loss": PIXEL_LOSSES,
            "perceptual_criterion": PIXEL_LOSSES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserValueError(f"Expected {name} in {allowed}, got {getattr(self, name)!r}.")
        for name in ("hr_patch", "batch_size", "checkpoint_every", "log_every", "discriminator_feat"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UserValueError(f"Expected {name} to be a positive integer, got {value!r}.")
        for name in ("pretrain_steps", "gan_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise UserValueError(f"Expected {name} to be a non-negative integer, got {value!r}.")
        for name in ("lr", "pixel_weight", "perceptual_weight", "gan_weight", "lr_gamma"):
            if not getattr(self, name) >= 0:
                raise UserValueError(f"Expected {name} >= 0, got {getattr(self, name)!r}.")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise UserValueError(f"Expected ema_decay in (0, 1) or None (off), got {self.ema_decay!r}.")
        if self.arch is not None and (not isinstance(self.arch, dict) or "type" not in self.arch):
            raise UserValueError(
                "Expected arch to be a dict with a 'type' key (or None: the initial weights' own), "
                f"got {self.arch!r}."
            )
        if self.gan_type == "ragan" and self.discriminator != "vgg":
            raise UserValueError("Expected gan_type 'ragan' with discriminator 'vgg' (ESRGAN); got 'unet'.")
        if (
            len(self.degradation) != 2
            or not isinstance(self.degradation[0], str)
            or not isinstance(self.degradation[1], dict)
        ):
            raise UserValueError(
                f"Expected degradation = (scenario_name, params_dict), got {self.degradation!r}."
            )


def _rrdb(num_block: int, num_feat: int = 64, num_grow_ch: int = 32) -> dict[str, Any]:
    return {
        "type": "RRDBNet",
        "num_in_ch": 3,
        "num_out_ch": 3,
        "num_feat": num_feat,
        "num_block": num_block,
        "num_grow_ch": num_grow_ch,
    }


# Ledig et al. 2017: SRResNet trained with MSE (1e6 updates), then SRGAN with VGG54 content loss
# rescaled by 1/12.75 plus 1e-3 adversarial, 1e5 updates at 1e-4 and 1e5 at 1e-5; batch 16 of 96x96.
_SRGAN = TrainingPreset(
    family="srgan",
    arch={"type": "SRResNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_block": 16},
    hr_patch=96,
    batch_size=16,
    pretrain_steps=1_000_000,
    gan_steps=200_000,
    lr=1e-4,
    betas=(0.9, 0.999),
    pixel_loss="mse",
    pixel_weight=0.0,
    perceptual_weight=1 / 12.75,
    perceptual_layers={"relu5_4": 1.0},
    perceptual_criterion="mse",
    gan_type="vanilla",
    gan_weight=1e-3,
    discriminator="vgg",
    ema_decay=None,
    usm_gt=False,
    degradation=("bicubic", {}),
    checkpoint_every=5_000,
    lr_milestones=(100_000,),
    lr_gamma=0.1,
    log_every=100,
)
# Wang et al. 2018 (ESRGAN): PSNR-oriented L1 pretraining at 2e-4 halved every 2e5 updates, then
# RaGAN with conv5_4 (before ReLU) perceptual 1.0, L1 1e-2, adversarial 5e-3, LR 1e-4 halved at
# 50k/100k/200k/300k; batch 16 of 128x128; EMA 0.999 as in BasicSR.
_ESRGAN = TrainingPreset(
    family="esrgan",
    arch=_rrdb(23),
    hr_patch=128,
    batch_size=16,
    pretrain_steps=1_000_000,
    gan_steps=400_000,
    lr=1e-4,
    betas=(0.9, 0.99),
    pixel_loss="l1",
    pixel_weight=1e-2,
    perceptual_weight=1.0,
    perceptual_layers={"conv5_4": 1.0},
    gan_type="ragan",
    gan_weight=5e-3,
    discriminator="vgg",
    ema_decay=0.999,
    usm_gt=False,
    degradation=("bicubic", {}),
    checkpoint_every=5_000,
    pretrain_lr=2e-4,
    pretrain_lr_milestones=(200_000, 400_000, 600_000, 800_000),
    lr_milestones=(50_000, 100_000, 200_000, 300_000),
    log_every=100,
)
# Wang et al. 2021 (Real-ESRGAN, official options train_realesrnet/realesrgan_x4plus.yml): RealESRNet
# L1 1e6 updates at 2e-4, then 4e5 GAN updates at 1e-4 with L1 1.0, perceptual 1.0 on five layers,
# vanilla GAN 0.1, U-Net SN discriminator; batch 48 (12 x 4 GPUs) of 256x256, USM-sharpened GT.
_REALESRGAN = TrainingPreset(
    family="realesrgan",
    arch=_rrdb(23),
    hr_patch=256,
    batch_size=48,
    pretrain_steps=1_000_000,
    gan_steps=400_000,
    lr=1e-4,
    betas=(0.9, 0.99),
    pixel_loss="l1",
    pixel_weight=1.0,
    perceptual_weight=1.0,
    perceptual_layers={"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0},
    gan_type="vanilla",
    gan_weight=0.1,
    discriminator="unet",
    ema_decay=0.999,
    usm_gt=True,
    degradation=("realesrgan", {}),
    checkpoint_every=5_000,
    pretrain_lr=2e-4,
    log_every=100,
)
# The seed study: 8 RRDBs, L1 1.0 + perceptual 1.0 + BCE adversarial 0.1, Adam 1e-4, batch 4,
# LR = bicubic + Gaussian noise (sigma 0.01), HR 256 / LR 64. Its step counts, pretraining and
# discriminator are not stated: trained from scratch (no pretraining), VGG-style discriminator,
# 100k updates (assumptions, documented in `note`).
_SEED_STUDY = TrainingPreset(
    family="esrgan",
    arch=_rrdb(8),
    hr_patch=256,
    batch_size=4,
    pretrain_steps=0,
    gan_steps=100_000,
    lr=1e-4,
    betas=(0.9, 0.999),
    pixel_loss="l1",
    pixel_weight=1.0,
    perceptual_weight=1.0,
    perceptual_layers={"conv5_4": 1.0},
    gan_type="vanilla",
    gan_weight=0.1,
    discriminator="vgg",
    ema_decay=None,
    usm_gt=False,
    degradation=("bicubic-noise", {"sigma": 0.01}),
    checkpoint_every=5_000,
    log_every=100,
    note="Step count, pretraining and discriminator are not stated by the seed study; chosen here: "
    "100k GAN updates from scratch with a VGG-style discriminator.",
)


# Fine-tuning a pretrained generator (``init_weights``; its architecture is the file's): L1 on 128x128
# HR patches, batch 16, Adam 2e-4 (0.9, 0.99) as Real-ESRNet's pixel stage; 2,500 updates (40,000
# patches) take about half an hour on one CPU thread for Real-ESRGAN's compact model. No perceptual
# loss and no discriminator update, so no VGG19 file is needed.
_FINETUNE_L1 = TrainingPreset(
    family="finetune",
    arch=None,
    hr_patch=128,
    batch_size=16,
    pretrain_steps=2_500,
    gan_steps=0,
    lr=1e-4,
    pretrain_lr=2e-4,
    betas=(0.9, 0.99),
    pixel_loss="l1",
    pixel_weight=1.0,
    perceptual_weight=0.0,
    perceptual_layers=dict(_REALESRGAN.perceptual_layers),
    gan_type="vanilla",
    gan_weight=0.1,
    discriminator="unet",
    ema_decay=None,
    usm_gt=False,
    degradation=("bicubic", {}),
    checkpoint_every=100,
    log_every=10,
    note="L1 fine-tune of the initial weights (pixel loss only; no VGG19, no discriminator update).",
)
# Real-ESRGAN's GAN stage as a fine-tune: L1 1.0 + vanilla GAN 0.1 against a U-Net SN discriminator,
# Adam 1e-4, EMA 0.999; targets not USM-sharpened (sharpening would draw structure into radiographs).
# About 1-2 patches/s on a CPU: meant for a GPU.
_FINETUNE_GAN = dataclasses.replace(
    _FINETUNE_L1,
    pretrain_steps=0,
    gan_steps=20_000,
    ema_decay=0.999,
    checkpoint_every=500,
    note="GAN fine-tune of the initial weights: L1 1.0 + GAN 0.1 (U-Net discriminator), no perceptual "
    "loss, so no VGG19 file is needed; finetune-gan-vgg adds Real-ESRGAN's perceptual loss.",
)
_FINETUNE_GAN_VGG = dataclasses.replace(
    _FINETUNE_GAN,
    perceptual_weight=1.0,
    note="GAN fine-tune of the initial weights: L1 1.0 + perceptual 1.0 (Real-ESRGAN's five VGG19 "
    "layers; needs --vgg-weights vgg19-dcbb9e9d.pth) + GAN 0.1 (U-Net discriminator).",
)


def _tiny(base: TrainingPreset, arch: dict[str, Any], **changes: Any) -> TrainingPreset:
    """A CPU-sized version of ``base``: 2 blocks of 16 features, 32x32 HR patches (x4), 240 updates.

    About 10 s per model on one CPU core. The high pretraining LR (2e-3) gets such a small RRDBNet
    to roughly bicubic quality on smooth images within 200 updates; EMA decay 0.9 (not 0.999) so the
    EMA weights are not still the random initialisation after so few updates.
    """
    tiny = dict(
        arch=arch,
        hr_patch=32,
        batch_size=4,
        pretrain_steps=200,
        gan_steps=40,
        lr=5e-4,
        pretrain_lr=2e-3,
        pretrain_lr_milestones=(),
        lr_milestones=(),
        perceptual_weight=0.0,
        pixel_weight=1.0,
        discriminator_feat=16,
        checkpoint_every=50,
        log_every=1,
        note=_NO_VGG_NOTE,
    )
    return dataclasses.replace(base, **{**tiny, **changes})


#: preset name -> ``TrainingPreset`` (``resolve_preset`` applies a config's overrides).
PRESETS = Registry(
    "training preset",
    {
        "srgan": _SRGAN,
        "esrgan": _ESRGAN,
        "realesrgan": _REALESRGAN,
        "seed-study": _SEED_STUDY,
        "seed-study-512": dataclasses.replace(_SEED_STUDY, hr_patch=512),
        "seed-study-128": dataclasses.replace(_SEED_STUDY, hr_patch=128),
        # The tiny SRGAN with perceptual off is the paper's "SRGAN-MSE" variant (MSE content + adversarial).
        # 64x64 HR patches: SRResNet's 9x9 convolutions see mostly zero padding on 8x8 LR patches, and a
        # model trained so is ~14 dB worse on whole images (measured on the demo phantoms).
        "tiny-srgan": _tiny(
            _SRGAN,
            {"type": "SRResNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 16, "num_block": 2},
            hr_patch=64,
        ),
        "tiny-esrgan": _tiny(_ESRGAN, _rrdb(2, num_feat=16, num_grow_ch=8), ema_decay=0.9),
        "tiny-realesrgan": _tiny(_REALESRGAN, _rrdb(2, num_feat=16, num_grow_ch=8), ema_decay=0.9),
        "finetune-l1": _FINETUNE_L1,
        "finetune-gan": _FINETUNE_GAN,
        "finetune-gan-vgg": _FINETUNE_GAN_VGG,
    },
)

# Config files give lists where the dataclass holds tuples.
_TUPLE_FIELDS = ("betas", "pretrain_lr_milestones", "lr_milestones", "degradation")


def resolve_preset(name: str, overrides: dict[str, Any] | None = None) -> TrainingPreset:
    """Return preset ``name`` with ``overrides`` applied.

    Every key replaces the field, ``arch`` included (a whole ``{"type": ..., **kwargs}`` dict, e.g.
    ``{"type": "SRVGGNetCompact", "num_conv": 16}``; the constructor's defaults fill the rest). Raises
    ValueError for unknown names or keys.
    """
    preset = PRESETS.get(name)
    overrides = copy.deepcopy(dict(overrides or {}))
    valid = [f.name for f in dataclasses.fields(TrainingPreset)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise UserValueError(f"Expected override keys among {valid}, got unknown {unknown}.")
    for key in _TUPLE_FIELDS:
        if isinstance(overrides.get(key), list):
            overrides[key] = tuple(overrides[key])
    if "arch" in overrides and not (isinstance(overrides["arch"], dict) and "type" in overrides["arch"]):
        raise UserValueError(
            f"Expected the arch override to be a whole arch dict with a 'type' key (it replaces the "
            f"preset's {preset.arch!r}), got {overrides['arch']!r}."
        )
    return dataclasses.replace(copy.deepcopy(preset), **overrides)
