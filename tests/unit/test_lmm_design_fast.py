"""The design stage: our own X builder against formulaic, and the chunked row spec.

formulaic (``formulaic.model_matrix``) is the independent reference for
the fixed-effects matrix: same column names, order and values, exactly.
"""

from __future__ import annotations

import formulaic
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlmcompare.lmm import checks
from mlmcompare.lmm.design import ChunkMatrices, RowSpec, _group_codes, build_design, row_spec


def fixed_matrix(fixed: str, data: pd.DataFrame, response: str = "mathach", group: str = "school"):
    """Our X for a fixed part: (spec, names, X)."""
    spec = row_spec(f"{response} ~ {fixed} + (1 | {group})", data)
    return spec, list(spec.fixed_terms), spec.matrices(data).X


def reference(fixed: str, data: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    mm = formulaic.model_matrix(fixed, data, na_action="raise")
    return [str(c) for c in mm.columns], np.asarray(mm, dtype=float)


def assert_same_as_formulaic(fixed: str, data: pd.DataFrame, **kw) -> RowSpec:
    spec, names, X = fixed_matrix(fixed, data, **kw)
    ref_names, ref_X = reference(fixed, data)
    assert names == ref_names
    np.testing.assert_array_equal(X, ref_X)
    return spec


@pytest.fixture(scope="module")
def hs_typed(hs):
    """hs with an int column, a string (Sex, Minority) and a Categorical (Sector) column."""
    return hs.assign(size_k=hs["Size"] // 500)


FAST_FORMULAS = [
    "ses * Sector",
    "1 + ses + Sector + ses:Sector",
    "Sector:ses + Sector + ses",
    "ses_cwg + ses_mean + female + Sector",
    "(ses_cwg + ses_mean) * Sector",
    "1 + (ses_mean + ses_cwg) * Sector",
    "ses * female * Sector",
    "Sex * Sector",
    "Minority * Sex * Sector",
    "Sex + ses + Sex:ses",
    "ses * Sex * Minority",
    "Size + ses:Size + ses",
    "size_k * ses",
    "ses:female + ses + female",
    "0 + ses",
    "ses - 1",
    "-1 + ses + female",
    "0 + ses + ses:Sector",
    "1",
    "ses + ses + Sector:Sector",
]


@pytest.mark.parametrize("fixed", FAST_FORMULAS)
def test_fast_path_equals_formulaic_on_hs(hs_typed, fixed):
    spec = assert_same_as_formulaic(fixed, hs_typed)
    assert spec.fast


@pytest.mark.parametrize(
    "fixed",
    [
        "I(ses**2) + ses",  # a function
        "np.log(Size) + Sector",  # numpy through the context
        "C(female) * ses",  # C() on a numeric column
        "center(ses) + Sector",  # a stateful transform
        "0 + Sector",  # full-rank coding without an intercept
        "ses:Sector",  # full coding of a factor without its main effect
        "ses * Sector - ses",  # removing a term
        "(ses + female)**2",  # power
    ],
)
def test_formulas_outside_the_subset_use_formulaic(hs_typed, fixed):
    spec = assert_same_as_formulaic(fixed, hs_typed)
    assert not spec.fast


@pytest.mark.parametrize("dtype", ["float32", "int8", "uint8", "int32", "Int64", "Float64", "boolean"])
def test_other_numeric_dtypes_equal_formulaic(hs, dtype):
    """Narrow dtypes alone or times a factor stay fast; their products go to formulaic
    (which multiplies in the narrow dtype)."""
    values = (hs["ses"] * 3).round() if dtype != "boolean" else hs["ses"] > 0
    if dtype == "uint8":
        values = values.abs()
    d = hs.assign(a=values, b=values[::-1].to_numpy()).astype({"a": dtype, "b": dtype})
    assert assert_same_as_formulaic("a * Sector", d).fast
    wide = dtype in ("Int64", "Float64", "boolean")
    assert assert_same_as_formulaic("a * b", d).fast == wide
    assert assert_same_as_formulaic("ses * a", d).fast == wide


@pytest.mark.parametrize("dtype", ["string", "string[pyarrow]", "object"])
def test_every_string_dtype_is_a_factor(hs, dtype):
    """pandas' 'string' dtype (Dask's strings) is a factor as 'str' is; formulaic
    would take it for numbers, so the reference is the 'str' column."""
    d = hs.assign(Sex=hs["Sex"].astype(dtype))
    for fixed in ["ses * Sex", "I(ses**2) + Sex"]:
        spec, names, X = fixed_matrix(fixed, d)
        ref_names, ref_X = reference(fixed, hs)
        assert names == ref_names and spec.levels["Sex"] == ("Female", "Male")
        np.testing.assert_array_equal(X, ref_X)


def test_hsfull_formula_fast_and_equal(hs):
    spec = assert_same_as_formulaic("ses * Sector", hs)
    assert spec.fast
    assert spec.fixed_terms == ("Intercept", "ses", "Sector[T.Public]", "ses:Sector[T.Public]")
    assert spec.levels == {"Sector": ("Catholic", "Public")}


# ------------------------------------------------------------------ property
NUMERIC = ["a", "b", "t", "f", "h"]  # float, int, bool, float32, int8
FACTORS = ["c", "s", "o"]  # Categorical, str, object


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(4, 12))
    floats = st.floats(-8, 8, allow_nan=False, allow_infinity=False, width=64)
    column = lambda elements: draw(st.lists(elements, min_size=n, max_size=n))  # noqa: E731
    c_values = column(st.sampled_from("pqr"))
    extra = draw(st.lists(st.sampled_from("pqrz"), unique=True, max_size=4))
    categories = list(dict.fromkeys(draw(st.permutations(sorted(set(c_values)))) + extra))
    return pd.DataFrame({
        "y": column(floats),
        "g": [i % 2 for i in range(n)],
        "a": column(floats),
        "b": column(st.integers(-3, 3)),
        "t": column(st.booleans()),
        "f": np.array(column(floats), dtype=np.float32),
        "h": np.array(column(st.integers(-120, 120)), dtype=np.int8),
        "c": pd.Categorical(c_values, categories=categories),
        "s": pd.Series(column(st.sampled_from(["x", "wy", "v"])), dtype="str"),
        "o": pd.Series(column(st.sampled_from(["k", "j", "1"])), dtype=object),
    })


def formulas(names: list[str]):
    """Formulas of the grammar: names joined by ':', '*', '+' and parentheses, with intercept markers."""
    body = st.recursive(
        st.sampled_from(names),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([":", " * ", " + "]), inner).map("".join),
            inner.map(lambda e: f"({e})"),
        ),
        max_leaves=5,
    )
    prefix = st.sampled_from(["", "", "1 + ", "0 + ", "-1 + "])
    suffix = st.sampled_from(["", "", " - 1", " + 0", " + 1"])
    return st.tuples(prefix, body, suffix).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=frames(), fixed=formulas(NUMERIC + FACTORS))
