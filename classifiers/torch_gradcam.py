"""Grad-CAM (Selvaraju et al. 2017) for PyTorch classifiers: the ``torch`` and ``torchxrayvision`` types."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch


def grad_cam(
    score: Callable[[torch.Tensor], torch.Tensor], layer: torch.nn.Module, batches: Iterable[np.ndarray]
) -> np.ndarray:
    """Maps (N, h, w) in [0, 1] on ``layer``'s grid: its feature maps weighted by the spatial mean of
    the gradient of ``score`` (P(pneumonia) per image of a prepared batch), summed over channels,
    ReLU, divided by each map's maximum (all zeros where nothing raises the score). The model must be
    in eval mode, so images of a batch share nothing and the summed score gives each its own gradient.
    """
    captured = {}
    hook = layer.register_forward_hook(lambda _module, _inputs, out: captured.update(out=out))
    maps = []
    try:
        for x in batches:
            with torch.enable_grad():
                (gradient,) = torch.autograd.grad(score(torch.from_numpy(x)).sum(), captured["out"])
            weights = gradient.mean(dim=(2, 3), keepdim=True)
            maps.append(torch.relu((weights * captured["out"].detach()).sum(dim=1)).numpy())
    finally:
        hook.remove()
    cams = np.concatenate(maps).astype(np.float32)
    peaks = cams.max(axis=(1, 2), keepdims=True)
    return np.divide(cams, peaks, out=np.zeros_like(cams), where=peaks > 0)
