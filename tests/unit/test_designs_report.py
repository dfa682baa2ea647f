"""The designs handout's text and figures: digits policy, lecture files by sha256,
the checking appendix's comparisons, and figures at print size."""

from __future__ import annotations

import hashlib
import re

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


@pytest.fixture(scope="module")
def timss():
    return run_design_part("oneway", pd.read_csv(DATA / "timss20_means.csv"), CONFIG)


def test_timss_checks_name_exactly_the_rounding_casualties(timss):
    checks = text.timss_checks(timss["coef"].iloc[0], timss["summary"].iloc[0], timss["clustering"].iloc[0])
    n_checked, off = text.disagreements(checks)
    # the lecture works from unrounded school means; its moment estimate subtracts rounded numbers
    assert set(off) == {"SE of $\\hat\\gamma_{00}$", "$t$", "between-school SD $\\sqrt{\\hat\\tau_{00}}$",
                        "variance of the school means", "$\\hat\\tau_{00}$ by moments (5393 − 166.5)"}
    # the within-school SD is the config's input, and V_j = sigma^2 / n follows from it alone: not checks
    inputs = checks[checks[text.AGREES] == text.INPUT]
    assert len(inputs) == 2 and n_checked == len(checks) - 2
    assert inputs["This handout"].tolist() == ["70.666", "166.4561"]
    # the lecture prints 5,393.40, and the exact value beside it; df as an integer
    row = checks.set_index("Quantity").loc["variance of the school means"]
    assert row["Lecture"] == "5393.40" and row["This handout"] == "5393.292"
    assert checks.set_index("Quantity").loc["df", "This handout"] == "19"


def test_timss_rounding_explains_the_variance_of_the_school_means(timss):
    """The variance of the printed means is 5393.2916; the lecture's 5393.40 is
    what its own REML SDs imply (72.298² + 70.666²/30), within what rounding 20
    means to 2 decimals can do, and it gives the lecture's SE, t and SD."""
    g = timss["groups"]
    r = text.timss_rounding(g["mean"], 30, 70.666)
    means = pd.read_csv(DATA / "timss20_means.csv")["mean_math"]
    assert r["var_printed_means"] == pytest.approx(means.var(ddof=1), rel=1e-12)
    assert round(r["var_printed_means"], 4) == 5393.2916
    assert abs(r["var_lecture"] - r["var_printed_means"]) <= r["rounding_bound"] < 0.63
    assert r["implied_low"] <= 5393.40 <= r["implied_high"] and not r["implied_low"] <= r["var_printed_means"]
    assert r["implied"] == pytest.approx(72.298**2 + 70.666**2 / 30)
    assert fmt.agrees(r["se_from_lecture_var"], "16.422") and fmt.agrees(r["t_from_lecture_var"], "32.821")
    assert fmt.agrees(r["sd_between_from_lecture_var"], "72.298")
    assert r["moment_from_lecture_var"] == pytest.approx(5393.40 - 70.666**2 / 30)
    # the bound is attained by rounding errors of ±h with the signs of the deviations
    d = means - means.mean()
    worst = means + 0.005 * np.sign(d)
    assert worst.var(ddof=1) - means.var(ddof=1) == pytest.approx(r["rounding_bound"], abs=1e-4)


def test_agreement_rule():
    assert fmt.agrees(16.4215, "16.422") and not fmt.agrees(16.42147, "16.422")
    assert fmt.agrees(-3436.706, "−3436.7") and fmt.agrees(5393.29, "5393")
    assert not fmt.agrees(5393.2916, "5,393.40") and fmt.agrees(5393.404, "5,393.40")


def test_negative_numbers_print_with_a_minus_sign():
    assert text.num(-0.5832, 3) == "−0.583" and text.num(0.5832, 3) == "0.583"
    assert text.full(-3436.70612) == "−3436.706" and text.pct(-0.05) == "−5%"
    assert text.minus("-∞") == "−∞" and text.minus("12") == "12"


def test_numerical_whole_degrees_of_freedom_print_as_integers():
    assert text.df_text(26.999999) == "27" and text.df_text(27.0) == "27"
    assert text.df_text(26.96) == "27.0" and text.df_text(5.487) == "5.5" and text.df_text(float("nan")) == "—"


def test_article_follows_the_word():
    assert text.article("item") == "an" and text.article("`item`") == "an" and text.article("store") == "a"
    assert text.article("class") == "a" and text.article("unit") == "a" and text.article("order") == "an"


DESIGN_QMDS = sorted((ROOT / "reports").glob("_designs_*.qmd")) + [ROOT / "reports" / "designs.qmd"]


def captions():
    """Every table and figure caption of the designs handout, as its YAML chunk option reads."""
    import yaml

    out = []
    for path in DESIGN_QMDS:
        for line in path.read_text().splitlines():
            if line.startswith(("#| tbl-cap:", "#| fig-cap:")):
                out.append(yaml.safe_load(line[3:])[line[3:].split(":")[0]])
        out += [m for m in re.findall(r'print\(": (.*?) \{#tbl-', path.read_text())]
    return out


def test_captions_write_symbols_as_math_not_ascii():
    caps = captions()
    assert len(caps) >= 30
    for cap in caps:
        prose = re.sub(r"\$[^$]+\$", "", cap)  # math is fine
        for bad in ("sqrt(", "^2", "^", "sigma", "rho", "epsilon", "_j", "tau", "gamma"):
            assert bad not in prose, (bad, cap)
    assert any("\\sqrt{2\\,\\mathrm{MSE}/n}" in cap for cap in caps)


def test_check_tables_write_symbols_as_math_not_ascii(timss):
    checks = text.timss_checks(timss["coef"].iloc[0], timss["summary"].iloc[0], timss["clustering"].iloc[0])
    for q in checks["Quantity"]:
        prose = re.sub(r"\$[^$]+\$", "", q)
        assert not re.search(r"V_j|σ²|γ00|τ00|\^", prose), q


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
