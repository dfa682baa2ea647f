"""Data of the benchmark cases with several grouping factors (seeded generators).

* :func:`students_teachers`: students x teachers x schools, partially crossed:
  80 schools with 17 or 18 teachers each (1,400 teachers), 11,000 students
  observed in 2 or 3 years each (about 25,000 rows); each year a student has
  one teacher of their school, and about 5 % of the students move to another
  school once, so students are crossed with teachers and, partly, with
  schools.  Twelve fixed-effect columns; random intercepts for student,
  teacher and school (sd 0.8, 0.4, 0.3; residual sd 0.6).
* :func:`growth`: three-level growth, 60 schools, 1,700 children, 3 to 5
  yearly scores each (about 7,000 rows); random intercept and slope of year
  per school (sd 3 and 0.5, correlation 0.3) and per child within school
  (sd 5 and 1, correlation 0.2), residual sd 2.
* :func:`insteval`: lme4's InstEval (73,421 ratings of 1,128 lecturers by
  2,972 students, 14 departments), from the golden data of the tests
  (``tests/golden/data/insteval.csv.gz``, written by make_golden_multi.R).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTEVAL_CSV = REPO_ROOT / "tests" / "golden" / "data" / "insteval.csv.gz"

MULTI_SEED = 20240917

STUDENTS_FORMULA = ("score ~ year + female + ses + frl + ell + sped + prior + class_size + "
                    "t_experience + t_degree + urban + school_ses + (1 | student) + (1 | teacher) "
                    "+ (1 | school)")
GROWTH_FORMULA = "score ~ year * female + ses + (year | school) + (year | school:child)"
INSTEVAL_FORMULA = "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)"


def students_teachers(seed: int = MULTI_SEED, n_schools: int = 80, n_teachers: int = 1400,
                      n_students: int = 11000) -> pd.DataFrame:
    """Rows of the students x teachers x schools case (see the module docstring)."""
    rng = np.random.default_rng(seed)
    school_of_teacher = np.sort(np.arange(n_teachers) % n_schools)
    teachers_of = [np.flatnonzero(school_of_teacher == s) for s in range(n_schools)]
    home = rng.integers(n_schools, size=n_students)
    years = rng.integers(2, 4, size=n_students)
    student = np.repeat(np.arange(n_students), years)
    year = np.concatenate([np.arange(k) for k in years]).astype(float)
    school = home[student].copy()
    movers = rng.random(n_students) < 0.05
    moved_to = rng.integers(n_schools, size=n_students)
    moves = movers[student] & (year == years[student] - 1)  # last year in another school
    school[moves] = moved_to[student][moves]
    pick = rng.random(len(student))
    teacher = np.array([teachers_of[s][int(u * len(teachers_of[s]))] for s, u in zip(school, pick)])
    n = len(student)
    female = (rng.random(n_students) < 0.5).astype(float)[student]
    ses = rng.normal(size=n_students)[student]
    frl = (rng.random(n_students) < 0.4).astype(float)[student]
    ell = (rng.random(n_students) < 0.1).astype(float)[student]
    sped = (rng.random(n_students) < 0.12).astype(float)[student]
    prior = rng.normal(size=n_students)[student] + 0.3 * ses
    class_size = rng.integers(18, 32, size=n_teachers)[teacher].astype(float)
    t_experience = rng.gamma(2.0, 5.0, size=n_teachers)[teacher]
    t_degree = (rng.random(n_teachers) < 0.45).astype(float)[teacher]
    urban = np.array(["rural", "suburban", "urban"])[rng.integers(3, size=n_schools)][school]
    school_ses = rng.normal(0, 0.5, size=n_schools)[school]
    u_s, u_t, u_k = (rng.normal(0, sd, size=m) for sd, m in
                     ((0.8, n_students), (0.4, n_teachers), (0.3, n_schools)))
    score = (0.2 * year + 0.1 * female + 0.3 * ses - 0.2 * frl - 0.15 * ell - 0.3 * sped
             + 0.5 * prior - 0.01 * class_size + 0.01 * t_experience + 0.05 * t_degree
             + 0.2 * school_ses + np.select([urban == "suburban", urban == "urban"], [0.1, -0.1])
             + u_s[student] + u_t[teacher] + u_k[school] + rng.normal(0, 0.6, size=n))
    return pd.DataFrame({
        "score": score, "year": year, "female": female, "ses": ses, "frl": frl, "ell": ell,
        "sped": sped, "prior": prior, "class_size": class_size, "t_experience": t_experience,
        "t_degree": t_degree, "urban": pd.Categorical(urban, categories=["rural", "suburban", "urban"]),
        "school_ses": school_ses, "student": student, "teacher": teacher, "school": school,
    })


def growth(seed: int = MULTI_SEED, n_schools: int = 60, n_children: int = 1700) -> pd.DataFrame:
    """Rows of the three-level growth case (see the module docstring)."""
    rng = np.random.default_rng(seed + 1)
    school_of = np.sort(rng.integers(n_schools, size=n_children))
    waves = rng.integers(3, 6, size=n_children)
    child = np.repeat(np.arange(n_children), waves)
    year = np.concatenate([np.arange(k) for k in waves]).astype(float)
    school = school_of[child]

    def effects(m, sd0, sd1, rho):
        cov = np.array([[sd0 * sd0, rho * sd0 * sd1], [rho * sd0 * sd1, sd1 * sd1]])
        return rng.multivariate_normal(np.zeros(2), cov, size=m)

    bs = effects(n_schools, 3.0, 0.5, 0.3)
    bc = effects(n_children, 5.0, 1.0, 0.2)
    female = (rng.random(n_children) < 0.5).astype(float)[child]
    ses = rng.normal(size=n_children)[child]
    score = (50 + 3.0 * year + 1.0 * female + 0.2 * year * female + 2.0 * ses
             + bs[school, 0] + bs[school, 1] * year + bc[child, 0] + bc[child, 1] * year
             + rng.normal(0, 2.0, size=len(child)))
    return pd.DataFrame({"score": score, "year": year, "female": female, "ses": ses,
                         "school": school, "child": child})


def insteval() -> pd.DataFrame:
    """lme4's InstEval as the golden data holds it; ``service`` a factor (0 the reference)."""
    d = pd.read_csv(INSTEVAL_CSV)
    d["service"] = pd.Categorical(d["service"].astype(str), categories=["0", "1"])
    return d
