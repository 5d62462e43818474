"""A panel's comparison (``benchmark.stats.agreement`` with classifiers as members) and how the report
words it: tests without a p-value with any classifier, the per-classifier columns, the answer line."""

import numpy as np
import pandas as pd

from benchmark.stats import agreement
from benchmark.stats.agreement import TEST_KEYS, classifier_panel, headline
from reports.agreement import conclusions_frame, flips_frame
from reports.answer import panel_agreement_phrase, seed_agreement_phrase
from tests.support.report_run import as_summary

PANEL = classifier_panel(["cnn", "resnet"])


def _tests(p_values: dict[str, list[float]]) -> pd.DataFrame:
    """Primary McNemar tests of variants v0, v1, ... against HR, one p per member."""
    rows = [
        dict(zip(TEST_KEYS, ["c", f"v{i}", "HR", "mcnemar", "accuracy", "0.5"], strict=True))
        | {"member": member, "p_adjusted": p, "difference": 0.0, "family": "primary"}
        for member, ps in p_values.items()
        for i, p in enumerate(ps)
    ]
    return pd.DataFrame(rows)


def test_a_test_without_any_p_value_is_no_conclusion_and_a_disagreement_is_named():
    nan = np.nan
    table = agreement.test_agreement(
        _tests({"cnn": [nan, 0.01, 0.01], "resnet": [nan, 0.5, 0.01]}), PANEL, 0.05
    )
    untested, split, agreed = table.to_dict("records")
    assert untested["n_classifiers"] == 0 and untested["holds"]
    assert untested["statement"] == "no p-value with any classifier"
    assert split["statement"] == "significant in 1 of 2 classifiers" and not split["holds"]
    assert [split["significant_classifier_cnn"], split["significant_classifier_resnet"]] == [True, False]
    assert agreed["holds"] and agreed["n_agree"] == 2
    holds, failing, sentence = headline(table, pd.DataFrame(columns=["n_classifiers"]), PANEL)
    assert not holds and len(failing) == 1 and "(primary classifier: significant)" in failing[0]
    assert sentence.startswith("1 of 2 primary conclusions do not hold across the 2 classifiers")


def _summary(holds: bool) -> dict:
    test = {
        "cell": "c",
        "variant": "bicubic",
        "reference": "HR",
        "test": "mcnemar",
        "metric": "accuracy",
        "family": "primary",
        "primary_significant": True,
        "significant_classifier_cnn": True,
        "significant_classifier_resnet": holds,
        "n_classifiers": 2,
        "n_agree": 2 if holds else 1,
        "holds": holds,
        "statement": f"significant in {2 if holds else 1} of 2 classifiers",
    }
    untested = {**test, "variant": "lanczos", "n_classifiers": 0, "n_agree": 0, "holds": True}
    flips = {
        "cell": "c",
        "variant": "bicubic",
        "classifier_cnn": 3.0,
        "classifier_resnet": 1.0,
        "n_images_flipped_any_classifier": 3,
        "n_images_flipped_every_classifier": 1,
    }
    return {
        "panel": {
            "k": 2,
            "classifiers": ["cnn", "resnet"],
            "primary_classifier": "cnn",
            "tables": {
                "paired_tests": [test, untested],
                "non_inferiority": [],
                "flips": [flips],
                "flipped_images": [{"cell": "c", "consistent": True}, {"cell": "c", "consistent": False}],
            },
        }
    }


def test_the_answer_line_says_for_how_many_classifiers_each_conclusion_holds():
    assert panel_agreement_phrase(as_summary(_summary(True)), "c") == (
        "each of its 1 conclusions holds for 2 of 2 classifiers (1 of 2 flipped diagnoses flip with every "
        "classifier)"
    )
    assert panel_agreement_phrase(as_summary(_summary(False)), "c").startswith(
        "0 of 1 conclusions hold for 2 of 2 classifiers; "
        "bicubic accuracy (McNemar) holds for 1 of 2 classifiers"
    )
    assert (
        seed_agreement_phrase(as_summary(_summary(True)), "c") == ""
    )  # a panel without seeds says nothing of seeds
    assert panel_agreement_phrase(as_summary({}), "c") == ""


def test_the_panel_tables_show_each_classifiers_conclusion_and_flips():
    frame = conclusions_frame(_summary(False)["panel"])
    assert list(frame.columns) == [
        "Cell",
        "Variant",
        "Conclusion",
        "cnn",
        "resnet",
        "Across classifiers",
        "Holds for",
        "Holds",
    ]
    assert list(frame.iloc[0][["cnn", "resnet", "Holds for", "Holds"]]) == [
        "significant",
        "not significant",
        "1 of 2 classifiers",
        "NO",
    ]
    flips = flips_frame(_summary(False)["panel"]).iloc[0]
    assert [flips["Flips, cnn"], flips["Flips, resnet"], flips["… with every classifier"]] == ["3", "1", 1]
