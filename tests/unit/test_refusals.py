"""Hostile input: every refusal names the file, the column and the rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmcompare.data.load import DataError, load_data
from mlmcompare.methods import fit_method
from mlmcompare.methods.common import ols


from ..conftest import HSB_SPEC, DATA

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




def test_infinite_predictor_is_named_with_plain_values(tmp_path):
    df = hs_frame()
    df.loc[[3, 10], "ses"] = np.inf
    with pytest.raises(DataError, match=r"column 'ses': 2 row\(s\) are missing, NaN or infinite; first at line\(s\) 5, 12 \(values inf, inf\)") as err:
        load_data(write_csv(df, tmp_path / "inf.csv"), HSB_SPEC)
    assert "np.float64" not in str(err.value)
