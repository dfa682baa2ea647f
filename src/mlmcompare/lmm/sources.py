"""Where the rows of a fit come from when they are not one DataFrame in memory.

This module owns reading rows chunk by chunk and turning a stream of chunks
into :class:`~mlmcompare.lmm.stats.SufficientStats`:

* :class:`ParquetSource` reads a parquet file, a directory of parquet files
  or a list of files in record batches of ``batch_size`` rows, only the
  columns the formula uses, and drops each batch once its statistics are
  taken, so memory stays at about one batch whatever the number of rows.
* :class:`DaskSource` computes the statistics of every partition of a Dask
  DataFrame on the workers and adds them up on the client in partition order
  (a fixed reduction order, so the result does not depend on which worker
  finished first).

Both go through the same three steps, so a file, a cluster and an in-memory
frame give the same fit:

1. the first non-empty chunk fixes the model: factor levels (unless
   declared with ``levels=``), the formula's model spec
   (:func:`~mlmcompare.lmm.design.row_spec`) and the shifts the
   cross-products are accumulated around (:func:`shifts_from_first_chunk`);
2. every chunk becomes matrices by that spec (:meth:`RowSpec.matrices`
   refuses missing values and unseen factor levels; the refusal here also
   names the file or partition) and statistics by :func:`stats_from_chunks`,
   the one function that reduces chunks, whether of a file or of a Dask
   partition on a worker;
3. the checks that need all rows (two groups or more and more rows than
   levels per grouping factor, full-rank fixed effects, more observations
   than random effects per factor, a response that varies) run on the
   accumulated statistics (:func:`check_accumulated`).

With several grouping factors each chunk gives blocked statistics
(:class:`~mlmcompare.lmm.blocked.BlockedStats`: per factor and per pair of
levels that share a row), added up by label as well; a crossed fit then
holds one small block per pair of levels met in the data (up to one per
row), a nested one per lower level.

A source object offers ``spec`` (the :class:`RowSpec`) and ``chunks()``
(the rows again, chunk by chunk, only the used columns), from which
:class:`~mlmcompare.lmm.result.LmmResult` computes fitted values and
residuals on demand instead of holding them for every row.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import checks
from .design import ChunkMatrices, RowSpec, formula_columns, row_spec
from .formula import ParsedFormula, parse_formula
from .blocked import BlockedStats, stats_from_matrices
from .stats import SufficientStats, default_shifts, sufficient_stats

__all__ = [
    "ParquetSource",
    "DaskSource",
    "Shifts",
    "DEFAULT_BATCH_ROWS",
    "formula_columns",
    "check_declared_levels",
    "located_matrices",
    "shifts_from_first_chunk",
    "chunk_stats",
    "stats_from_chunks",
    "check_accumulated",
    "is_dask_frame",
]

#: rows per record batch read from parquet: large enough that the per-chunk
#: overhead (model matrices, one merge of the per-group arrays) is small,
#: small enough that one batch's temporaries stay near 150 MB
DEFAULT_BATCH_ROWS = 1 << 19

LevelsArg = Mapping[str, Sequence[Any]] | None


# --------------------------------------------------------------------- columns
def _parsed(formula: str | ParsedFormula) -> ParsedFormula:
    return parse_formula(formula) if isinstance(formula, str) else formula


# ------------------------------------------------------------ declared levels
def check_declared_levels(spec: RowSpec, levels: LevelsArg) -> None:
    """``levels=`` may only name factor columns of the fixed part (else it would do nothing)."""
    stray = [c for c in (levels or {}) if c not in spec.levels]
    if stray:
        factors = ", ".join(map(repr, spec.levels)) or "none"
        raise ValueError(
            f"levels= names column(s) {', '.join(map(repr, stray))}, which are not factor "
            f"columns of the fixed part {spec.parsed.fixed!r} (factor columns: {factors})"
        )


# ------------------------------------------------------------ one code path
@dataclass(frozen=True)
class Shifts:
    """The shifts every chunk's cross-products are accumulated around (see stats.py)."""

    x: np.ndarray
    y: float
    intercept_col: int | None
    ones_coef: np.ndarray | None


def shifts_from_first_chunk(spec: RowSpec, m: ChunkMatrices) -> Shifts:
    """Shifts of the first chunk, shared by all chunks so that their statistics add.

    Only a model with an intercept term is shifted: without one, the first
    chunk cannot tell how the constant lies in the column space of the
    whole X (a ``0 + Sector`` model whose first chunk has one sector), so
    nothing is shifted then.
    """
    x_shift, y_shift, icol, ones = default_shifts(np.asarray(m.X, float), np.asarray(m.y, float))
    terms = list(spec.fixed_terms)
    if "Intercept" in terms and icol == terms.index("Intercept"):
        return Shifts(x=x_shift, y=y_shift, intercept_col=icol, ones_coef=ones)
    return Shifts(x=np.zeros(len(terms)), y=0.0, intercept_col=None, ones_coef=None)


