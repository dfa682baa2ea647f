"""The output schemas of every method, and their atomic parquet writers.

Three tidy tables per method, with broom's column names in snake_case so
that tables from different methods join and stack:

- `coef` (broom::tidy): one row per model term.
- `sector_lines`: one row per line of the compared factor (each level, and
  each non-reference level minus the reference) as a point in
  (intercept, slope) space with its 2x2 covariance and the df of each part.
- `fit` (broom::glance): one row per method.

No timings or timestamps go into these files, so reruns are byte-identical.
Files are written to a temporary name and renamed, so an interrupted run
never leaves a half file that a rerun would trust.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

COEF_SCHEMA = pa.schema(
    [
        ("method", pa.string()),
        ("model", pa.string()),
        ("term", pa.string()),
        ("estimate", pa.float64()),
        ("std_error", pa.float64()),
        ("df", pa.float64()),
        ("statistic", pa.float64()),
        ("p_value", pa.float64()),
        ("conf_low", pa.float64()),
        ("conf_high", pa.float64()),
    ]
)

SECTOR_LINES_SCHEMA = pa.schema(
    [
        ("method", pa.string()),
        ("line", pa.string()),
        ("kind", pa.string()),  # "level" or "difference"
        ("intercept", pa.float64()),
        ("slope", pa.float64()),
        ("var_intercept", pa.float64()),
        ("cov_intercept_slope", pa.float64()),
        ("var_slope", pa.float64()),
        ("df_intercept", pa.float64()),
        ("df_slope", pa.float64()),
    ]
)

FIT_SCHEMA = pa.schema(
    [
        ("method", pa.string()),
        ("estimator", pa.string()),
        ("reference", pa.string()),
        ("nobs", pa.int64()),
        ("ngroups", pa.int64()),
        ("df_resid", pa.float64()),
        ("sigma", pa.float64()),
        ("loglik", pa.float64()),
        ("aic", pa.float64()),
        ("bic", pa.float64()),
        ("converged", pa.bool_()),
        ("singular", pa.bool_()),
        ("warnings", pa.list_(pa.string())),
    ]
)

SCHEMAS = {"coef": COEF_SCHEMA, "sector_lines": SECTOR_LINES_SCHEMA, "fit": FIT_SCHEMA}


@dataclass
class MethodResult:
    """What every method returns: three tidy tables (see module docstring)."""

    coef: pd.DataFrame
    sector_lines: pd.DataFrame
    fit: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"coef": self.coef, "sector_lines": self.sector_lines, "fit": self.fit}


def conform(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A pyarrow table with exactly the schema's columns, in its order."""
    missing = [n for n in schema.names if n not in frame.columns]
    extra = [c for c in frame.columns if c not in schema.names]
    if missing or extra:
        raise ValueError(f"table does not match its schema: missing {missing}, unexpected {extra}")
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def file_mode(base: int = 0o666) -> int:
    """The permission bits a plainly created file gets (0o666 less the umask;
    0o777 for a folder)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def atomic_path(path: Path) -> Path:
    """A fresh temporary file beside `path` (same filesystem, so rename is atomic).

    mkstemp makes it private (0600); it gets the usual permissions instead,
    since it becomes the output.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, file_mode())
    return Path(tmp)


def write_table_atomic(table: pa.Table, path: str | Path) -> None:
    """Write a parquet file by temporary name and rename."""
    path = Path(path)
    tmp = atomic_path(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_frame_atomic(frame: pd.DataFrame, path: str | Path) -> None:
    """A DataFrame (no fixed schema, e.g. data or school summaries) to parquet."""
    write_table_atomic(pa.Table.from_pandas(frame, preserve_index=False), path)


def write_text_atomic(text: str, path: str | Path) -> None:
    write_bytes_atomic(text.encode("utf-8"), path)


def write_bytes_atomic(data: bytes, path: str | Path) -> None:
    """The file whole or not at all: written beside it, then renamed."""
    path = Path(path)
    tmp = atomic_path(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_tables_dir(tables: Mapping[str, pd.DataFrame], folder: str | Path) -> None:
    """Every table as `<folder>/<name>.parquet`, all or nothing: they are
    written into a temporary folder beside it, which then takes its name."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        for name, frame in tables.items():
            write_table_atomic(pa.Table.from_pandas(frame, preserve_index=False), tmp / f"{name}.parquet")
        os.chmod(tmp, file_mode(0o777))  # mkdtemp made it private
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_method_result(result: MethodResult, paths: dict[str, str | Path]) -> None:
    """Write the three tables; all are checked against their schemas first,
    so a schema error writes nothing."""
    tables = {name: conform(frame, SCHEMAS[name]) for name, frame in result.tables().items()}
    for name, table in tables.items():
        write_table_atomic(table, paths[name])


def read_table(path: str | Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
