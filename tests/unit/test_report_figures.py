"""The handout's figures print readably: drawn at most the PDF's text width,
with no text below 7 pt at that width, and figures of many schools show a
sample chosen by a stated rule."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mlmcompare.methods import LABELS
from mlmcompare.report.figures import (MIN_PT, PNG_DPI, TEXT_WIDTH, figure_png, printed_sizes, sample_rule_sentence,
                                       sample_schools)
from mlmcompare.report.figures import diagnostics as dgf, firstlook as p1f, oneway as p2f, sectorgap as gapf, simexample as simf
from mlmcompare.report.figures.comparison import ellipse_figure
from mlmcompare.report.figures.simexample import arrow_factor
from mlmcompare.report.figures.study import coverage_figure
from mlmcompare.analyses.oneway import ESTIMATOR_LABELS
from mlmcompare.report.tidy import read_table

from ..conftest import HSB_SPEC, table
from .test_report_verdicts import summary as study_summary


def stacked(results, kind):
    import pandas as pd

    return pd.concat([read_table(p) for p in sorted((results / "methods").glob(f"*/{kind}.parquet"))], ignore_index=True)


def handout_figures(results):
    """Every figure the handout draws from one data set's tables, by name."""
    T = lambda name: table(results, name)  # noqa: E731
    data = read_table(results / "data.parquet")
    y, x, g, F = HSB_SPEC.response, HSB_SPEC.predictor, HSB_SPEC.group, HSB_SPEC.level2_factor
    lines, fits = stacked(results, "sector_lines"), stacked(results, "fit")
    levels = ["Catholic", "Public"]
    shown = sample_schools(T("school_lines"), F, "x_mean", 12)
    G = T("slopes_spread").set_index("matrix").loc["G (estimated)"]
    Gm = np.array([[G.var_intercept, G.cov_intercept_slope], [G.cov_intercept_slope, G.var_slope]])
    settings = T("sim_settings").iloc[0]
    return {
        "ellipses": lambda: ellipse_figure(lines, fits, LABELS),
        "quantiles": lambda: p1f.quantile_figure(T("quantiles"), levels, F),
        "panels": lambda: p1f.school_panels(data, shown, g, x, y, F, levels),
        "panels_by": lambda: p1f.school_panels(data, shown, g, x, y, F, levels, by="Sex", by_lines=T("school_lines_by")),
        "effects": lambda: p1f.effects_figure(T("school_lines"), data, T("effects"), x, y, F, levels),
        "betaspace": lambda: p1f.beta_space_figure(T("ellipses"), F, levels, drawn=list(shown["id"])),
        "fe_two_stage": lambda: p1f.fe_two_stage_figure(lines, levels, "Public - Catholic"),
        "residuals": lambda: dgf.residual_figure(T("residuals")),
        "ranef": lambda: dgf.ranef_qq_figure(T("ranef"), x),
        "influence": lambda: dgf.influence_figure(T("influence"), F, levels),
        "effect_plot": lambda: dgf.effect_plot(T("effect_grid"), data, x, y, F, levels),
        "marginal": lambda: dgf.marginal_conditional_figure(T("ranef"), T("effect_grid"), x, y, F, levels),
        "mean_estimators": lambda: p2f.mean_estimators_figure(data, g, y, T("oneway_estimators"), T("oneway_schools")),
        "weights": lambda: p2f.weights_figure(T("oneway_schools"), ESTIMATOR_LABELS),
        "shrink_oneway": lambda: p2f.oneway_shrinkage_figure(T("oneway_shrinkage"), y),
        "shrink_slopes": lambda: p2f.slopes_shrinkage_figure(T("slopes_schools"), T("slopes_mean_lines"), Gm, x),
        "g_panels": lambda: gapf.g_panels_figure(T("g_panels")),
        "sim_school": lambda: simf.sim_school_figure(T("sim_students"), T("sim_schools"), settings),
        "sim_ellipses": lambda: simf.sim_ellipses_figure(T("sim_schools"), settings),
        "sim_shrinkage": lambda: simf.sim_shrinkage_figure(T("sim_schools"), settings),
        "coverage": lambda: coverage_figure(study_summary(), LABELS, 49.4),
    }


def test_every_figure_prints_with_no_text_below_7_pt(hs_results):
    import matplotlib.pyplot as plt

    for name, draw in handout_figures(hs_results).items():
        fig = draw()
        try:
            assert fig.get_figwidth() <= TEXT_WIDTH + 1e-9, name
            assert min(printed_sizes(fig)) >= MIN_PT, (name, min(printed_sizes(fig)))
        finally:
            plt.close(fig)


def test_figures_are_sent_as_small_png_at_print_resolution(hs_results):
    fig = handout_figures(hs_results)["ellipses"]()
    data = figure_png(fig)
    image = Image.open(io.BytesIO(data))
    assert image.mode == "P"  # at most 256 colours
    assert image.size[0] == round(TEXT_WIDTH * PNG_DPI)
    assert abs(image.info["dpi"][0] - PNG_DPI) < 1
    assert len(data) < 150_000


def test_many_schools_are_sampled_by_rank_of_mean_predictor(hsfull_results):
    lines = table(hsfull_results, "school_lines")
    assert len(lines) == 160
    shown = sample_schools(lines, "Sector", "x_mean", 12, include=["P8854C"])
    assert set(shown.groupby("Sector").size()) <= {12, 13} and "P8854C" in set(shown["id"])
    for level, part in lines.groupby("Sector"):
        picked = shown[shown["Sector"] == level]
        # the lowest and the highest mean predictor of each level are always shown
        assert part["x_mean"].min() == picked["x_mean"].min() and part["x_mean"].max() == picked["x_mean"].max()
    sentence = sample_rule_sentence(160, len(shown), 12, "Sector", "ses", ["P8854C"])
    assert sentence.startswith(f"With 160 schools, the figures of single schools show {len(shown)} of them")
    assert sample_rule_sentence(40, 40, 12, "Sector", "ses") == ""


@pytest.mark.parametrize("length, factor", [(0.2, 1.0), (0.06, 1.0), (0.02, 5.0), (0.004, 20.0)])
def test_shrinkage_arrows_are_lengthened_until_they_can_be_seen(length, factor):
    assert arrow_factor(length) == factor