def located_matrices(spec: RowSpec, chunk: pd.DataFrame, where: str) -> ChunkMatrices:
    """``spec.matrices(chunk)``; a refusal (missing value, new level) says which file or partition."""
    try:
        return spec.matrices(chunk)
    except ValueError as exc:
        raise ValueError(f"in {where}: {exc}") from exc


def chunk_stats(spec: RowSpec, chunk: pd.DataFrame, shifts: Shifts,
                where: str = "a chunk") -> SufficientStats | BlockedStats:
    """The statistics of one chunk, accumulated around the shared shifts.

    Several grouping factors: the blocked statistics (per factor and per pair
    of levels, matched by label when chunks are added).
    """
    m = located_matrices(spec, chunk, where)
    if spec.several:
        s = stats_from_matrices(spec, m.X, m.y, m.Z, [c for c, _ in m.factors],
                                [lv for _, lv in m.factors], x_shift=shifts.x, y_shift=shifts.y)
    else:
        s = sufficient_stats(m.X, m.Z, m.y, np.asarray(m.groups), x_shift=shifts.x,
                             y_shift=shifts.y)
    # a chunk may hold a dummy column that is all ones there (or lack the
    # rows that put 1 in col(X)); the model's structure comes from the first
    # chunk, so every chunk carries the same intercept column and ones_coef
    return replace(s, intercept_col=shifts.intercept_col, ones_coef=shifts.ones_coef)


def stats_from_chunks(
    spec: RowSpec, chunks: Iterable[tuple[str, pd.DataFrame]], shifts: Shifts
) -> SufficientStats | None:
    """Sum of the statistics of ``(where, chunk)`` pairs, in order; None if no rows.

    Each chunk is dropped as soon as its statistics are taken.
    """
    return _sum_in_order(chunk_stats(spec, chunk, shifts, where)
                         for where, chunk in chunks if len(chunk))


def _sum_in_order(parts: Iterable[SufficientStats | None]) -> SufficientStats | None:
    """Left-to-right sum of statistics (a fixed reduction order); None parts are empty."""
    total: SufficientStats | None = None
    for s in parts:
        if s is not None:
            total = s if total is None else total + s
    return total


def _root_of_crossprod(XtX: np.ndarray) -> np.ndarray:
    """M (p x p) with M'M = XtX: a stand-in for X in a rank check (QR(M) = QR(X) up to signs)."""
    w, V = np.linalg.eigh((XtX + XtX.T) / 2.0)
    return np.sqrt(np.clip(w, 0.0, None))[:, None] * V.T


def check_accumulated(stats: SufficientStats | BlockedStats | None, spec: RowSpec,
                      where: str) -> SufficientStats | BlockedStats:
    """The whole-data checks of build_design, on the accumulated statistics."""
    if stats is None or stats.nobs == 0:
        raise ValueError(f"{where} has no rows")
    _check_constant(stats, spec)
    if isinstance(stats, BlockedStats):
        counts = [(f.name, f.nlevels, f.q) for f in stats.factors]
    else:
        counts = [(spec.factors[0].name, stats.ngroups, stats.q)]
    for name, nlevels, _ in counts:
        checks.check_grouping(np.arange(nlevels), name, stats.nobs)
    # X'X is in shifted coordinates, Xc = X T (T = beta_map()); the rank check
    # wants X itself so that a column constant in the data reads as aliased
    # with the intercept, as it does in build_design
    X_like = _root_of_crossprod(stats.XtX) @ np.linalg.inv(stats.beta_map())
    checks.check_fixed_rank(X_like, list(spec.fixed_terms))
    for name, nlevels, q in counts:
        checks.check_nobs_vs_nre(stats.nobs, nlevels, q, name if spec.several else None)
    return stats


def _check_constant(stats, spec: RowSpec) -> None:
    """A constant response, told from the accumulated sums (as check_response_varies)."""
    ss = stats.ss_about_mean()
    if ss <= 64 * np.finfo(float).eps * abs(stats.yty):
        mean = stats.fingerprint()[1] / max(stats.nobs, 1)
        raise ValueError(
            f"response {spec.response!r} is constant (every row is {mean:g}): there is no "
            "variation for a mixed model to split into components"
        )


