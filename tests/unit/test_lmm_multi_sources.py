"""Fits with several grouping factors from parquet files and Dask DataFrames.

The blocked statistics (per factor and per pair of levels) add up over
chunks, matched by label, so a file read in small shuffled batches (each
with its own levels) and a Dask frame give the in-memory fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm

DATA = Path(__file__).parents[1] / "golden" / "data"

CASES = [
    ("threelevel.csv", "score ~ x + w + (1 + x | school) + (1 | school:class)", ["school", "class"]),
    ("penicillin.csv", "diameter ~ 1 + (1 | plate) + (1 | sample)", ["plate", "sample"]),
]


@pytest.fixture(scope="module", params=CASES, ids=["nested", "crossed"])
def case(request):
    name, formula, text = request.param
    d = pd.read_csv(DATA / name, dtype={c: str for c in text})
    return formula, d, lmm.fit(formula, d)


def _same(a, b, tol=1e-8):
    assert a.loglik == pytest.approx(b.loglik, rel=1e-10, abs=1e-8)
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=tol, atol=1e-10)
    np.testing.assert_allclose(np.abs(a.theta), np.abs(b.theta), rtol=1e-6, atol=1e-8)
    assert list(a.ngroups.items()) == list(b.ngroups.items())


def test_parquet_in_small_shuffled_batches(case, tmp_path):
    formula, d, mem = case
    path = tmp_path / "rows.parquet"
    d.sample(frac=1.0, random_state=7).to_parquet(path, row_group_size=97)
    fit = lmm.fit(formula, path, batch_size=41)
    _same(fit, mem)
    # fitted values streamed chunk by chunk equal the in-memory ones, row by row
    streamed = pd.concat(list(fit.fitted_chunks()))
    order = d.sample(frac=1.0, random_state=7).index
    np.testing.assert_allclose(streamed.to_numpy(), mem.fitted().loc[order].to_numpy(), rtol=1e-8)
    with pytest.raises(ValueError, match="not held in memory"):
        fit.fitted()


def test_dask_partitions(case):
    dd = pytest.importorskip("dask.dataframe")
    formula, d, mem = case
    fit = lmm.fit(formula, dd.from_pandas(d, npartitions=3))
    _same(fit, mem)


def test_statistics_add_up_by_label(case):
    """Two halves' statistics, added, are the whole's (levels differ between the halves)."""
    from mlmcompare.lmm.blocked import stats_from_design, stats_from_matrices

    formula, d, mem = case
    half = len(d) // 2
    whole = stats_from_design(lmm.build_design(formula, d))
    # the halves share the whole's shifts, as chunks of one source do
    a = lmm.build_design(formula, d.iloc[:half])
    b = lmm.build_design(formula, d.iloc[half:])
    sa = stats_from_matrices(a.spec, a.X, a.y, a.Z, a.factor_codes, a.factor_levels,
                             x_shift=whole.x_shift, y_shift=whole.y_shift)
    sb = stats_from_matrices(b.spec, b.X, b.y, b.Z, b.factor_codes, b.factor_levels,
                             x_shift=whole.x_shift, y_shift=whole.y_shift)
    total = sa + sb
    assert sa.nobs + sb.nobs == whole.nobs
    for fw, ft in zip(whole.factors, total.factors):
        assert list(map(str, fw.levels)) == list(map(str, ft.levels))
        np.testing.assert_allclose(ft.ZtZ, fw.ZtZ, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(ft.ZtX, fw.ZtX, rtol=1e-12, atol=1e-9)
    for cw, ct in zip(whole.cross, total.cross):
        np.testing.assert_array_equal(cw.i, ct.i)
        np.testing.assert_array_equal(cw.j, ct.j)
        np.testing.assert_allclose(ct.block, cw.block, rtol=1e-12, atol=1e-9)
    fit = lmm.fit_from_stats(total, fixed_terms=mem.fixed_terms, reml=True)
    assert fit.loglik == pytest.approx(mem.loglik, rel=1e-10)
