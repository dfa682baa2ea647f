"""Every number of a results folder in one long table, and a comparison of two.

`record(results)` reads every parquet table under a results folder (study
chunks aside: their gathered table is there too) and returns one long frame
with a row per cell: table (its path under the folder), column, row, the
column's kind (int, float or text) and the value as a float (`num`) or as
text (`text`). `compare(reference, fresh)` names every table and column
whose values differ beyond the tolerance that `tolerance(table, column,
kind)` gives for it, every table or column present in one and not the
other, and every change of shape.

The committed reference (`default_run.parquet` here) holds the numbers of
the default pipeline run (config/config.yaml: hs handout, designs handout,
reduced study; the study's replicates aside, its summary stands for them);
tests/e2e/test_reference.py compares each fresh default run with it. After
a change that moves numbers on purpose, regenerate it (about 6 minutes: a
default run into a temporary folder, then its recording) and commit it:

    python -m tests.reference.tables regenerate          # or: make reference

Tolerances: integers, booleans and text exactly; closed forms (least
squares, counts, summaries: CLOSED_FORM) 1e-10 relative; every other table
holds fitted quantities, with the engine's golden-file tolerances by column
(FITTED_COLUMNS: log-likelihood 1e-6 absolute, fixed effects 1e-6 relative,
standard errors and variance components 1e-5, Satterthwaite df 1e-3; an
optimum is flat to about 1e-7 in theta), the study's summary 1e-5 relative
with a 1e-8 floor (FITTED_TABLES). A new table counts as fitted until it
is named in CLOSED_FORM.

    python -m tests.reference.tables record results/ out.parquet [--skip data.parquet ...]
    python -m tests.reference.tables compare before.parquet after.parquet
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd

SKIP_PARTS = ("chunks",)
REFERENCE = Path(__file__).with_name("default_run.parquet")
REFERENCE_SKIP = ("replicates.parquet",)  # the study's summary stands for its replicates (2 MB of cells)


@dataclass(frozen=True)
class Tolerance:
    rel: float
    abs: float


EXACT = Tolerance(0.0, 0.0)
CLOSED = Tolerance(1e-10, 1e-12)
# Tables computed in closed form (no optimizer): globs on the table's path.
CLOSED_FORM = (
    "*data.parquet", "*schools.parquet",
    *(f"*methods/{m}/*" for m in ("pooled_ols", "fe_school_lines", "fe_common_slope", "two_stage", "between")),
    "*analyses/firstlook/*", "*analyses/betaspace/*", "*analyses/robust/*",
    "*analyses/sectorgap/gap_levels.parquet", "*analyses/sectorgap/gap_ttest.parquet",
    "designs/rmanova/anova_*", "designs/rmanova/cell_means.parquet", "designs/rmanova/ems.parquet",
    "designs/rmanova/epsilon.parquet", "designs/rmanova/manova.parquet", "designs/rmanova/sphericity.parquet",
    "designs/rmanova/wide.parquet", "designs/multcomp/paired.parquet",
    "simulated/sim_students.parquet", "simulated/sim_settings.parquet",
)
# Tables of fitted quantities with a rule of their own: Monte Carlo
# summaries over many fits (bias is small beside the estimates it averages).
FITTED_TABLES = (
    (("study/*summary.parquet",), Tolerance(1e-5, 1e-8)),
)
# Fitted quantities by column name (first match wins); the last rule covers
# fixed effects and everything computed from them.
FITTED_COLUMNS = (
    (("grad_norm",), Tolerance(0.0, 1e-4)),                      # an optimizer's stopping point: noise
    (("loglik*",), Tolerance(0.0, 1e-6)),
    (("aic", "bic", "deviance"), Tolerance(0.0, 2e-6)),          # -2 loglik + a constant
    (("df", "df_*", "*_df"), Tolerance(1e-3, 1e-9)),            # Satterthwaite
    (("p_value*", "p_bonferroni", "p_holm"), Tolerance(1e-2, 1e-9)),  # through df and the statistic
    (("std_error*", "cond_sd*", "statistic", "conf_*", "blup_low", "blup_high", "critical_value"),
     Tolerance(1e-5, 1e-10)),
    (("sigma*", "tau*", "g0*", "g1*", "var_*", "v_*", "cov_*", "covariance", "vcov", "sdcor", "sd_*", "corr*", "icc",
      "reliability*", "shrinkage*", "design_effect*", "value", "proportion_explained", "efficiency",
      "error_var*", "weight_*", "w_*", "post_*", "cond_*", "trace", "det", "min_eig*", "*_variance"),
     Tolerance(1e-5, 1e-10)),                                    # variance components and what they weigh
    (("*",), Tolerance(1e-6, 1e-10)),                           # fixed effects, fitted values, lines
)


def tolerance(table: str, column: str, kind: str = "float") -> Tolerance:
    """How far a recorded value may move: exact for integers and text, 1e-10
    relative in closed-form tables, by column for fitted quantities."""
    if kind != "float":
        return EXACT
    if any(fnmatch(table, pattern) for pattern in CLOSED_FORM):
        return CLOSED
    for patterns, tol in FITTED_TABLES:
        if any(fnmatch(table, pattern) for pattern in patterns):
            return tol
    for patterns, tol in FITTED_COLUMNS:
        if any(fnmatch(column, pattern) for pattern in patterns):
            return tol
    raise AssertionError("the last rule matches every column")


def column_kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "text"
    return "int" if pd.api.types.is_integer_dtype(values) else "float"


def table_cells(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """One row per cell of `frame`: numbers as floats, everything else as text."""
    parts = []
    for column in frame.columns:
        values = frame[column]
        kind = column_kind(values)
        parts.append(pd.DataFrame({
            "table": name,
            "column": str(column),
            "row": np.arange(len(frame), dtype="int64"),
            "kind": kind,
            "num": values.to_numpy(dtype="float64") if kind != "text" else np.nan,
            "text": None if kind != "text" else values.map(cell_text).astype(object),
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["table", "column", "row", "kind", "num", "text"])


def cell_text(value: object) -> str:
    """A stable text form of a non-numeric cell (lists of warnings included)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + "; ".join(map(str, value)) + "]"
    return str(value)


