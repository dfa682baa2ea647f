"""The key figures and tables the `highlights` step writes: the figures at the
handout's print width and resolution, shown at their drawn size; the
comparison table's numbers are the methods' own; the summary of methods is
judged by the study it is given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mlmcompare.methods import LABELS
from mlmcompare.report.figures import PNG_DPI, TEXT_WIDTH, figure_file_output, figure_output
from mlmcompare.report.figures.comparison import ellipse_figure
from mlmcompare.report.format import num
from mlmcompare.report.highlights import write_highlights

from .test_report_figures import stacked
from .test_report_verdicts import summary as study_summary


@pytest.fixture(scope="module")
def written(hs_results, tmp_path_factory):
    folder = tmp_path_factory.mktemp("highlights")
    outputs = {name: folder / f"{name}.{ext}" for name, ext in
               (("ellipses", "png"), ("coverage", "png"), ("comparison", "csv"), ("summary_of_methods", "csv"))}
    lines, fits = stacked(hs_results, "sector_lines"), stacked(hs_results, "fit")
    methods = list(dict.fromkeys(fits["method"]))
    write_highlights(outputs, lines, fits, methods, LABELS, study_summary(), 40, 1977 / 40)
    return outputs, lines, fits, methods


def test_figures_are_written_at_print_width_and_shown_at_drawn_size(written):
    outputs, lines, fits, _ = written
    for name in ("ellipses", "coverage"):
        with Image.open(outputs[name]) as image:
            assert image.size[0] == round(TEXT_WIDTH * PNG_DPI) and image.mode == "P"
    fig = ellipse_figure(lines, fits, LABELS)
    assert figure_file_output(outputs["ellipses"]).width == figure_output(fig).width  # the same size on the page


def test_comparison_holds_each_methods_gap_estimate_and_se(written):
    outputs, lines, _, methods = written
    table = pd.read_csv(outputs["comparison"], dtype=str)
    diff = lines[lines["kind"] == "difference"].set_index("method")
    assert len(table) == 2 * len(methods)
    for method in methods:
        rows = table[table["Method"] == LABELS[method]]
        slope = rows[rows["Difference"].str.endswith(": slope")].iloc[0]
        assert slope["Estimate"] == num(diff.at[method, "slope"])
        assert slope["SE"] == num(np.sqrt(diff.at[method, "var_slope"]), 3)


def test_summary_of_methods_is_judged_by_the_study(written):
    outputs, _, _, methods = written
    table = pd.read_csv(outputs["summary_of_methods"], dtype=str)
    assert len(table) >= len(methods)
    assert table["Honest?"].str.contains("coverage").all()  # each verdict carries the measured coverage
