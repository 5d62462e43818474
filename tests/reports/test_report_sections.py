"""Every section of the page comes from reports.render.SECTIONS, one module and block each;
the "Sample size and power" section shows the run's power table beside the observed differences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports import render_report
from reports.render import SECTIONS, TEMPLATES
from reports.sections import power
from tests.support.report_run import make_run

POWER = {"power": 0.8, "method": "connor-1987", "metric": "accuracy", "reference": "HR", "note": ""}


def _add_power(run: Path) -> list[dict]:
    """A power row per (cell, variant) of the fake run's McNemar rows, as the analysis stores them."""
    summary = json.loads((run / "summary.json").read_text())
    tests = [r for r in summary["tables"]["paired_tests"] if r["test"] == "mcnemar"]
    rows = [
        {**POWER, "cell": r["cell"], "variant": r["variant"], "n": r["n"], "discordant_fraction": 0.15}
        | {"detectable_difference": 0.1234 + i / 100}
        for i, r in enumerate(tests)
    ]
    rows[-1] |= {"detectable_difference": None, "note": "no discordant image"}
    summary["tables"]["power"] = rows
    (run / "summary.json").write_text(json.dumps(summary))
    return rows


def _add_comparisons(run: Path) -> None:
    """Stored statements of a seeds and a panel comparison and of a leakage sensitivity analysis (no
    tables), so that every section of the page is shown."""
    summary = json.loads((run / "summary.json").read_text())
    summary["seeds"] = {"k": 2, "seeds": [0, 1], "primary_seed": 0, "holds_across_seeds": True}
    summary["panel"] = {"k": 2, "classifiers": ["a", "b"], "primary_classifier": "a", "members": []}
    summary["leakage"] = {"sensitivity": {"left_out_images": 3, "n_images": 17}}
    (run / "summary.json").write_text(json.dumps(summary))


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, list[dict]]:
    without = make_run(tmp_path_factory.mktemp("plain"), lean=True)
    with_power = make_run(tmp_path_factory.mktemp("power"), lean=True)
    rows = _add_power(with_power)
    _add_comparisons(with_power)
    return render_report(without).read_text(), render_report(with_power).read_text(), rows


def test_every_section_is_a_module_named_as_its_anchor_with_its_block():
    for section in SECTIONS:
        assert section.__name__ == f"reports.sections.{section.ID}"
        assert section.TEMPLATE == f"sections/{section.ID}.html.j2"
        assert (TEMPLATES / section.TEMPLATE).is_file()


def test_sections_and_their_links_follow_the_list(pages):
    _, html, _ = pages
    nav = html[html.index("<nav>") : html.index("</nav>")]
    body = html[html.index("</nav>") :]
    anchor = {s.ID: s.ID for s in SECTIONS} | {"cells": "cell-1"}  # the fake run's one cell
    shown = [s for s in SECTIONS if f'<section id="{anchor[s.ID]}"' in body]
    assert [s.ID for s in shown] == [s.ID for s in SECTIONS]
    positions = [body.index(f'<section id="{anchor[s.ID]}"') for s in shown]
    assert positions == sorted(positions)
    links = [nav.index(f'href="#{anchor[s.ID]}">') for s in shown]
    assert links == sorted(links) and nav.count("<a ") == len(shown)


def test_power_section_shows_the_stored_numbers_and_says_what_they_mean(pages):
    _, html, rows = pages
    section = html[html.index('<section id="power">') : html.index('<section id="training">')]
    assert "<h2>Sample size and power</h2>" in section
    first = rows[0]
    assert f"{first['detectable_difference']:.3f}" in section  # 0.123, the stored number
    assert "15.0%" in section and "Detectable Δ (80.0% power)" in section
    # the fake run's McNemar accuracy row: difference -0.05 [-0.2, 0.1], CI includes 0
    assert '-0.050 <span class="ci">[-0.200, 0.100]</span>' in section
    assert "no change shown; one smaller than 0.123 would likely be missed" in section
    assert "no discordant image" in section  # the row without a detectable difference keeps its note


def test_power_section_is_left_out_without_a_power_table(pages):
    html, _, _ = pages
    assert 'id="power"' not in html and 'href="#power"' not in html
    assert '<section id="training">' in html and '<section id="provenance">' in html


@pytest.mark.parametrize(
    ("low", "high", "detectable", "expected"),
    [
        (0.01, 0.2, 0.1, "a change to HR (its CI excludes 0)"),
        (-0.3, -0.02, 0.1, "a change to HR (its CI excludes 0)"),
        (-0.1, 0.05, 0.08, "no change shown; one smaller than 0.080 would likely be missed"),
        (-0.1, 0.05, None, "below 80% power"),
        (None, None, 0.1, "no interval stored"),
    ],
)
def test_reading_of_interval_and_detectable_difference(low, high, detectable, expected):
    stored = {"detectable_difference": detectable, "note": "below 80% power"}
    assert power.reading({"ci_low": low, "ci_high": high}, stored) == expected
