"""Score a shipped classifier file on a class-per-folder test set, as its input contract reads files.

Independent of the training code on purpose: files are read with PIL (``classifiers.contract``) as the
shipped file's sidecar states (keras: RGB as the reference notebook's ``flow_from_directory``; torch:
its ONNX export, gray), not by ``benchmark.pipeline.classifier_setup.read_training_images`` or
``classifiers.preprocessing``. A shipped classifier's test figures come from here, so a preprocessing
bug shared by training and the suite cannot hide in them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score

from benchmark.manifest import list_checksum, sha256_file
from cxr_kernel.errors import UserFileNotFound

#: ``flow_from_directory``'s class folders in its (alphabetical) order: index = label.
CLASS_FOLDERS = ("NORMAL", "PNEUMONIA")
#: How each type's shipped file reads the test images (``classifiers.contract.read_file``).
PREPROCESSING = {
    "keras": "RGB, resized to the model input by nearest neighbour (PIL), / 255",
    "torch": "its .onnx export (onnxruntime); gray (PIL 'L'), resized to the input by nearest "
    "neighbour, / 255",
}
#: File endings ``flow_from_directory`` reads.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")


def directory_images(directory: Path) -> tuple[list[Path], np.ndarray]:
    """Image files of ``directory/NORMAL`` and ``directory/PNEUMONIA`` (sorted) and their labels (0, 1).

    Raises
    ------
    FileNotFoundError
        If a class folder is missing or holds no image.
    """
    directory = Path(directory)
    files, labels = [], []
    for label, name in enumerate(CLASS_FOLDERS):
        folder = directory / name
        found = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise UserFileNotFound(
                f"Expected images in {folder}, found none. Give the test folder that holds "
                f"{' and '.join(CLASS_FOLDERS)} subfolders (e.g. ../shared/data/kermany-224/test)."
            )
        files += found
        labels += [label] * len(found)
    return files, np.array(labels)


def predict_directory(
    model_path: Path, directory: Path, *, batch_size: int = 32, type_name: str = "keras"
) -> dict:
    """P(pneumonia) of every image of a class-per-folder test set, by the ``score_files`` of the
    backend of ``type_name`` (files read as the shipped file's input contract says).

    Returns
    -------
    dict
        ``files`` (list of Path), ``labels`` (N,) int, ``probabilities`` (N,) float32.
    """
    from classifiers.backends import backend

    files, labels = directory_images(directory)
    probabilities = backend(type_name).score_files(Path(model_path), files, batch_size)
    return {"files": files, "labels": labels, "probabilities": probabilities}


def binary_scores(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict:
    """Binary cross-entropy, accuracy, AUROC, sensitivity, specificity and counts at ``threshold``."""
    predicted = (probabilities >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    return {
        "n_images": int(len(labels)),
        "n_normal": int((labels == 0).sum()),
        "n_pneumonia": int((labels == 1).sum()),
        "threshold": threshold,
        "loss": float(log_loss(labels, probabilities.astype(np.float64), labels=[0, 1])),
        "accuracy": float(accuracy_score(labels, predicted)),
        "auroc": float(roc_auc_score(labels, probabilities)),
        "sensitivity": float(tp / (tp + fn)),
        "specificity": float(tn / (tn + fp)),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


def files_checksum(files: list[Path], directory: Path) -> str:
    """``benchmark.manifest.list_checksum`` of ``files``, named by their paths relative to the folder
    above ``directory`` (``test/NORMAL/x.jpeg``, as a manifest names them): for ``<data_root>/test``
    it equals the checksum of the manifest's test rows."""
    root = Path(directory).parent
    listed = pd.DataFrame(
        {
            "sha256": [sha256_file(path) for path in files],
            "image_id": [Path(path).relative_to(root).as_posix() for path in files],
        }
    )
    return list_checksum(listed)


def evaluate_directory(
    model_path: Path, directory: Path, *, batch_size: int = 32, type_name: str = "keras"
) -> dict:
    """``binary_scores`` of ``model_path`` on every image of ``directory`` (see ``predict_directory``).

    Also ``list_sha256``, the ``files_checksum`` of the images scored.
    """
    predicted = predict_directory(model_path, directory, batch_size=batch_size, type_name=type_name)
    metrics = binary_scores(predicted["labels"], predicted["probabilities"])
    return {
        "directory": str(directory),
        "list_sha256": files_checksum(predicted["files"], Path(directory)),
        "preprocessing": PREPROCESSING[type_name],
        **metrics,
    }
