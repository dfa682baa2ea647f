"""Every number of a results folder in one long table, and a comparison of two.

`record(results)` reads every parquet table under a results folder (study
chunks aside: their gathered table is there too) and returns one long frame
with a row per cell: table (its path under the folder), column, row, and the
value as a float (`num`) or as text (`text`). `compare(reference, fresh)`
names every table and column whose values differ beyond the tolerance that
`tolerance(table)` gives for it, every table or column present in one and
not the other, and every change of shape.

    python -m tests.reference.tables record results/ out.parquet [--skip data.parquet ...]
    python -m tests.reference.tables compare before.parquet after.parquet
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SKIP_PARTS = ("chunks",)


@dataclass(frozen=True)
class Tolerance:
    rel: float
    abs: float


def table_cells(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """One row per cell of `frame`: numbers as floats, everything else as text."""
    parts = []
    for column in frame.columns:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        parts.append(pd.DataFrame({
            "table": name,
            "column": str(column),
            "row": np.arange(len(frame), dtype="int64"),
            "num": values.to_numpy(dtype="float64") if numeric else np.nan,
            "text": None if numeric else values.map(cell_text).astype(object),
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["table", "column", "row", "num", "text"])


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


def compare(reference: pd.DataFrame, fresh: pd.DataFrame, tolerance=lambda table: Tolerance(1e-10, 1e-12)) -> list[str]:
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
        tol = tolerance(table)
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
                f"largest relative difference {worst:.2e})"
            )
    return problems


def cell(cells: pd.DataFrame, i: int) -> str:
    """The i-th value of a column's cells as the comparison shows it."""
    text = cells["text"].iloc[i]
    return repr(cells["num"].iloc[i]) if text is None or pd.isna(text) else repr(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("results", type=Path)
    rec.add_argument("out", type=Path)
    rec.add_argument("--skip", nargs="*", default=[])
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("reference", type=Path)
    cmp_.add_argument("fresh", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        cells = record(args.results, tuple(args.skip))
        cells.to_parquet(args.out, compression="zstd", index=False)
        print(f"{cells['table'].nunique()} tables, {len(cells)} cells -> {args.out} ({args.out.stat().st_size:,} bytes)")
        return 0
    problems = compare(pd.read_parquet(args.reference), pd.read_parquet(args.fresh))
    print("\n".join(problems) if problems else "no difference")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
