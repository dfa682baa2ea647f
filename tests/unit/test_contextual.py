"""School summaries and contextual variables against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmcompare.data.contextual import add_contextual, school_summary
from mlmcompare.data.load import load_data


from ..conftest import HSB_SPEC, DATA


def test_contextual_columns():
    df = add_contextual(load_data(DATA / "hs.csv", HSB_SPEC).frame, HSB_SPEC)
    raw = pd.read_csv(DATA / "hs.csv")
    means = raw.groupby("school")["ses"].mean()
    assert np.allclose(df["ses_mean"], raw["school"].map(means))
    assert np.allclose(df["ses_cwg"], raw["ses"] - raw["school"].map(means))
    assert np.allclose(df.groupby("school")["ses_cwg"].sum(), 0.0, atol=1e-10)


def test_school_summary_values_and_ids():
    df = load_data(DATA / "hs.csv", HSB_SPEC).frame
    s = school_summary(df, HSB_SPEC).set_index("school")
    raw = pd.read_csv(DATA / "hs.csv")
    assert len(s) == 40 and s["n"].sum() == 1977
    # the handout's school P8854C: mean mathach 4.239781 (its BLUE), 32 students
    assert s.at[8854, "id"] == "P8854C"
    assert round(s.at[8854, "mathach"], 6) == 4.239781
    assert s.at[8854, "n"] == 32
    assert s.at[5762, "id"] == "P5762C"
    female = raw.assign(f=raw["Sex"].eq("Female")).groupby("school")["f"].mean()
    assert np.allclose(s["prop_female"], female.reindex(s.index))
    expected_type = np.where(female == 1, "Girls", np.where(female == 0, "Boys", "Coed"))
    assert (s["school_type"].to_numpy() == pd.Series(expected_type, index=female.index).reindex(s.index).to_numpy()).all()
    assert (s["Size"] == raw.groupby("school")["Size"].first().reindex(s.index)).all()


def test_plot_order_public_first_then_by_mean_ses():
    s = school_summary(load_data(DATA / "hs.csv", HSB_SPEC).frame, HSB_SPEC)
    sectors = s["Sector"].astype(str).tolist()
    assert sectors == ["Public"] * 19 + ["Catholic"] * 21
    for sector in ("Public", "Catholic"):
        ses = s.loc[s["Sector"] == sector, "ses"].to_numpy()
        assert (np.diff(ses) >= 0).all()
    assert s["plot_order"].tolist() == list(range(1, 41))
