"""Load and validate clustered data: the pipeline's only door for input.

`load_data` reads a CSV, runs a row of small named checks (in the spirit of
lme4's checkNlevels / checkResponse) and returns a typed DataFrame with the
factor reference levels fixed. Each check raises `DataError` naming the
file, the column, how many rows are bad and a few of them (as 1-based line
numbers of the file, header = line 1). Nothing is silently dropped: rows
with missing response or predictor values are refused unless the caller
asks for `drop_incomplete`, and then the count is returned with the data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..spec import ModelSpec

SHOW_ROWS = 5  # offending rows quoted in an error message


class DataError(ValueError):
    """Input data that the pipeline refuses, with a message saying why."""


@dataclass(frozen=True)
class LoadedData:
    frame: pd.DataFrame
    n_dropped: int  # rows dropped for missing values (drop_incomplete only)
    source: str


def file_lines(index: Sequence[int] | pd.Index) -> list[int]:
    """1-based line numbers in the CSV of the given 0-based data rows."""
    return [int(i) + 2 for i in index]


def plain_value(value: object) -> str:
    """A cell as a user wrote it: numbers plainly (inf, nan, 2.5), text quoted."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return str(value.item() if isinstance(value, np.generic) else value)
    return repr(str(value))


def describe_rows(path: str, column: str, bad: pd.Series, what: str, frame: pd.DataFrame | None = None) -> str:
    """The message body for `what` in `column`: count and a few lines."""
    idx = bad[bad].index
    lines = file_lines(idx[:SHOW_ROWS])
    shown = ", ".join(str(x) for x in lines)
    values = ""
    if frame is not None and column in frame:
        vals = [plain_value(frame.at[i, column]) for i in idx[:SHOW_ROWS]]
        values = f" (values {', '.join(vals)})"
    more = " ..." if len(idx) > SHOW_ROWS else ""
    return f"{path}: column '{column}': {len(idx)} row(s) {what}; first at line(s) {shown}{more}{values}"


