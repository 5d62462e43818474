"""Losses, USM sharpening and the VGG19 feature extractor, each against an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sr_models.archs.vgg import VGGFeatureExtractor, vgg19_features
from sr_models.losses import (
    GANLoss,
    PerceptualLoss,
    pixel_loss,
    relativistic_discriminator_loss,
    relativistic_generator_loss,
)
from sr_models.training.data import usm_sharp

REAL = torch.tensor([2.0, -1.0, 0.5, 3.0])
FAKE = torch.tensor([-0.5, 0.25, -2.0, 1.0])

# torchvision vgg19 ("E"): index of each conv in `features` and its (in, out) channels.
TORCHVISION_VGG19_CONVS = {
    0: (3, 64), 2: (64, 64),
    5: (64, 128), 7: (128, 128),
    10: (128, 256), 12: (256, 256), 14: (256, 256), 16: (256, 256),
    19: (256, 512), 21: (512, 512), 23: (512, 512), 25: (512, 512),
    28: (512, 512), 30: (512, 512), 32: (512, 512), 34: (512, 512),
}  # fmt: skip


def test_vanilla_gan_loss_is_binary_cross_entropy_of_the_logits():
    gan = GANLoss("vanilla")
    p = torch.sigmoid(REAL)
    torch.testing.assert_close(gan(REAL, target_is_real=True), -torch.log(p).mean())
    torch.testing.assert_close(gan(REAL, target_is_real=False), -torch.log(1 - p).mean())


def test_lsgan_loss_is_squared_distance_to_the_label():
    gan = GANLoss("lsgan", real_label=1.0, fake_label=0.0)
    torch.testing.assert_close(gan(REAL, target_is_real=True), ((REAL - 1) ** 2).mean())
    torch.testing.assert_close(gan(REAL, target_is_real=False), (REAL**2).mean())


def test_unknown_gan_type_is_refused():
    with pytest.raises(ValueError, match="vanilla"):
        GANLoss("wgan")


def test_relativistic_generator_loss_matches_esrgan_formula():
    # ESRGAN: D_Ra(a, b) = sigmoid(C(a) - E[C(b)]); L_G = -E log(1 - D_Ra(x_r, x_f)) - E log D_Ra(x_f, x_r),
    # halved as in the official code.
    d_real_fake = torch.sigmoid(REAL - FAKE.mean())
    d_fake_real = torch.sigmoid(FAKE - REAL.mean())
    expected = (-torch.log(1 - d_real_fake).mean() - torch.log(d_fake_real).mean()) / 2
    torch.testing.assert_close(relativistic_generator_loss(REAL, FAKE), expected)


def test_relativistic_discriminator_loss_matches_esrgan_formula():
    real_term, fake_term = relativistic_discriminator_loss(REAL, FAKE)
    torch.testing.assert_close(real_term, -torch.log(torch.sigmoid(REAL - FAKE.mean())).mean() / 2)
    torch.testing.assert_close(fake_term, -torch.log(1 - torch.sigmoid(FAKE - REAL.mean())).mean() / 2)


def test_relativistic_discriminator_terms_reach_only_their_own_logits():
    real, fake = REAL.clone().requires_grad_(), FAKE.clone().requires_grad_()
    real_term, fake_term = relativistic_discriminator_loss(real, fake)
    real_grad_of_real_term, fake_grad_of_real_term = torch.autograd.grad(
        real_term, (real, fake), allow_unused=True
    )
    assert fake_grad_of_real_term is None and real_grad_of_real_term.abs().sum() > 0
    assert torch.autograd.grad(fake_term, real, allow_unused=True)[0] is None


def test_pixel_losses_are_torch_builtins():
    x, y = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(pixel_loss("l1")(x, y), (x - y).abs().mean())
    torch.testing.assert_close(pixel_loss("mse")(x, y), ((x - y) ** 2).mean())
    with pytest.raises(ValueError, match="l1"):
        pixel_loss("huber")


class _TwoLayers(nn.Module):
    """Stand-in extractor with known features: a = x, b = 2x."""

    def forward(self, x):
        return {"a": x, "b": 2 * x}


def test_perceptual_loss_weights_layers_and_sends_gradient_to_the_sr_only():
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    gt = torch.rand(2, 3, 8, 8, requires_grad=True)
    loss = PerceptualLoss(_TwoLayers(), {"a": 0.5, "b": 3.0}, criterion="l1")(x, gt)
    torch.testing.assert_close(loss, (0.5 + 3.0 * 2) * (x - gt).abs().mean())
    loss.backward()
    assert x.grad is not None and gt.grad is None


def _reference_usm(img: np.ndarray) -> np.ndarray:
    """BasicSR usm_sharp(weight=0.5, radius=50, threshold=10) written out with OpenCV's kernel rule."""
    ksize = 51
    sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8  # OpenCV getGaussianKernel with sigma <= 0
    offsets = np.arange(ksize) - (ksize - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel /= kernel.sum()

    def blur(a):  # separable 2-D convolution, reflect-101 borders (OpenCV's default)
        padded = np.pad(a.astype(np.float64), ksize // 2, mode="reflect")
        rows = np.apply_along_axis(np.convolve, 1, padded, kernel, mode="valid")
        return np.apply_along_axis(np.convolve, 0, rows, kernel, mode="valid")

    residual = img - blur(img)
    soft_mask = blur((np.abs(residual) * 255 > 10).astype(np.float64))
    sharp = np.clip(img + 0.5 * residual, 0, 1)
    return soft_mask * sharp + (1 - soft_mask) * img


def test_usm_sharp_matches_basicsr_formula():
    rng = np.random.default_rng(0)
    img = np.full((64, 64), 0.2, np.float32)
    img[16:48, 20:44] = 0.8
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    img = np.clip(img, 0, 1)
    out = usm_sharp(img)
    assert out.dtype == np.float32 and out.shape == img.shape
    np.testing.assert_allclose(out, _reference_usm(img), atol=1e-5)
    assert np.abs(out - img).max() > 0.05  # the edges were actually sharpened


def _torchvision_layout_state_dict() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    state = {}
    for index, (c_in, c_out) in TORCHVISION_VGG19_CONVS.items():
        state[f"features.{index}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=generator) * 0.05
        state[f"features.{index}.bias"] = torch.randn(c_out, generator=generator) * 0.1
    state["classifier.6.bias"] = torch.zeros(1000)  # classifier keys must be ignored
    return state


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vgg") / "vgg19-test.pth"
    state = _torchvision_layout_state_dict()
    torch.save(state, path)
    return path, state


def test_vgg19_features_has_torchvision_parameter_count():
    expected = sum(9 * c_in * c_out + c_out for c_in, c_out in TORCHVISION_VGG19_CONVS.values())
    assert expected == 20_024_384
    assert sum(p.numel() for p in vgg19_features().parameters()) == expected


def test_vgg_extractor_loads_torchvision_state_dict_and_returns_conv5_4_before_relu(vgg_file):
    path, state = vgg_file
    extractor = VGGFeatureExtractor({"conv1_1": 1.0, "conv5_4": 1.0, "relu5_4": 1.0}, path)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = extractor(x)
    assert out["conv5_4"].shape == (2, 512, 4, 4)
    assert (out["conv5_4"] < 0).any()
    torch.testing.assert_close(out["relu5_4"], out["conv5_4"].clamp(min=0))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    conv1_1 = F.conv2d((x - mean) / std, state["features.0.weight"], state["features.0.bias"], padding=1)
    torch.testing.assert_close(out["conv1_1"], conv1_1)
    assert not any(p.requires_grad for p in extractor.parameters())


def test_vgg_extractor_replicates_grayscale_input(vgg_file):
    extractor = VGGFeatureExtractor({"conv2_2": 1.0}, vgg_file[0])
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(extractor(x)["conv2_2"], extractor(x.expand(-1, 3, -1, -1))["conv2_2"])


def test_vgg_extractor_missing_file_names_it_and_the_download(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match="nope.pth") as error:
        VGGFeatureExtractor({"conv5_4": 1.0}, missing)
    assert "vgg19-dcbb9e9d.pth" in str(error.value)


def test_vgg_extractor_refuses_a_non_vgg19_state_dict(tmp_path, vgg_file):
    state = dict(vgg_file[1])
    del state["features.34.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="features.34.weight"):
        VGGFeatureExtractor({"conv1_1": 1.0}, path)


def test_vgg_extractor_refuses_unknown_layer_names(vgg_file):
    with pytest.raises(ValueError, match="conv5_4"):
        VGGFeatureExtractor({"conv6_1": 1.0}, vgg_file[0])