def test_property_any_formula_of_the_grammar_equals_formulaic(data, fixed):
    try:
        ref_names, ref_X = reference(fixed, data)
    except Exception:
        with pytest.raises(ValueError):
            fixed_matrix(fixed, data, response="y", group="g")
        return
    if not ref_names:  # "0 + c" on a one-level factor: no column, refused by row_spec
        with pytest.raises(ValueError, match="no fixed effects"):
            fixed_matrix(fixed, data, response="y", group="g")
        return
    _, names, X = fixed_matrix(fixed, data, response="y", group="g")
    assert names == ref_names
    np.testing.assert_array_equal(X, ref_X)


def star_formulas():
    """Sums of full products (a*b*c) with an intercept: always inside the fast subset.

    (Narrow numeric columns, f and h, multiply in their own dtype in
    formulaic, so their products go to formulaic and are left out here.)
    """
    product = st.lists(st.sampled_from(["a", "b", "t"] + FACTORS), min_size=1, max_size=3,
                       unique=True).map(" * ".join)
    return st.lists(product, min_size=1, max_size=3).map(" + ".join)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=frames(), fixed=star_formulas())
def test_property_full_products_take_the_fast_path(data, fixed):
    ref_names, ref_X = reference(fixed, data)
    spec, names, X = fixed_matrix(fixed, data, response="y", group="g")
    assert spec.fast
    assert names == ref_names
    np.testing.assert_array_equal(X, ref_X)


# ----------------------------------------------------------------- chunks
FORMULA = "mathach ~ ses * Sector + Sex + (1 + ses | school)"


