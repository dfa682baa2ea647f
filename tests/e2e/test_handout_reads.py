"""A handout built from anyone's data reads right: read like an instructor,
against numbers computed here from the CSV itself.

Four handouts: the bundled `hs` (the default run), the bundled `hsfull`, a
subset of hsfull with other school counts per sector (the HSB columns, not
the bundled file), and a data set with renamed columns and no Sex,
Minority or Size, built with `mlmcompare handout`. For each: every count and
comparative sentence checked here matches the data, remarks about the
lectures appear only for the bundled files, a troubled fit is flagged where
its numbers first appear, no `\\|` is printed, no PDF text is below 7 pt, the
at-a-glance sheet has at most two pages, and each file stays within its size.
"""

from __future__ import annotations

import html as htmllib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlmcompare.report.format import num
from mlmcompare.report.tidy import read_table

from ..conftest import DATA, ROOT, run_snakemake
from .conftest import built_once

MB = 1024 * 1024


# ------------------------------------------------------------------ builds
def subset_csv(path: Path, catholic: int = 30, public: int = 45, seed: int = 7) -> Path:
    """hsfull with `catholic` Catholic and `public` Public schools drawn at random."""
    d = pd.read_csv(DATA / "hsfull.csv")
    rng = np.random.default_rng(seed)
    keep = [*rng.choice(sorted(d.loc[d.Sector == "Catholic", "school"].unique()), catholic, replace=False),
            *rng.choice(sorted(d.loc[d.Sector == "Public", "school"].unique()), public, replace=False)]
    d[d["school"].isin(keep)].to_csv(path, index=False)
    return path


def clinics_csv(path: Path) -> Path:
    """The subset with other names and none of HSB's extra columns."""
    d = pd.read_csv(subset_csv(path.with_name("sub.csv"), 25, 40, seed=11))
    d = d.rename(columns={"mathach": "score", "ses": "income", "school": "clinic", "Sector": "Region"})
    d["Region"] = d["Region"].map({"Catholic": "North", "Public": "South"})
    d["clinic"] = "K" + d["clinic"].astype(str)
    d[["clinic", "score", "income", "Region"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def other_runs(tmp_path_factory) -> Path:
    """hsfull and a subset of it (other counts), study off: one workflow run."""
    return built_once(tmp_path_factory, "reads", build_other_runs) / "results"


def build_other_runs(folder: Path) -> None:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["datasets"]["subset"] = {"file": str(subset_csv(folder / "subset.csv")), "title": "a subset",
                                 "handout": {"highlight_schools": ["P8854C"]}}
    cfg.update(run=["hsfull", "subset"], results=str(folder / "results"), study={"enabled": False},
               designs={**cfg["designs"], "build": False})
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    handouts = [str(folder / "results" / d / f"{doc}.{ext}") for d in ("hsfull", "subset") for doc in ("handout", "glance")
                for ext in ("html", "pdf")]
    proc = run_snakemake(*handouts, "--cores", "2", "--nolock", "--configfile", str(folder / "config.yaml"))
    assert proc.returncode == 0, proc.stderr[-5000:]


@pytest.fixture(scope="session")
def clinics(tmp_path_factory) -> Path:
    """`mlmcompare handout` on renamed columns without Sex, Minority or Size."""
    return built_once(tmp_path_factory, "clinics", build_clinics) / "results" / "clinics"


def build_clinics(folder: Path) -> None:
    csv = clinics_csv(folder / "clinics.csv")
    proc = subprocess.run([sys.executable, "-m", "mlmcompare.cli", "handout", str(csv), "--response", "score",
                           "--predictor", "income", "--group", "clinic", "--compare", "Region", "--reference", "North",
                           "--out", str(folder / "results"), "--no-study"], capture_output=True, text=True, cwd=folder)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])


