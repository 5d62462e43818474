"""Reading and writing generator weight files safely (``torch.load(weights_only=True)`` only).

Layouts understood by :func:`load_state_dict`:

- BasicSR / Real-ESRGAN: ``{"params_ema": sd}`` and/or ``{"params": sd}`` (``params_ema`` wins);
- this project's checkpoints: the same plus ``"arch": {"type": ..., **kwargs}``;
- a bare ``{key: tensor}`` state dict (``module.`` prefixes from DataParallel are stripped);
- the two ESRGAN-repo layouts, converted to BasicSR names by :func:`convert_old_esrgan`.

Old-ESRGAN key mapping (``RRDB_ESRGAN_x4.pth`` era, ``N`` = number of RRDBs, 23 officially)::

    model.0                          -> conv_first
    model.1.sub.i.RDB{k}.conv{j}.0   -> body.i.rdb{k}.conv{j}      (i < N)
    model.1.sub.N                    -> conv_body
    model.3 / model.6                -> conv_up1 / conv_up2
    model.8 / model.10               -> conv_hr / conv_last

The later ESRGAN-repo layout (``RRDBNet_arch.py``: ``RRDB_trunk.i.RDB{k}.conv{j}``, ``trunk_conv``,
``upconv1``, ``upconv2``, ``HRconv``) is mapped to the same names.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from cxr_kernel.errors import UserFileNotFound, UserValueError

_REALESRGAN = "https://github.com/xinntao/Real-ESRGAN/releases/download"
_ESRGAN_DRIVE = (
    "the ESRGAN README (https://github.com/xinntao/ESRGAN#test-models): Google Drive "
    "https://drive.google.com/drive/u/0/folders/17VYV_SoZZesU6mbxz2dMAIccSSlqLecY or Baidu Drive "
    "https://pan.baidu.com/s/1-Lh6ma-wXzfH8NqeBtPaFQ"
)
_LEFTTHOMAS = "leftthomas/SRGAN (https://github.com/leftthomas/SRGAN, epochs/netG_epoch_4_100.pth)"
_BASICSR_ZOO = "the BasicSR model zoo (https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md)"

#: Where each official file can be downloaded (shown when it is missing; nothing is downloaded).
OFFICIAL_SOURCES: dict[str, str] = {
    "RealESRGAN_x4plus.pth": f"{_REALESRGAN}/v0.1.0/RealESRGAN_x4plus.pth",
    "RealESRNet_x4plus.pth": f"{_REALESRGAN}/v0.1.1/RealESRNet_x4plus.pth",
    "RealESRGAN_x2plus.pth": f"{_REALESRGAN}/v0.2.1/RealESRGAN_x2plus.pth",
    "RealESRGAN_x4plus_anime_6B.pth": f"{_REALESRGAN}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth",
    "ESRGAN_SRx4_DF2KOST_official-ff704c30.pth": (
        f"{_REALESRGAN}/v0.1.1/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth"
    ),
    "realesr-animevideov3.pth": f"{_REALESRGAN}/v0.2.5.0/realesr-animevideov3.pth",
    "realesr-general-x4v3.pth": f"{_REALESRGAN}/v0.2.5.0/realesr-general-x4v3.pth",
    "netG_epoch_4_100.pth": _LEFTTHOMAS,
    "leftthomas_SRGAN_netG_epoch_4_100.pth": _LEFTTHOMAS,
    "RRDB_ESRGAN_x4.pth": _ESRGAN_DRIVE,
    "RRDB_PSNR_x4.pth": _ESRGAN_DRIVE,
    "MSRResNet_x4.pth": _BASICSR_ZOO,
    "SRGAN_x4.pth": _BASICSR_ZOO,
}

_PLAIN = (bool, int, float, str, type(None))


def where_to_get(path: str | Path) -> str | None:
    """Download location for an official weights file name (case-insensitive), else None."""
    name = Path(path).name.lower()
    for official, source in OFFICIAL_SOURCES.items():
        if official.lower() == name:
            return source
    if re.search(r"(^|_)(msrresnet|srgan)(_|\.)", name):  # BasicSR zoo: 001_MSRResNet_x4_....pth
        return _BASICSR_ZOO
    return None


def _missing_file_message(path: Path) -> str:
    source = where_to_get(path)
    hint = f" Download it from {source}" if source else " Check the path"
    return f"Expected a weights file at {path}, got nothing there.{hint} (nothing is downloaded at run time)."


def load_state_dict(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any] | None]:
    """Load a generator state dict and its optional arch dict from ``path`` (on CPU).

    Returns
    -------
    state_dict : dict[str, Tensor]
        ``params_ema`` if present, else ``params``, else the bare dict, with ESRGAN-repo layouts
        converted to BasicSR key names.
    arch : dict or None
        The file's ``"arch"`` entry (this project's checkpoints), None for official files.

    Raises
    ------
    FileNotFoundError
        Naming the file and, for a known official file, where to download it.
    ValueError
        If the file is not a plain-tensor pickle (``weights_only=True`` refuses it) or holds no
        tensor state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise UserFileNotFound(_missing_file_message(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's own message suggests weights_only=False; keep only the line saying what was found.
        detail = next((line for line in str(error).splitlines() if "WeightsUnpickler error" in line), "")
        detail = detail.split(" was not an allowed")[0].strip() or "non-tensor objects"
        raise UserValueError(
            f"Expected {path} to hold only tensors and plain containers, but torch.load(weights_only=True) "
            f"refused it ({detail}). Arbitrary pickles are never loaded; "
            "re-save the generator with torch.save({'params': model.state_dict()}, path) from code you trust."
        ) from error
    except (RuntimeError, EOFError, OSError) as error:
        raise UserValueError(
            f"Expected a PyTorch weights file at {path}, could not read it: {error}"
        ) from error
    if not isinstance(obj, dict):
        raise UserValueError(f"Expected a dict of tensors in {path}, got {type(obj).__name__}.")
    arch = obj.get("arch")
    if arch is not None and not isinstance(arch, dict):
        raise UserValueError(f"Expected the 'arch' entry of {path} to be a dict, got {type(arch).__name__}.")
    state = next((obj[k] for k in ("params_ema", "params") if obj.get(k) is not None), obj)
    if not isinstance(state, dict):
        raise UserValueError(
            f"Expected a dict of tensors under 'params'/'params_ema' in {path}, got {state!r:.60}"
        )
    if state is obj:
        state = {k: v for k, v in obj.items() if k != "arch"}
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if not state:
        raise UserValueError(f"Expected parameter tensors in {path}, got an empty dict.")
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise UserValueError(
            f"Expected {path} to map parameter names to tensors, got non-tensor entries {bad[:5]}"
            f"{' ...' if len(bad) > 5 else ''}. Save it as {{'params': model.state_dict()}}."
        )
    if is_old_esrgan(state):
        state = convert_old_esrgan(state)
    return state, arch


def add_missing_batch_counters(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Copy of ``state_dict`` with ``<bn>.num_batches_tracked = 0`` for each BatchNorm that lacks it.

    Files saved before PyTorch 0.4.1 (leftthomas's SRGAN generator) have no such tensor; adding it
    lets ``strict=True`` loading check every other key. The counter only matters in training.
    """
    out = dict(state_dict)
    for key in state_dict:
        if key.endswith(".running_mean"):
            out.setdefault(key.removesuffix("running_mean") + "num_batches_tracked", torch.tensor(0))
    return out


def is_old_esrgan(state_dict: dict[str, Any]) -> bool:
    """True if the keys use either ESRGAN-repo layout rather than BasicSR names."""
    return any(k.startswith(("model.0.", "RRDB_trunk.")) for k in state_dict)


_OLD_RDB = re.compile(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)")
_TRUNK_RDB = re.compile(r"RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.(weight|bias)")
_OLD_CONVS = {
    "model.0": "conv_first",
    "model.3": "conv_up1",
    "model.6": "conv_up2",
    "model.8": "conv_hr",
    "model.10": "conv_last",
}
_TRUNK_CONVS = {
    "conv_first": "conv_first",
    "trunk_conv": "conv_body",
    "upconv1": "conv_up1",
    "upconv2": "conv_up2",
    "HRconv": "conv_hr",
    "conv_last": "conv_last",
}


def convert_old_esrgan(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename ESRGAN-repo keys (``model.*`` or ``RRDB_trunk.*``) to BasicSR ``RRDBNet`` keys.

    Raises
    ------
    ValueError
        If a key fits neither layout (the message lists a few).
    """
    num_block = 1 + max(
        (int(m.group(1)) for k in state_dict if (m := _OLD_RDB.fullmatch(k) or _TRUNK_RDB.fullmatch(k))),
        default=-1,
    )
    convs = {**_OLD_CONVS, f"model.1.sub.{num_block}": "conv_body", **_TRUNK_CONVS}
    out, unknown = {}, []
    for key, value in state_dict.items():
        if m := _OLD_RDB.fullmatch(key) or _TRUNK_RDB.fullmatch(key):
            block, rdb, conv, kind = m.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
            continue
        module, _, kind = key.rpartition(".")
        if module in convs and kind in ("weight", "bias"):
            out[f"{convs[module]}.{kind}"] = value
        else:
            unknown.append(key)
    if unknown:
        raise UserValueError(f"Expected only ESRGAN RRDBNet keys, got unknown {unknown[:5]}. Is it ESRGAN's?")
    return out


_NEW_RDB = re.compile(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)")


def to_old_esrgan(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Inverse of :func:`convert_old_esrgan` for the ``model.*`` layout (x4 RRDBNet only)."""
    num_block = 1 + max((int(m.group(1)) for k in state_dict if (m := _NEW_RDB.fullmatch(k))), default=-1)
    convs = {new: old for old, new in _OLD_CONVS.items()} | {"conv_body": f"model.1.sub.{num_block}"}
    out = {}
    for key, value in state_dict.items():
        if m := _NEW_RDB.fullmatch(key):
            block, rdb, conv, kind = m.groups()
            out[f"model.1.sub.{block}.RDB{rdb}.conv{conv}.0.{kind}"] = value
            continue
        module, _, kind = key.rpartition(".")
        if module not in convs:
            raise UserValueError(
                f"Expected BasicSR RRDBNet keys, got {key!r}. Only x4 RRDBNet has an old layout"
            )
        out[f"{convs[module]}.{kind}"] = value
    return out


def _plain_state(params: dict[str, Tensor], what: str) -> dict[str, Tensor]:
    bad = [k for k, v in params.items() if not isinstance(v, Tensor)]
    if bad:
        raise UserValueError(f"Expected {what} to map names to tensors, got non-tensors at {bad[:5]}.")
    # clone() so a view does not drag its whole storage into the file.
    return {k: v.detach().to("cpu").clone() for k, v in params.items()}


def save_weights(
    path: str | Path,
    params: dict[str, Tensor],
    *,
    arch: dict[str, Any],
    params_ema: dict[str, Tensor] | None = None,
) -> Path:
    """Write ``{"params", "params_ema"?, "arch"}`` to ``path`` atomically and return the path.

    ``arch`` (``{"type": "RRDBNet", "scale": 4, ...}``) must hold only plain ints, floats, strs,
    bools or None, so :func:`load_state_dict` can read it back with ``weights_only=True``.
    """
    if not isinstance(arch, dict) or not isinstance(arch.get("type"), str):
        raise UserValueError(f"Expected arch as {{'type': 'RRDBNet', ...}}, got {arch!r}.")
    odd = {k: type(v).__name__ for k, v in arch.items() if not (isinstance(k, str) and isinstance(v, _PLAIN))}
    if odd:
        raise UserValueError(
            f"Expected plain int/float/str/bool values in arch, got {odd}. Convert them first."
        )
    payload: dict[str, Any] = {"params": _plain_state(params, "params"), "arch": dict(arch)}
    if params_ema is not None:
        payload["params_ema"] = _plain_state(params_ema, "params_ema")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