def _progress(progress: bool, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(disable=not progress, **kwargs)


@dataclass(frozen=True)
class _Model:
    """What the first chunk fixes: the row spec and the shifts."""

    spec: RowSpec
    shifts: Shifts


def _model_from_first_chunk(parsed: ParsedFormula, first: pd.DataFrame, levels: LevelsArg,
                            where: str) -> _Model:
    try:
        spec = row_spec(parsed, first, levels=levels)
    except ValueError as exc:
        raise ValueError(f"in {where}: {exc}") from exc
    check_declared_levels(spec, levels)
    m = located_matrices(spec, first, where)
    return _Model(spec=spec, shifts=shifts_from_first_chunk(spec, m))


# --------------------------------------------------------------------- parquet
def parquet_files(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The parquet files of a file, a directory (recursively, sorted) or a list of files."""
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if p.is_dir():
            # Spark and Hive write _SUCCESS, _metadata and .crc files beside the data
            files = sorted(f for f in p.rglob("*")
                           if f.is_file() and not f.name.startswith(("_", "."))
                           and f.suffix in (".parquet", ".pq", ".parq", ""))
            if not files:
                raise ValueError(f"directory {str(p)!r} holds no parquet files")
            return files
        if not p.exists():
            raise FileNotFoundError(f"no such parquet file or directory: {str(p)!r}")
        return [p]
    files = [Path(f) for f in path]
    if not files:
        raise ValueError("an empty list of parquet files")
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"no such parquet file: {str(f)!r}")
    return files


def _open_parquet(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # ArrowInvalid for a CSV or a truncated file
        raise ValueError(f"cannot read {str(path)!r} as parquet: {exc}") from exc


class ParquetSource:
    """Rows of parquet files, read in record batches of the used columns only.

    Parameters
    ----------
    path : a parquet file, a directory of them (a partitioned dataset; files
        sorted by path) or a list of files.
    formula : lme4 formula (or its :class:`ParsedFormula`).
    levels : optional ``{column: [levels, ...]}`` declaring the levels of
        factor columns (the first is the reference).  Otherwise a
        dictionary-encoded (Categorical) column keeps its whole dictionary
        and a text column gets the sorted values of the first chunk; a level
        first seen in a later chunk is then refused.
    batch_size : rows per chunk (default :data:`DEFAULT_BATCH_ROWS`).
    progress : a tqdm bar over rows while the statistics are taken.

    Chunks are indexed by row number in the dataset (the files in order).
    """

    def __init__(self, path, formula: str | ParsedFormula, *, levels: LevelsArg = None,
                 batch_size: int | None = None, progress: bool = False):
        self.files = parquet_files(path)
        self.batch_size = DEFAULT_BATCH_ROWS if batch_size is None else int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size!r}")
        self.progress = bool(progress)
        self.parsed = _parsed(formula)
        self.nrows = 0
        wanted = formula_columns(self.parsed)
        for f in self.files:
            pf = _open_parquet(f)
            checks.check_columns_exist(pf.schema_arrow.names, wanted, f"parquet file {str(f)!r}")
            self.nrows += pf.metadata.num_rows
        self._read_columns = wanted  # until the spec says which columns it uses
        where, first = next(self.located_chunks(), (None, None))
        if first is None:
            raise ValueError(f"{self._name()} has no rows")
        self._model = _model_from_first_chunk(self.parsed, first, levels, where)
        self._read_columns = self.spec.columns

    @property
    def spec(self) -> RowSpec:
        return self._model.spec

    def _name(self) -> str:
        return (f"parquet file {str(self.files[0])!r}" if len(self.files) == 1
                else f"parquet dataset of {len(self.files)} files")

    def located_chunks(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """(where, chunk) of each non-empty batch; the index is the row number in the dataset."""
        offset = 0
        for f in self.files:
            start = 0
            for batch in self._batches(f):
                n = batch.num_rows
                if n == 0:
                    continue
                chunk = batch.to_pandas()  # dictionary columns arrive as Categoricals
                chunk.index = pd.RangeIndex(offset + start, offset + start + n)
                yield (f"parquet file {str(f)!r} (rows {start}-{start + n - 1} of the file, "
                       f"{offset + start}-{offset + start + n - 1} of the dataset)"), chunk
                start += n
            offset += start

    def _batches(self, path: Path):
        """Record batches of one file, row group by row group.

        One ``iter_batches`` over the whole file pre-buffers every row group
        it will read (the whole file's column bytes at once: 250 MB for 10M
        rows); asking for one row group at a time keeps one in memory.
        """
        pf = _open_parquet(path)
        for i in range(pf.num_row_groups):
            yield from pf.iter_batches(batch_size=self.batch_size, row_groups=[i],
                                       columns=list(self._read_columns))

    def chunks(self) -> Iterator[pd.DataFrame]:
        """The rows again, chunk by chunk (used columns only), for fitted values and residuals."""
        for _, chunk in self.located_chunks():
            yield chunk

    def sufficient_stats(self) -> SufficientStats:
        """One pass over the files; the whole-data checks run on the sum."""
        with _progress(self.progress, total=self.nrows, unit="rows", unit_scale=True,
                       desc="lmm: reading parquet") as bar:
            def counted() -> Iterator[tuple[str, pd.DataFrame]]:
                for where, chunk in self.located_chunks():
                    yield where, chunk
                    bar.update(len(chunk))

            stats = stats_from_chunks(self.spec, counted(), self._model.shifts)
        return check_accumulated(stats, self.spec, self._name())


# ------------------------------------------------------------------------ dask
def is_dask_frame(data: object) -> bool:
    """A Dask DataFrame, recognised without importing dask."""
    module = type(data).__module__.split(".")[0]
    return module in ("dask", "dask_expr") and hasattr(data, "to_delayed") and hasattr(data, "columns")


def _partition_stats(part: pd.DataFrame, spec: RowSpec, shifts: Shifts,
                     where: str) -> SufficientStats | None:
    """Runs on a worker: one partition's statistics, by the same path as a file's chunks."""
    return stats_from_chunks(spec, [(where, part)], shifts)


def _default_client():
    """The distributed Client in use, or None (local schedulers, or no distributed)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


class DaskSource:
    """Rows of a Dask DataFrame; statistics per partition on the workers.

    The first non-empty partition is computed on the client to fix the row
    spec (factor levels, columns of X and Z) and the shifts; both go to the
    workers with the partitions' tasks.  Partition statistics come back one
    at a time and are added on the client in partition order, so the sum
    (and the fit) is the same whatever the cluster and whoever finishes
    first.  Chunks keep the Dask index.
    """

    def __init__(self, frame, formula: str | ParsedFormula, *, levels: LevelsArg = None,
                 progress: bool = False):
        self.parsed = _parsed(formula)
        wanted = formula_columns(self.parsed)
        checks.check_columns_exist(list(frame.columns), wanted, "the Dask DataFrame")
        self.progress = bool(progress)
        self.frame = frame[list(wanted)]
        self.npartitions = int(self.frame.npartitions)
        where, first = next(self._located_partitions(), (None, None))
        if first is None:
            raise ValueError("the Dask DataFrame has no rows")
        self._model = _model_from_first_chunk(self.parsed, first, levels, where)
        self.frame = self.frame[list(self.spec.columns)]

    @property
    def spec(self) -> RowSpec:
        return self._model.spec

    def _located_partitions(self) -> Iterator[tuple[str, pd.DataFrame]]:
        for i, part in enumerate(self.frame.to_delayed()):
            chunk = part.compute()
            if len(chunk):
                yield f"partition {i} of the Dask DataFrame", chunk

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Each partition in turn, computed on the cluster and brought to the client."""
        for _, chunk in self._located_partitions():
            yield chunk

    def _tasks(self) -> list:
        import dask

        # the spec and shifts are one key each in the graph, shared by all tasks
        spec = dask.delayed(self.spec, pure=True)
        shifts = dask.delayed(self._model.shifts, pure=True)
        stats_of = dask.delayed(_partition_stats, pure=True)
        return [stats_of(part, spec, shifts, f"partition {i} of the Dask DataFrame")
                for i, part in enumerate(self.frame.to_delayed())]

    def _partition_results(self) -> Iterator[SufficientStats | None]:
        """Partition statistics in partition order, holding one at a time on the client."""
        import dask

        tasks = self._tasks()
        client = _default_client()
        if client is None:
            yield from dask.compute(*tasks)
            return
        futures = client.compute(tasks)  # all submitted at once: the workers stay busy
        try:
            for fut in futures:
                yield fut.result()
                fut.release()
        finally:
            for fut in futures:
                fut.release()

    def sufficient_stats(self) -> SufficientStats:
        """Statistics of every partition, added in partition order; checks on the sum."""
        with _progress(self.progress, total=self.npartitions, unit="partition",
                       desc="lmm: partition statistics") as bar:
            def counted() -> Iterator[SufficientStats | None]:  # None: an empty partition
                for s in self._partition_results():
                    yield s
                    bar.update(1)

            total = _sum_in_order(counted())
        return check_accumulated(total, self.spec, "the Dask DataFrame")