def record(results: Path, skip: tuple[str, ...] = ()) -> pd.DataFrame:
    """The cells of every parquet table under `results`."""
    frames = []
    for path in sorted(results.rglob("*.parquet")):
        rel = path.relative_to(results).as_posix()
        if any(part in SKIP_PARTS for part in path.relative_to(results).parts) or path.name in skip:
            continue
        frames.append(table_cells(pd.read_parquet(path), rel))
    return pd.concat(frames, ignore_index=True)


def compare(reference: pd.DataFrame, fresh: pd.DataFrame, tolerance=tolerance) -> list[str]:
    """Every difference, one line per table and column."""
    problems = []
    key = ["table", "column"]
    ref_cols = set(map(tuple, reference[key].drop_duplicates().to_numpy()))
    new_cols = set(map(tuple, fresh[key].drop_duplicates().to_numpy()))
    for table, column in sorted(ref_cols - new_cols):
        problems.append(f"{table} [{column}]: missing from the fresh build")
    for table, column in sorted(new_cols - ref_cols):
        problems.append(f"{table} [{column}]: not in the reference")
    ref_groups = dict(tuple(reference.groupby(key, sort=True)))
    for (table, column), new in fresh.groupby(key, sort=True):
        old = ref_groups.get((table, column))
        if old is None:
            continue
        if len(old) != len(new):
            problems.append(f"{table} [{column}]: {len(old)} rows in the reference, {len(new)} now")
            continue
        old, new = old.sort_values("row"), new.sort_values("row")
        a, b = old["num"].to_numpy(), new["num"].to_numpy()
        kind, new_kind = old["kind"].iloc[0], new["kind"].iloc[0]
        if kind != new_kind:
            problems.append(f"{table} [{column}]: {kind} in the reference, {new_kind} now")
            continue
        tol = tolerance(table, column, kind)
        with np.errstate(invalid="ignore"):
            same = (a == b) | (np.isnan(a) & np.isnan(b))  # infinities and missing values too
            close = same | (np.abs(a - b) <= tol.abs + tol.rel * np.abs(a))
        texts = old["text"].to_numpy(dtype=object) == new["text"].to_numpy(dtype=object)
        texts |= pd.isna(old["text"]).to_numpy() & pd.isna(new["text"]).to_numpy()
        bad = ~(close & texts)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            finite = np.isfinite(a) & np.isfinite(b)
            worst = np.max(np.abs(a - b)[finite] / np.maximum(np.abs(a[finite]), 1e-300), initial=0.0)
            problems.append(
                f"{table} [{column}]: {int(bad.sum())} of {len(bad)} values differ "
                f"(first at row {int(old['row'].iloc[i])}: {cell(old, i)} -> {cell(new, i)}; "
                f"largest relative difference {worst:.2e}; tolerance {tol.rel:g} relative, {tol.abs:g} absolute)"
            )
    return problems


def cell(cells: pd.DataFrame, i: int) -> str:
    """The i-th value of a column's cells as the comparison shows it."""
    text = cells["text"].iloc[i]
    return repr(float(cells["num"].iloc[i])) if text is None or pd.isna(text) else repr(text)


def default_run(folder: Path) -> Path:
    """The results folder of a default pipeline run into `folder`, run as
    tests/e2e's `default_run` fixture runs it."""
    from ..conftest import run_snakemake

    results = folder / "results"
    proc = run_snakemake("--cores", "2", "--nolock", "--config", f"results={results}")
    if proc.returncode != 0:
        raise SystemExit(f"the default pipeline failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return results


def save(cells: pd.DataFrame, out: Path) -> None:
    cells.to_parquet(out, compression="zstd", index=False)
    print(f"{cells['table'].nunique()} tables, {len(cells)} cells -> {out} ({out.stat().st_size:,} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("regenerate", help=f"run the default pipeline in a temporary folder and record it as {REFERENCE.name}")
    rec = sub.add_parser("record")
    rec.add_argument("results", type=Path)
    rec.add_argument("out", type=Path)
    rec.add_argument("--skip", nargs="*", default=[])
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("reference", type=Path)
    cmp_.add_argument("fresh", type=Path)
    args = parser.parse_args(argv)
    if args.command == "regenerate":
        with tempfile.TemporaryDirectory(prefix="reference-") as folder:
            save(record(default_run(Path(folder)), REFERENCE_SKIP), REFERENCE)
        return 0
    if args.command == "record":
        save(record(args.results, tuple(args.skip)), args.out)
        return 0
    problems = compare(pd.read_parquet(args.reference), pd.read_parquet(args.fresh))
    print("\n".join(problems) if problems else "no difference")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
