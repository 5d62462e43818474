"""Classical interpolation baselines (nearest, bilinear, bicubic, Lanczos) as Upscalers.

All four use Pillow's ``Image.resize`` on 32-bit float ('F') images: pixel centres at half-integers,
kernel weights renormalised at the border, no antialiasing when enlarging. Bicubic is Keys'
kernel with a = -0.5 (as MATLAB ``imresize``; torch's bicubic uses -0.75), Lanczos has 3 lobes.
Results are clipped to [0, 1] because bicubic and Lanczos overshoot at edges.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from cxr_kernel.errors import UserValueError
from sr_models.upscaler import Upscaler

_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
MODES = tuple(_FILTERS)


class InterpolationUpscaler(Upscaler):
    """Resize each image by ``scale`` with Pillow's ``mode`` filter (one of :data:`MODES`)."""

    def __init__(self, mode: str, scale: int):
        if mode not in _FILTERS:
            raise UserValueError(f"Expected interpolation mode in {list(MODES)}, got {mode!r}.")
        super().__init__(mode, scale)
        self.mode = mode

    def _upscale(self, batch: np.ndarray) -> np.ndarray:
        n, h, w = batch.shape
        out = np.empty((n, h * self.scale, w * self.scale), np.float32)
        for i, image in enumerate(batch):
            resized = Image.fromarray(np.ascontiguousarray(image)).resize(
                (w * self.scale, h * self.scale), resample=_FILTERS[self.mode]
            )
            out[i] = np.asarray(resized, dtype=np.float32)
        return out

    def info(self) -> dict:
        return {**super().info(), "backend": "pillow", "mode": self.mode}


def load_interpolation(
    mode: str, scale: int, weights: object = None, *, arch: dict | None = None, **_runtime: object
) -> InterpolationUpscaler:
    """The loader ``sr_models.MODELS`` names for ``mode``: rejects ``weights``/``arch`` (nothing to load);
    device, tile, etc. are moot."""
    if weights is not None or arch is not None:
        raise ValueError(
            f"Expected no weights or arch for interpolation model {mode!r}, got {weights or arch}."
        )
    return InterpolationUpscaler(mode, scale)