# ------------------------------------------------------------------ reading
def visible_text(page: Path) -> str:
    """What a reader sees of an HTML handout: no tags, no TeX annotations of the MathML."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"<annotation[^>]*>.*?</annotation>", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"</?(code|strong|em|a|span|b|i|sub|sup)\b[^>]*>", "", text)  # inline: no break
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def body(page: Path) -> str:
    """The visible text after the table of contents."""
    text = visible_text(page)
    first = "The data and the question"
    return text[text.index(first, text.index(first) + 1):]


def pdf_facts(pdf: Path) -> tuple[int, float, str]:
    """Pages, the smallest type size of any text, and the text."""
    import pymupdf

    sizes, text = [], []
    with pymupdf.open(pdf) as doc:
        for page in doc:
            for block in page.get_text("dict")["blocks"]:
                for line in block.get("lines", []):
                    sizes += [span["size"] for span in line["spans"] if span["text"].strip()]
            text.append(page.get_text())
        return len(doc), min(sizes), "\n".join(text)


def facts_of(csv: Path, y: str, x: str, g: str, f: str, ref: str) -> dict:
    """Counts and the slope gaps, computed here from the CSV with numpy."""
    d = pd.read_csv(csv)
    schools = d.groupby(g)[f].first()
    other = sorted(set(schools) - {ref})[0]
    w = (d[f] == other).to_numpy(float)
    xv, yv = d[x].to_numpy(float), d[y].to_numpy(float)
    X = np.column_stack([np.ones_like(xv), xv, w, xv * w])
    pooled = np.linalg.lstsq(X, yv, rcond=None)[0]
    slopes = {s: np.polyfit(p[x], p[y], 1)[0] for s, p in d.groupby(g) if p[x].nunique() > 1}
    by_level = pd.Series(slopes).groupby(schools).mean()
    xdm = xv - d.groupby(g)[x].transform("mean").to_numpy()
    ydm = yv - d.groupby(g)[y].transform("mean").to_numpy()
    common = np.linalg.lstsq(np.column_stack([xdm, xdm * w]), ydm, rcond=None)[0][1]
    within = np.linalg.lstsq(xdm[:, None], ydm, rcond=None)[0][0]
    means = d.groupby(g)[[x, y]].mean()
    between = np.polyfit(means[x], means[y], 1)[0]
    plain = np.polyfit(xv, yv, 1)[0]
    return {"N": len(d), "J": len(schools), "per_level": schools.value_counts().to_dict(), "other": other,
            "size_min": int(d.groupby(g).size().min()), "size_max": int(d.groupby(g).size().max()),
            "pooled_gap": pooled[3], "reference_slope": pooled[1], "school_lines_gap": by_level[other] - by_level[ref],
            "common_gap": common, "downward": int(sum(v < 0 for v in slopes.values())), "n_lines": len(slopes),
            "within": within, "between": between, "plain": plain}


CASES = {
    "hs": dict(y="mathach", x="ses", g="school", f="Sector", ref="Catholic", bundled=True, html_mb=2.5),
    "hsfull": dict(y="mathach", x="ses", g="school", f="Sector", ref="Catholic", bundled=True, html_mb=3.0),
    "subset": dict(y="mathach", x="ses", g="school", f="Sector", ref="Catholic", bundled=False, html_mb=3.0),
    "clinics": dict(y="score", x="income", g="clinic", f="Region", ref="North", bundled=False, html_mb=3.0),
}


@pytest.fixture(params=list(CASES))
def built(request):
    """(name, results folder, CSV, case) of each of the four handouts. The
    runs are asked for by name, so that the hs case needs only the default
    run and the others only their own (each built once, `built_once`)."""
    name = request.param
    if name == "hs":
        return name, request.getfixturevalue("hs_results"), DATA / "hs.csv", CASES[name]
    if name == "clinics":
        clinics = request.getfixturevalue("clinics")
        return name, clinics, clinics.parent.parent / "clinics.csv", CASES[name]
    other_runs = request.getfixturevalue("other_runs")
    csv = DATA / "hsfull.csv" if name == "hsfull" else other_runs.parent / "subset.csv"
    return name, other_runs / name, csv, CASES[name]


# ------------------------------------------------------------------- tests
def test_every_count_matches_the_data(built):
    name, folder, csv, c = built
    facts = facts_of(csv, c["y"], c["x"], c["g"], c["f"], c["ref"])
    text = visible_text(folder / "handout.html")
    levels = [c["ref"], facts["other"]]
    counts = ", ".join(f"{facts['per_level'][lv]} {lv}" for lv in levels)
    assert f"has {facts['N']:,} students in {facts['J']} schools ({counts}), with {facts['size_min']} to {facts['size_max']} students per school" in text
    assert f"Of the {facts['n_lines']} school lines, {facts['downward']} slope" in text
    glance = visible_text(folder / "glance.html")
    assert f"{facts['N']:,} students in {facts['J']} schools ({counts})" in glance


def test_every_comparative_sentence_matches_the_data(built):
    name, folder, csv, c = built
    facts = facts_of(csv, c["y"], c["x"], c["g"], c["f"], c["ref"])
    text = visible_text(folder / "handout.html")
    contextual = read_table(folder / "methods" / "mixed_contextual" / "sector_lines.parquet")
    ctx_gap = float(contextual.loc[contextual["kind"] == "difference", "slope"].iloc[0])
    within = [facts["school_lines_gap"], facts["common_gap"], ctx_gap]
    word = ("larger than all" if facts["pooled_gap"] > max(within) else
            "smaller than all" if facts["pooled_gap"] < min(within) else "within the range of")
    assert f"Pooled OLS puts the difference at {num(facts['pooled_gap'])}, {word} the within-school estimates" in text
    # the reference level's slope is not "the effect" of the predictor
    assert f"In pooled OLS the coefficient of {c['x']}, {num(facts['reference_slope'])}, is not" in text
    assert f"it is the slope in {c['ref']} schools, the reference level" in text
    between_them = min(facts["within"], facts["between"]) <= facts["plain"] <= max(facts["within"], facts["between"])
    assert (f"The pooled slope {num(facts['plain'])} lies between them" in text) == between_them


def test_a_troubled_fit_is_flagged_where_its_numbers_first_appear(built):
    name, folder, csv, c = built
    text = body(folder / "handout.html")
    fit = read_table(folder / "methods" / "mixed" / "fit.parquet").iloc[0]
    troubled = bool(fit["singular"]) or not bool(fit["converged"])
    comparison = text[text.index("The comparison"):text.index("Confidence ellipses in coefficient space")]
    assert ("Mixed model †: read with care." in comparison) == troubled
    assert ("Mixed model †" in comparison) == troubled
    if troubled:
        assert "which is not singular, is the one to read" in comparison
        assert "Honest? Yes" not in text
    assert "interior optimum" not in text


def test_lecture_remarks_only_for_the_bundled_files(built):
    name, folder, csv, c = built
    text = visible_text(folder / "handout.html")
    assert ("Appendix: corrections to the source lecture" in text) == c["bundled"]
    assert ("The source lecture says its 40 schools are 21 Public and 19 Catholic" in text) == (name == "hs")
    if name == "hs":
        assert "have 21 Catholic, 19 Public schools" in text
        assert "16 of 18 agree to every printed digit" in text  # nlme's interval bounds differ in the 4th digit
        assert "numerical Hessian" in text
    if name == "hsfull":
        assert "11 of 14 agree to every printed digit" in text  # lme4's stopping point (2 df) and a cut 39.148
        assert "the lecture cuts 39.148 to 39.14" in text
        assert "70 Catholic, 90 Public schools" not in text.split("Appendix")[-1]
    if not c["bundled"]:
        assert "Lecture prints" not in text and "our engine" not in text
        assert "21 Catholic" not in text and "source lecture says" not in text


def test_no_hsb_labels_in_a_handout_of_other_data(clinics):
    text = visible_text(clinics / "handout.html")
    for label in ("Catholic", "Public", "mathach", "Minority", "Female", "Size", "Sex", "High School"):
        assert label not in text, label
    assert "left out: no such factor is configured for these data" in text
    assert "needs a column of school sizes; none is configured" in text


def test_print_and_size(built):
    name, folder, csv, c = built
    for stem, pages in (("handout", None), ("glance", 2)):
        n_pages, smallest, pdf_text = pdf_facts(folder / f"{stem}.pdf")
        assert smallest >= 7.0, (stem, smallest)
        assert "\\|" not in pdf_text
        if pages:
            assert n_pages <= pages
    assert "\\|" not in visible_text(folder / "handout.html")
    assert (folder / "handout.html").stat().st_size <= c["html_mb"] * MB
    assert (folder / "glance.html").stat().st_size <= 0.5 * MB
