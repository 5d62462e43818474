"""Tiled and batched inference, the grayscale Upscaler contract, and the interpolation baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.transform import resize

from sr_models.archs import RRDBNet
from sr_models.inference import TorchUpscaler, run_net, upscale_tiled
from sr_models.interpolation import MODES, InterpolationUpscaler

# One RRDB = 15 convs; with conv_first and conv_body the LR receptive-field radius is 17 px,
# plus under 1 px from the convs after upsampling: overlap 20 covers it at x4.
TINY = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}


def tiny_net(scale: int, seed: int = 0) -> RRDBNet:
    torch.manual_seed(seed)
    return RRDBNet(3, 3, scale=scale, **TINY).eval()


def test_tiled_equals_untiled_when_overlap_covers_the_receptive_field():
    net = tiny_net(4)
    x = torch.rand(1, 3, 58, 53, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole, tiled = run_net(net, x, 4), upscale_tiled(net, x, 4, tile=32, overlap=20)
    assert tiled.shape == whole.shape == (1, 3, 232, 212)
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)


def test_tiled_equals_untiled_for_pixel_unshuffle_models_with_odd_sizes():
    # x2 runs the trunk at half resolution, so its radius in input pixels doubles (~36 px).
    net = tiny_net(2)
    x = torch.rand(1, 3, 83, 81, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole, tiled = run_net(net, x, 2), upscale_tiled(net, x, 2, tile=29, overlap=38)
    assert tiled.shape == whole.shape == (1, 3, 166, 162)
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)


def test_tiling_without_overlap_leaves_seams():
    net = tiny_net(4)
    x = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        difference = (upscale_tiled(net, x, 4, tile=16, overlap=0) - run_net(net, x, 4)).abs().max()
    assert difference > 1e-4  # the equality tests above would catch a broken overlap


def make_upscaler(scale: int = 4, **kwargs) -> TorchUpscaler:
    return TorchUpscaler(tiny_net(scale), scale, name="tiny", in_channels=3, device="cpu", **kwargs)


@pytest.mark.parametrize(("scale", "shape"), [(4, (3, 9, 11)), (2, (2, 7, 5)), (1, (1, 6, 9))])
def test_grayscale_batch_comes_back_grayscale_at_the_exact_size(scale, shape):
    batch = np.random.default_rng(0).random(shape, dtype=np.float32)
    out = make_upscaler(scale).upscale(batch)
    assert out.shape == (shape[0], shape[1] * scale, shape[2] * scale) and out.dtype == np.float32


def test_single_image_is_returned_as_a_single_image():
    image = np.random.default_rng(1).random((8, 10), dtype=np.float32)
    upscaler = make_upscaler()
    np.testing.assert_array_equal(upscaler.upscale(image), upscaler.upscale(image[None])[0])


def test_rgb_model_sees_replicated_gray_and_the_output_is_the_channel_mean():
    seen = []

    class Spy(torch.nn.Module):
        scale = 2

        def forward(self, x):
            seen.append(x.clone())
            return torch.nn.functional.interpolate(x, scale_factor=2) * torch.tensor([0.2, 0.4, 0.9]).view(
                1, 3, 1, 1
            )

    batch = np.random.default_rng(2).random((1, 4, 4), dtype=np.float32)
    out = TorchUpscaler(Spy(), 2, name="spy", in_channels=3, device="cpu").upscale(batch)
    assert all(torch.equal(seen[0][:, c], torch.from_numpy(batch)) for c in range(3))
    np.testing.assert_allclose(out, np.repeat(np.repeat(batch, 2, 1), 2, 2) * 0.5, rtol=1e-6)


@pytest.mark.parametrize(("bias", "value"), [(5.0, 1.0), (-5.0, 0.0)])
def test_output_is_clamped_to_the_unit_range(bias, value):
    upscaler = make_upscaler()
    with torch.no_grad():
        upscaler.net.conv_last.bias.fill_(bias)
    out = upscaler.upscale(np.full((1, 5, 5), 0.5, np.float32))
    assert np.all(out == value)


def test_batch_size_and_tiling_do_not_change_the_result():
    batch = np.random.default_rng(3).random((3, 24, 22), dtype=np.float32)
    one_by_one = make_upscaler(batch_size=1).upscale(batch)
    np.testing.assert_allclose(make_upscaler(batch_size=2).upscale(batch), one_by_one, rtol=0, atol=1e-5)
    tiled = make_upscaler(batch_size=2, tile=12, tile_overlap=20).upscale(batch)
    np.testing.assert_allclose(tiled, one_by_one, rtol=0, atol=1e-5)


def test_half_precision_on_cpu_falls_back_to_fp32_and_says_so():
    with pytest.warns(UserWarning, match="fp16 runs only on CUDA; using fp32 on cpu"):
        upscaler = make_upscaler(precision="fp16")
    assert (upscaler.precision, upscaler.requested_precision) == ("fp32", "fp16")
    assert upscaler.info()["precision"] == "fp32"


def test_network_scale_must_match_the_requested_scale():
    with pytest.raises(ValueError, match="Expected a x4 network for 'tiny', got a x2 one"):
        TorchUpscaler(tiny_net(2), 4, name="tiny", in_channels=3, device="cpu")


def test_throughput_counts_images_and_time():
    upscaler = make_upscaler()
    assert np.isnan(upscaler.throughput())
    upscaler.upscale(np.zeros((3, 4, 4), np.float32))
    info = upscaler.info()
    assert (
        info["images"] == 3
        and info["seconds"] > 0
        and info["images_per_s"] == pytest.approx(3 / info["seconds"])
    )


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (np.zeros((1, 4, 4), np.float64), "float32 in \\[0, 1\\], got float64"),
        (np.zeros((1, 1, 4, 4), np.float32), "shape \\(N, H, W\\) or \\(H, W\\), got shape \\(1, 1, 4, 4\\)"),
        (np.linspace(-0.5, 2, 16, dtype=np.float32).reshape(1, 4, 4), "got min -0.5 and max 2"),
        (np.full((1, 4, 4), np.nan, np.float32), "got min nan and max nan"),
    ],
)
def test_invalid_batches_are_rejected_with_what_was_wrong(batch, message):
    with pytest.raises(ValueError, match=message):
        InterpolationUpscaler("bicubic", 2).upscale(batch)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_interpolation_keeps_a_constant_image_constant_at_the_exact_size(mode, scale):
    out = InterpolationUpscaler(mode, scale).upscale(np.full((2, 7, 5), 0.37, np.float32))
    assert out.shape == (2, 7 * scale, 5 * scale)
    np.testing.assert_allclose(out, 0.37, atol=1e-6)


def test_nearest_repeats_each_pixel():
    batch = np.random.default_rng(4).random((2, 5, 6), dtype=np.float32)
    expected = np.repeat(np.repeat(batch, 3, axis=1), 3, axis=2)
    np.testing.assert_array_equal(InterpolationUpscaler("nearest", 3).upscale(batch), expected)


def test_bilinear_matches_scikit_image_linear_resize():
    batch = np.random.default_rng(5).random((1, 9, 7), dtype=np.float32)
    expected = resize(batch[0], (36, 28), order=1, mode="edge", anti_aliasing=False)
    np.testing.assert_allclose(InterpolationUpscaler("bilinear", 4).upscale(batch)[0], expected, atol=1e-5)


def test_bicubic_reproduces_a_linear_ramp_away_from_the_border():
    # Keys' cubic convolution (any a) reproduces polynomials of degree 1 exactly.
    ramp = np.tile(np.linspace(0.1, 0.9, 16, dtype=np.float32), (16, 1))
    out = InterpolationUpscaler("bicubic", 4).upscale(ramp)
    centres = (np.arange(64) + 0.5) / 4 - 0.5  # output pixel centres in input pixel coordinates
    expected = np.interp(centres, np.arange(16), ramp[0])
    np.testing.assert_allclose(out[:, 16:-16], np.broadcast_to(expected[16:-16], (64, 32)), atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_odd_scale_output_passes_through_the_input_samples(mode):
    # At scale 3 every third output pixel centre lands exactly on an input pixel centre.
    batch = np.random.default_rng(6).random((1, 6, 5), dtype=np.float32)
    out = InterpolationUpscaler(mode, 3).upscale(batch)
    np.testing.assert_allclose(out[:, 1::3, 1::3], batch, atol=1e-6)


def test_overshooting_kernels_are_clipped_to_the_unit_range():
    step = np.zeros((1, 8, 8), np.float32)
    step[:, :, 4:] = 1.0
    out = InterpolationUpscaler("lanczos", 4).upscale(step)
    assert out.min() == 0.0 and out.max() == 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(
    ("precision", "tolerance"), [("fp32", 1e-5), ("tf32", 5e-3), ("fp16", 5e-3), ("bf16", 5e-2)]
)
def test_cuda_precisions_agree_with_cpu_fp32(precision, tolerance):
    batch = np.random.default_rng(7).random((3, 20, 18), dtype=np.float32)
    expected = make_upscaler().upscale(batch)
    gpu = TorchUpscaler(tiny_net(4), 4, name="tiny", in_channels=3, device="cuda", precision=precision)
    assert gpu.precision == precision
    np.testing.assert_allclose(gpu.upscale(batch), expected, rtol=0, atol=tolerance)
