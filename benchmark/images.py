"""Reading, resizing and writing grayscale images as float32 arrays in [0, 1].

What ``read_grayscale`` accepts, and what it refuses with a ``BadImage`` naming the file (see
docs/reliability.md): 8-bit grayscale; PNG of any colour type and depth, 16-bit colour included,
each channel scaled by the bit depth the file declares (``sBIT``; the rule is in ``bit_depth``);
RGB/RGBA/palette images only when every pixel is gray (R=G=B within JPEG rounding) and opaque, since a
silent colour-to-luma conversion would change the numbers; DICOM (below, the same rule on
BitsStored). Truncated or corrupt files,
files with several frames (GIF, TIFF) and files declaring more pixels than PIL's decompression-bomb
limit are refused, never padded or read in part.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from benchmark.bit_depth import (
    DepthError,
    PngHeader,
    declared_divisor,
    png_header,
    require_full_depth_used,
)
from cxr_kernel.atomic import atomic_path
from cxr_kernel.errors import UserError

DICOM_SUFFIXES = (".dcm", ".dicom")
# Largest channel difference (in 8-bit levels) still read as gray: JPEG rounding of gray RGB files.
GRAY_TOLERANCE = 2
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")
# PNG colour type -> the channels it stores (sBIT holds one byte per channel, alpha included).
_PNG_CHANNELS = {0: "L", 2: "RGB", 3: "RGB", 4: "LA", 6: "RGBA"}
# 16-bit PNG colour type -> raw modes whose high and low bytes Pillow's PNG decoder gives separately
# (Pillow keeps only the high byte of 16-bit colour samples; both decodes unfilter the same rows).
_PNG_SIXTEEN_BIT_RAWMODES = {2: ("RGB;16B", "RGB;16L"), 6: ("RGBA;16B", "RGBA;16L")}


class BadImage(UserError):
    """An image file the suite cannot use as a grayscale X-ray.

    ``reason`` is a short code counted in run summaries ("unreadable", "colour", ...); ``detail`` says
    what is wrong without the path, so it can be cached by content and reported for any copy of the file.
    """

    def __init__(self, path: Path, reason: str, detail: str):
        self.path, self.reason, self.detail = Path(path), reason, detail
        super().__init__(f"{path}: {detail}")


def _refuse_depth(path: Path, error: DepthError) -> BadImage:
    return BadImage(path, error.reason, error.detail)


def _transparent(path: Path) -> BadImage:
    return BadImage(
        path,
        "transparent",
        "has transparent pixels (alpha < 255), so its gray values are undefined. "
        "Flatten it onto the intended background and save it as grayscale.",
    )


def _gray_from_channels(path: Path, channels: np.ndarray, divisors: list[float]) -> np.ndarray:
    """(H, W, C) samples and each channel's divisor -> (H, W) float32, refusing colour.

    Channels sharing one divisor are averaged before dividing, as 8-bit files always were.
    """
    if len(set(divisors)) == 1:
        spread = float(np.abs(channels - channels[..., :1]).max()) * 255.0 / divisors[0]
        gray = channels.mean(axis=2, dtype=np.float32) / np.float32(divisors[0])
    else:
        levels = channels / np.asarray(divisors)
        spread = float(np.abs(levels - levels[..., :1]).max()) * 255.0
        gray = levels.mean(axis=2).astype(np.float32)
    if spread > GRAY_TOLERANCE:
        raise BadImage(
            path,
            "colour",
            f"is a colour image (channels differ by up to {spread:.0f} of 255 levels), not a grayscale "
            "X-ray. If the colour is only an annotation, convert it to grayscale (e.g. PIL "
            "`.convert('L')`).",
        )
    return gray


def _sixteen_bit_png_channels(path: Path, colour_type: int) -> np.ndarray:
    """Every 16-bit sample of a colour or gray+alpha PNG, (H, W, C) int64."""

    def decode(rawmode: str) -> np.ndarray:
        with Image.open(path) as image:
            image.tile = [tile._replace(args=rawmode) for tile in image.tile]
            image.load()
            return np.asarray(image, dtype=np.int64)

    if colour_type == 4:  # L and A, two bytes each: four 8-bit "RGBA" channels
        raw = decode("RGBA")
        return np.stack([raw[..., 0] * 256 + raw[..., 1], raw[..., 2] * 256 + raw[..., 3]], axis=2)
    high, low = (decode(rawmode) for rawmode in _PNG_SIXTEEN_BIT_RAWMODES[colour_type])
    return high * 256 + low


def _png_channels(path: Path, image: Image.Image, header: PngHeader) -> tuple[np.ndarray, int]:
    """The PNG's samples as stored, (H, W, C) int64, and their bit depth (palette entries: 8)."""
    depth, colour_type = header.bit_depth, header.colour_type
    if colour_type == 3:
        return np.asarray(image.convert("RGBA"), dtype=np.int64), 8
    if depth == 16 and colour_type != 0:
        return _sixteen_bit_png_channels(path, colour_type), 16
    mode = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}[colour_type]
    pixels = np.asarray(image if depth == 16 else image.convert(mode), dtype=np.int64)
    if depth < 8:  # Pillow spreads 1/2/4-bit gray over 0..255
        pixels = np.rint(pixels * ((2**depth - 1) / 255)).astype(np.int64)
    return pixels.reshape(*pixels.shape[:2], -1), depth


