"""Reading, resizing and writing grayscale images as float32 arrays in [0, 1].

What ``read_grayscale`` accepts, and what it refuses with a ``BadImage`` naming the file (see
docs/reliability.md): 8-bit grayscale; 16-bit PNG (divided by 65535; by 2**n - 1 when an ``sBIT``
chunk declares n significant bits and the values were stored unscaled; refused when the values fit in
14 bits and no ``sBIT`` says what they are, since 12-bit data read as 16-bit is near-black);
RGB/RGBA/palette images only when every pixel is gray (R=G=B within JPEG rounding) and opaque, since a
silent colour-to-luma conversion would change the numbers; DICOM (below). Truncated or corrupt files,
files with several frames (GIF, TIFF) and files declaring more pixels than PIL's decompression-bomb
limit are refused, never padded or read in part.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cxr_kernel.atomic import atomic_path
from cxr_kernel.errors import UserError

DICOM_SUFFIXES = (".dcm", ".dicom")
# Largest channel difference (in 8-bit levels) still read as gray: JPEG rounding of gray RGB files.
GRAY_TOLERANCE = 2
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")
# 16-bit values all below this, with no sBIT chunk to say so, are more likely 10/12/14-bit data stored
# unscaled than a radiograph using a sixteenth of its range or less.
UNDECLARED_BIT_DEPTH_LIMIT = 2**14
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_significant_bits(path: Path) -> int | None:
    """The gray significant bits an ``sBIT`` chunk declares (PIL does not read it), or None."""
    with open(path, "rb") as handle:
        if handle.read(8) != _PNG_SIGNATURE:
            return None
        while True:
            header = handle.read(8)
            if len(header) < 8:
                return None
            length, kind = int.from_bytes(header[:4], "big"), header[4:]
            if kind in (b"IDAT", b"IEND"):
                return None
            data = handle.read(length)
            handle.seek(4, 1)  # CRC
            if kind == b"sBIT" and data:
                return data[0]


class BadImage(UserError):
    """An image file the suite cannot use as a grayscale X-ray.

    ``reason`` is a short code counted in run summaries ("unreadable", "colour", ...); ``detail`` says
    what is wrong without the path, so it can be cached by content and reported for any copy of the file.
    """

    def __init__(self, path: Path, reason: str, detail: str):
        self.path, self.reason, self.detail = Path(path), reason, detail
        super().__init__(f"{path}: {detail}")


def _gray_from_channels(path: Path, pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3|4) uint8 -> (H, W) float32, refusing colour and transparency."""
    if pixels.shape[2] == 4:
        if pixels[..., 3].min() < 255:
            raise BadImage(
                path,
                "transparent",
                "has transparent pixels (alpha < 255), so its gray values are undefined. "
                "Flatten it onto the intended background and save it as grayscale.",
            )
        pixels = pixels[..., :3]
    channels = pixels.astype(np.int16)
    spread = int(np.abs(channels - channels[..., :1]).max())
    if spread > GRAY_TOLERANCE:
        raise BadImage(
            path,
            "colour",
            f"is a colour image (channels differ by up to {spread} of 255 levels), not a grayscale X-ray. "
            "If the colour is only an annotation, convert it to grayscale (e.g. PIL `.convert('L')`).",
        )
    return channels.mean(axis=2, dtype=np.float32) / 255.0


