"""The one interface the benchmark calls: ``Upscaler.upscale`` on NumPy grayscale batches."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from cxr_kernel.errors import UserValueError


def check_batch(batch: np.ndarray, name: str = "batch") -> None:
    """Raise ValueError unless ``batch`` is float32, (N, H, W) or (H, W), finite, within [0, 1]."""
    if not isinstance(batch, np.ndarray):
        raise ValueError(f"Expected {name} as a NumPy array, got {type(batch).__name__}.")
    if batch.ndim not in (2, 3):
        raise ValueError(f"Expected {name} of shape (N, H, W) or (H, W), got shape {batch.shape}.")
    if batch.dtype != np.float32:
        raise ValueError(f"Expected {name} as float32 in [0, 1], got {batch.dtype}. Use .astype(np.float32).")
    if batch.size == 0:
        raise ValueError(f"Expected a non-empty {name}, got shape {batch.shape}.")
    low, high = float(np.min(batch)), float(np.max(batch))
    if not (0.0 <= low and high <= 1.0):  # also catches NaN, for which every comparison is False
        raise ValueError(
            f"Expected {name} values in [0, 1], got min {low:.6g} and max {high:.6g}. Rescale first."
        )


class WrongOutputSize(UserValueError):
    """An SR model returned an image that is not exactly ``scale`` times its input."""


class NonFiniteOutput(UserValueError):
    """An SR model returned NaN or Inf; ``positions`` are the offending images' places in the batch."""

    def __init__(self, model: str, positions: list[int]):
        self.model, self.positions = model, positions
        super().__init__(
            f"SR model {model!r} returned NaN or Inf for the image(s) at batch position(s) {positions}. "
            "Check its weights (a diverged training run?), or run it at precision fp32."
        )


class Upscaler(ABC):
    """Super-resolves grayscale images by an integer ``scale``.

    Subclasses implement :meth:`_upscale` on a validated (N, h, w) batch; :meth:`upscale` adds
    validation, exact-size and range checks, and the throughput counters.

    Attributes
    ----------
    name : str
        Model name as written in a suite (e.g. "realesrgan", "bicubic").
    scale : int
        Output size is exactly (h * scale, w * scale).
    images, seconds : int, float
        Images upscaled and wall-clock seconds spent in :meth:`upscale` so far.
    """

    name: str
    scale: int

    def __init__(self, name: str, scale: int):
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"Expected an integer scale >= 1 for {name!r}, got {scale!r}.")
        self.name = name
        self.scale = scale
        self.images = 0
        self.seconds = 0.0

    def upscale(self, batch: np.ndarray) -> np.ndarray:
        """Map (N, h, w) (or (h, w)) float32 in [0, 1] to (N, h*scale, w*scale) float32 in [0, 1]."""
        check_batch(batch)
        single = batch.ndim == 2
        stack = batch[None] if single else batch
        start = time.perf_counter()
        out = self._upscale(stack)
        self.seconds += time.perf_counter() - start
        self.images += len(stack)
        expected = (len(stack), stack.shape[1] * self.scale, stack.shape[2] * self.scale)
        if out.shape != expected:
            raise WrongOutputSize(
                f"SR model {self.name!r} returned shape {out.shape} for input {stack.shape}; expected "
                f"{expected} (x{self.scale}). Its weights are probably for another scale or layout: use "
                f"weights made for x{self.scale}, or list only the scales it supports under `scales:`."
            )
        # Checked before clipping, which would turn +-Inf into 1 or 0 and hide the fault.
        finite = np.isfinite(out).reshape(len(out), -1).all(axis=1)
        if not finite.all():
            raise NonFiniteOutput(self.name, np.flatnonzero(~finite).tolist())
        if out.dtype == np.float32 and out.flags.owndata and not np.shares_memory(out, stack):
            np.clip(out, 0.0, 1.0, out=out)  # in place: a full-size copy saved per batch
        else:
            out = np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
        return out[0] if single else out

    @abstractmethod
    def _upscale(self, batch: np.ndarray) -> np.ndarray:
        """Upscale a validated (N, h, w) float32 batch; the result is clipped afterwards."""

    def throughput(self) -> float:
        """Images per second over all :meth:`upscale` calls so far (NaN before the first)."""
        return self.images / self.seconds if self.seconds > 0 else float("nan")

    def info(self) -> dict[str, Any]:
        """Plain description for run records: name, scale, throughput and subclass settings."""
        return {
            "name": self.name,
            "scale": self.scale,
            "images": self.images,
            "seconds": self.seconds,
            "images_per_s": self.throughput(),
        }