def _read_png(path: Path, image: Image.Image, header: PngHeader) -> np.ndarray:
    """A PNG of any colour type and depth, each channel scaled by its declared significant bits."""
    channels, depth = _png_channels(path, image, header)
    names = _PNG_CHANNELS.get(header.colour_type, "")
    declared = header.significant_bits
    if declared is not None and len(declared) != len(names):
        raise BadImage(
            path,
            "bit-depth",
            f"has an sBIT chunk of {len(declared)} byte(s) for its {len(names)} channel(s) ({names}), so "
            "its bit depth cannot be decided. Fix or remove the sBIT chunk.",
        )
    key = image.info.get("transparency")
    if header.colour_type in (0, 2) and key is not None:
        stored = channels if channels.shape[2] > 1 else channels[..., 0]
        hit = np.all(stored == np.asarray(key), axis=-1) if stored.ndim == 3 else stored == key
        if hit.any():
            raise _transparent(path)
    if header.colour_type == 3:  # sBIT covers the palette's RGB; its alpha (from tRNS) is 8-bit
        declared = None if declared is None else (*declared, None)
    bits = [None] * channels.shape[2] if declared is None else list(declared)
    try:
        divisors = [
            declared_divisor(channels[..., index], depth, bits[index], "sBIT")
            for index in range(channels.shape[2])
        ]
    except DepthError as error:
        raise _refuse_depth(path, error) from None
    if channels.shape[2] in (2, 4):  # the last channel is alpha: every pixel must be opaque
        significant = bits[-1] or depth
        opaque = (
            divisors[-1] if divisors[-1] < 2**depth - 1 else (2**significant - 1) << (depth - significant)
        )
        if np.any(channels[..., -1] < opaque):
            raise _transparent(path)
        channels, divisors = channels[..., :-1], divisors[:-1]
    return _gray_from_channels(path, channels, divisors)


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
        header = png_header(path) if image.format == "PNG" else None
        if header is not None and header.colour_type in _PNG_CHANNELS:
            return _read_png(path, image, header)
        if image.mode in _SIXTEEN_BIT_MODES:
            pixels = np.asarray(image, dtype=np.int64)
            if pixels.min() < 0 or pixels.max() > 65535:
                raise BadImage(
                    path, "unsupported", f"has {image.mode} pixels outside 0..65535. Save it as 8 or 16-bit."
                )
            try:
                return (pixels / declared_divisor(pixels, 16, None, "none")).astype(np.float32)
            except DepthError as error:
                raise _refuse_depth(path, error) from None
        if image.mode in ("L", "1"):
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        if image.mode not in ("RGB", "RGBA", "P", "LA", "PA", "CMYK", "YCbCr", "RGBX"):
            raise BadImage(
                path, "unsupported", f"has pixel mode {image.mode!r}. Save it as an 8-bit grayscale PNG."
            )
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        pixels = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
        if has_alpha:
            if pixels[..., 3].min() < 255:
                raise _transparent(path)
            pixels = pixels[..., :3]
        return _gray_from_channels(path, pixels, [255.0] * 3)


