"""Scale stored samples to [0, 1] by the bit depth their file declares, never by their largest value.

One rule for every format (docs/reliability.md, "Bit depths"): a channel of ``container``-bit samples
that declares ``declared`` significant bits (PNG ``sBIT``, DICOM ``BitsStored``) is

- read as value / (2**container - 1) when it declares the container's depth; when it declares
  nothing narrower (no sBIT; a DICOM BitsStored equal to BitsAllocated) likewise, but refused as
  undecidable when those are 16-bit samples that all fit in 14 bits (10-14-bit data stored unscaled
  would read near-black, and nothing in the file says which it is);
- read as value / (2**container - 1) when every value is an n-bit value scaled up to the container as
  the PNG standard describes (left shift, left bit replication, or exact multiplication);
- otherwise read as value / (2**n - 1) when every value fits in n bits (n-bit data stored unscaled);
- otherwise refused: the values contradict the declared depth.

A declared depth of 0 or wider than the container is refused too. ``DepthError`` carries the reason
without the file name; the image reader adds it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# 16-bit values all below this, with no narrower depth declared, are more likely 10/12/14-bit data
# stored unscaled than a radiograph using a sixteenth of its range or less.
UNDECLARED_BIT_DEPTH_LIMIT = 2**14
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class DepthError(ValueError):
    """Samples whose scale cannot be decided from what their file declares; ``reason`` is the code."""

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail
        super().__init__(detail)


@dataclass(frozen=True)
class PngHeader:
    """What a PNG declares before its pixels: IHDR bit depth and colour type, sBIT bytes (or None)."""

    bit_depth: int
    colour_type: int
    significant_bits: tuple[int, ...] | None


def png_header(path: Path) -> PngHeader | None:
    """IHDR and sBIT of the PNG ``path`` (PIL does not read sBIT), or None for another format."""
    with open(path, "rb") as handle:
        if handle.read(8) != _PNG_SIGNATURE:
            return None
        bit_depth = colour_type = None
        while True:
            header = handle.read(8)
            if len(header) < 8 or header[4:] in (b"IDAT", b"IEND"):
                break
            length, kind = struct.unpack(">I", header[:4])[0], header[4:]
            if kind not in (b"IHDR", b"sBIT"):
                handle.seek(length + 4, 1)  # data and CRC
                continue
            data = handle.read(length)
            handle.seek(4, 1)  # CRC
            if kind == b"IHDR" and len(data) == 13:
                bit_depth, colour_type = data[8], data[9]
            elif kind == b"sBIT" and bit_depth is not None:
                return PngHeader(bit_depth, colour_type, tuple(data))
    return None if bit_depth is None else PngHeader(bit_depth, colour_type, None)


def _replicated(values: np.ndarray, bits: int, container: int) -> np.ndarray:
    """``values`` (``bits`` wide) scaled to ``container`` bits by left bit replication."""
    out = np.zeros_like(values)
    filled = 0
    while filled < container:
        shift = container - filled - bits
        out |= (values << shift) if shift >= 0 else (values >> -shift)
        filled += bits
    return out


def _scaled_up(samples: np.ndarray, bits: int, container: int) -> bool:
    """Whether every sample is a ``bits``-bit value scaled up to ``container`` bits (PNG spec 12.5)."""
    shift = container - bits
    if not np.any(samples & ((1 << shift) - 1)):
        return True  # left shift
    if np.array_equal(samples, _replicated(samples >> shift, bits, container)):
        return True
    top, full = (1 << bits) - 1, (1 << container) - 1
    original = np.rint(samples * (top / full)).astype(np.int64)
    return np.array_equal(samples, np.rint(original * (full / top)).astype(np.int64))


def require_full_depth_used(samples: np.ndarray, container: int, signed: bool = False) -> None:
    """Refuse 16-bit samples declaring no narrower depth whose values all fit in 14 bits."""
    if container != 16 or not samples.size:
        return
    low, high = int(samples.min()), int(samples.max())
    if signed and -(UNDECLARED_BIT_DEPTH_LIMIT // 2) <= low and high < UNDECLARED_BIT_DEPTH_LIMIT // 2:
        depth = max(low.bit_length(), high.bit_length()) + 1
        held = f"whose values lie in {low}..{high} (fit in {depth} signed bits)"
    elif not signed and high < UNDECLARED_BIT_DEPTH_LIMIT:
        held = f"whose largest value is {high} (fits in {max(1, high.bit_length())} bits)"
    else:
        return
    raise DepthError(
        "bit-depth",
        f"is a 16-bit image {held} and it does not declare a narrower bit depth: read as 16-bit it "
        "would be near-black. Rescale it to the 16-bit range, or declare its bit depth (PNG sBIT, DICOM "
        "BitsStored; e.g. 12 for 12-bit data).",
    )


def declared_divisor(samples: np.ndarray, container: int, declared: int | None, source: str) -> float:
    """The number to divide ``samples`` (non-negative integers) by, from the declared depth.

    ``source`` names the declaration in messages (e.g. "sBIT", "BitsStored"). Raises ``DepthError``.
    """
    samples = np.asarray(samples, dtype=np.int64)
    full = float(2**container - 1)
    if declared is not None and not 0 < declared <= container:
        raise DepthError(
            "bit-depth",
            f"declares {declared} significant bits ({source}) for {container}-bit samples, which is "
            "impossible. Fix or remove the declaration.",
        )
    if declared is None:
        require_full_depth_used(samples, container)
    if declared is None or declared == container:
        return full
    if _scaled_up(samples, declared, container):
        return full
    largest = int(samples.max())
    if largest < 2**declared:
        return float(2**declared - 1)
    raise DepthError(
        "bit-depth",
        f"declares {declared} significant bits ({source}) but holds values up to {largest}, which are "
        f"neither {declared}-bit values nor {declared}-bit values scaled to {container} bits. Fix the "
        "declaration or rescale the data.",
    )
