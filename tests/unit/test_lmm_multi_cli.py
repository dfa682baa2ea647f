"""`mlmcompare fit` with several grouping factors: a crossed and a nested formula.

The numbers are lme4's (tests/golden/multi), the layout lme4's summary().
"""

from __future__ import annotations

import json
from pathlib import Path

from mlmcompare.cli import main

GOLDEN = Path(__file__).parents[1] / "golden"


def _golden(name: str) -> dict:
    return json.loads((GOLDEN / "multi" / f"{name}.json").read_text())


def test_fit_crossed_formula(capsys):
    g = _golden("penicillin__crossed__reml")
    assert main(["fit", "diameter ~ 1 + (1 | plate) + (1 | sample)",
                 str(GOLDEN / "data" / "penicillin.csv")]) == 0
    out = capsys.readouterr().out
    assert f"logLik {g['loglik']:.4f}" in out
    assert f"REML criterion at convergence: {g['reml_criterion']:.1f}" in out
    assert "Number of obs: 144, groups:  plate, 24; sample, 6" in out
    assert f"{g['fixef'][0]:.7g}" in out  # the intercept, 22.97222
    assert "t-tests use Satterthwaite's method" in out


def test_fit_nested_formula_ml(capsys):
    g = _golden("pastes__nested__ml")
    assert main(["fit", "strength ~ 1 + (1 | batch/cask)", str(GOLDEN / "data" / "pastes.csv"),
                 "--ml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ML fit: strength ~ 1 + (1 | batch/cask)")
    assert f"logLik {g['loglik']:.4f}" in out
    # lme4's group names and order: most levels first
    assert "groups:  cask:batch, 30; batch, 10" in out
    lines = out.splitlines()
    re_rows = [ln.split()[0] for ln in lines if ln.startswith((" cask:batch", " batch", " Residual"))]
    assert re_rows == ["cask:batch", "batch", "Residual"]