def _dicom_stored_values(path: Path, dataset, bits: int, signed: bool) -> np.ndarray:
    """Stored values of an uncompressed DICOM, refusing any set bit above the declared ``bits``.

    pydicom masks those bits away silently, so the pixels are decoded at the full allocated width.
    """
    from pydicom.pixels import pixel_array

    allocated = int(dataset.BitsAllocated)
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        return np.asarray(dataset.pixel_array, dtype=np.int64)  # the codec stores ``bits`` exactly
    raw = np.asarray(pixel_array(dataset, bits_stored=allocated), dtype=np.int64) & (2**allocated - 1)
    high, sign = raw >> bits, (raw >> (bits - 1)) & 1
    valid = (high == 0) | (signed & (high == 2 ** (allocated - bits) - 1) & (sign == 1))
    if not valid.all():
        raise BadImage(
            path,
            "bit-depth",
            f"declares BitsStored {bits} (of {allocated} allocated) but holds values with bits set above "
            f"bit {bits - 1} (up to {int(raw.max())}). Fix BitsStored or rescale the data.",
        )
    low = raw & (2**bits - 1)
    return low - (2**bits) * (low >> (bits - 1)) if signed else low


def _dicom_declared_bits(path: Path, dataset) -> tuple[int, int, bool, float]:
    """BitsStored, BitsAllocated, signedness and the modality slope's sign, or a refusal."""
    allocated, stored = dataset.get("BitsAllocated"), dataset.get("BitsStored")
    if stored is None or allocated is None or not 0 < int(stored) <= int(allocated):
        raise BadImage(
            path,
            "bit-depth",
            f"declares BitsStored {stored} with BitsAllocated {allocated}, so its bit depth cannot be "
            "decided. Fix the header.",
        )
    if "ModalityLUTSequence" in dataset:
        raise BadImage(
            path,
            "unsupported",
            "maps its values through a Modality LUT Sequence, which is not applied here. Export it with "
            "a linear rescale (RescaleSlope/RescaleIntercept) or as PNG.",
        )
    slope = float(dataset.get("RescaleSlope", 1) or 0)
    if not np.isfinite(slope) or slope == 0 or not np.isfinite(float(dataset.get("RescaleIntercept", 0))):
        raise BadImage(
            path,
            "bit-depth",
            f"declares RescaleSlope {dataset.get('RescaleSlope')} and RescaleIntercept "
            f"{dataset.get('RescaleIntercept')}, so its gray scale cannot be decided. Fix the header.",
        )
    return int(stored), int(allocated), int(dataset.get("PixelRepresentation", 0)) == 1, slope


def _read_dicom(path: Path) -> np.ndarray:
    """Stored values scaled over the range BitsStored declares; MONOCHROME1 (white = low) is inverted.

    A modality rescale (RescaleSlope, RescaleIntercept) is linear, so over the declared range it only
    matters by its slope's sign: a negative slope inverts. VOI windowing is a display choice and is
    not applied. A BitsStored equal to BitsAllocated declares no narrower depth (see bit_depth).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path)
        photometric = str(dataset.get("PhotometricInterpretation", ""))
        bits, allocated, signed, slope = _dicom_declared_bits(path, dataset)
        values = _dicom_stored_values(path, dataset, bits, signed)
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
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or values.ndim != 2:
        raise BadImage(
            path,
            "unsupported",
            f"is a DICOM of {photometric or 'unknown'} pixels with shape {values.shape}; "
            "expected one grayscale (MONOCHROME1/2) frame. Export a single grayscale frame.",
        )
    if bits == allocated:  # no narrower depth declared
        try:
            require_full_depth_used(values, bits, signed)
        except DepthError as error:
            raise _refuse_depth(path, error) from None
    low = -(2 ** (bits - 1)) if signed else 0
    gray = ((values - low) / float(2**bits - 1)).astype(np.float32)
    return 1.0 - gray if (photometric == "MONOCHROME1") != (slope < 0) else gray


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
