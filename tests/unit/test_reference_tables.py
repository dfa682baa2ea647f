"""The comparison behind the committed reference numbers: each kind of
quantity moves within its own tolerance, and a move beyond it is named by
table and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ..reference.tables import CLOSED, EXACT, compare, record, tolerance


@pytest.fixture
def recorded(tmp_path) -> pd.DataFrame:
    """A results folder with a fitted table, a closed-form table and a study chunk."""
    mixed = tmp_path / "hs" / "methods" / "mixed"
    ols = tmp_path / "hs" / "methods" / "pooled_ols"
    chunk = tmp_path / "study" / "hs" / "chunks" / "base"
    for folder in (mixed, ols, chunk):
        folder.mkdir(parents=True)
    pd.DataFrame({"method": ["mixed"], "nobs": [1977], "loglik": [-6389.1234567], "sigma": [6.06],
                  "converged": [True]}).to_parquet(mixed / "fit.parquet")
    pd.DataFrame({"term": ["Intercept", "ses"], "estimate": [12.1, 2.4], "std_error": [0.2, 0.1],
                  "df": [37.9, 1500.2]}).to_parquet(mixed / "coef.parquet")
    pd.DataFrame({"term": ["Intercept"], "estimate": [12.5]}).to_parquet(ols / "coef.parquet")
    pd.DataFrame({"replicate": [1]}).to_parquet(chunk / "reps_0_100.parquet")
    return record(tmp_path)


def moved(cells: pd.DataFrame, table: str, column: str, by=None, to=None) -> pd.DataFrame:
    """A copy with the first cell of one column moved by `by` (relative) or set `to`."""
    out = cells.copy()
    i = out.index[(out["table"] == table) & (out["column"] == column)][0]
    if to is not None:
        out.loc[i, "text" if isinstance(to, str) else "num"] = to
    else:
        out.loc[i, "num"] *= 1 + by
    return out


def test_record_leaves_study_chunks_out_and_keeps_kinds(recorded):
    assert "study/hs/chunks/base/reps_0_100.parquet" not in set(recorded["table"])
    kinds = recorded.drop_duplicates(["table", "column"]).set_index(["table", "column"])["kind"]
    assert kinds[("hs/methods/mixed/fit.parquet", "nobs")] == "int"
    assert kinds[("hs/methods/mixed/fit.parquet", "converged")] == "text"
    assert kinds[("hs/methods/mixed/fit.parquet", "loglik")] == "float"


def test_rules():
    assert tolerance("hs/methods/mixed/fit.parquet", "nobs", "int") == EXACT
    assert tolerance("hs/methods/pooled_ols/coef.parquet", "std_error") == CLOSED
    assert tolerance("hs/methods/mixed/fit.parquet", "loglik").abs == 1e-6
    assert tolerance("hs/methods/mixed/coef.parquet", "estimate").rel == 1e-6
    assert tolerance("hs/methods/mixed/coef.parquet", "std_error").rel == 1e-5
    assert tolerance("hs/analyses/ladder/ladder_varcorr.parquet", "vcov").rel == 1e-5
    assert tolerance("hs/methods/mixed/sector_lines.parquet", "df_slope").rel == 1e-3


@pytest.mark.parametrize("table, column, change, passes", [
    ("hs/methods/mixed/fit.parquet", "loglik", dict(by=1e-10), True),        # 6.4e-7 absolute
    ("hs/methods/mixed/fit.parquet", "loglik", dict(by=1e-9), False),        # 6.4e-6 absolute
    ("hs/methods/mixed/coef.parquet", "estimate", dict(by=5e-7), True),
    ("hs/methods/mixed/coef.parquet", "estimate", dict(by=5e-6), False),
    ("hs/methods/mixed/coef.parquet", "std_error", dict(by=5e-6), True),
    ("hs/methods/mixed/coef.parquet", "std_error", dict(by=5e-5), False),
    ("hs/methods/mixed/coef.parquet", "df", dict(by=5e-4), True),
    ("hs/methods/mixed/coef.parquet", "df", dict(by=5e-3), False),
    ("hs/methods/pooled_ols/coef.parquet", "estimate", dict(by=1e-11), True),
    ("hs/methods/pooled_ols/coef.parquet", "estimate", dict(by=1e-9), False),  # a closed form
    ("hs/methods/mixed/fit.parquet", "nobs", dict(to=1978.0), False),           # a count
    ("hs/methods/mixed/fit.parquet", "converged", dict(to="False"), False),     # text
])
def test_each_quantity_within_its_tolerance(recorded, table, column, change, passes):
    problems = compare(recorded, moved(recorded, table, column, **change))
    if passes:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(f"{table} [{column}]: 1 of ")


def test_missing_and_new_tables_and_shapes_are_named(recorded):
    fresh = recorded[recorded["table"] != "hs/methods/pooled_ols/coef.parquet"]
    extra = recorded[recorded["table"] == "hs/methods/mixed/coef.parquet"].assign(table="hs/methods/new/coef.parquet")
    longer = recorded[(recorded["table"] == "hs/methods/mixed/fit.parquet") & (recorded["column"] == "sigma")].assign(row=1)
    problems = compare(recorded, pd.concat([fresh, extra, longer]))
    assert "hs/methods/pooled_ols/coef.parquet [estimate]: missing from the fresh build" in problems
    assert "hs/methods/new/coef.parquet [df]: not in the reference" in problems
    assert "hs/methods/mixed/fit.parquet [sigma]: 1 rows in the reference, 2 now" in problems


def test_the_committed_reference_is_small_and_complete():
    """It holds every product of the default run, within the 2 MB budget."""
    path = Path(__file__).resolve().parents[1] / "reference" / "default_run.parquet"
    assert path.stat().st_size <= 2_000_000
    tables = set(pd.read_parquet(path, columns=["table"])["table"])
    assert {"hs/methods/mixed/coef.parquet", "designs/gls/fits.parquet", "simulated/sim_params.parquet"} <= tables
    assert any(t.startswith("study/") and t.endswith("summary.parquet") for t in tables)
    assert not any("chunks" in t or t.endswith("replicates.parquet") for t in tables)