def _sixteen_bit(path: Path, image: Image.Image) -> np.ndarray:
    """16-bit pixels scaled by their actual bit depth (see the module docstring)."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.min() < 0 or pixels.max() > 65535:
        raise BadImage(
            path, "unsupported", f"has {image.mode} pixels outside 0..65535. Save it as 8 or 16-bit."
        )
    largest = int(pixels.max())
    bits = png_significant_bits(path) if image.format == "PNG" else None
    if bits is not None and 0 < bits < 16 and largest < 2**bits:
        return pixels / float(2**bits - 1)  # n-bit values stored unscaled, as many exporters do
    if bits is None and largest < UNDECLARED_BIT_DEPTH_LIMIT:
        depth = max(1, largest.bit_length())
        raise BadImage(
            path,
            "bit-depth",
            f"is a 16-bit image whose largest value is {largest} (fits in {depth} bits) and it does not "
            "declare its bit depth: read as 16-bit it would be near-black. Rescale it to the 16-bit "
            "range, or record the bit depth in an sBIT chunk (e.g. 12 for 12-bit data).",
        )
    return pixels / 65535.0


def _read_pil(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            raise BadImage(
                path,
                "unsupported",
                f"holds {frames} frames (an animation or a stack), not one radiograph. Save the frame "
                "you mean as its own file.",
            )
        image.load()  # decode fully now: a truncated file fails here, not half-way through a resize
        if image.mode in _SIXTEEN_BIT_MODES:
            return _sixteen_bit(path, image)
        if image.mode in ("L", "1"):
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        if image.mode not in ("RGB", "RGBA", "P", "LA", "PA", "CMYK", "YCbCr", "RGBX"):
            raise BadImage(
                path, "unsupported", f"has pixel mode {image.mode!r}. Save it as an 8-bit grayscale PNG."
            )
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        return _gray_from_channels(path, np.asarray(image.convert("RGBA" if has_alpha else "RGB")))


def _read_dicom(path: Path) -> np.ndarray:
    """Stored pixel values scaled by their bit depth; MONOCHROME1 (white = low) is inverted.

    A positive-slope modality rescale does not change values scaled to the stored range, so none is
    applied; VOI windowing is a display choice and is not applied either.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path)
        pixels = dataset.pixel_array
    except (
        InvalidDicomError,
        AttributeError,
        ValueError,
        RuntimeError,
        NotImplementedError,
        OSError,
    ) as error:
        raise BadImage(
            path, "unreadable", f"cannot be decoded as DICOM ({error}). Replace the file."
        ) from None
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or pixels.ndim != 2:
        raise BadImage(
            path,
            "unsupported",
            f"is a DICOM of {photometric or 'unknown'} pixels with shape {pixels.shape}; "
            "expected one grayscale (MONOCHROME1/2) frame. Export a single grayscale frame.",
        )
    bits = int(dataset.get("BitsStored", pixels.dtype.itemsize * 8))
    low = -(2 ** (bits - 1)) if int(dataset.get("PixelRepresentation", 0)) == 1 else 0
    gray = np.clip((pixels.astype(np.float64) - low) / (2**bits - 1), 0.0, 1.0).astype(np.float32)
    return 1.0 - gray if photometric == "MONOCHROME1" else gray


def read_grayscale(path: Path) -> np.ndarray:
    """Read an image file (PNG, JPEG or DICOM) as (H, W) float32 in [0, 1].

    Raises
    ------
    BadImage
        If the file is missing, truncated, corrupt, colour, transparent or of an unsupported kind;
        the message names the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise BadImage(path, "missing", "image file not found. Check the data root and the manifest.")
    if path.suffix.lower() in DICOM_SUFFIXES:
        return _read_dicom(path)
    try:
        return _read_pil(path)
    except Image.DecompressionBombError as error:
        raise BadImage(
            path,
            "unreadable",
            f"declares more pixels than PIL decodes safely ({error}); a decompression bomb or a "
            "damaged header. Replace or remove the file.",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BadImage(
            path, "unreadable", f"cannot be read as an image ({error}). Replace or remove the file."
        ) from None


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize (H, W) to (size, size) with antialiased bicubic (PIL on float32); aspect ratio is not kept.

    The reference studies resize every radiograph to a fixed square once; we do the same so that
    HR, LR and SR share one geometry.
    """
    if image.shape == (size, size):
        return image.astype(np.float32, copy=False)
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.BICUBIC)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write (H, W) float32 [0, 1] as an 8-bit PNG, atomically."""
    with atomic_path(path) as temporary:
        Image.fromarray(to_uint8(image)).save(temporary, format="PNG")
