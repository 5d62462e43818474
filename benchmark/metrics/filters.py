"""Separable 'valid' correlation of image stacks as banded matrix products.

``scipy.ndimage`` filters one line at a time and is slow along the non-contiguous axis; a banded
matrix product (BLAS) over blocks of output rows does the same sums several times faster, for many
images at once when they are stored row-interleaved, (H, C, W) (``interleave``).  Only the 'valid'
region is returned: ``interleave(..., pad=k // 2)`` gives 'same' output with zero padding.
"""

from __future__ import annotations

import numpy as np

# Output rows per matrix product: small enough that the band is mostly non-zero, large enough for BLAS.
_BLOCK = 16


def gaussian_taps(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Normalised 1-D Gaussian of ``size`` taps centred on the middle one (Wang et al.'s SSIM window)."""
    offsets = np.arange(size) - size // 2
    taps = np.exp(-(offsets**2) / (2.0 * sigma**2))
    return taps / taps.sum()


def _band(taps: np.ndarray, dtype) -> np.ndarray:
    """(block, block + k - 1) matrix whose row i holds ``taps`` at columns i..i + k - 1."""
    band = np.zeros((_BLOCK, _BLOCK + taps.size - 1), dtype=dtype)
    for row in range(_BLOCK):
        band[row, row : row + taps.size] = taps
    return band


def _correlate_rows(stack: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Valid correlation of ``stack`` (..., H, W) with ``taps`` along axis -2: (..., H - k + 1, W)."""
    size = taps.size
    out_rows = stack.shape[-2] - size + 1
    band = _band(taps, stack.dtype)
    out = np.empty(stack.shape[:-2] + (out_rows, stack.shape[-1]), dtype=stack.dtype)
    for start in range(0, out_rows, _BLOCK):
        count = min(_BLOCK, out_rows - start)
        np.matmul(
            band[:count, : count + size - 1],
            stack[..., start : start + count + size - 1, :],
            out=out[..., start : start + count, :],
        )
    return out


def correlate_valid(
    stack: np.ndarray, row_taps: np.ndarray, col_taps: np.ndarray | None = None
) -> np.ndarray:
    """Separable 'valid' correlation of C images stored row-interleaved, in ``stack``'s dtype.

    Parameters
    ----------
    stack : (H, C, W) float32 or float64 C-contiguous array: row h of image c is ``stack[h, c]``.  This
        layout lets one matrix product per block of rows filter all C images at once (about twice as
        fast as one product per image).
    row_taps : 1-D taps applied along H.
    col_taps : 1-D taps applied along W; ``row_taps`` if omitted.

    Returns
    -------
    (C, H - len(row_taps) + 1, W - len(col_taps) + 1) array (a transposed view).
    """
    col_taps = row_taps if col_taps is None else col_taps
    height, channels, width = stack.shape
    down = _correlate_rows(stack.reshape(height, channels * width), np.asarray(row_taps))
    # The second pass reads the transposed view; matmul hands BLAS the transpose without a copy.
    across = _correlate_rows(down.reshape(-1, channels, width).transpose(1, 2, 0), np.asarray(col_taps))
    return np.swapaxes(across, -1, -2)


def interleave(*stacks: np.ndarray, pad: int = 0, dtype=np.float32) -> np.ndarray:
    """(N, H, W) stacks -> one (H + 2 pad, len(stacks) * N, W + 2 pad) array for ``correlate_valid``.

    ``pad`` zero rows and columns surround every image ('same' output with zero padding).
    """
    count, height, width = stacks[0].shape
    out = np.zeros((height + 2 * pad, len(stacks), count, width + 2 * pad), dtype=dtype)
    for index, stack in enumerate(stacks):
        out[pad : pad + height, index, :, pad : pad + width] = np.swapaxes(stack, 0, 1)
    return out.reshape(height + 2 * pad, len(stacks) * count, width + 2 * pad)
