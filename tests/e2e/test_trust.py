"""Odd but valid data go through the whole pipeline, and reruns give
byte-identical files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml


from mlmcompare.report.tidy import read_table, sha256_file

from ..conftest import DATA, ROOT, build_dataset_tables, run_snakemake
from .conftest import built_once

METHODS = ["pooled_ols", "fe_school_lines", "fe_common_slope", "two_stage", "between", "mixed", "mixed_contextual"]


def hs_frame() -> pd.DataFrame:
    return pd.read_csv(DATA / "hs.csv")


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


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


@pytest.fixture(scope="session")
def odd_results(tmp_path_factory) -> Path:
    return built_once(tmp_path_factory, "odd", build_odd) / "results" / "odd"


def build_odd(folder: Path) -> None:
    csv_path = odd_dataset(folder)
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["datasets"]["odd"] = {"file": str(csv_path), "title": "odd ids"}
    # the handout of odd data alone: the study and the designs handout are the default run's business
    cfg.update(run=["odd"], results=str(folder / "results"), drop_incomplete=True, report={"pdf": False, "engine": "fallback"},
               study={**cfg["study"], "enabled": False}, designs={**cfg["designs"], "build": False})
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    handout = folder / "results" / "odd" / "handout.html"  # what the tests read, not the other products
    proc = run_snakemake(str(handout), "--cores", "2", "--nolock", "--configfile", str(folder / "config.yaml"))
    assert proc.returncode == 0, proc.stderr[-5000:]


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


def test_pipeline_tables_equal_the_in_process_build(hs_results, tmp_path):
    """Snakemake's run and the same steps called in-process (the fast tier's
    fixtures) write the very same bytes: reruns are byte-identical."""
    built = build_dataset_tables(tmp_path, "hs")
    files = sorted(built.rglob("*.parquet")) + [built / "data_report.json"]
    assert len(files) > 60
    for path in files:
        rel = path.relative_to(built)
        assert sha256_file(path) == sha256_file(hs_results / rel), rel
    for path in sorted((tmp_path / "simulated").glob("*.parquet")):
        assert sha256_file(path) == sha256_file(hs_results.parent / "simulated" / path.name), path.name


def test_no_leftover_temporary_files(hs_results):
    leftovers = [p for p in hs_results.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
