"""The explorable companion page of a dataset: `results/<dataset>/explore.html`.

One self-contained HTML file (inline CSS, vanilla JavaScript, inline SVG; it
fetches nothing) that computes in the browser from the numbers the pipeline
fitted, so a student can move sliders and watch:

1. beta space: every school's OLS line as a point with its 95% ellipse, and
   its BLUP moving toward its sector's line as G is scaled from 0 to twice
   its estimate (and as sigma^2 changes);
2. the seven methods' sector lines and differences with their 95% ellipses,
   each method shown or hidden, beside the comparison table's numbers;
3. the standard error of the sector gap as the number of schools J and of
   students per school n change, against the data's own point.

`explore_numbers` gathers the numbers from the files the dataset's manifest
lists; `build_explore_page` embeds them as JSON in `explore_template.html`
(package data) and writes the page atomically. The closed forms the page
evaluates have Python twins here (`blup_lines`, `gap_variance_balanced`,
`gap_variance_from_schools`), which the tests check against the engine and
against the page itself.

The model is the mixed method's y_ij = x_ij'(beta_s + u_j) + e_ij, with
x_ij = (1, predictor), beta_s the line of school j's sector, u_j ~ N(0, G)
and e_ij ~ N(0, sigma^2). Write A_j = X_j'X_j / sigma^2.

- BLUP: b_j* = (G^-1 + A_j)^-1 (G^-1 beta_s + X_j'y_j / sigma^2), the
  school's OLS line b_j (where it exists, X_j'y_j = X_j'X_j b_j) shrunk
  toward its sector's line. Written as b_j* = beta_s + (I + G A_j)^-1 G c_j
  with c_j = X_j'(y_j - X_j beta_s) / sigma^2, so that G may be 0 or
  singular (then b_j* = beta_s) and X_j'X_j may be singular (one student).
- Information of school j about its sector's line: X_j'V_j^-1 X_j =
  A_j (I + G A_j)^-1 (Woodbury on V_j = sigma^2 I + X_j G X_j'); where
  X_j'X_j is invertible this is (G + sigma^2 (X_j'X_j)^-1)^-1, the inverse
  of the variance of the school's OLS line around the sector line. The
  sector line's GLS variance is the inverse of the sum over its schools,
  and a difference of two sectors' lines adds the two variances (the lines
  share no school).
- Balanced design (J schools, a share p_s of them in sector s, n students
  per school, each school's X'X = n M with M the data's average of
  X_j'X_j / n_j): every school carries the same information, so
  var(sector line) = (G + sigma^2 M^-1 / n) / (p_s J) and
  var(gap) = (G + sigma^2 M^-1 / n) (1/p_level + 1/p_reference) / J.
  With two sectors 1/p_1 + 1/p_2 = 1 / (p (1 - p)), and the intercept
  entry is the handout's sqrt((g00 + sigma^2 / n) / (J var(W))) when G
  holds g00 alone.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..estimation.lines import joint_radius, region_df
from ..methods import LABELS
from ..methods.common import difference_name
from ..spec import ModelSpec, spec_from_config
from .comparison import differences_table, levels_table
from .figures.comparison import method_color
from .provenance import load_manifest
from .tidy import read_table, write_text_atomic

TEMPLATE = "explore_template.html"
DATA_MARK = "/*__EXPLORE_DATA__*/"
TITLE_MARK = "__EXPLORE_TITLE__"
MAX_BYTES = 1_000_000  # the page must stay small enough to mail and open anywhere


# --------------------------------------------------------------- closed forms
def school_cross_products(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Per school: n and the sums that make X_j'X_j and X_j'y_j for X = [1, predictor]."""
    x = data[spec.predictor].to_numpy("float64")
    y = data[spec.response].to_numpy("float64")
    sums = pd.DataFrame({"n": 1.0, "sx": x, "sxx": x * x, "sy": y, "sxy": x * y}, index=data.index)
    sums[spec.group] = data[spec.group].to_numpy()
    return sums.groupby(spec.group, sort=True, observed=True).sum().reset_index()


