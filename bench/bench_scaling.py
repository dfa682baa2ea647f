"""The out-of-core cases: one large parquet file fitted in this process (time,
and peak memory in a child process) and on a 2-worker Dask cluster (time, and
agreement with the single-process estimates).

``lmm.fit`` takes a parquet path or a Dask DataFrame only once out-of-core
fitting has landed; until then (a ``TypeError`` on the warm-up fit) each
case is recorded as not available, with the reason, and the rest of the
run goes on (as after any other failure, see ``run_tool``).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench_common import (
    MEMORY_PROBE,
    OURS_DASK,
    OURS_PARQUET,
    SIM_COLUMNS,
    SIM_FORMULA,
    Plan,
    Progress,
    estimates_of,
    failure_reason,
    max_relative_differences,
    ours_verdict_notes,
    run_tool,
    simulate_rows,
    time_repeated,
    tool_record,
    unavailable_record,
)
from mlmcompare import lmm

ROW_GROUP_ROWS = 1_000_000
WARMUP_ROWS = 20_000
DASK_WORKERS = 2
# one partition per row group, so that both workers have work (by default dask
# packs the row groups into partitions of ~256 MiB in memory)
DASK_READ_KWARGS: dict[str, Any] = {"split_row_groups": True}
PROBE_TIMEOUT_S = 1800


@dataclass(frozen=True)
class ParquetData:
    """A parquet file of simulated rows and what the memory target counts."""

    path: Path
    n_rows: int
    n_groups: int
    n_row_groups: int
    row_group_rows: int
    file_bytes: int
    column_bytes: dict[str, int]  # per used column, as numpy arrays in memory

    @property
    def used_bytes(self) -> int:
        return sum(self.column_bytes.values())

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": self.path.name, "used_bytes": self.used_bytes}


def used_column_bytes(df: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, int]:
    """Bytes of each column as a numpy array: values for numbers, codes for a factor."""
    out = {}
    for col in columns:
        s = df[col]
        # a factor is its integer codes in memory; its few labels are negligible
        arr = s.cat.codes.to_numpy() if isinstance(s.dtype, pd.CategoricalDtype) else s.to_numpy()
        out[col] = int(arr.nbytes)
    return out


def write_parquet(df: pd.DataFrame, path: Path, row_group_rows: int) -> ParquetData:
    """Write the rows to one parquet file (w stored dictionary-encoded) in row groups."""
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=row_group_rows)
    meta = pq.ParquetFile(path).metadata
    return ParquetData(
        path=path, n_rows=len(df), n_groups=int(df["g"].nunique()), n_row_groups=meta.num_row_groups,
        row_group_rows=row_group_rows, file_bytes=path.stat().st_size,
        column_bytes=used_column_bytes(df, SIM_COLUMNS),
    )


def row_group_rows_for(n_rows: int) -> int:
    """~1M rows per row group; small files still get 4 groups (4 Dask partitions)."""
    return max(1, min(ROW_GROUP_ROWS, -(-n_rows // 4)))


def simulated_parquet(n_rows: int, tmpdir: Path, name: str, df: pd.DataFrame | None = None) -> ParquetData:
    """A parquet file of ``simulate_rows(n_rows, n_rows // 100)`` (or of ``df``, the same rows)."""
    if df is None:
        df = simulate_rows(n_rows, max(2, n_rows // 100))
    return write_parquet(df, tmpdir / f"{name}.parquet", row_group_rows_for(n_rows))


def scale_plan(quick: bool, repeats: int | None) -> Plan:
    """Timed fits of the parquet and Dask cases (few: a 10M-row fit takes seconds)."""
    n = repeats if repeats is not None else (2 if quick else 3)
    return Plan(repeats={OURS_PARQUET: n, OURS_DASK: n}, warmups={OURS_PARQUET: 1, OURS_DASK: 1})


def not_supported(exc: TypeError) -> str:
    """The reason recorded while ``lmm.fit`` takes only DataFrames (it raises TypeError);
    where it was raised tells that apart from a TypeError deeper in the engine."""
    return f"not available: lmm.fit raised on this input: {failure_reason(exc).removeprefix('failed: ')}"


def fit_record(tool: str, fit: Callable[[], lmm.LmmResult], plan: Plan,
               progress: Progress) -> dict[str, Any]:
    """Time ``fit`` per the plan; the record carries the estimates for comparisons.

    The plan's warm-up is a fit of the small file, done by the caller before
    (as cheap as it is effective: the kernels are compiled either way).
    """
    times, res = time_repeated(fit, plan.repeats[tool], 0, progress)
    return tool_record(tool, times, loglik=float(res.loglik), n_evals=res.optimizer.get("n_evals"),
                       notes=ours_verdict_notes(res), warmups=plan.warmups[tool],
                       extra={"estimates": estimates_of(res)})


# ------------------------------------------------------------ single process
def bench_parquet(data: ParquetData, warmup: ParquetData, plan: Plan,
                  progress: Progress) -> dict[str, Any]:
    """Time ``lmm.fit(formula, path)`` after an untimed fit of the small file."""
    try:
        lmm.fit(SIM_FORMULA, warmup.path, reml=True)
    except TypeError as exc:
        return unavailable_record(OURS_PARQUET, not_supported(exc))
    return fit_record(OURS_PARQUET, lambda: lmm.fit(SIM_FORMULA, data.path, reml=True), plan, progress)


def probe_memory(data: ParquetData, warmup: ParquetData) -> dict[str, Any]:
    """Peak RSS of one fit of the file in a child process (``bench/memory_probe.py``)."""
    cmd = [sys.executable, str(MEMORY_PROBE), str(data.path), SIM_FORMULA, "--warmup", str(warmup.path)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"available": False, "reason": f"memory probe timed out after {PROBE_TIMEOUT_S} s"}
    if out.returncode != 0:
        last = out.stderr.strip().splitlines()[-1:] or ["no message"]
        return {"available": False, "reason": f"memory probe failed: {last[0]}"}
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "available": True,
        **probe,
        "used_bytes": data.used_bytes,
        "increment_over_used": probe["increment_bytes"] / data.used_bytes,
        "peak_over_used": probe["peak_rss_bytes"] / data.used_bytes,
    }


# ---------------------------------------------------------------------- Dask
def bench_dask(data: ParquetData, warmup: ParquetData, plan: Plan, progress: Progress,
               single: dict[str, Any]) -> dict[str, Any]:
    """Time ``lmm.fit(formula, dd.read_parquet(path))`` on a local 2-worker cluster.

    The cluster's start-up and the workers' warm-up (a fit of the small
    file: imports, numba compilation) are timed apart and not in the fits.
    """
    try:
        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        return unavailable_record(OURS_DASK, f"not available: {exc} (pip install -e '.[bench]')")

    t0 = time.perf_counter()
    with LocalCluster(n_workers=DASK_WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster):
        startup_s = time.perf_counter() - t0
        cluster_info = {"n_workers": DASK_WORKERS, "threads_per_worker": 1, "processes": True,
                        "startup_s": startup_s, "read_parquet_kwargs": DASK_READ_KWARGS}
        t1 = time.perf_counter()
        try:
            lmm.fit(SIM_FORMULA, dd.read_parquet(warmup.path, **DASK_READ_KWARGS), reml=True)
        except TypeError as exc:
            rec = unavailable_record(OURS_DASK, not_supported(exc))
        else:
            cluster_info["warmup_s"] = time.perf_counter() - t1
            cluster_info["npartitions"] = dd.read_parquet(data.path, **DASK_READ_KWARGS).npartitions
            # read_parquet is in the timed call, as the path is read inside the single-process fit
            rec = fit_record(
                OURS_DASK, lambda: lmm.fit(SIM_FORMULA, dd.read_parquet(data.path, **DASK_READ_KWARGS),
                                           reml=True),
                plan, progress)
        rec["cluster"] = cluster_info
    return add_single_comparison(rec, single)


def add_single_comparison(rec: dict[str, Any], single: dict[str, Any]) -> dict[str, Any]:
    """Time ratio Dask / single process and the largest relative differences of the estimates."""
    both = "estimates" in rec and "estimates" in single
    rec["max_rel_diff_vs_single"] = (max_relative_differences(rec["estimates"], single["estimates"])
                                     if both else None)
    rec["ratio_vs_single"] = (rec["median_s"] / single["median_s"]
                              if rec["median_s"] is not None and single["median_s"] else None)
    return rec


# ------------------------------------------------------------------- section
def run_out_of_core(data: ParquetData, warmup: ParquetData, plan: Plan, progress: Progress,
                    dataframe_estimates: dict[str, Any] | None) -> dict[str, Any]:
    """The parquet case (time, memory) and the Dask case on the same file, as one JSON section."""
    label = f"parquet {data.n_rows:,}"
    single = run_tool(f"{label} · {OURS_PARQUET}", OURS_PARQUET, plan.repeats[OURS_PARQUET],
                      lambda: bench_parquet(data, warmup, plan, progress), progress)
    if dataframe_estimates is not None and "estimates" in single:
        # the same rows fitted from the DataFrame in the sweep: chunked reading must not change them
        single["max_rel_diff_vs_dataframe"] = max_relative_differences(single["estimates"],
                                                                       dataframe_estimates)
    progress.describe(f"{label} · peak memory")
    memory = (probe_memory(data, warmup) if single["available"]
              else {"available": False, "reason": "parquet fit not available"})
    progress.log(f"[{label} · peak memory] " + (
        f"increment {memory['increment_bytes'] / 2**20:,.0f} MiB = "
        f"{memory['increment_over_used']:.2f} x the {data.used_bytes / 2**20:,.0f} MiB of columns used"
        if memory["available"] else memory["reason"]))
    dask = run_tool(f"{label} · {OURS_DASK}", OURS_DASK, plan.repeats[OURS_DASK],
                    lambda: bench_dask(data, warmup, plan, progress, single), progress)
    return {"data": data.as_json(), "formula": SIM_FORMULA, "single": single, "memory": memory,
            "dask": dask}
