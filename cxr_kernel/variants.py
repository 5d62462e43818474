"""The names of the reference variants every cell has beside its SR models.

A *variant* is one version of the test images that the classifier sees: ``HR`` (the original-resolution
reference everything is compared with), the LR images shown at the classifier's input size by one
interpolation each (``LR_DISPLAYS``), and one per SR model (named by the suite). These names are stored
in results, so they are defined here once for the pipeline, the statistics and the report.
"""

from __future__ import annotations

#: The original-resolution images: the reference of every comparison.
HR = "HR"
#: The degraded images before display (a stage's name; the variant name of runs older than LR displays).
LR = "LR"
#: How the LR arm is shown to the classifier, as two named variants: LR upsampled to the classifier's
#: input by nearest neighbour (what Keras' ``load_img`` does by default) and by bilinear interpolation.
LR_NEAREST, LR_BILINEAR = "LR-nearest", "LR-bilinear"
LR_DISPLAYS = {LR_NEAREST: "nearest", LR_BILINEAR: "bilinear"}
#: The reference variants in report order; SR models may not take these names.
REFERENCE_VARIANTS = (HR, *LR_DISPLAYS)


def is_lr(variant: str) -> bool:
    """``LR`` (older runs) or one of its displays (``LR-nearest``, ``LR-bilinear``)."""
    return variant == LR or variant.startswith(f"{LR}-")
