"""Bit depths (issue #26, item 1): the scale is what the file declares, never its largest value.

PNGs are written byte by byte here (Pillow cannot write 16-bit colour or sBIT), DICOM with pydicom.
"""

import struct
import zlib

import numpy as np
import pytest

from benchmark.images import BadImage, read_grayscale
from tests.data.test_bad_images import write_dicom

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, samples, *, colour_type=0, depth=16, sbit=None, trns=None):
    """A non-interlaced PNG of ``samples`` ((H, W) or (H, W, C) integers) with optional sBIT/tRNS bytes."""
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples[..., None]
    assert samples.shape[2] == CHANNELS[colour_type]
    height, width = samples.shape[:2]
    dtype = ">u2" if depth == 16 else ">u1"
    rows = b"".join(b"\x00" + samples[row].astype(dtype).tobytes() for row in range(height))
    data = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    )
    if sbit is not None:
        data += _chunk(b"sBIT", bytes(sbit))
    if trns is not None:
        data += _chunk(b"tRNS", trns)
    data += _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def ramp(top=4095, shape=(16, 16)):
    return np.linspace(0, top, shape[0] * shape[1]).round().astype(np.int64).reshape(shape)


def as_colour(gray, colour_type, alpha=None):
    """The gray samples as the channels of ``colour_type`` (alpha opaque at ``alpha``)."""
    planes = [gray] * (3 if colour_type in (2, 6) else 1)
    if colour_type in (4, 6):
        planes.append(np.full_like(gray, alpha))
    return np.stack(planes, axis=2)


def test_one_bright_pixel_does_not_rescale_a_twelve_bit_image(tmp_path):
    """Before: a 12-bit ramp with sBIT 12 read with mean 0.50, and with one pixel at 5000 every pixel was
    divided by 65535 (mean 0.031). Now 5000 contradicts the declared 12 bits and the file is refused."""
    pixels = ramp()
    assert read_grayscale(write_png(tmp_path / "ramp.png", pixels, sbit=[12])).mean() == pytest.approx(0.5)
    pixels[0, 0] = 5000
    with pytest.raises(
        BadImage, match=r"outlier\.png: declares 12 significant bits \(sBIT\) but holds values up to 5000"
    ) as e:
        read_grayscale(write_png(tmp_path / "outlier.png", pixels, sbit=[12]))
    assert e.value.reason == "bit-depth"


@pytest.mark.parametrize("scaling", ["shift", "replicate"])
def test_dark_sbit_data_scaled_as_the_png_standard_says_keeps_its_level(tmp_path, scaling):
    """Before: 12-bit data with max 200 stored << 4 (the PNG standard's scaling) read 16x too bright."""
    twelve = ramp(top=200)
    stored = twelve << 4 if scaling == "shift" else (twelve << 4) | (twelve >> 8)
    image = read_grayscale(write_png(tmp_path / "dark.png", stored, sbit=[12]))
    np.testing.assert_allclose(image, stored / 65535.0, rtol=1e-6)
    assert image.max() == pytest.approx(200 * 16 / 65535, rel=1e-3)


@pytest.mark.parametrize("bits", [0, 17])
def test_impossible_sbit_is_refused(tmp_path, bits):
    """Before: sBIT 0 was accepted as if it declared a depth."""
    with pytest.raises(
        BadImage,
        match=rf"zero\.png: declares {bits} significant bits \(sBIT\) for 16-bit samples, which is impos",
    ):
        read_grayscale(write_png(tmp_path / "zero.png", ramp(top=65535), sbit=[bits]))


def test_eight_bit_png_with_sbit_follows_the_same_rule(tmp_path):
    five = ramp(top=31)
    np.testing.assert_allclose(
        read_grayscale(write_png(tmp_path / "u.png", five, depth=8, sbit=[5])), five / 31.0, rtol=1e-6
    )
    np.testing.assert_allclose(
        read_grayscale(write_png(tmp_path / "s.png", five << 3, depth=8, sbit=[5])),
        (five << 3) / 255.0,
        rtol=1e-6,
    )
    with pytest.raises(BadImage, match=r"declares 5 significant bits \(sBIT\) but holds values up to 201"):
        read_grayscale(write_png(tmp_path / "x.png", ramp(top=200) | 1, depth=8, sbit=[5]))


@pytest.mark.parametrize("colour_type", [2, 4, 6], ids=["rgb", "gray-alpha", "rgba"])
def test_sixteen_bit_colour_and_alpha_pngs_follow_the_gray_rule(tmp_path, colour_type):
    """Before: a 16-bit RGB PNG of 12-bit data was read near-black (Pillow keeps only the high byte),
    while its gray twin was refused."""
    twelve = ramp()
    channels = CHANNELS[colour_type]
    # undeclared 12-bit data: refused like the gray twin
    with pytest.raises(BadImage, match=r"u\.png: is a 16-bit image whose largest value is 4095") as e:
        read_grayscale(
            write_png(tmp_path / "u.png", as_colour(twelve, colour_type, 65535), colour_type=colour_type)
        )
    assert e.value.reason == "bit-depth"
    # declared and unscaled: value / 4095 (alpha declared 12 bits too, opaque at 4095)
    path = write_png(
        tmp_path / "d.png",
        as_colour(twelve, colour_type, 4095),
        colour_type=colour_type,
        sbit=[12] * channels,
    )
    np.testing.assert_allclose(read_grayscale(path), twelve / 4095.0, rtol=1e-6)
    # full 16-bit range read at 16 bits, not from the high byte
    full = ramp(top=65535) | 1
    path = write_png(tmp_path / "f.png", as_colour(full, colour_type, 65535), colour_type=colour_type)
    np.testing.assert_allclose(read_grayscale(path), full / 65535.0, rtol=1e-6)
    # the outlier rule
    bad = twelve.copy()
    bad[3, 3] = 5001
    with pytest.raises(BadImage, match=r"o\.png: declares 12 significant bits"):
        read_grayscale(
            write_png(
                tmp_path / "o.png",
                as_colour(bad, colour_type, 4095),
                colour_type=colour_type,
                sbit=[12] * channels,
            )
        )


