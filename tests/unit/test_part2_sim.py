"""The simulated example: settings from the config, the BLUP formula, and Var(BLUP) <= G <= Var(BLUE)."""

from __future__ import annotations

import numpy as np
import pytest

from ..conftest import table
from mlmcompare.analyses.simexample import SimSettings, blue_blup, simulate


@pytest.fixture(scope="module")
def sim(hs_results):
    return lambda name: table(hs_results, name)


def test_settings_are_the_lectures(sim):
    s = sim("sim_settings").iloc[0]
    assert (s["gamma0"], s["gamma1"]) == (12, 2)
    assert (s["g00"], s["g01"], s["g11"], s["sigma2"]) == (16, 8, 25, 20)
    assert s["mean_size"] == 30


def test_simulation_is_reproducible_from_its_seed(sim):
    s = sim("sim_settings").iloc[0]
    again = simulate(SimSettings(seed=int(s["seed"]), n_schools=int(s["n_schools"])))
    stored = sim("sim_students")
    assert np.array_equal(again.students["y"].to_numpy(), stored["y"].to_numpy())


def test_blue_is_ols_and_blup_is_the_precision_weighted_mean(sim):
    students, schools = sim("sim_students"), sim("sim_schools")
    G = np.array([[16.0, 8.0], [8.0, 25.0]])
    for _, r in schools.head(5).iterrows():
        d = students[students["school"] == r["school"]]
        X = np.column_stack([np.ones(len(d)), d["x"]])
        blue = np.linalg.lstsq(X, d["y"].to_numpy(), rcond=None)[0]
        assert blue == pytest.approx([r["blue_intercept"], r["blue_slope"]], rel=1e-10)
        W = X.T @ X / 20.0
        blup = np.linalg.solve(np.linalg.inv(G) + W, np.linalg.inv(G) @ [12.0, 2.0] + W @ blue)
        assert blup == pytest.approx([r["blup_intercept"], r["blup_slope"]], rel=1e-10)


def test_variance_ordering_holds_in_every_school():
    sim = simulate(SimSettings())
    est = blue_blup(sim)
    G = sim.settings.G_matrix
    assert np.all(np.linalg.eigvalsh(G - est["var_blup"])[:, 0] >= -1e-10)
    assert np.all(np.linalg.eigvalsh(est["V"] - G)[:, 0] >= -1e-10)


def test_variance_table_reports_the_ordering(sim):
    v = sim("sim_variance")
    theory = v[v["kind"] == "theory"]
    assert (theory["min_eig_vs_g"] >= -1e-10).all()
    assert theory["trace"].is_monotonic_increasing


def test_shrinkage_grows_as_schools_get_smaller(sim):
    s = sim("sim_schools")
    assert np.corrcoef(s["n"], s["shrinkage"])[0, 1] < -0.5
    assert s.loc[s["n"].idxmin(), "shrinkage"] > s.loc[s["n"].idxmax(), "shrinkage"]
