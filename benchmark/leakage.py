"""Leakage between the classifier's training images and the test images: shared patients and
near-duplicate radiographs (the same film at another resolution or encoding).

- Patients: a patient id present in both splits (Kermany's own split has some) means the classifier may
  have learnt that patient's anatomy; ``patient_overlap`` lists them with their image counts.
- Near-duplicates: byte-identical files are caught by screening, but a 224-px copy of a test radiograph
  in the training split is not.  ``near_duplicates`` compares every test image with every training image
  through a ``THUMBNAIL``x``THUMBNAIL`` area-averaged thumbnail, centred and scaled to unit norm, so
  resolution, brightness and contrast do not matter; a pair whose thumbnails' cosine distance
  ``1 - <a, b>`` is below ``MAX_DISTANCE`` is reported.  Distinct chest radiographs are alike at that
  size too (pneumonia-mini's 60 test x 120 training images: mean distance 0.39, smallest 0.06), while a
  224-px copy of an original Kermany radiograph lies at about 5e-6 from it, hence the threshold.

``check_leakage`` runs both (the pipeline calls it when the suite trains its classifier on its own
training split of real images) and raises ``UserError`` listing the overlap unless the suite sets
``classifier: {allow_test_overlap: true}``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.images import read_grayscale
from cxr_kernel.errors import UserError

THUMBNAIL = 32
MAX_DISTANCE = 2e-3


def patient_overlap(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Patients with images in both tables (columns image_id, patient_id): patient_id, n_train, n_test,
    test_images (";"-joined), one row per shared patient in test order."""
    columns = ["patient_id", "n_train", "n_test", "test_images"]
    known = lambda frame: frame[frame["patient_id"].notna() & (frame["patient_id"].astype(str) != "")]  # noqa: E731
    train, test = known(train), known(test)
    shared = [
        p for p in pd.unique(test["patient_id"].astype(str)) if p in set(train["patient_id"].astype(str))
    ]
    rows = []
    for patient in shared:
        in_test = test[test["patient_id"].astype(str) == patient]
        rows.append(
            {
                "patient_id": patient,
                "n_train": int((train["patient_id"].astype(str) == patient).sum()),
                "n_test": len(in_test),
                "test_images": ";".join(map(str, in_test["image_id"])),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def thumbnail(image: np.ndarray, size: int = THUMBNAIL) -> np.ndarray:
    """(size * size,) float64: the (H, W) image area-averaged to size x size, centred, unit norm
    (zeros for a constant image)."""
    small = Image.fromarray(np.asarray(image, dtype=np.float32), mode="F").resize((size, size), Image.BOX)
    values = np.asarray(small, dtype=np.float64).ravel()
    values = values - values.mean()
    norm = np.linalg.norm(values)
    return values / norm if norm > 0 else values


def thumbnails(paths, size: int = THUMBNAIL) -> np.ndarray:
    """(n, size * size) thumbnails of image files."""
    return (
        np.stack([thumbnail(read_grayscale(path), size) for path in paths])
        if len(paths)
        else np.zeros((0, size**2))
    )


def near_duplicates(
    test: pd.DataFrame, train: pd.DataFrame, *, max_distance: float = MAX_DISTANCE, size: int = THUMBNAIL
) -> pd.DataFrame:
    """Pairs (test image, training image) whose thumbnails lie within ``max_distance`` (cosine distance).

    ``test`` and ``train`` have columns image_id and path.  Returns columns test_image, train_image,
    distance, closest pairs first.
    """
    columns = ["test_image", "train_image", "distance"]
    if test.empty or train.empty:
        return pd.DataFrame(columns=columns)
    a, b = thumbnails(list(test["path"]), size), thumbnails(list(train["path"]), size)
    distance = 1.0 - a @ b.T
    rows, cols = np.nonzero(distance < max_distance)
    found = pd.DataFrame(
        {
            "test_image": test["image_id"].to_numpy()[rows],
            "train_image": train["image_id"].to_numpy()[cols],
            "distance": distance[rows, cols],
        },
        columns=columns,
    )
    return found.sort_values("distance", kind="stable").reset_index(drop=True)


def check_leakage(
    train: pd.DataFrame, test: pd.DataFrame, *, allowed: bool, duplicates: pd.DataFrame | None = None
) -> dict:
    """Patient overlap and near-duplicates between the training and test images.

    ``duplicates``: ``near_duplicates(test, train)`` when already computed (a caller's cache).
    Returns the summary.json record ({"checked", "allowed", "patients", "near_duplicates"}); raises
    ``UserError`` naming the overlap when there is any and ``allowed`` is false.
    """
    patients = patient_overlap(train, test)
    duplicates = near_duplicates(test, train) if duplicates is None else duplicates
    record = {
        "checked": True,
        "allowed": bool(allowed),
        "patients": patients.to_dict("records"),
        "near_duplicates": duplicates.to_dict("records"),
    }
    if (len(patients) or len(duplicates)) and not allowed:
        found = []
        if len(patients):
            shown = ", ".join(patients["patient_id"].head(10)) + (", ..." if len(patients) > 10 else "")
            found.append(f"{len(patients)} patients in both splits ({shown})")
        if len(duplicates):
            pairs = zip(duplicates["test_image"].head(5), duplicates["train_image"].head(5), strict=True)
            shown = ", ".join(f"{t} ~ {r}" for t, r in pairs) + (", ..." if len(duplicates) > 5 else "")
            found.append(f"{len(duplicates)} near-duplicate image pairs, test ~ train ({shown})")
        raise UserError(
            f"The classifier's training images overlap the test images: {' and '.join(found)}. Remove them "
            "from the training split of the manifest, or set classifier: {allow_test_overlap: true} to run "
            "anyway (the overlap is then listed in summary.json)."
        )
    return record
