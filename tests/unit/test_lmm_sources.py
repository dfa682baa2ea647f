"""lmm.fit from parquet files and Dask DataFrames equals the in-memory fit.

The rows come in chunks (record batches, files, partitions) through
mlmcompare.lmm.sources; the statistics, hence the fit, must not depend on
how the rows were cut: estimates agree with the DataFrame fit to ~1e-10
(parquet) and 1e-8 (Dask, the issue's bound).  Refusals name the file or
partition and the column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm
from mlmcompare.lmm import sources

GOLDEN_DATA = Path(__file__).parents[1] / "golden" / "data"
HS_FORMULA = "mathach ~ ses * Sector + (1 + ses | school)"
SLEEP_FORMULA = "Reaction ~ Days + (Days | Subject)"


def assert_same_fit(a: lmm.LmmResult, b: lmm.LmmResult, rtol: float) -> None:
    """Estimates, likelihood, tables and BLUPs of two fits agree to rtol."""
    assert list(a.fixef.index) == list(b.fixef.index)
    np.testing.assert_allclose(b.fixef.to_numpy(), a.fixef.to_numpy(), rtol=rtol)
    np.testing.assert_allclose(b.theta, a.theta, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(b.sigma, a.sigma, rtol=rtol)
    np.testing.assert_allclose(b.loglik, a.loglik, rtol=rtol)
    assert (a.nobs, a.ngroups) == (b.nobs, b.ngroups)
    cols = ["estimate", "std_error", "df", "statistic", "p_value"]
    np.testing.assert_allclose(b.coef[cols].to_numpy(), a.coef[cols].to_numpy(), rtol=rtol * 100)
    ra, rb = a.ranef_wide().sort_index(), b.ranef_wide().sort_index()
    assert list(ra.index) == list(rb.index)
    scale = float(np.abs(ra.to_numpy()).max())
    np.testing.assert_allclose(rb.to_numpy(), ra.to_numpy(), rtol=rtol, atol=rtol * scale)


@pytest.fixture(scope="module")
def hs_rows(hs) -> pd.DataFrame:
    """The hs columns the model uses plus one it does not (must not be read)."""
    return hs[["mathach", "ses", "Sector", "school", "Sex"]].copy()


@pytest.fixture(scope="module")
def hs_fit(hs_rows) -> lmm.LmmResult:
    return lmm.fit(HS_FORMULA, hs_rows)


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return pd.read_csv(GOLDEN_DATA / "sleepstudy.csv")


# ----------------------------------------------------------------- parquet
def test_parquet_file_in_batches_equals_dataframe_fit(hs_rows, hs_fit, tmp_path):
    path = tmp_path / "hs.parquet"
    hs_rows.to_parquet(path, row_group_size=1500)  # several row groups
    res = lmm.fit(HS_FORMULA, path, batch_size=700)  # batches cross row groups
    assert_same_fit(hs_fit, res, rtol=1e-10)
    assert res.fixed_terms == ["Intercept", "ses", "Sector[T.Public]", "ses:Sector[T.Public]"]


def test_parquet_path_as_str_and_ml(sleep, tmp_path):
    path = tmp_path / "sleep.parquet"
    sleep.to_parquet(path, row_group_size=50)
    for reml in (True, False):
        assert_same_fit(lmm.fit(SLEEP_FORMULA, sleep, reml=reml),
                        lmm.fit(SLEEP_FORMULA, str(path), reml=reml, batch_size=40), rtol=1e-10)


def test_parquet_directory_and_list_of_files(hs_rows, hs_fit, tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    files = []
    for i, part in enumerate(np.array_split(np.arange(len(hs_rows)), 3)):
        f = folder / f"part-{i}.parquet"
        hs_rows.iloc[part].to_parquet(f)
        files.append(f)
    (folder / "_SUCCESS").write_text("")  # written beside the data by Spark: ignored
    assert_same_fit(hs_fit, lmm.fit(HS_FORMULA, folder, batch_size=1000), rtol=1e-10)
    assert_same_fit(hs_fit, lmm.fit(HS_FORMULA, [str(f) for f in files]), rtol=1e-10)


def test_parquet_chunks_hold_only_the_used_columns(hs_rows, tmp_path):
    path = tmp_path / "hs.parquet"
    hs_rows.to_parquet(path)
    src = sources.ParquetSource(path, HS_FORMULA, batch_size=1000)
    chunks = list(src.chunks())
    assert sum(len(c) for c in chunks) == len(hs_rows)
    assert all(len(c) <= 1000 for c in chunks)
    assert all(set(c.columns) == {"mathach", "ses", "Sector", "school"} for c in chunks)
    assert set(src.spec.columns) == {"mathach", "ses", "Sector", "school"}
    # chunk indexes are row numbers in the dataset
    assert list(pd.concat(chunks).index) == list(range(len(hs_rows)))


def test_fitted_and_residuals_from_a_file_come_in_chunks(hs_rows, hs_fit, tmp_path):
    path = tmp_path / "hs.parquet"
    hs_rows.to_parquet(path)
    res = lmm.fit(HS_FORMULA, path, batch_size=1000)
    for level in (0, 1):
        fitted = pd.concat(list(res.fitted_chunks(level)))
        resid = pd.concat(list(res.residual_chunks(level)))
        np.testing.assert_allclose(fitted.to_numpy(), hs_fit.fitted(level).to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(resid.to_numpy(), hs_fit.residuals(level).to_numpy(),
                                   rtol=1e-8, atol=1e-9)


def test_level_first_seen_in_a_later_chunk_is_refused_unless_declared(hs_rows, hs_fit, tmp_path):
    # Sector as text, Catholic schools first: the first batch has one level only
    rows = hs_rows.sort_values("Sector", kind="stable").assign(Sector=lambda d: d.Sector.astype(str))
    path = tmp_path / "sorted.parquet"
    rows.to_parquet(path)
    with pytest.raises(ValueError, match=r"sorted\.parquet.*column 'Sector' has level\(s\) 'Public'"):
        lmm.fit(HS_FORMULA, path, batch_size=1000)
    declared = lmm.fit(HS_FORMULA, path, batch_size=1000, levels={"Sector": ["Catholic", "Public"]})
    assert_same_fit(hs_fit, declared, rtol=1e-10)


def test_model_without_intercept_whose_first_chunk_has_one_level(sleep, tmp_path):
    # the first batch's X has an all-ones dummy column: it must not be taken
    # for an intercept (nor its shifts used for the other chunks)
    rows = sleep.assign(Half=np.where(sleep["Subject"] < 340, "early", "late"))
    path = tmp_path / "halves.parquet"
    rows.to_parquet(path)
    formula = "Reaction ~ 0 + Half + Days + (1 | Subject)"
    res = lmm.fit(formula, path, batch_size=30, levels={"Half": ["early", "late"]})
    assert res.fixed_terms == ["Half[early]", "Half[late]", "Days"]
    assert_same_fit(lmm.fit(formula, rows), res, rtol=1e-10)


def test_declared_levels_set_the_reference_in_memory_too(hs_rows):
    res = lmm.fit(HS_FORMULA, hs_rows, levels={"Sector": ["Public", "Catholic"]})
    assert "Sector[T.Catholic]" in res.fixed_terms
    with pytest.raises(ValueError, match=r"column 'Sector' has level\(s\) 'Public' that are not among its 1 fixed"):
        lmm.fit(HS_FORMULA, hs_rows, levels={"Sector": ["Catholic"]})
    with pytest.raises(ValueError, match="'Region', which are not factor columns"):
        lmm.fit(HS_FORMULA, hs_rows, levels={"Region": ["a"]})


def test_missing_values_in_a_later_file_name_the_file_column_and_row(hs_rows, tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    hs_rows.iloc[:1000].to_parquet(folder / "part-0.parquet")
    later = hs_rows.iloc[1000:].copy()
    later.iloc[567, later.columns.get_loc("ses")] = np.nan
    later.to_parquet(folder / "part-1.parquet")
    # rows are numbered in the dataset (the files in order): 1000 + 567
    with pytest.raises(ValueError, match=r"part-1\.parquet.*column 'ses' has 1 missing value\(s\) \(rows 1567\)"):
        lmm.fit(HS_FORMULA, folder, batch_size=1000)


def test_whole_data_checks_run_on_the_accumulated_statistics(sleep, tmp_path):
    aliased = sleep.assign(Days2=2.0 * sleep["Days"])
    path = tmp_path / "aliased.parquet"
    aliased.to_parquet(path)
    with pytest.raises(ValueError, match=r"rank deficient.*'Days2'"):
        lmm.fit("Reaction ~ Days + Days2 + (1 | Subject)", path, batch_size=50)
    one_group = tmp_path / "one_group.parquet"
    sleep.assign(Subject=1).to_parquet(one_group)
    with pytest.raises(ValueError, match="at least 2 groups"):
        lmm.fit(SLEEP_FORMULA, one_group, batch_size=50)


def test_unknown_column_and_non_parquet_file_are_refused(hs_rows, tmp_path):
    path = tmp_path / "hs.parquet"
    hs_rows.to_parquet(path)
    with pytest.raises(ValueError, match="unknown column 'female'.*hs.parquet"):
        lmm.fit("mathach ~ female + (1 | school)", path)
    csv = tmp_path / "hs.csv"
    hs_rows.to_csv(csv)
    with pytest.raises(ValueError, match="cannot read .* as parquet"):
        lmm.fit(HS_FORMULA, csv)
    with pytest.raises(FileNotFoundError):
        lmm.fit(HS_FORMULA, tmp_path / "nothing.parquet")


@pytest.mark.parametrize("data", [np.zeros((3, 3)), {"mathach": [1.0]}, 42])
def test_unsupported_data_is_a_type_error(data):
    with pytest.raises(TypeError, match="pandas DataFrame.*parquet.*Dask DataFrame"):
        lmm.fit(HS_FORMULA, data)


def test_progress_bar_is_off_by_default(hs_rows, tmp_path, capsys):
    path = tmp_path / "hs.parquet"
    hs_rows.to_parquet(path)
    lmm.fit(HS_FORMULA, path, batch_size=2000)
    assert capsys.readouterr().err == ""
    lmm.fit(HS_FORMULA, path, batch_size=2000, progress=True)
    assert "rows" in capsys.readouterr().err


# -------------------------------------------------------------------- dask
dd = pytest.importorskip("dask.dataframe")


@pytest.fixture
def synchronous():
    import dask

    with dask.config.set(scheduler="synchronous"):
        yield


def test_dask_partitions_equal_the_in_memory_fit(hs_rows, hs_fit, synchronous):
    frame = dd.from_pandas(hs_rows, npartitions=4)
    assert sources.is_dask_frame(frame) and not sources.is_dask_frame(hs_rows)
    assert_same_fit(hs_fit, lmm.fit(HS_FORMULA, frame), rtol=1e-8)


def test_dask_level_in_a_later_partition_and_missing_values(sleep, synchronous):
    rows = sleep.assign(Half=np.where(sleep["Subject"] < 340, "early", "late"))
    frame = dd.from_pandas(rows, npartitions=3, sort=False)
    with pytest.raises(ValueError, match=r"partition 1 .*column 'Half' has level\(s\) 'late' that are not among"):
        lmm.fit("Reaction ~ Days + Half + (Days | Subject)", frame)
    declared = lmm.fit("Reaction ~ Days + Half + (Days | Subject)", frame,
                       levels={"Half": ["early", "late"]})
    assert_same_fit(lmm.fit("Reaction ~ Days + Half + (Days | Subject)", rows), declared, rtol=1e-8)

    gap = sleep.copy()
    gap.loc[150, "Reaction"] = np.nan
    with pytest.raises(ValueError, match=r"partition 2.*'Reaction' has 1 missing value\(s\) \(rows 150\)"):
        lmm.fit(SLEEP_FORMULA, dd.from_pandas(gap, npartitions=3, sort=False))


def test_dask_on_a_local_cluster_equals_the_in_memory_fit(hs_rows, hs_fit):
    distributed = pytest.importorskip("distributed")
    frame = dd.from_pandas(hs_rows, npartitions=4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        res = lmm.fit(HS_FORMULA, frame)
    assert_same_fit(hs_fit, res, rtol=1e-8)
