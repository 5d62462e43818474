"""The unit of analysis and the stats: keys of a suite."""

import pandas as pd
import pytest
from pydantic import ValidationError

from benchmark.pipeline.config import StatsConfig
from benchmark.stats.design import analysis_options, unit_of_analysis
from cxr_kernel.errors import UserError

IMAGES = pd.DataFrame({"image_id": ["a", "b", "c"], "patient_id": ["p1", "p1", "p2"]})


def test_patient_is_the_default_unit_when_every_image_has_a_patient_id():
    unit, clusters = unit_of_analysis(None, IMAGES)
    assert unit == "patient" and clusters == {"a": "p1", "b": "p1", "c": "p2"}
    assert unit_of_analysis("image", IMAGES) == ("image", None)
    assert unit_of_analysis(None, IMAGES, synthetic=True) == ("image", None)


def test_patient_unit_without_patient_ids_is_refused_and_the_default_falls_back_to_images():
    missing = IMAGES.assign(patient_id=["p1", None, "p2"])
    assert unit_of_analysis(None, missing) == ("image", None)
    with pytest.raises(UserError, match="cluster: image"):
        unit_of_analysis("patient", missing)


def test_stats_keys_are_validated_and_reach_analyze():
    config = StatsConfig(margins={"accuracy": 0.02, "auroc": 0.01}, primary=["accuracy", "auroc"])
    options, record = analysis_options(config, IMAGES, seed=3)
    assert options["margins"] == {"accuracy": 0.02, "auroc": 0.01} and options["primary"] == (
        "accuracy",
        "auroc",
    )
    assert record["unit_of_analysis"] == "patient" and record["n_patients"] == 2
    with pytest.raises(ValidationError, match="margin"):
        StatsConfig(margins={"accuracy": 2})
    with pytest.raises(ValidationError):
        StatsConfig(margins={"brier": 0.1})
    with pytest.raises(ValidationError):
        StatsConfig(cluster="hospital")
