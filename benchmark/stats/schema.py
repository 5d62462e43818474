"""Column schemas of the summary tables, shared by the analysis that fills them and the report."""

from benchmark.stats.flips import FLIP_COUNTS

TABLE_COLUMNS = {
    "quality": ["cell", "variant", "metric", "n", "mean", "std", "median", "ci_low", "ci_high", "ci_method"],
    "classification": ["cell", "variant", "metric", "n", "estimate", "ci_low", "ci_high", "ci_method"],
    "paired_tests": [
        "cell",
        "variant",
        "reference",
        "test",
        "metric",
        "estimate_variant",
        "estimate_reference",
        "difference",
        "ci_low",
        "ci_high",
        "statistic",
        "p_value",
        "p_adjusted",
        "n",
        "note",
    ],
    "flips": ["cell", "variant", *FLIP_COUNTS],
    "flipped_images": [
        "cell",
        "variant",
        "image_id",
        "label",
        "prob_hr",
        "prob_variant",
        "pred_hr",
        "pred_variant",
    ],
}