@pytest.mark.parametrize("colour_type", [4, 6], ids=["gray-alpha", "rgba"])
def test_sixteen_bit_transparency_is_refused(tmp_path, colour_type):
    samples = as_colour(ramp(top=65535), colour_type, 65535)
    samples[0, 0, -1] = 65534
    with pytest.raises(BadImage, match=r"t\.png: has transparent pixels"):
        read_grayscale(write_png(tmp_path / "t.png", samples, colour_type=colour_type))


def test_sixteen_bit_gray_transparency_key_is_refused(tmp_path):
    with pytest.raises(BadImage, match=r"k\.png: has transparent pixels"):
        read_grayscale(write_png(tmp_path / "k.png", ramp(top=65535), trns=struct.pack(">H", 65535)))


def test_sixteen_bit_colour_channels_that_differ_are_colour(tmp_path):
    samples = as_colour(ramp(top=65535), 2)
    samples[..., 0] = 65535 - samples[..., 0]
    with pytest.raises(BadImage, match=r"c\.png: is a colour image"):
        read_grayscale(write_png(tmp_path / "c.png", samples, colour_type=2))


def test_sbit_with_the_wrong_number_of_channels_is_refused(tmp_path):
    with pytest.raises(BadImage, match=r"w\.png: has an sBIT chunk of 1 byte\(s\) for its 3 channel\(s\)"):
        read_grayscale(write_png(tmp_path / "w.png", as_colour(ramp(), 2), colour_type=2, sbit=[12]))


def test_dicom_declaring_sixteen_bits_for_twelve_bit_data_is_refused_like_the_png(tmp_path):
    """Before: accepted near-black (max 0.06) while the same data as PNG was refused."""
    path = write_dicom(tmp_path / "d16.dcm", ramp().astype(np.uint16), bits_stored=16)
    with pytest.raises(BadImage, match=r"d16\.dcm: is a 16-bit image whose largest value is 4095") as e:
        read_grayscale(path)
    assert e.value.reason == "bit-depth"
    signed = write_dicom(tmp_path / "s16.dcm", (ramp() - 2048).astype(np.int16), bits_stored=16, signed=True)
    with pytest.raises(BadImage, match=r"s16\.dcm: is a 16-bit image whose values lie in -2048\.\.2047"):
        read_grayscale(signed)


def test_dicom_values_above_bits_stored_are_refused_not_masked(tmp_path):
    """pydicom masks bits above BitsStored away; a 16-bit value in a BitsStored 12 file is refused."""
    pixels = ramp().astype(np.uint16)
    pixels[0, 0] = 5000
    with pytest.raises(
        BadImage, match=r"m\.dcm: declares BitsStored 12 \(of 16 allocated\) but holds values"
    ):
        read_grayscale(write_dicom(tmp_path / "m.dcm", pixels))
    signed = (ramp() - 2048).astype(np.int16)  # sign-extended 12-bit values are fine
    np.testing.assert_allclose(
        read_grayscale(write_dicom(tmp_path / "s.dcm", signed, signed=True)),
        (signed + 2048) / 4095.0,
        rtol=1e-6,
    )


def test_dicom_negative_rescale_slope_inverts(tmp_path):
    """Before: RescaleSlope -1 was ignored (bone read dark)."""
    import pydicom

    pixels = ramp().astype(np.uint16)
    path = write_dicom(tmp_path / "neg.dcm", pixels)
    dataset = pydicom.dcmread(path)
    dataset.RescaleSlope, dataset.RescaleIntercept = -1, 4095
    dataset.save_as(path)
    np.testing.assert_allclose(read_grayscale(path), 1 - pixels / 4095.0, rtol=1e-6)
    dataset.RescaleSlope = 2
    dataset.save_as(path)
    np.testing.assert_allclose(read_grayscale(path), pixels / 4095.0, rtol=1e-6)
    dataset.RescaleSlope = 0
    dataset.save_as(path)
    with pytest.raises(BadImage, match=r"neg\.dcm: declares RescaleSlope 0"):
        read_grayscale(path)


@pytest.mark.parametrize("bits", [0, 17])
def test_dicom_impossible_bits_stored_is_refused(tmp_path, bits):
    import pydicom

    path = write_dicom(tmp_path / "b.dcm", ramp().astype(np.uint16))
    dataset = pydicom.dcmread(path)
    dataset.BitsStored = bits
    dataset.save_as(path)
    with pytest.raises(BadImage, match=rf"b\.dcm: declares BitsStored {bits} with BitsAllocated 16"):
        read_grayscale(path)
