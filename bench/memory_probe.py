"""Peak memory of one ``lmm.fit(formula, path)`` in a fresh process.

Run by ``bench/run.py`` as a child process, so that the peak resident set
size belongs to this one fit and not to the benchmark's own data::

    python bench/memory_probe.py DATA.parquet "y ~ x * w + (1 + x | g)" [--warmup SMALL.parquet]

Steps: import numpy, pandas, pyarrow.parquet and mlmcompare.lmm; fit the
small ``--warmup`` file once (numba loads or compiles its kernels, pyarrow
loads its readers: code, not data); reset the kernel's peak-RSS mark
(``echo 5 > /proc/self/clear_refs``, so that the warm-up's transient peak,
e.g. from compiling, is not counted); read the resident set size (the
*baseline*, VmRSS); fit DATA once; read the peak resident set size
(``getrusage(RUSAGE_SELF).ru_maxrss``, and VmHWM, the same mark as
/proc/self/status shows it).  Prints one JSON line with the peak, the
baseline, their difference (the *increment*: the memory the fit added on
top of the loaded libraries) and the fit's time and log-likelihood.  Where
the mark cannot be reset (not Linux), the peak is the whole process's and
the increment an upper bound (``peak_reset`` false).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np  # noqa: F401 - loaded before the baseline on purpose
import pandas as pd  # noqa: F401
import pyarrow.parquet  # noqa: F401

from mlmcompare import lmm


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def proc_status_bytes(field: str) -> int | None:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in bytes; None without /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the peak-RSS mark to the current RSS (Linux 4.0+); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", help="parquet file (or directory of parquet files) to fit")
    p.add_argument("formula")
    p.add_argument("--warmup", help="a small file of the same columns, fitted first")
    args = p.parse_args(argv)

    if args.warmup:
        lmm.fit(args.formula, args.warmup, reml=True)
    peak_reset = reset_peak_rss()
    baseline = proc_status_bytes("VmRSS") or peak_rss_bytes()
    t0 = time.perf_counter()
    res = lmm.fit(args.formula, args.path, reml=True)
    fit_s = time.perf_counter() - t0
    ru_maxrss = peak_rss_bytes()
    hwm = proc_status_bytes("VmHWM")
    # after the reset VmHWM is this fit's peak; ru_maxrss may also keep an older peak of
    # a thread that has exited since (the kernel folds those in), so it is only a check
    peak = hwm if peak_reset and hwm is not None else ru_maxrss
    print(json.dumps({
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": baseline,
        "increment_bytes": peak - baseline,
        "ru_maxrss_bytes": ru_maxrss,
        "vm_hwm_bytes": hwm,
        "peak_reset": peak_reset,
        "fit_s": fit_s,
        "loglik": float(res.loglik),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