def cross_product_matrices(sums: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """X_j'X_j as (J, 2, 2) and X_j'y_j as (J, 2) from `school_cross_products`."""
    n, sx, sxx = (sums[c].to_numpy("float64") for c in ("n", "sx", "sxx"))
    xtx = np.stack([np.stack([n, sx], -1), np.stack([sx, sxx], -1)], -2)
    xty = np.stack([sums["sy"].to_numpy("float64"), sums["sxy"].to_numpy("float64")], -1)
    return xtx, xty


def blup_lines(xtx: np.ndarray, xty: np.ndarray, beta: np.ndarray, G: np.ndarray, sigma2: float) -> np.ndarray:
    """Each school's BLUP line b_j* = beta_j + (I + G A_j)^-1 G c_j (module docstring); (J, 2)."""
    A = xtx / sigma2
    c = (xty - np.einsum("jab,jb->ja", xtx, beta)) / sigma2
    u = np.linalg.solve(np.eye(2) + G @ A, (G @ c[..., None]))[..., 0]
    return beta + u


def school_information(xtx: np.ndarray, G: np.ndarray, sigma2: float) -> np.ndarray:
    """X_j'V_j^-1 X_j = A_j (I + G A_j)^-1 for each school; (J, 2, 2)."""
    A = xtx / sigma2
    # A (I + G A)^-1 = ((I + G A)^-T A^T)^T = solve((I + A G), A)^T, A symmetric
    return np.swapaxes(np.linalg.solve(np.eye(2) + A @ G, A), -1, -2)


def gap_variance_from_schools(xtx: np.ndarray, in_level: np.ndarray, in_reference: np.ndarray, G: np.ndarray, sigma2: float) -> np.ndarray:
    """GLS variance of (level line - reference line) from the schools' own X_j'X_j; 2x2."""
    info = school_information(xtx, G, sigma2)
    return np.linalg.inv(info[in_level].sum(0)) + np.linalg.inv(info[in_reference].sum(0))


def gap_variance_balanced(n_schools: float, share_level: float, share_reference: float, n: float, xtx_per_student: np.ndarray, G: np.ndarray, sigma2: float) -> np.ndarray:
    """(G + sigma^2 M^-1 / n) (1/p_level + 1/p_reference) / J for a balanced design; 2x2."""
    school = G + sigma2 * np.linalg.inv(xtx_per_student) / n
    return school * (1.0 / share_level + 1.0 / share_reference) / n_schools


# ------------------------------------------------------------ pipeline numbers
def mixed_components(varcorr: pd.DataFrame, spec: ModelSpec) -> tuple[np.ndarray, float]:
    """G (2x2, intercept and predictor) and sigma^2 from lme4's VarCorr table of the mixed model."""
    def value(grp: str, v1: str, v2: str | None) -> float:
        rows = varcorr[(varcorr["grp"] == grp) & (varcorr["var1"].fillna("") == v1) & (varcorr["var2"].fillna("") == (v2 or ""))]
        if len(rows) != 1:
            raise ValueError(f"varcorr table has {len(rows)} rows for grp={grp!r}, var1={v1!r}, var2={v2!r}; expected 1")
        return float(rows["vcov"].iloc[0])

    x = spec.predictor
    g00, g11, g01 = value(spec.group, "Intercept", None), value(spec.group, x, None), value(spec.group, "Intercept", x)
    return np.array([[g00, g01], [g01, g11]]), value("Residual", "", None)


def output_path(manifest: dict[str, Any], key: str) -> str:
    try:
        return manifest["outputs"][key]["abspath"]
    except KeyError:
        raise ValueError(f"the manifest of {manifest.get('dataset')!r} lists no output {key!r}; the explore page needs it") from None


def finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def school_records(sums: pd.DataFrame, schools: pd.DataFrame, lines: pd.DataFrame, spec: ModelSpec) -> list[dict[str, Any]]:
    """Per school, in plot order: id, sector, the X'X and X'y sums, its OLS line with covariance and 95% radius."""
    g = spec.group
    frame = schools[[g, "id", "plot_order", spec.level2_factor]].merge(sums, on=g, how="inner")
    ols = lines[[g, "intercept", "slope", "var_intercept", "cov_intercept_slope", "var_slope", "df"]]
    frame = frame.merge(ols, on=g, how="left").sort_values("plot_order")
    out = []
    for r in frame.itertuples(index=False):
        has_line = bool(np.isfinite(r.intercept) and np.isfinite(r.df) and r.df > 0)
        out.append({
            "id": str(r.id),
            "level": str(getattr(r, spec.level2_factor)),
            "n": int(r.n),
            "sums": [float(r.sx), float(r.sxx), float(r.sy), float(r.sxy)],
            "ols": [float(r.intercept), float(r.slope)] if has_line else None,
            "cov": [float(r.var_intercept), float(r.cov_intercept_slope), float(r.var_slope)] if has_line else None,
            "radius": joint_radius(float(r.df)) if has_line else None,
        })
    return out


def method_records(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method: label, colour, each sector line and difference with covariance and
    95% radius (as the handout's ellipse figure), and the comparison table's rows."""
    out = []
    for method in manifest["config"]["methods"]:
        lines = read_table(output_path(manifest, f"{method}/sector_lines"))
        estimator = str(read_table(output_path(manifest, f"{method}/fit"))["estimator"].iloc[0])
        out.append({
            "id": method,
            "label": LABELS.get(method, method),
            "color": method_color(method),
            "estimator": estimator,
            "lines": [
                {"line": str(r.line), "kind": str(r.kind), "point": [float(r.intercept), float(r.slope)],
                 "cov": [float(r.var_intercept), float(r.cov_intercept_slope), float(r.var_slope)],
                 "radius": joint_radius(region_df(r.df_slope, estimator))}
                for r in lines.itertuples(index=False)
            ],
            "levels_table": levels_table(lines, LABELS).drop(columns="Method").to_dict("records")[0],
            "differences_table": differences_table(lines, LABELS).drop(columns="Method").to_dict("records"),
        })
    return out


def gap_records(sums: pd.DataFrame, level_of: np.ndarray, mixed_lines: pd.DataFrame, spec: ModelSpec, levels: list[str]) -> list[dict[str, Any]]:
    """Per difference (level - reference): the data's design (J, shares, mean n, average
    X'X per student) and the mixed model's own variance of the difference."""
    xtx, _ = cross_product_matrices(sums)
    n = sums["n"].to_numpy("float64")
    per_student = (xtx / n[:, None, None]).mean(0)
    ref = levels[0]
    out = []
    for lv in levels[1:]:
        row = mixed_lines.set_index("line").loc[difference_name(lv, ref)]
        out.append({
            "line": difference_name(lv, ref),
            "level": lv,
            "reference": ref,
            "n_schools": int(len(n)),
            "share_level": float(np.mean(level_of == lv)),
            "share_reference": float(np.mean(level_of == ref)),
            "n_bar": float(n.mean()),
            "xtx_per_student": [float(per_student[0, 0]), float(per_student[0, 1]), float(per_student[1, 1])],
            "model_var": [float(row["var_intercept"]), float(row["cov_intercept_slope"]), float(row["var_slope"])],
        })
    return out


def provenance(manifest: dict[str, Any]) -> dict[str, Any]:
    git = manifest.get("git") or {}
    return {
        "dataset": manifest.get("dataset"),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "created": manifest.get("created"),
        "inputs": {k: {"name": Path(v["path"]).name, "sha256": v["sha256"]} for k, v in manifest.get("inputs", {}).items()},
        "data_sha256": manifest["outputs"]["data"]["sha256"],
    }


def explore_numbers(results_dir: str | Path) -> dict[str, Any]:
    """Everything the page computes from, read from the files `<results_dir>/manifest.json` lists."""
    manifest = load_manifest(Path(results_dir) / "manifest.json")
    spec = spec_from_config(manifest["config"]["model"])
    if "mixed" not in manifest["config"]["methods"]:
        raise ValueError("the explore page needs the 'mixed' method among the config's methods")
    data = read_table(output_path(manifest, "data"))
    schools = read_table(output_path(manifest, "schools"))
    lines = read_table(output_path(manifest, "betaspace/ellipses"))
    G, sigma2 = mixed_components(read_table(output_path(manifest, "diagnostics/varcorr")), spec)
    mixed_fit = read_table(output_path(manifest, "mixed/fit")).iloc[0]
    # the diagnostics' varcorr must describe the mixed method's fit, whose lines the BLUPs shrink toward
    if not np.isclose(np.sqrt(sigma2), mixed_fit["sigma"], rtol=1e-8):
        raise ValueError(f"diagnostics/varcorr (sigma {np.sqrt(sigma2):.8g}) is not the mixed method's fit (sigma {mixed_fit['sigma']:.8g})")
    mixed_lines = read_table(output_path(manifest, "mixed/sector_lines"))
    levels = [str(v) for v in data[spec.level2_factor].cat.categories] if hasattr(data[spec.level2_factor], "cat") else sorted(map(str, data[spec.level2_factor].unique()))
    sums = school_cross_products(data, spec)
    level_of = sums[[spec.group]].merge(schools[[spec.group, spec.level2_factor]], on=spec.group, how="left")[spec.level2_factor].astype(str).to_numpy()
    sector = mixed_lines[mixed_lines["kind"] == "level"].set_index("line")
    return {
        "title": str(manifest.get("title") or manifest.get("dataset")),
        "provenance": provenance(manifest),
        "names": {"response": spec.response, "predictor": spec.predictor, "group": spec.group,
                  "factor": spec.level2_factor, "levels": levels, "reference": levels[0]},
        "mixed": {
            "G": [float(G[0, 0]), float(G[0, 1]), float(G[1, 1])],
            "sigma2": float(sigma2),
            "lines": {lv: [float(sector.at[lv, "intercept"]), float(sector.at[lv, "slope"])] for lv in levels},
        },
        "schools": school_records(sums, schools, lines, spec),
        "methods": method_records(manifest),
        "gaps": gap_records(sums, level_of, mixed_lines, spec, levels),
    }


# ------------------------------------------------------------------- the page
def page_json(numbers: dict[str, Any]) -> str:
    """JSON safe inside a <script> element: no '<' (so no '</script>'), no NaN."""
    text = json.dumps(numbers, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_page(numbers: dict[str, Any], template: str | None = None) -> str:
    """The page: the template with the title and the numbers filled in."""
    template = template if template is not None else resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    if DATA_MARK not in template or TITLE_MARK not in template:
        raise ValueError(f"the explore template lacks its {DATA_MARK} or {TITLE_MARK} mark")
    fill = {TITLE_MARK: html.escape(numbers["title"]), DATA_MARK: page_json(numbers)}
    # one pass, so that a mark inside the filled-in text is left alone
    return re.sub("|".join(map(re.escape, fill)), lambda m: fill[m.group(0)], template)


def build_explore_page(results_dir: str | Path, out_path: str | Path | None = None) -> Path:
    """Write `<results_dir>/explore.html` (or `out_path`) atomically; refuses a page over 1 MB."""
    out = Path(out_path) if out_path is not None else Path(results_dir) / "explore.html"
    text = render_page(explore_numbers(results_dir))
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise ValueError(f"the explore page would be {size:,} bytes, over the {MAX_BYTES:,} limit")
    write_text_atomic(text, out)
    return out