def read_csv_strict(path: Path) -> pd.DataFrame:
    """Read a CSV as text columns, refusing missing, empty or malformed files."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    # utf-8-sig strips a byte-order mark; universal newlines handle CRLF.
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header or all(not h.strip() for h in header):
        raise DataError(f"{path}: file has no header line")
    check_unique_columns(str(path), header)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if frame.empty:
        raise DataError(f"{path}: file has a header but no data rows")
    return frame


def check_unique_columns(path: str, header: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    dup = []
    for i, name in enumerate(header):
        name = name.strip()
        if name in seen:
            dup.append(f"'{name}' (columns {seen[name] + 1} and {i + 1})")
        seen.setdefault(name, i)
    if dup:
        raise DataError(f"{path}: duplicated column name(s): {', '.join(dup)}")


def check_required_columns(path: str, frame: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing required column(s) {', '.join(repr(c) for c in missing)}; "
            f"the file has {', '.join(repr(c) for c in frame.columns)}"
        )


def blank(values: pd.Series) -> pd.Series:
    """Cells that are empty or an NA spelling."""
    s = values.astype(str).str.strip()
    return (s == "") | s.str.upper().isin(["NA", "NAN", "NULL", "N/A"])


def parse_numeric_column(path: str, frame: pd.DataFrame, column: str) -> pd.Series:
    """Numbers from a text column; text that is not a number is an error."""
    raw = frame[column].astype(str).str.strip()
    missing = blank(raw)
    parsed = pd.to_numeric(raw.where(~missing), errors="coerce")
    text = parsed.isna() & ~missing
    if text.any():
        raise DataError(describe_rows(path, column, text, "hold text where a number is required", frame))
    return parsed.astype("float64")


def incomplete_rows(frame: pd.DataFrame, numeric: Sequence[str]) -> pd.Series:
    """Rows whose numeric model columns are missing or not finite."""
    bad = pd.Series(False, index=frame.index)
    for col in numeric:
        bad |= ~np.isfinite(frame[col].to_numpy(dtype="float64"))
    return bad


def check_finite(path: str, frame: pd.DataFrame, numeric: Sequence[str]) -> None:
    for col in numeric:
        bad = pd.Series(~np.isfinite(frame[col].to_numpy(dtype="float64")), index=frame.index)
        if bad.any():
            raise DataError(
                describe_rows(path, col, bad, "are missing, NaN or infinite", frame)
                + "; fix them or set drop_incomplete: true in the config to drop such rows"
            )


def check_group_present(path: str, frame: pd.DataFrame, group: str) -> None:
    bad = blank(frame[group])
    if bad.any():
        raise DataError(describe_rows(path, group, bad, "have no group id"))


def check_level2_constant(path: str, frame: pd.DataFrame, group: str, columns: Sequence[str]) -> None:
    for col in columns:
        nvals = frame.groupby(group, sort=False)[col].nunique(dropna=False)
        varying = nvals[nvals > 1]
        if len(varying):
            ids = [str(g) for g in varying.index[:SHOW_ROWS]]
            first = frame[frame[group].isin(varying.index)]
            examples = []
            for gid in varying.index[:2]:
                rows = first[first[group] == gid]
                vals = ", ".join(f"{v!r} (line {file_lines([i])[0]})" for i, v in rows[col].drop_duplicates().items())
                examples.append(f"{group} {gid}: {vals}")
            raise DataError(
                f"{path}: level-2 column '{col}' varies within {len(varying)} group(s) of '{group}' "
                f"({', '.join(ids)}{' ...' if len(varying) > SHOW_ROWS else ''}); e.g. {'; '.join(examples)}"
            )


def factor_with_reference(path: str, frame: pd.DataFrame, column: str, levels: Sequence[str], reference: str | None) -> pd.Categorical:
    """A categorical column with fixed level order, the reference level first."""
    values = frame[column].astype(str).str.strip()
    present = list(dict.fromkeys(values))
    order = [lv for lv in levels if lv in present] + sorted(lv for lv in present if lv not in levels)
    if reference is not None:
        if reference not in present:
            raise DataError(f"{path}: column '{column}': reference level {reference!r} does not occur; levels are {present}")
        order = [reference] + [lv for lv in order if lv != reference]
    return pd.Categorical(values, categories=order)


def check_two_levels(path: str, column: str, cat: pd.Categorical) -> None:
    if len(cat.categories) < 2:
        raise DataError(
            f"{path}: factor '{column}' has a single level {list(cat.categories)}; "
            "a comparison between its levels needs at least two"
        )


def check_some_group_has_two_rows(path: str, frame: pd.DataFrame, group: str) -> None:
    sizes = frame.groupby(group, sort=False).size()
    if sizes.max() < 2:
        raise DataError(
            f"{path}: column '{group}': every one of the {len(sizes)} groups has a single row; "
            "clustered-data methods need groups with at least two rows"
        )


def typed_group(values: pd.Series) -> pd.Series:
    """Group ids as integers when they all are, else as stripped strings."""
    s = values.astype(str).str.strip()
    as_int = pd.to_numeric(s, errors="coerce")
    if as_int.notna().all() and (as_int == as_int.round()).all():
        return as_int.astype("int64")
    return s.astype(object)


def load_data(path: str | Path, spec: ModelSpec, drop_incomplete: bool = False) -> LoadedData:
    """Read, check and type a student-level CSV for `spec`.

    Returns the typed frame with the reference level of the compared factor
    first, and the number of rows dropped (only with `drop_incomplete`).
    """
    path = Path(path)
    name = str(path)
    raw = read_csv_strict(path)
    raw.columns = [c.strip() for c in raw.columns]
    check_required_columns(name, raw, spec.required_columns)
    check_group_present(name, raw, spec.group)

    frame = pd.DataFrame(index=raw.index)
    numeric_model = [spec.response, spec.predictor]
    factor_cols = set(spec.factor_levels) | {spec.level2_factor}
    for col in raw.columns:
        if col == spec.group:
            frame[col] = typed_group(raw[col])
        elif col in numeric_model:
            frame[col] = parse_numeric_column(name, raw, col)
        elif col in factor_cols:
            frame[col] = raw[col].astype(str).str.strip()
        else:
            # Other columns: numeric when every non-blank cell is a number.
            parsed = pd.to_numeric(raw[col].where(~blank(raw[col])), errors="coerce")
            if (parsed.notna() | blank(raw[col])).all() and parsed.notna().any():
                frame[col] = parsed.astype("float64")
            else:
                frame[col] = raw[col].astype(str).str.strip()

    bad = incomplete_rows(frame, numeric_model)
    n_dropped = 0
    if bad.any():
        if not drop_incomplete:
            check_finite(name, frame, numeric_model)
        n_dropped = int(bad.sum())
        frame = frame.loc[~bad]

    check_level2_constant(name, frame, spec.group, spec.level2_columns)
    for col in sorted(factor_cols):
        if col not in frame:
            continue
        ref = spec.reference if col == spec.level2_factor else None
        frame[col] = factor_with_reference(name, frame, col, spec.factor_levels.get(col, ()), ref)
    check_two_levels(name, spec.level2_factor, frame[spec.level2_factor].array)
    check_some_group_has_two_rows(name, frame, spec.group)
    return LoadedData(frame=frame.reset_index(drop=True), n_dropped=n_dropped, source=name)
