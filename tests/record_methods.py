"""Record every method's tables and the study's replicate rows, or compare with a recording.

A tool for refactoring the methods, not a test: run it on the old code to
record (to a file outside git), then on the new code to compare.

    python tests/record_methods.py record /tmp/methods_before.pkl
    python tests/record_methods.py compare /tmp/methods_before.pkl

Cases: data/hs.csv and data/hsfull.csv as the pipeline prepares them; hs
with a one-student school and a school without spread in ses; hs with ses
constant (every method's refusal); hs with a three-level factor; three
simulated replicates of every default study scenario (all tables), and 25
replicates of every scenario through the study's `chunk_rows` (all eight
methods' rows). Numbers must agree to `RTOL` relative (`ATOL` absolute near
0), everything else exactly.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mlmcompare.contextual import add_contextual
from mlmcompare.data import load_data
from mlmcompare.methods import METHODS, fit_method
from mlmcompare.spec import HSB_SPEC, ModelSpec
from mlmcompare.study.dgp import Scenario, replicate_rng, simulate, simulation_spec
from mlmcompare.study.run import chunk_rows
from mlmcompare.study.settings import DEFAULT_SCENARIOS
from test_study_units import PARAMS  # hsfull's contextual mixed model, as the pipeline derives it

DATA = Path(__file__).resolve().parent.parent / "data"
RTOL, ATOL = 1e-10, 1e-12
SEED = 20261123



def prepared(name: str, spec: ModelSpec = HSB_SPEC) -> pd.DataFrame:
    return add_contextual(load_data(DATA / f"{name}.csv", spec).frame, spec)


def odd_hs() -> pd.DataFrame:
    """hs with a one-student school and a school without spread in ses."""
    hs = load_data(DATA / "hs.csv", HSB_SPEC).frame
    first = hs[HSB_SPEC.group].iloc[0]
    flat = hs[HSB_SPEC.group] == hs[HSB_SPEC.group].unique()[1]
    hs = hs.assign(ses=np.where(flat, 0.25, hs["ses"]))
    single = hs.iloc[[0]].assign(school=99999)
    assert first != 99999
    return add_contextual(pd.concat([hs, single], ignore_index=True), HSB_SPEC)


def three_levels() -> tuple[pd.DataFrame, ModelSpec]:
    """hs with Public schools split in two by school id (a three-level factor)."""
    hs = load_data(DATA / "hs.csv", HSB_SPEC).frame
    sector = np.where((hs["Sector"] == "Public") & (hs["school"] % 2 == 1), "Other", hs["Sector"].astype(str))
    hs = hs.assign(Sector=pd.Categorical(sector, categories=["Catholic", "Other", "Public"]))
    spec = ModelSpec(**{**HSB_SPEC.__dict__, "factor_levels": {**HSB_SPEC.factor_levels, "Sector": ("Catholic", "Other", "Public")}})
    return add_contextual(hs, spec), spec


def method_tables(data: pd.DataFrame, spec: ModelSpec) -> dict[str, object]:
    """Each method's three tables, or its error text."""
    out: dict[str, object] = {}
    for method in METHODS:
        try:
            res = fit_method(method, data, spec)
            out[method] = {"coef": res.coef, "sector_lines": res.sector_lines, "fit": res.fit}
        except Exception as exc:  # noqa: BLE001 - a refusal is recorded
            out[method] = f"{type(exc).__name__}: {exc}"
    return out


def record() -> dict[str, object]:
    out: dict[str, object] = {}
    for name in ("hs", "hsfull"):
        out[f"tables/{name}"] = method_tables(prepared(name), HSB_SPEC)
    out["tables/odd"] = method_tables(odd_hs(), HSB_SPEC)
    out["tables/constant_ses"] = method_tables(prepared("hs").assign(ses=1.0, ses_cwg=0.0, ses_mean=1.0), HSB_SPEC)
    out["tables/three_levels"] = method_tables(*three_levels())
    sim_spec = simulation_spec(HSB_SPEC, PARAMS)
    for sc in DEFAULT_SCENARIOS:
        scenario = Scenario.from_dict(sc)
        for rep in range(3):
            data = simulate(PARAMS, scenario, replicate_rng(SEED, rep), sim_spec)
            out[f"tables/{scenario.name}/{rep}"] = method_tables(data, sim_spec)
        out[f"study/{scenario.name}"] = chunk_rows(PARAMS, scenario, SEED, range(25), HSB_SPEC)
    return out


def differences(old: object, new: object, where: str) -> list[str]:
    """Where `new` differs from `old` beyond the tolerances (empty when equal)."""
    if isinstance(old, dict):
        if set(old) != set(new):
            return [f"{where}: keys {sorted(old)} != {sorted(new)}"]
        return [d for k in old for d in differences(old[k], new[k], f"{where}/{k}")]
    if isinstance(old, pd.DataFrame):
        if not isinstance(new, pd.DataFrame):
            return [f"{where}: {new!r} instead of a table"]
        if list(old.columns) != list(new.columns) or len(old) != len(new):
            return [f"{where}: columns/rows {list(old.columns)} x {len(old)} != {list(new.columns)} x {len(new)}"]
        out = []
        for c in old.columns:
            a, b = old[c], new[c]
            if a.dtype != b.dtype:
                out.append(f"{where}.{c}: dtype {a.dtype} != {b.dtype}")
            elif pd.api.types.is_float_dtype(a):
                x, y = a.to_numpy(), b.to_numpy()
                bad = ~((np.isnan(x) & np.isnan(y)) | np.isclose(y, x, rtol=RTOL, atol=ATOL) | (x == y))
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    out.append(f"{where}.{c}: {bad.sum()} value(s) differ, first row {i}: {x[i]!r} != {y[i]!r}")
            elif not all(_same(u, v) for u, v in zip(a, b)):
                i = next(i for i, (u, v) in enumerate(zip(a, b)) if not _same(u, v))
                out.append(f"{where}.{c}: row {i}: {a.iloc[i]!r} != {b.iloc[i]!r}")
        return out
    return [] if _same(old, new) else [f"{where}: {old!r} != {new!r}"]


def _same(u: object, v: object) -> bool:
    if isinstance(u, (list, tuple, np.ndarray)):
        return isinstance(v, (list, tuple, np.ndarray)) and len(u) == len(v) and all(_same(a, b) for a, b in zip(u, v))
    return bool(u == v)


def main(argv: list[str]) -> int:
    action, path = argv
    current = record()
    if action == "record":
        Path(path).write_bytes(pickle.dumps(current))
        print(f"recorded {len(current)} cases to {path}")
        return 0
    old = pickle.loads(Path(path).read_bytes())
    diffs = differences(old, current, "")
    print("\n".join(diffs[:50]) if diffs else f"all {len(old)} cases equal (rtol {RTOL}, atol {ATOL})")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
