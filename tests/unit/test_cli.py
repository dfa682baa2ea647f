"""The `mlmcompare` command line."""

from __future__ import annotations

from mlmcompare.cli import main

from ..conftest import DATA


def test_fit_prints_lme4_like_summary(capsys):
    assert main(["fit", "mathach ~ 1 + (1 | school)", str(DATA / "hs.csv")]) == 0
    out = capsys.readouterr().out
    # the handout's one-way random-effects fit: logLik -6489.969, intercept 12.60468
    assert "logLik -6489.9693" in out
    assert "12.60467" in out or "12.60468" in out
    assert "Residual" in out


def test_fit_ml(capsys):
    assert main(["fit", "mathach ~ 1 + (1 | school)", str(DATA / "hs.csv"), "--ml"]) == 0
    assert capsys.readouterr().out.startswith("ML fit")
