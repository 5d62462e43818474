"""Separable 'valid' correlation of image stacks as banded matrix products.

``scipy.ndimage`` filters one line at a time and is slow along the non-contiguous axis; a banded
matrix product (BLAS) over blocks of output rows does the same sums several times faster on a whole
(..., H, W) stack.  Only the 'valid' region (no padding) is returned: callers pad first if they need
'same' output.
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
    """Separable correlation over the last two axes, 'valid' region only, in ``stack``'s dtype.

    Parameters
    ----------
    stack : (..., H, W) float32 or float64 array.
    row_taps : 1-D taps applied along H (axis -2).
    col_taps : 1-D taps applied along W (axis -1); ``row_taps`` if omitted.

    Returns
    -------
    (..., H - len(row_taps) + 1, W - len(col_taps) + 1) array (a transposed view of the result).
    """
    col_taps = row_taps if col_taps is None else col_taps
    down = _correlate_rows(stack, np.asarray(row_taps))
    # The second pass reads the transposed view; matmul hands BLAS the transpose without a copy.
    across = _correlate_rows(np.swapaxes(down, -1, -2), np.asarray(col_taps))
    return np.swapaxes(across, -1, -2)