def chunks_of(data: pd.DataFrame, k: int) -> list[pd.DataFrame]:
    """k consecutive row slices."""
    edges = np.linspace(0, len(data), k + 1).astype(int)
    return [data.iloc[lo:hi] for lo, hi in zip(edges[:-1], edges[1:])]


def stacked(spec: RowSpec, chunks: list[pd.DataFrame]) -> ChunkMatrices:
    ms = [spec.matrices(c) for c in chunks]
    return ChunkMatrices(
        y=np.concatenate([m.y for m in ms]),
        X=np.concatenate([m.X for m in ms]),
        Z=np.concatenate([m.Z for m in ms]),
        groups=np.concatenate([m.groups for m in ms]),
    )


def assert_chunks_equal_design(spec: RowSpec, chunks: list[pd.DataFrame], design) -> None:
    m = stacked(spec, chunks)
    assert list(spec.fixed_terms) == design.fixed_terms
    assert list(spec.random_terms) == design.random_terms
    assert spec.block_sizes == design.block_sizes
    np.testing.assert_array_equal(m.y, design.y)
    np.testing.assert_array_equal(m.X, design.X)
    np.testing.assert_array_equal(m.Z, design.Z)
    np.testing.assert_array_equal(m.groups, design.levels[design.codes])


@pytest.mark.parametrize(
    "formula", [FORMULA, "mathach ~ I(ses**2) + Sector + Sex + (1 + ses || school)"]
)
def test_chunks_stack_to_build_design(hs, formula):
    chunks = chunks_of(hs, 4)
    spec = row_spec(formula, chunks[0])
    assert spec.columns[:2] == ("mathach", "school")
    assert_chunks_equal_design(spec, chunks, build_design(formula, hs))


def test_build_design_keeps_the_spec(hs):
    d = build_design(FORMULA, hs)
    assert isinstance(d.spec, RowSpec) and d.spec.fast
    assert d.spec.levels == {"Sector": ("Catholic", "Public"), "Sex": ("Female", "Male")}
    assert set(d.spec.columns) == {"mathach", "school", "ses", "Sector", "Sex"}


