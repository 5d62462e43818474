"""Bad image files: each is read correctly, or refused with one error naming the file and the fix.

The images are made in ``tmp_path``: PNG/JPEG with Pillow, DICOM with pydicom's own dataset writer.
"""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from benchmark.images import BadImage, read_grayscale, resize_square
from cxr_kernel.errors import UserError


def save(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return path


def with_sbit(path, bits):
    """Insert an sBIT chunk (gray significant bits) after the IHDR chunk of the PNG ``path``."""
    data = path.read_bytes()
    end_of_ihdr = 8 + 8 + 13 + 4
    chunk = struct.pack(">I", 1) + b"sBIT" + bytes([bits])
    chunk += struct.pack(">I", zlib.crc32(b"sBIT" + bytes([bits])))
    path.write_bytes(data[:end_of_ihdr] + chunk + data[end_of_ihdr:])
    return path


def gradient(height=24, width=24):
    return np.add.outer(np.arange(height) * 7, np.arange(width) * 3).astype(np.uint8)


def write_dicom(path, pixels, *, photometric="MONOCHROME2", bits_stored=12, signed=False, samples=1):
    """A minimal uncompressed DICOM file of ``pixels`` (uint16/int16, (H, W) or (H, W, 3))."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.SOPClassUID, dataset.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    dataset.Modality = "CR"
    dataset.Rows, dataset.Columns = pixels.shape[:2]
    dataset.SamplesPerPixel = samples
    if samples > 1:
        dataset.PlanarConfiguration = 0
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated = pixels.dtype.itemsize * 8
    dataset.BitsStored, dataset.HighBit = bits_stored, bits_stored - 1
    dataset.PixelRepresentation = int(signed)
    dataset.PixelData = pixels.tobytes()
    dataset.save_as(path, enforce_file_format=True)
    return path


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(BadImage, match=r"nowhere\.png: image file not found\. Check the data root") as info:
        read_grayscale(tmp_path / "nowhere.png")
    assert info.value.reason == "missing"


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_truncated_file_is_refused_not_padded(tmp_path, kind):
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(buffer, format=kind)
    path = tmp_path / f"cut.{kind.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(
        BadImage, match=rf"cut\.{kind.lower()}: cannot be read as an image .*Replace or remove"
    ):
        read_grayscale(path)


def test_garbage_bytes_are_refused(tmp_path):
    (tmp_path / "x.jpeg").write_bytes(b"this is not an image")
    with pytest.raises(BadImage, match=r"x\.jpeg: cannot be read") as info:
        read_grayscale(tmp_path / "x.jpeg")
    assert info.value.reason == "unreadable"


def test_sixteen_bit_png_is_divided_by_65535_even_when_dark(tmp_path):
    """A dark 16-bit image (largest value 200) declaring 16 significant bits is not mistaken for an
    8-bit one."""
    pixels = np.array([[0, 100], [200, 150]], dtype=np.uint16)
    path = with_sbit(save(tmp_path / "dark16.png", pixels), 16)
    assert Image.open(path).mode.startswith("I")
    np.testing.assert_allclose(read_grayscale(path), pixels / 65535.0, rtol=1e-6)


def test_twelve_bit_data_in_a_sixteen_bit_png_is_scaled_by_its_declared_depth(tmp_path):
    pixels = np.array([[0, 4095], [2048, 1000]], dtype=np.uint16)
    path = with_sbit(save(tmp_path / "twelve.png", pixels), 12)
    np.testing.assert_allclose(read_grayscale(path), pixels / 4095.0, rtol=1e-6)


def test_sixteen_bit_png_scaled_to_full_range_with_sbit_twelve_is_divided_by_65535(tmp_path):
    """The PNG standard stores n-bit samples scaled to 16 bits; sBIT then only informs."""
    pixels = np.array([[0, 65520], [32768, 16]], dtype=np.uint16)
    path = with_sbit(save(tmp_path / "scaled.png", pixels), 12)
    np.testing.assert_allclose(read_grayscale(path), pixels / 65535.0, rtol=1e-6)


def test_twelve_bit_data_in_a_sixteen_bit_png_without_sbit_is_flagged_not_read_near_black(tmp_path):
    pixels = np.array([[0, 4095], [2048, 1000]], dtype=np.uint16)
    with pytest.raises(BadImage, match=r"twelve.png.*largest value is 4095 \(fits in 12 bits\).*sBIT") as e:
        read_grayscale(save(tmp_path / "twelve.png", pixels))
    assert e.value.reason == "bit-depth"


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_multi_frame_file_is_refused_not_read_as_its_first_frame(tmp_path, fmt):
    frames = [Image.fromarray(gradient()), Image.fromarray(255 - gradient())]
    path = tmp_path / f"two.{fmt.lower()}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])
    with pytest.raises(BadImage, match=r"two\..*2 frames.*own file") as e:
        read_grayscale(path)
    assert e.value.reason == "unsupported"


def test_decompression_bomb_is_an_unreadable_bad_image(tmp_path):
    """A PNG header declaring 100000 x 100000 pixels (PIL's bomb guard) is a bad image, not a traceback."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + b"\0\0\0\0IEND\xaeB`\x82")
    with pytest.raises(BadImage, match=r"bomb.png.*decompression bomb") as e:
        read_grayscale(path)
    assert e.value.reason == "unreadable"


def test_sixteen_bit_png_full_range(tmp_path):
    pixels = np.array([[0, 65535], [32768, 1]], dtype=np.uint16)
    np.testing.assert_allclose(read_grayscale(save(tmp_path / "w.png", pixels)), pixels / 65535.0, rtol=1e-6)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_gray_rgb_file_reads_as_its_gray_values(tmp_path, fmt):
    gray = gradient()
    path = save(tmp_path / f"rgb.{fmt.lower()}", np.stack([gray] * 3, axis=2), format=fmt)
    expected = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255
    np.testing.assert_allclose(read_grayscale(path), expected, atol=1 / 255)


def test_colour_image_is_refused_naming_the_file(tmp_path):
    rgb = np.stack([gradient()] * 3, axis=2)
    rgb[2:6, 2:6] = (255, 0, 0)  # a red annotation burned in
    with pytest.raises(BadImage, match=r"marked\.png: is a colour image .*convert it to grayscale") as info:
        read_grayscale(save(tmp_path / "marked.png", rgb))
    assert info.value.reason == "colour"


def test_opaque_rgba_reads_as_gray(tmp_path):
    gray = gradient()
    rgba = np.stack([gray, gray, gray, np.full_like(gray, 255)], axis=2)
    np.testing.assert_allclose(read_grayscale(save(tmp_path / "a.png", rgba)), gray / 255, atol=1e-6)


def test_transparent_rgba_is_refused(tmp_path):
    gray = gradient()
    rgba = np.stack([gray, gray, gray, np.full_like(gray, 255)], axis=2)
    rgba[0, 0, 3] = 0
    with pytest.raises(BadImage, match=r"t\.png: has transparent pixels") as info:
        read_grayscale(save(tmp_path / "t.png", rgba))
    assert info.value.reason == "transparent"


def test_dicom_monochrome2_is_scaled_by_its_bit_depth(tmp_path):
    pixels = np.array([[0, 4095], [1024, 2048]], dtype=np.uint16)
    path = write_dicom(tmp_path / "m2.dcm", pixels)
    np.testing.assert_allclose(read_grayscale(path), pixels / 4095.0, rtol=1e-6)


def test_dicom_monochrome1_is_inverted(tmp_path):
    """MONOCHROME1 stores white as 0: after reading, bone must still be bright."""
    pixels = np.array([[0, 4095], [1024, 2048]], dtype=np.uint16)
    path = write_dicom(tmp_path / "m1.dcm", pixels, photometric="MONOCHROME1")
    np.testing.assert_allclose(read_grayscale(path), 1 - pixels / 4095.0, rtol=1e-6)


def test_signed_dicom_is_shifted_into_range(tmp_path):
    pixels = np.array([[-2048, 2047], [0, -1]], dtype=np.int16)
    path = write_dicom(tmp_path / "s.dcm", pixels, signed=True)
    np.testing.assert_allclose(read_grayscale(path), (pixels + 2048) / 4095.0, rtol=1e-6)


def test_colour_dicom_is_refused(tmp_path):
    pixels = np.zeros((2, 2, 3), dtype=np.uint8)
    path = write_dicom(tmp_path / "rgb.dcm", pixels, photometric="RGB", bits_stored=8, samples=3)
    with pytest.raises(BadImage, match=r"rgb\.dcm: is a DICOM of RGB pixels .*Export a single grayscale"):
        read_grayscale(path)


def test_corrupt_dicom_is_refused(tmp_path):
    (tmp_path / "bad.dcm").write_bytes(b"DICM but not really")
    with pytest.raises(BadImage, match=r"bad\.dcm: cannot be decoded as DICOM"):
        read_grayscale(tmp_path / "bad.dcm")


def test_non_square_image_is_resized_to_the_square_keeping_its_layout(tmp_path):
    """The documented choice: aspect ratio is not kept, but left stays left and top stays top."""
    wide = np.zeros((40, 80), dtype=np.uint8)
    wide[:, 40:] = 255  # right half white
    wide[:20, :] //= 2  # top half darker
    square = resize_square(read_grayscale(save(tmp_path / "wide.png", wide)), 32)
    assert square.shape == (32, 32)
    assert square[24:, :12].max() < 0.05 and square[24:, 20:].min() > 0.95
    assert 0.45 < square[:8, 20:].mean() < 0.55


def test_bad_image_is_a_user_error():
    assert issubclass(BadImage, UserError)
