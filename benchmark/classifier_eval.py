"""Score a Keras classifier file on a class-per-folder test set, as the reference notebook loaded it.

Independent of the training code on purpose: files are read here with PIL as Keras'
``flow_from_directory`` / ``load_img`` reads them (RGB, resized to the model's input by nearest
neighbour, values / 255), not by ``benchmark.classifier_setup.read_training_images`` or
``classifiers.preprocessing`` (gray, replicated to 3 channels). A shipped classifier's test figures
come from here, so a preprocessing bug shared by training and the suite cannot hide in them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score

from benchmark.manifest import sha256_file
from cxr_kernel.errors import UserFileNotFound

#: ``flow_from_directory``'s class folders in its (alphabetical) order: index = label.
CLASS_FOLDERS = ("NORMAL", "PNEUMONIA")
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


def load_rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    """One file as ``load_img(path, target_size=size)`` + ``rescale=1/255``: float32 (h, w, 3) in [0, 1]."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        if rgb.size != (size[1], size[0]):
            rgb = rgb.resize((size[1], size[0]), Image.NEAREST)
        return np.asarray(rgb, dtype=np.float32) / 255.0


def load_safe(model_path: Path):
    """The Keras model in ``model_path``, loaded uncompiled in safe mode (no code in the file runs)."""
    from classifiers.runtime import keras

    return keras.models.load_model(model_path, compile=False, safe_mode=True)


def save_without_optimizer(source: Path, destination: Path) -> None:
    """Save ``source``'s model to ``destination`` uncompiled (no optimizer state: a third of the size)."""
    from cxr_kernel.atomic import atomic_path

    model = load_safe(source)
    with atomic_path(destination) as temporary:  # the temporary keeps the ".keras" Keras insists on
        model.save(temporary)


def predict_directory(model_path: Path, directory: Path, *, batch_size: int = 32) -> dict:
    """P(pneumonia) of every image of a class-per-folder test set.

    Returns
    -------
    dict
        ``files`` (list of Path), ``labels`` (N,) int, ``probabilities`` (N,) float32.
    """
    model = load_safe(model_path)
    size = tuple(model.input_shape[1:3])
    files, labels = directory_images(directory)
    probabilities = []
    for start in range(0, len(files), batch_size):
        batch = np.stack([load_rgb(path, size) for path in files[start : start + batch_size]])
        probabilities.append(np.asarray(model.predict_on_batch(batch), dtype=np.float32)[:, 0])
    return {"files": files, "labels": labels, "probabilities": np.concatenate(probabilities)}


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
    """sha256 of the sorted ``<file sha256>  <path>`` lines of ``files``, paths relative to the folder
    above ``directory`` (``test/NORMAL/x.jpeg``, as a manifest names them): for ``<data_root>/test``
    it equals ``benchmark.manifest.list_checksum`` of the manifest's test rows."""
    root = Path(directory).parent
    lines = sorted(f"{sha256_file(path)}  {Path(path).relative_to(root).as_posix()}\n" for path in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def evaluate_directory(model_path: Path, directory: Path, *, batch_size: int = 32) -> dict:
    """``binary_scores`` of ``model_path`` on every image of ``directory`` (see ``predict_directory``).

    Also ``list_sha256``, the ``files_checksum`` of the images scored.
    """
    predicted = predict_directory(model_path, directory, batch_size=batch_size)
    metrics = binary_scores(predicted["labels"], predicted["probabilities"])
    return {
        "directory": str(directory),
        "list_sha256": files_checksum(predicted["files"], Path(directory)),
        "preprocessing": "RGB, resized to the model input by nearest neighbour (PIL), / 255",
        **metrics,
    }
