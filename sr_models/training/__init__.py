"""Training SRGAN, ESRGAN and Real-ESRGAN generators from HR images (see :func:`train_upscaler`)."""

from sr_models.training.data import sample_batch, usm_sharp
from sr_models.training.loop import train_upscaler
from sr_models.training.state import HISTORY_COLUMNS

__all__ = ["HISTORY_COLUMNS", "sample_batch", "train_upscaler", "usm_sharp"]
