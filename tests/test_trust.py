"""Hostile input and reproducibility: refusals name what is wrong, odd but
valid data go through, and reruns give byte-identical files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlmcompare.data import DataError, load_data
from mlmcompare.methods import fit_method
from mlmcompare.methods.common import ols
from mlmcompare.pipeline import prepare_dataset, run_method
from mlmcompare.spec import HSB_SPEC
from mlmcompare.tidy import read_table, sha256_file

from .conftest import DATA, ROOT, run_snakemake

METHODS = ["pooled_ols", "fe_school_lines", "fe_common_slope", "two_stage", "between", "mixed", "mixed_contextual"]


def hs_frame() -> pd.DataFrame:
    return pd.read_csv(DATA / "hs.csv")


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


# ---- refusals ----------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.csv: file not found"):
        load_data(tmp_path / "nothere.csv", HSB_SPEC)


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: file is empty"):
        load_data(tmp_path / "empty.csv", HSB_SPEC)


def test_header_only(tmp_path):
    (tmp_path / "head.csv").write_text((DATA / "hs.csv").read_text().splitlines()[0] + "\n")
    with pytest.raises(DataError, match="header but no data rows"):
        load_data(tmp_path / "head.csv", HSB_SPEC)


def test_duplicated_column_name(tmp_path):
    lines = (DATA / "hs.csv").read_text().splitlines()
    lines = [l + "," + l.split(",")[2] for l in lines]  # a second 'ses' column
    (tmp_path / "dup.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"dup\.csv: duplicated column name\(s\): 'ses' \(columns 3 and 10\)"):
        load_data(tmp_path / "dup.csv", HSB_SPEC)


@pytest.mark.parametrize("bad", ["inf", "-inf", "NaN", ""])
def test_non_finite_response_is_counted(tmp_path, bad):
    df = hs_frame().astype({"mathach": object})
    df.loc[[0, 7, 99], "mathach"] = bad
    with pytest.raises(DataError, match=r"column 'mathach': 3 row\(s\) are missing, NaN or infinite; first at line\(s\) 2, 9, 101"):
        load_data(write_csv(df, tmp_path / "nonfinite.csv"), HSB_SPEC)


def test_single_level_factor(tmp_path):
    df = hs_frame()
    df["Sector"] = "Catholic"
    with pytest.raises(DataError, match=r"factor 'Sector' has a single level \['Catholic'\]"):
        load_data(write_csv(df, tmp_path / "one.csv"), HSB_SPEC)


def test_no_group_with_two_rows(tmp_path):
    df = hs_frame().groupby("school").head(1)
    with pytest.raises(DataError, match=r"every one of the 40 groups has a single row"):
        load_data(write_csv(df, tmp_path / "singles.csv"), HSB_SPEC)


def test_missing_group_id(tmp_path):
    df = hs_frame().astype({"school": object})
    df.loc[5, "school"] = ""
    with pytest.raises(DataError, match=r"column 'school': 1 row\(s\) have no group id; first at line\(s\) 7"):
        load_data(write_csv(df, tmp_path / "nogroup.csv"), HSB_SPEC)


def test_rank_deficiency_names_aliased_terms():
    x = np.linspace(-1, 1, 30)
    X = np.column_stack([np.ones(30), x, 2.0 * x - 1.0])
    with pytest.raises(ValueError, match=r"term\(s\) twice_x_minus_1 are aliased"):
        ols(X, x, ["Intercept", "x", "twice_x_minus_1"])


def test_constant_predictor_is_refused_by_pooled_ols():
    df = load_data(DATA / "hs.csv", HSB_SPEC).frame.assign(ses=1.0)
    with pytest.raises(ValueError, match="aliased"):
        fit_method("pooled_ols", df, HSB_SPEC)


# ---- odd but valid data ----------------------------------------------------------


def odd_dataset(tmp_path: Path) -> Path:
    """hs with 200-character non-ASCII ids, a one-student school, a school
    without spread in ses, and three students with a missing mathach."""
    df = hs_frame()
    ids = {s: (f"École-Sainte-Thérèse-{s}-" * 12)[:200] for s in df["school"].unique()}
    df["school"] = df["school"].map(ids)
    single = df.iloc[[0]].assign(school="Ωmega-single")
    flat = df[df["school"] == ids[1317]].index
    df.loc[flat, "ses"] = 0.25
    df = pd.concat([df, single], ignore_index=True).astype({"mathach": object})
    df.loc[[3, 50, 700], "mathach"] = ""
    return write_csv(df, tmp_path / "odd.csv")


@pytest.fixture(scope="module")
def odd_results(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("odd")
    csv_path = odd_dataset(folder)
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["datasets"]["odd"] = {"file": str(csv_path), "title": "odd ids"}
    cfg.update(run=["odd"], results=str(folder / "results"), drop_incomplete=True, report={"pdf": False, "engine": "fallback"})
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    proc = run_snakemake("--cores", "2", "--nolock", "--configfile", str(folder / "config.yaml"))
    assert proc.returncode == 0, proc.stderr[-5000:]
    return folder / "results" / "odd"


def test_drop_incomplete_is_recorded(odd_results):
    manifest = json.loads((odd_results / "manifest.json").read_text())
    assert manifest["data_report"]["n_dropped_incomplete"] == 3
    assert manifest["config"]["drop_incomplete"] is True
    assert "3 rows with a missing mathach or ses were dropped" in (odd_results / "handout.html").read_text()


def test_long_unicode_ids_survive(odd_results):
    schools = read_table(odd_results / "schools.parquet")
    assert len(schools) == 41
    assert schools["school"].str.len().max() == 200
    assert schools["id"].str.contains("École-Sainte-Thérèse").sum() == 40


def test_unestimable_slopes_are_listed_not_hidden(odd_results):
    for method in ("two_stage", "fe_school_lines"):
        warnings = list(read_table(odd_results / "methods" / method / "fit.parquet")["warnings"].iloc[0])
        assert len(warnings) == 2, warnings
        assert any("Ωmega-single left out: a single row" in w for w in warnings)
        assert any("left out: no spread in ses" in w for w in warnings)
    two = read_table(odd_results / "methods" / "two_stage" / "fit.parquet").iloc[0]
    assert two["ngroups"] == 39 and two["df_resid"] == 37


def test_mixed_model_keeps_every_group(odd_results):
    fit = read_table(odd_results / "methods" / "mixed" / "fit.parquet").iloc[0]
    assert fit["ngroups"] == 41 and fit["nobs"] == 1977 + 1 - 3


# ---- reproducibility ---------------------------------------------------------------


def test_reruns_are_byte_identical(hs_results, tmp_path):
    """Preparing and fitting again gives the very same bytes as the pipeline run."""
    spec = HSB_SPEC
    out = {k: tmp_path / f"{k}.out" for k in ("data", "schools", "report")}
    prepare_dataset(DATA / "hs.csv", spec, out["data"], out["schools"], out["report"])
    assert sha256_file(out["data"]) == sha256_file(hs_results / "data.parquet")
    assert sha256_file(out["schools"]) == sha256_file(hs_results / "schools.parquet")
    assert sha256_file(out["report"]) == sha256_file(hs_results / "data_report.json")
    for method in METHODS:
        paths = {t: tmp_path / method / f"{t}.parquet" for t in ("coef", "sector_lines", "fit")}
        run_method(method, hs_results / "data.parquet", spec, paths)
        for table, path in paths.items():
            assert sha256_file(path) == sha256_file(hs_results / "methods" / method / f"{table}.parquet"), (method, table)


def test_no_leftover_temporary_files(hs_results):
    leftovers = [p for p in hs_results.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
