"""A tiny study through the real Snakemake rules: scatter, gather, summary.

The gather must be the chunks stacked, the summary must match a direct
computation from the replicates, and the replicates must not depend on the
chunk size. The study on or off decides whether handouts wait for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mlmcompare.methods import LABELS
from mlmcompare.study.dgp import Scenario
from mlmcompare.report.study import design_for, judged_verdicts, measured_table, study_findings
from mlmcompare.report.figures.study import coverage_figure
from mlmcompare.study.run import STUDY_METHODS
from mlmcompare.study.summarise import summarise
from mlmcompare.report.tidy import read_table

from ..conftest import run_snakemake
from .conftest import built_once

SCENARIOS = [
    {"name": "tiny_none", "n_groups": 8, "mean_size": 10, "contextual": False},
    {"name": "tiny_ctx", "n_groups": 8, "mean_size": 10, "contextual": True},
    {"name": "tiny_t3", "n_groups": 8, "mean_size": 10, "contextual": False, "random_effects": "t3", "baseline": "tiny_none"},
]
REPLICATES = 4


def run_study(folder, chunk_size: int, **study):
    cfg = folder / f"study_{chunk_size}.yaml"
    cfg.write_text(yaml.safe_dump({
        "results": str(folder / "results"),
        "study": {"replicates": REPLICATES, "chunk_size": chunk_size, "seed": 11, "scenarios": SCENARIOS, **study},
    }))
    proc = run_snakemake(str(folder / "results" / "study" / "hs" / f"r{REPLICATES}" / "summary.parquet"), "--cores", "2", "--nolock", "--configfile", str(cfg))
    if proc.returncode != 0:
        pytest.fail(f"study failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory):
    return built_once(tmp_path_factory, "study", lambda folder: run_study(folder, chunk_size=3))


def test_scatter_writes_one_file_per_chunk_of_every_scenario(study_dir):
    chunks = sorted((study_dir / "results" / "study" / "hs" / "chunks").rglob("reps_*_0000[34].parquet"))
    assert [p.name for p in chunks] == ["reps_00000_00003.parquet", "reps_00003_00004.parquet"]
    first = read_table(chunks[0])
    assert list(dict.fromkeys(first["scenario"])) == [s["name"] for s in SCENARIOS]
    assert sorted(first["replicate"].unique()) == [0, 1, 2]


def test_gather_stacks_the_chunks(study_dir):
    root = study_dir / "results" / "study" / "hs"
    rows = read_table(root / f"r{REPLICATES}" / "replicates.parquet")
    files = [root / "chunks" / f"reps_{a}" for a in ("00000_00003.parquet", "00003_00004.parquet")]
    stacked = pd.concat([read_table(p) for p in files], ignore_index=True)
    key = ["scenario", "replicate", "method"]
    pd.testing.assert_frame_equal(
        rows.sort_values(key).reset_index(drop=True), stacked.sort_values(key).reset_index(drop=True)
    )
    assert len(rows) == len(SCENARIOS) * REPLICATES * len(STUDY_METHODS)
    assert set(rows["method"]) == set(STUDY_METHODS)
    assert rows["replicate"].between(0, REPLICATES - 1).all()


def test_summary_matches_direct_computation(study_dir):
    root = study_dir / "results" / "study" / "hs"
    rows = read_table(root / f"r{REPLICATES}" / "replicates.parquet")
    summary = read_table(root / f"r{REPLICATES}" / "summary.parquet")
    scen = {s["name"]: Scenario.from_dict(s) for s in SCENARIOS}
    again = summarise(rows, scen, {s["name"]: s.get("baseline", "") for s in SCENARIOS})
    pd.testing.assert_frame_equal(summary, again, check_dtype=False)
    for (s, m), g in rows.groupby(["scenario", "method"]):
        got = summary[(summary["scenario"] == s) & (summary["method"] == m)].iloc[0]
        ok = g[g["error"] == ""]
        truth = g["truth"].iloc[0]
        assert got["bias"] == pytest.approx(ok["estimate"].mean() - truth)
        assert got["emp_sd"] == pytest.approx(ok["estimate"].std(ddof=1))
        assert got["coverage"] == pytest.approx(((ok["conf_low"] <= truth) & (truth <= ok["conf_high"])).mean())
        mixed = rows[(rows["scenario"] == s) & (rows["method"] == "mixed")]["estimate"]
        assert got["rel_efficiency"] == pytest.approx(mixed.var() / ok["estimate"].var())
    # the interval is the t interval on the reported df
    from scipy import stats

    half = stats.t.ppf(0.975, rows["df"]) * rows["std_error"]
    np.testing.assert_allclose(rows["conf_high"] - rows["estimate"], half, rtol=1e-10)


def test_replicates_do_not_depend_on_chunk_size(study_dir):
    before = read_table(study_dir / "results" / "study" / "hs" / f"r{REPLICATES}" / "replicates.parquet")
    run_study(study_dir, chunk_size=REPLICATES)
    after = read_table(study_dir / "results" / "study" / "hs" / f"r{REPLICATES}" / "replicates.parquet")
    pd.testing.assert_frame_equal(before, after)


def test_display_helpers_read_the_summary(study_dir):
    summary = read_table(study_dir / "results" / "study" / "hs" / f"r{REPLICATES}" / "summary.parquet")
    methods = list(LABELS)
    design = design_for(summary, 40, 10)
    table = judged_verdicts(summary, methods, LABELS, design)
    assert len(table) == len(STUDY_METHODS) and table["Honest?"].str.contains("coverage").all()
    numbers = measured_table(summary, methods, LABELS, design)
    assert "Δ cov., t3 random effects" in numbers.columns
    assert all(isinstance(s, str) and s for s in study_findings(summary, LABELS, design))
    coverage_figure(summary, LABELS, design.mean_size)


@pytest.mark.parametrize("enabled", [True, False])
def test_study_switch_decides_whether_handouts_wait_for_it(tmp_path, enabled):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"results": str(tmp_path / "r"), "study": {"enabled": enabled}}))
    proc = run_snakemake("-n", "--cores", "1", "--nolock", "--configfile", str(cfg))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("study_summary" in proc.stdout) == enabled
