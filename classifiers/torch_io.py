"""The ``torch`` classifier file: a ``torch.save`` dict of the architecture's name, input size and weights.

``{"format": FORMAT, "arch": "mobilenet_v2", "input_size": 128, "state_dict": {...}}``, loaded with
``weights_only=True`` (no pickled code runs). The state dict has torchvision's keys
(``classifiers.torch_archs``); a plain state dict file (e.g. torchvision's with a one-unit head) loads
too when the suite names ``arch`` and ``input_size``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from classifiers.torch_archs import ARCHS, build
from cxr_kernel.atomic import atomic_path

FORMAT = "cxr-sr-bench torch classifier 1"
SUFFIX = ".pt"


def save_model(path: Path, model: nn.Module, *, arch: str, input_size: int, half: bool = False) -> Path:
    """Write ``model`` atomically; ``half`` stores float tensors as float16 (loaded back as float32)."""
    state = {
        name: value.half() if half and value.is_floating_point() else value
        for name, value in model.state_dict().items()
    }
    payload = {"format": FORMAT, "arch": arch, "input_size": int(input_size), "state_dict": state}
    with atomic_path(Path(path)) as temporary:
        torch.save(payload, temporary)
    return Path(path)


def read_model_file(path: Path) -> dict:
    """The file's dict (``arch``, ``input_size``, ``state_dict``); a plain state dict has no arch/size.

    Raises ValueError naming the file when it is not a torch weights file.
    """
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a foreign or damaged file
        raise ValueError(
            f"Could not read {path} as a torch weights file ({type(error).__name__}: {error}). Give a file "
            "written by train-classifier (type torch) or torch.save(model.state_dict(), path)."
        ) from error
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        return payload
    if isinstance(payload, dict) and all(isinstance(v, torch.Tensor) for v in payload.values()):
        return {"arch": None, "input_size": None, "state_dict": payload}
    raise ValueError(f"Expected {path} to hold a state dict of tensors, got {type(payload).__name__}.")


def load_model(
    path: Path, *, arch: str | None = None, input_size: int | None = None
) -> tuple[nn.Module, str, int]:
    """(model in eval mode, float32, arch, input size) of a torch classifier file.

    ``arch`` and ``input_size`` (the suite's) must agree with the file's when both name them; a plain
    state dict needs them. Raises ValueError naming the file and the disagreement.
    """
    payload = read_model_file(path)
    stored_arch, stored_size = payload["arch"], payload["input_size"]
    for key, given, stored in (("arch", arch, stored_arch), ("input_size", input_size, stored_size)):
        if given is not None and stored is not None and given != stored:
            raise ValueError(
                f"classifier.{key} is {given!r} but {path} was trained with {stored!r}: remove it or fix it."
            )
        if given is None and stored is None:
            raise ValueError(f"{path} is a plain state dict: name its architecture in classifier.{key}.")
    arch, input_size = arch or stored_arch, input_size or stored_size
    ARCHS.check(arch)
    model = build(arch)
    state = {
        name: value.float() if value.is_floating_point() else value
        for name, value in payload["state_dict"].items()
    }
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise ValueError(f"{path} does not fit architecture {arch!r} ({first}).") from error
    return model.eval(), arch, int(input_size)


def export_onnx(model: nn.Module, input_size: int, destination: Path) -> Path:
    """Write ``model`` as ONNX (opset 17) atomically: input ``image`` (batch, 1, s, s) float32 in [0, 1]
    (the [0, 1] gray image; the ImageNet normalisation is in the graph), output ``probability``
    (batch, 1), P(pneumonia) = sigmoid of the model's logit."""
    wrapped = nn.Sequential(model, nn.Sigmoid()).eval()
    example = torch.zeros(1, 1, input_size, input_size)
    with atomic_path(Path(destination)) as temporary:
        torch.onnx.export(
            wrapped,
            (example,),
            str(temporary),
            dynamo=False,
            input_names=["image"],
            output_names=["probability"],
            dynamic_axes={"image": {0: "batch"}, "probability": {0: "batch"}},
            opset_version=17,
        )
    return Path(destination)
