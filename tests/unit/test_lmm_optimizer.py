"""The optimizer reaches the optimum from lme4's default start and elsewhere,
reports singular fits as singular, and raises no false convergence alarm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm
from mlmcompare.lmm.objective import deviance_and_gradient

HERE = Path(__file__).parents[1]  # tests/
DATA = HERE.parent / "data"
GOLDEN = HERE / "golden" / "lme4"


def load(dataset: str) -> pd.DataFrame:
    d = pd.read_csv(DATA / f"{dataset}.csv")
    d["Sector"] = pd.Categorical(d["Sector"], categories=["Catholic", "Public"])
    d["ses_mean"] = d.groupby("school")["ses"].transform("mean")
    d["ses_cwg"] = d["ses"] - d["ses_mean"]
    d["female"] = (d["Sex"] == "Female").astype(float)
    return d


def golden(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text())


SLOPES = "mathach ~ ses * Sector + (1 + ses | school)"


@pytest.mark.parametrize("dataset", ["hs", "hsfull"])
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("start", [(1.0, 0.0, 1.0), (0.01, 0.0, 0.01), (5.0, -3.0, 5.0),
                                   (1.0, 0.0, 0.0), (0.0, 0.0, 0.0)])
def test_random_slopes_reach_optimum_from_any_start(dataset, reml, start):
    g = golden(f"{dataset}__slopes__{'reml' if reml else 'ml'}")
    r = lmm.fit(SLOPES, load(dataset), reml=reml, theta_start=start)
    assert r.loglik >= g["loglik"] - 1e-6
    # lme4's default optimizer stops below the optimum on these data
    assert r.loglik >= g["lme4_default"]["loglik"] - 1e-9
    assert r.converged and r.optimizer["verdict"] == "converged"
    assert r.optimizer["theta_start"] == list(start)
    assert r.singular == g["singular"]


def test_hsfull_random_slopes_boundary_optimum():
    """REML optimum on the boundary (theta[2] = 0, correlation +1), above lme4's default stop."""
    g = golden("hsfull__slopes__reml")
    r = lmm.fit(SLOPES, load("hsfull"))
    assert r.theta[2] == 0.0
    assert r.loglik - g["lme4_default"]["loglik"] > 8e-6
    assert r.singular and r.converged
    assert "boundary (singular) fit: Intercept-ses correlation at +1" in r.warnings
    assert not any("not converged" in w for w in r.warnings)
    assert r.varcorr.corr.loc["Intercept", "ses"] == pytest.approx(1.0)
    assert r.optimizer["grad_norm"] < 1e-3 and r.optimizer["n_evals"] > 0


def test_hsfull_q3_ml_escapes_the_spurious_boundary():
    """From lme4's default start BOBYQA stops at a boundary 3.49 loglik units low."""
    g = golden("hsfull__q3__ml")
    assert g["optimum_search"]["default_start_loglik_minus_chosen"] < -3
    r = lmm.fit(g["formula"], load("hsfull"), reml=False)
    assert r.loglik >= g["loglik"] - 1e-6
    assert not r.singular and r.converged
    # and from lme4's spurious point itself
    bad = g["optimum_search"]["candidates"][0]["theta"]
    r2 = lmm.fit(g["formula"], load("hsfull"), reml=False, theta_start=bad)
    assert r2.loglik >= g["loglik"] - 1e-6


def test_singular_detection_variance_zero():
    d = pd.read_csv(HERE / "golden" / "data" / "dyestuff2.csv")
    r = lmm.fit("Yield ~ 1 + (1 | Batch)", d)
    assert r.singular and r.theta[0] == 0.0
    assert r.warnings == ["boundary (singular) fit: variance of Intercept estimated at 0"]
    assert r.converged


def test_stationary_point_is_tight():
    """At the returned theta the analytic gradient of the free elements is ~0."""
    r = lmm.fit("mathach ~ ses_cwg + ses_mean + female + Sector + (1 + ses_cwg + female | school)",
                load("hs"))
    _, grad = deviance_and_gradient(r._stats, r._layout, r.theta, r.reml)
    free = ~(r._layout.is_diag & (r.theta == 0))
    assert np.max(np.abs(grad[free])) < 1e-6
