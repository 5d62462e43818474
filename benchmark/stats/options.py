"""The statistical options of an analysis and their limits, written once.

``StatisticalOptions`` is a suite's ``stats:`` block (``benchmark.pipeline.config.StatsConfig`` adds the
unit of analysis) and, with the ``seed``, ``AnalysisOptions`` is what ``analysis.analyze`` accepts: the
YAML and the Python API refuse the same values with the same limits.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from benchmark.seeding import MAX_SEED
from benchmark.stats.vocabulary import BOOTSTRAP_INTERVALS, PRIMARY_ENDPOINTS
from cxr_kernel.errors import UserError

#: Fewer replicates make BCa and percentile bounds too coarse to report (and p-values floor at 2/(B+1)).
MIN_BOOTSTRAP = 100
#: The bootstrap holds (n_bootstrap, evaluation images) float64 counts, a few such arrays at once.
MAX_BOOTSTRAP = 100_000
BOOTSTRAP_BYTES_PER_IMAGE = 8 * 3

Endpoint = Literal[PRIMARY_ENDPOINTS]


def _seed_in_numpys_range(value: int) -> int:
    """A negative seed would fail deep in scikit-learn, after the work."""
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"a seed is an integer from 0 to {MAX_SEED} (numpy's range); use e.g. seed: 0")
    return value


Seed = Annotated[int, AfterValidator(_seed_in_numpys_range)]


class StatisticalOptions(BaseModel):
    """``threshold`` the fixed decision threshold (prediction = prob >= threshold; 0 or 1 would call every
    image one class), ``confidence`` the level of every interval, ``n_bootstrap`` replicates per cell,
    ``margins`` non-inferiority margins per endpoint, ``primary`` the primary endpoints tested against HR
    (their own multiplicity family), ``correct_across_cells`` one primary family over all cells,
    ``bootstrap_ci`` the bootstrap intervals (BCa or percentile)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(0.5, gt=0, lt=1)
    confidence: float = Field(0.95, gt=0, lt=1)
    n_bootstrap: int = Field(2000, ge=MIN_BOOTSTRAP)
    margins: dict[Endpoint, float] | None = None
    primary: list[Endpoint] = Field(default_factory=lambda: list(PRIMARY_ENDPOINTS), min_length=1)
    correct_across_cells: bool = False
    bootstrap_ci: Literal[BOOTSTRAP_INTERVALS] = Field(
        "bca", description="bootstrap intervals: bias-corrected and accelerated, or plain percentile"
    )

    @field_validator("margins")
    @classmethod
    def _margins_in_range(cls, margins: dict[str, float] | None) -> dict[str, float] | None:
        for metric, margin in (margins or {}).items():
            if not 0 < margin < 1:
                raise ValueError(f"{metric}: expected a margin in (0, 1), got {margin}; use e.g. 0.02")
        return margins

    @field_validator("n_bootstrap")
    @classmethod
    def _bounded_bootstrap(cls, value: int) -> int:
        if value > MAX_BOOTSTRAP:
            per_image = value * BOOTSTRAP_BYTES_PER_IMAGE / 2**30
            raise ValueError(
                f"n_bootstrap {value} needs about {per_image:.2f} GiB per evaluation image "
                f"(n_bootstrap x images x 8 bytes, ~3 arrays at once); use at most {MAX_BOOTSTRAP} "
                "(2000 gives intervals to about 0.01)"
            )
        return value


class AnalysisOptions(StatisticalOptions):
    """``analysis.analyze``'s options: a suite's statistical options and the seed of its generators."""

    seed: Seed = 0


def checked_options(**options) -> AnalysisOptions:
    """``options`` validated, or a one-line ``UserError`` naming the first invalid option."""
    try:
        return AnalysisOptions(**options)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UserError(
            f"Invalid analysis option {where}: {first['msg']} (got {first.get('input')!r})."
        ) from None
