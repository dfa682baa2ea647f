"""The designs handout's text and figures: digits policy, lecture files by sha256,
the checking appendix's comparisons, and figures at print size."""

from __future__ import annotations

import hashlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mlmcompare.analyses import run_design_part  # noqa: E402
from mlmcompare.report import designs as text  # noqa: E402
from mlmcompare.report import format as fmt  # noqa: E402
from mlmcompare.report.format import markdown_table  # noqa: E402
from mlmcompare.report.figures import designs as figures  # noqa: E402

from ..conftest import DATA, ROOT, validated_config  # noqa: E402

CONFIG = validated_config()["designs"]


@pytest.mark.parametrize("value, expected", [
    (5393.2916, "5393"), (538.979, "539.0"), (16.421467, "16.42"), (0.511406, "0.5114"),
    (0.0449533, "0.04495"), (-3436.706, "-3437"), (2.0, "2"), (9.99996, "10.00"), (0.0, "0"),
])
def test_four_significant_digits(value, expected):
    assert fmt.num(value) == expected


@pytest.mark.parametrize("df, expected", [(27.0, "27"), (26.9999999, "27"), (1936.0, "1936"), (37.846, "37.8"),
                                          (1869.12, "1869"), (5.487, "5.5"), (float("nan"), "—")])
def test_degrees_of_freedom(df, expected):
    assert fmt.df_text(df) == expected


def test_p_values_in_tables_and_prose():
    assert fmt.pval(0.0127303) == "0.013" and fmt.pval(3e-7) == "< 0.0001"
    assert fmt.p_clause(3e-7) == "p < 0.0001" and fmt.p_clause(0.29) == "p = 0.29"
    assert "= <" not in fmt.p_clause(1e-30)


def test_preferences_and_comparisons_read_as_sentences():
    assert text.preferred_by("Compound symmetry", "Compound symmetry") == "AIC and BIC both prefer *Compound symmetry*"
    assert text.preferred_by("A", "B") == "AIC prefers *A* and BIC *B*"
    assert text.compared(2.0, 1.0) == "larger" and text.compared(1.0, 2.0) == "smaller"
    assert text.compared(1.0, 1.001) == "the same"
    assert text.listing(["a", "b", "c"]) == "a, b and c"


def test_empty_columns_are_left_out_of_tables():
    md = markdown_table(pd.DataFrame({"a": ["x", "y"], "b": ["", "—"], "c": ["1", ""]}))
    assert md.splitlines()[0] == "| a | c |"


def test_bundled_files_are_recognised_by_content_not_name():
    """Every bundled file of the designs config is in the registry by its sha256."""
    for section in ("oneway", "repeated", "components", "threelevel", "crossed"):
        path = ROOT / CONFIG[section]["file"]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert text.bundled_file(digest) is not None, path
    assert text.lecture_of(hashlib.sha256((DATA / "timss20_means.csv").read_bytes()).hexdigest()) == "timss20"
    # the same rows in a file that differs by a byte are not the lecture's file
    changed = (DATA / "grocery.csv").read_bytes() + b"\n"
    assert text.lecture_of(hashlib.sha256(changed).hexdigest()) is None


def test_timss_checks_name_exactly_the_rounding_casualties():
    part = run_design_part("oneway", pd.read_csv(DATA / "timss20_means.csv"), CONFIG)
    checks = text.timss_checks(part["coef"].iloc[0], part["summary"].iloc[0], part["clustering"].iloc[0])
    off = set(checks.loc[checks["Agrees to the printed digits"] == "no", "Quantity"])
    # the lecture's school means are printed to 2 decimals; its moment estimate subtracts rounded numbers
    assert off == {"SE of γ00", "t", "between-school SD", "τ00 by moments (5393 − 166.5)"}


def test_agreement_rule():
    assert text.agrees(16.4215, "16.422") and not text.agrees(16.42147, "16.422")
    assert text.agrees(-3436.706, "−3436.7") and text.agrees(5393.29, "5393")


# ------------------------------------------------------------------ figures at print size
@pytest.fixture(scope="module")
def parts():
    files = {"oneway": "oneway", "rmanova": "repeated", "gls": "repeated", "components": "components",
             "threelevel": "threelevel", "crossed": "crossed"}
    return {p: run_design_part(p, pd.read_csv(ROOT / CONFIG[s]["file"]), CONFIG) for p, s in files.items()}


def drawn(parts):
    og = parts["oneway"]["groups"]
    yield figures.group_means_figure(og, 538.979, "math", "idschool")
    wide = parts["rmanova"]["wide"].set_index("item")
    yield figures.condition_profiles_figure(wide, "price", "store")
    cov = parts["gls"]["covariance"]
    levels = list(wide.columns)
    mats = {s: cov[(cov["structure"] == s) & (cov["method"] == "REML")].pivot(index="row", columns="col",
                                                                              values="correlation").loc[levels, levels].to_numpy()
            for s in ("compound_symmetry", "ar1", "toeplitz", "unstructured")}
    yield figures.correlation_by_pair_figure(mats, levels)
    G = parts["components"]["G"]
    yield figures.g_matrices_figure({m: G[(G["model"] == m) & (G["method"] == "ML")].pivot(index="row", columns="col", values="value")
                                     for m in ("diagonal", "block", "unstructured")})
    v = parts["threelevel"]["variance"]
    labels = list(dict.fromkeys(v["label"]))[:4]
    yield figures.variance_split_figure(v, labels, ["top", "middle", "middle labels", "row"])
    yield figures.crossed_profiles_figure(parts["crossed"]["data"], "plate", "sample", "diameter")


def test_every_figure_prints_at_the_text_width_with_no_type_below_7_pt(parts):
    for fig in drawn(parts):
        try:
            assert fig.get_figwidth() <= figures.TEXT_WIDTH + 1e-9
            sizes = figures.printed_sizes(fig)
            assert sizes and min(sizes) >= figures.MIN_PT, (fig.axes[0].get_xlabel(), min(sizes))
        finally:
            plt.close(fig)


def test_correlation_figure_spans_the_estimates_not_minus_one_to_one(parts):
    cov = parts["gls"]["covariance"]
    levels = list(parts["rmanova"]["wide"].set_index("item").columns)
    m = cov[(cov["structure"] == "ar1") & (cov["method"] == "REML")].pivot(index="row", columns="col",
                                                                         values="correlation").loc[levels, levels].to_numpy()
    fig = figures.correlation_by_pair_figure({"AR(1)": m}, levels)
    try:
        lo, hi = fig.axes[0].get_ylim()
        off = m[np.triu_indices(len(levels), 1)]
        assert lo <= off.min() and hi >= off.max() and (hi - lo) <= 1.5 * (off.max() - off.min()) + 0.005
    finally:
        plt.close(fig)
