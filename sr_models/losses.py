"""Losses for SR training: pixel, perceptual (VGG features) and adversarial (vanilla, LSGAN, RaGAN).

All losses are means over every element (BasicSR's ``reduction='mean'``) and return 0-d tensors.
"""

from __future__ import annotations

import torch
from torch import nn

from sr_models.archs.vgg import VGGFeatureExtractor

PIXEL_LOSSES = ("l1", "mse")
GAN_TYPES = ("vanilla", "lsgan")


def pixel_loss(name: str) -> nn.Module:
    """Return the torch built-in pixel criterion: ``"l1"`` -> ``nn.L1Loss``, ``"mse"`` -> ``nn.MSELoss``."""
    losses = {"l1": nn.L1Loss, "mse": nn.MSELoss}
    if name not in losses:
        raise ValueError(f"Expected a pixel loss in {PIXEL_LOSSES}, got {name!r}.")
    return losses[name]()


class PerceptualLoss(nn.Module):
    """Weighted sum over layers of ``criterion(features(x), features(gt))``.

    Parameters
    ----------
    extractor
        Frozen feature extractor returning ``{layer: tensor}`` for at least the layers weighted.
    layer_weights
        ``{layer: weight}``, e.g. ``{"conv5_4": 1.0}`` (ESRGAN) or Real-ESRGAN's five layers.
    criterion
        ``"l1"`` or ``"mse"`` between feature maps.
    """

    def __init__(
        self, extractor: VGGFeatureExtractor, layer_weights: dict[str, float], criterion: str = "l1"
    ):
        super().__init__()
        self.extractor = extractor
        self.layer_weights = dict(layer_weights)
        self.criterion = pixel_loss(criterion)

    def forward(self, x: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """``x``, ``gt``: (N, C, H, W) in [0, 1]; gradients flow into ``x`` only."""
        x_features = self.extractor(x)
        with torch.no_grad():
            gt_features = self.extractor(gt)
        return sum(
            weight * self.criterion(x_features[name], gt_features[name].detach())
            for name, weight in self.layer_weights.items()
        )


class GANLoss(nn.Module):
    """Adversarial loss on raw discriminator logits.

    ``"vanilla"``: binary cross-entropy with logits (``nn.BCEWithLogitsLoss``) against a constant
    label; ``"lsgan"``: mean squared error against it. Weights are applied by the caller.
    """

    def __init__(self, gan_type: str = "vanilla", real_label: float = 1.0, fake_label: float = 0.0) -> None:
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ValueError(f"Expected gan_type in {GAN_TYPES}, got {gan_type!r}.")
        self.gan_type = gan_type
        self.real_label = real_label
        self.fake_label = fake_label
        self.loss = nn.BCEWithLogitsLoss() if gan_type == "vanilla" else nn.MSELoss()

    def forward(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        label = self.real_label if target_is_real else self.fake_label
        return self.loss(logits, torch.full_like(logits, label))


def relativistic_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """ESRGAN's relativistic-average generator loss.

    With D_Ra(a, b) = sigmoid(C(a) - E[C(b)]) the paper's loss is
    ``-E[log(1 - D_Ra(x_r, x_f))] - E[log D_Ra(x_f, x_r)]``; this returns half of it, as the official
    ESRGAN/BasicSR code does (the published weight 5e-3 was tuned with that factor). Gradients flow
    into ``fake_logits`` only (the real branch is detached, as in BasicSR).
    """
    bce = GANLoss("vanilla")
    real = real_logits.detach()
    loss_real = bce(real - fake_logits.mean(), target_is_real=False)
    loss_fake = bce(fake_logits - real.mean(), target_is_real=True)
    return (loss_real + loss_fake) / 2


def relativistic_discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """ESRGAN's relativistic-average discriminator loss, returned as ``(real_term, fake_term)``.

    ``real_term = -E[log D_Ra(x_r, x_f)] / 2`` and ``fake_term = -E[log(1 - D_Ra(x_f, x_r))] / 2``.
    As in BasicSR, each term's gradient reaches only its own logits: the mean of the other side is
    detached. Pass ``fake_logits`` computed from a detached SR image.
    """
    bce = GANLoss("vanilla")
    real_term = bce(real_logits - fake_logits.detach().mean(), target_is_real=True) / 2
    fake_term = bce(fake_logits - real_logits.detach().mean(), target_is_real=False) / 2
    return real_term, fake_term