def females_first(hs: pd.DataFrame) -> list[pd.DataFrame]:
    """Chunks whose first holds no 'Male' row."""
    d = hs.sort_values("Sex", kind="stable")
    n_f = int((d["Sex"] == "Female").sum())
    return [d.iloc[: n_f // 2], d.iloc[n_f // 2 :]]


@pytest.mark.parametrize("formula", [FORMULA, "mathach ~ I(ses**2) + Sex + (1 | school)"])
def test_unseen_level_in_a_later_chunk_is_refused(hs, formula):
    first, later = females_first(hs)
    spec = row_spec(formula, first)
    assert spec.levels["Sex"] == ("Female",)
    with pytest.raises(ValueError, match=r"column 'Sex' has level\(s\) 'Male'.*levels=") as err:
        spec.matrices(later)
    assert "Categorical" in str(err.value)


def test_declared_levels_make_later_levels_welcome(hs):
    first, later = females_first(hs)
    spec = row_spec(FORMULA, first, levels={"Sex": ["Female", "Male"], "unused": [1, 2]})
    assert spec.levels["Sex"] == ("Female", "Male")
    design = build_design(FORMULA, pd.concat([first, later]))
    assert_chunks_equal_design(spec, [first, later], design)


def test_declared_levels_win_over_a_categorical_and_set_the_reference(hs):
    spec = row_spec(FORMULA, hs, levels={"Sector": ["Public", "Catholic"]})
    assert "Sector[T.Catholic]" in spec.fixed_terms
    X = spec.matrices(hs).X
    j = spec.fixed_terms.index("Sector[T.Catholic]")
    np.testing.assert_array_equal(X[:, j], (hs["Sector"] == "Catholic").to_numpy(float))


def test_declared_levels_are_refused_for_a_numeric_column(hs):
    with pytest.raises(ValueError, match="levels= names column 'ses', which is numeric"):
        row_spec(FORMULA, hs, levels={"ses": [1, 2]})


def test_unseen_level_through_C_is_refused(hs):
    """formulaic's own warning (the level would become an all-zero row) becomes an error."""
    d = hs.sort_values("female", kind="stable")
    n0 = int((d["female"] == 0).sum())
    spec = row_spec("mathach ~ C(female) + (1 | school)", d.iloc[:n0])
    with pytest.raises(ValueError, match="not seen in original dataset"):
        spec.matrices(d.iloc[n0:])


def test_categorical_chunk_with_other_category_order_is_recoded_by_value(hs):
    spec = row_spec(FORMULA, hs)
    flipped = hs.assign(Sector=hs["Sector"].cat.reorder_categories(["Public", "Catholic"]))
    as_text = hs.assign(Sector=hs["Sector"].astype(str))
    X = spec.matrices(hs).X
    np.testing.assert_array_equal(spec.matrices(flipped).X, X)
    np.testing.assert_array_equal(spec.matrices(as_text).X, X)


def test_missing_values_in_a_chunk_name_the_column(hs):
    spec = row_spec(FORMULA, hs.iloc[:100])
    later = hs.iloc[100:200].copy()
    later.loc[later.index[[3, 7]], "ses"] = np.nan
    with pytest.raises(ValueError, match=r"column 'ses' has 2 missing value\(s\) \(rows 103, 107\)"):
        spec.matrices(later)
    bad_y = hs.iloc[100:200].assign(mathach=np.inf)
    with pytest.raises(ValueError, match="response 'mathach' has 100 non-finite"):
        spec.matrices(bad_y)


def test_a_chunk_with_another_column_type_is_refused(hs):
    spec = row_spec(FORMULA, hs.iloc[:100])
    with pytest.raises(ValueError, match="factor column 'ses'.*in random term"):
        spec.matrices(hs.iloc[100:].assign(ses=hs["ses"].iloc[100:].astype(str)))
    with pytest.raises(ValueError, match="unknown column 'Sex'"):
        spec.matrices(hs.iloc[100:].drop(columns="Sex"))
    spec = row_spec("mathach ~ ses_mean * Sector + (1 | school)", hs.iloc[:100])
    with pytest.raises(ValueError, match="column 'ses_mean' enters the fixed part as a number"):
        spec.matrices(hs.iloc[100:].assign(ses_mean=hs["ses_mean"].iloc[100:].astype(str)))


def test_stateful_transform_is_fixed_by_the_first_chunk(hs):
    """center(ses) keeps the first chunk's mean: formulaic's ModelSpec is reused."""
    first, later = hs.iloc[:500], hs.iloc[500:]
    spec = row_spec("mathach ~ center(ses) + (1 | school)", first)
    X = spec.matrices(later).X
    np.testing.assert_allclose(X[:, 1], later["ses"] - first["ses"].mean())


def test_row_spec_runs_the_structural_checks(hs):
    with pytest.raises(ValueError, match="unknown column 'sesx'"):
        row_spec("mathach ~ sesx * Sector + (1 | school)", hs)
    with pytest.raises(ValueError, match="factor column 'Sector'"):
        row_spec("mathach ~ ses + (1 + Sector | school)", hs)
    with pytest.raises(TypeError, match="DataFrame"):
        row_spec("mathach ~ ses + (1 | school)", hs.to_dict())


# ------------------------------------------------------- whole-data parts
@pytest.mark.parametrize(
    "values",
    [
        np.array([5, 3, 3, 9, 5, -2]),
        np.array([7, 7, 1, 2], dtype=np.int8),
        np.array([2**40, 3, 2**40]),  # sparse labels: factorize
        np.array([4, 1, 4], dtype=np.uint16),
    ],
)
def test_group_codes_of_integers_match_factorize(values):
    codes, levels = _group_codes(pd.Series(values))
    ref_codes, ref_levels = pd.factorize(pd.Series(values), sort=True)
    np.testing.assert_array_equal(codes, ref_codes)
    np.testing.assert_array_equal(levels, ref_levels)
    assert levels.dtype == np.asarray(ref_levels).dtype


@pytest.mark.parametrize("noise, aliased", [(1e-10, True), (1e-3, False)])
def test_rank_check_near_aliasing(noise, aliased):
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(20_000), rng.normal(size=(20_000, 2))])
    X = np.column_stack([X, X[:, 1] + X[:, 2] + noise * rng.normal(size=20_000)])
    names = ["Intercept", "x1", "x2", "x3"]
    if aliased:
        with pytest.raises(ValueError, match="rank deficient"):
            checks.check_fixed_rank(X, names)
    else:
        checks.check_fixed_rank(X, names)
