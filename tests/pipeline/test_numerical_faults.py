"""An SR model that returns NaN/Inf or the wrong size is refused, naming the model and the images."""

import numpy as np
import pytest

from benchmark.pipeline import stages
from benchmark.pipeline.cache import Cache
from cxr_kernel.errors import UserError
from sr_models.upscaler import NonFiniteOutput, Upscaler, WrongOutputSize


class Faulty(Upscaler):
    """Nearest-neighbour x2 that writes ``value`` into the images at ``bad`` (by value of pixel [0, 0])."""

    def __init__(self, value=np.nan, bad=(), extra=0):
        super().__init__("faulty", 2)
        self.value, self.bad, self.extra = value, bad, extra

    def _upscale(self, batch):
        out = batch.repeat(2, axis=1).repeat(2, axis=2)
        out = np.pad(out, ((0, 0), (0, self.extra), (0, 0)))
        for i, image in enumerate(batch):
            if round(float(image[0, 0]) * 10) in self.bad:
                out[i, 3, 3] = self.value
        return out


def lr_images(n=5):
    pixels = np.stack([np.full((4, 4), i / 10, dtype=np.float32) for i in range(n)])
    return stages.Images("LR", pixels, [f"{i:064d}" for i in range(n)])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_output_names_the_model_and_the_images(value):
    with pytest.raises(NonFiniteOutput, match=r"'faulty' returned NaN or Inf .*position\(s\) \[1, 3\]"):
        Faulty(value, bad=(1, 3)).upscale(lr_images().pixels)


def test_non_finite_output_in_a_run_names_image_ids_and_is_not_cached(tmp_path):
    cache, ids = Cache(tmp_path), [f"test/img{i}.png" for i in range(5)]
    with pytest.raises(UserError, match=r"'sr-x' returned NaN or Inf for 1 image\(s\): \['test/img3.png'\]"):
        stages.upscale(lr_images(), "sr-x", Faulty(bad=(3,)), "m", cache, progress=False, image_ids=ids)
    stored = list((tmp_path / "sr").rglob("*.npy"))
    assert len(stored) == 0  # the batch holding the bad image stored nothing, good images included
    good = stages.upscale(lr_images(), "sr-x", Faulty(), "m", cache, progress=False, image_ids=ids)
    assert np.isfinite(good.pixels).all() and len(list((tmp_path / "sr").rglob("*.npy"))) == 5


def test_wrong_output_size_is_refused_with_the_fix():
    with pytest.raises(WrongOutputSize, match=r"'faulty' returned shape \(5, 9, 8\).*expected \(5, 8, 8\)"):
        Faulty(extra=1).upscale(lr_images().pixels)
    assert issubclass(WrongOutputSize, UserError)  # the CLI prints UserErrors as one line, exit 2


def test_non_finite_output_on_a_worker_names_image_ids(tmp_path, monkeypatch):
    """`run --workers N`: a shard's NaN error names the images as an in-process run does."""
    from benchmark.pipeline import executors
    from benchmark.pipeline.config import CellConfig, SRModelConfig

    cache, ids = Cache(tmp_path), [f"test/img{i}.png" for i in range(5)]
    keys = [f"{i:064d}" for i in range(5)]
    for i, key in enumerate(keys):
        cache.array("hr", key, lambda i=i: np.full((8, 8), i / 10, dtype=np.float32))
    monkeypatch.setattr(executors, "_upscaler", lambda model: Faulty(bad=(3,)))
    model = executors.ModelSpec(SRModelConfig(name="sr-x", model="bicubic"), 2, None, "cpu", "m")
    task = executors.ShardTask(
        tmp_path,
        tuple(keys),
        tuple(keys),  # seed names
        CellConfig(scenario="bicubic", scale=2),
        0,
        model,
        stages.QualityPlan(("psnr",), 0),
        image_ids=tuple(ids),
    )
    with pytest.raises(UserError, match=r"'sr-x' returned NaN or Inf for 1 image\(s\): \['test/img3.png'\]"):
        executors.run_shard(task)
