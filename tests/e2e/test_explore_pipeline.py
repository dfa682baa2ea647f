"""The explorable page of a real pipeline run: the numbers it exports are the
pipeline's (BLUPs, school lines, the mixed model's gap, the comparison table),
and the page is small, self-contained and reproducible."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mlmcompare.report import explore as E
from mlmcompare.report.format import num
from mlmcompare.report.tidy import read_table


@pytest.fixture(scope="module")
def numbers(hs_results):
    return E.explore_numbers(hs_results)


def f95_2(v: float) -> float:
    """The 95% quantile of F(2, v), in closed form."""
    return v / 2 * (0.05 ** (-2 / v) - 1)


def exported_arrays(numbers):
    schools = numbers["schools"]
    xtx = np.array([[[s["n"], s["sums"][0]], [s["sums"][0], s["sums"][1]]] for s in schools])
    xty = np.array([s["sums"][2:] for s in schools])
    lines = np.array([numbers["mixed"]["lines"][s["level"]] for s in schools])
    g = numbers["mixed"]["G"]
    return xtx, xty, lines, np.array([[g[0], g[1]], [g[1], g[2]]]), numbers["mixed"]["sigma2"]


def test_exported_numbers_give_the_pipelines_blups(numbers, hs_results):
    xtx, xty, lines, G, s2 = exported_arrays(numbers)
    ranef = read_table(hs_results / "analyses" / "diagnostics" / "ranef.parquet").sort_values("plot_order")
    assert [s["id"] for s in numbers["schools"]] == ranef["id"].to_list()
    np.testing.assert_allclose(E.blup_lines(xtx, xty, lines, G, s2), ranef[["intercept", "slope"]].to_numpy(), atol=1e-6)


def test_exported_school_lines_are_the_handouts(numbers, hs_results):
    xtx, xty, _, _, _ = exported_arrays(numbers)
    ell = read_table(hs_results / "analyses" / "betaspace" / "ellipses.parquet").sort_values("plot_order")
    ols = np.array([s["ols"] for s in numbers["schools"]])
    np.testing.assert_allclose(ols, ell[["intercept", "slope"]].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.solve(xtx, xty[..., None])[..., 0], ols, rtol=1e-9)
    np.testing.assert_allclose([s["cov"][2] for s in numbers["schools"]], ell["var_slope"], rtol=1e-12)
    # 95% joint radius sqrt(2 F(0.95; 2, n - 2)), with F(0.95; 2, v) = v/2 (0.05^(-2/v) - 1) in closed form
    by_n = {s["n"]: s["radius"] for s in numbers["schools"]}
    assert by_n[37] == pytest.approx(np.sqrt(2 * f95_2(35)), rel=1e-9)


def test_exported_gap_point_is_the_mixed_models(numbers, hs_results):
    xtx, _, _, G, s2 = exported_arrays(numbers)
    gap = numbers["gaps"][0]
    levels = np.array([s["level"] for s in numbers["schools"]])
    mixed = read_table(hs_results / "methods" / "mixed" / "sector_lines.parquet").set_index("line")
    row = mixed.loc[gap["line"]]
    assert gap["model_var"] == [row["var_intercept"], row["cov_intercept_slope"], row["var_slope"]]
    got = E.gap_variance_from_schools(xtx, levels == gap["level"], levels == gap["reference"], G, s2)
    np.testing.assert_allclose(got[[0, 0, 1], [0, 1, 1]], gap["model_var"], rtol=1e-6)
    report = json.loads((hs_results / "data_report.json").read_text())
    assert gap["n_schools"] == report["n_groups"]
    assert round(gap["share_level"] * gap["n_schools"]) == report["groups_per_level"][gap["level"]]
    assert gap["n_bar"] == pytest.approx(report["n_rows"] / report["n_groups"])


def test_exported_methods_are_the_sector_lines_and_comparison_table(numbers, hs_results):
    assert [m["id"] for m in numbers["methods"]] == ["pooled_ols", "fe_school_lines", "fe_common_slope", "two_stage", "between", "mixed", "mixed_contextual"]
    for m in numbers["methods"]:
        lines = read_table(hs_results / "methods" / m["id"] / "sector_lines.parquet")
        assert [l["point"] for l in m["lines"]] == lines[["intercept", "slope"]].to_numpy().tolist()
        diff = lines[lines["kind"] == "difference"].iloc[0]
        assert m["differences_table"][1]["SE"] == num(np.sqrt(diff["var_slope"]), 3)  # the handout's digits policy
    radius = {m["id"]: m["lines"][0]["radius"] for m in numbers["methods"]}
    assert radius["mixed"] == pytest.approx(np.sqrt(-2 * np.log(0.05)), rel=1e-9)  # chi-square(0.95; 2)
    assert radius["pooled_ols"] == pytest.approx(np.sqrt(2 * f95_2(1973)), rel=1e-9)


def test_page_is_small_self_contained_and_deterministic(hs_results, tmp_path):
    page = hs_results / "explore.html"
    text = page.read_text()
    assert page.stat().st_size <= E.MAX_BYTES
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "/*__EXPLORE_DATA__*/" not in text and "__EXPLORE_TITLE__" not in text
    again = E.build_explore_page(hs_results, tmp_path / "explore.html")
    assert again.read_bytes() == page.read_bytes()


def test_missing_table_is_named(hs_results, tmp_path):
    manifest = json.loads((hs_results / "manifest.json").read_text())
    del manifest["outputs"]["diagnostics/varcorr"]
    folder = tmp_path / "hs"
    folder.mkdir()
    for item in manifest["outputs"].values():
        item["path"] = str((hs_results / item["path"]).resolve())
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="diagnostics/varcorr"):
        E.explore_numbers(folder)
