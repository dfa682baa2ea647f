"""From a parsed formula and data to model matrices: the row spec and the design.

This module owns the *data* stage (lme4's lFormula), in two steps:

:func:`row_spec` fixes, once, how a row becomes model-matrix rows: which
columns the model uses, the levels of every factor column of the fixed
part (declared ``levels=``; else a pandas Categorical's category order; else
the sorted distinct values of the first chunk, as formulaic sorts them; the
first level is the reference level), the names and
order of the fixed-effects columns (R's treatment contrasts) and of the
random-effects columns (one covariance block per ``|`` bar; ``||`` gives one
block per column, as lme4 expands it for numeric columns).  The result,
:class:`RowSpec`, turns any chunk of rows (a whole frame, a parquet row
group, a Dask partition) into :class:`ChunkMatrices` with
:meth:`RowSpec.matrices`, identically for every chunk.  A level that the
first chunk did not have is refused there, naming the column and the level.

:func:`build_design` is ``row_spec`` + ``matrices`` on the whole data plus
the checks that need all rows (grouping, rank of X, rows vs random
effects); its :class:`Design` keeps the rows so that fitted values and
residuals can be computed after the fit.

The fixed-effects matrix X is built by our own code for the common formulas
(``1``/``0``/``- 1``, column names, ``:`` and ``*``, ``+`` and parentheses)
when formulaic would code every factor by plain treatment contrasts, and
gives exactly formulaic's names, order and values there; anything else
(functions, ``I()``, ``C()``, ``**``, removing terms, full-rank coding)
goes to formulaic, whose ModelSpec from the first chunk is then reused for
every chunk.  Input checks live in :mod:`mlmcompare.lmm.checks`.
"""

from __future__ import annotations

import keyword
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

import numpy as np
import pandas as pd

from . import checks
from .formula import ParsedFormula, _split_top, parse_formula

__all__ = ["Design", "build_design", "RowSpec", "ChunkMatrices", "FactorSpec", "row_spec",
           "formula_columns", "factor_codes"]

#: the names of a fixed-effects term's factors (data columns), as written
Term = tuple[str, ...]

# what formulaic may call in a fallback formula (np.log(x)); one mapping, so
# that the first chunk and every later chunk are evaluated alike
_FORMULA_CONTEXT: dict[str, object] = {"np": np, "numpy": np, "pd": pd, "pandas": pd}


# ------------------------------------------------------------------ results
@dataclass
class ChunkMatrices:
    """The model matrices of one chunk of rows.

    One grouping factor: ``groups`` holds each row's label.  Several:
    ``factors`` holds, per factor of the spec, each row's level code and
    the chunk's levels (``groups`` is None).
    """

    y: np.ndarray  # (n,) float
    X: np.ndarray  # (n, p) float
    Z: np.ndarray  # (n, q) float
    groups: np.ndarray | None  # (n,) group labels as they are in the data (not codes)
    factors: tuple[tuple[np.ndarray, np.ndarray], ...] = ()  # (codes, levels) per factor


@dataclass(frozen=True)
class FactorSpec:
    """One grouping factor of the random part: its bars' columns and covariance blocks."""

    name: str  # lme4's name, e.g. "school" or "class:school"
    columns: tuple[str, ...]  # data columns whose combinations are its levels
    z_index: tuple[int, ...]  # its columns of Z (all bars on it, in formula order)
    random_terms: tuple[str, ...]
    block_sizes: tuple[int, ...]
    block_bars: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class RowSpec:
    """How a chunk of rows becomes y, X, Z and group labels; fixed by :func:`row_spec`."""

    parsed: ParsedFormula
    fixed_terms: tuple[str, ...]  # names of the X columns
    random_terms: tuple[str, ...]  # names of the Z columns
    block_sizes: tuple[int, ...]  # Z columns form contiguous blocks of these sizes
    block_bars: tuple[str, ...]  # the bar each block comes from (for messages)
    columns: tuple[str, ...]  # the data columns the model uses (response, group, predictors)
    levels: Mapping[str, tuple]  # fixed levels of each factor column of the fixed part
    fast: bool  # X by our own builder (else formulaic's ModelSpec of the first chunk)
    fixed_plan: _FastFixed | _FormulaicPart = field(repr=False)
    bar_plans: tuple[_SimpleBar | _FormulaicPart, ...] = field(repr=False)
    factors: tuple[FactorSpec, ...] = ()  # the grouping factors, in formula order
    #: every covariance block in formula order, as (factor, block within the factor)
    block_factors: tuple[tuple[int, int], ...] = ()

    @property
    def response(self) -> str:
        return self.parsed.response

    @property
    def group(self) -> str:
        return self.parsed.group

    @property
    def several(self) -> bool:
        """True when the random part has more than one grouping factor."""
        return len(self.factors) > 1

    @property
    def predictor_columns(self) -> tuple[str, ...]:
        """The used columns other than the response and the grouping columns."""
        skip = {self.response, *self.parsed.group_columns}
        return tuple(c for c in self.columns if c not in skip)

    def matrices(self, chunk: pd.DataFrame) -> ChunkMatrices:
        """y, X, Z and group labels of ``chunk``, after the per-chunk checks.

        Refuses (ValueError) missing values in the used columns, a
        non-finite response, factor columns in random terms and factor
        levels outside :attr:`levels`.
        """
        if not isinstance(chunk, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(chunk).__name__}")
        checks.check_columns_exist(chunk, self.columns, "the data")
        cols = {c: chunk[c] for c in self.columns}  # each column looked up once (pandas is slow at it)
        checks.check_missing(cols, self.columns)
        y = checks.check_response(cols[self.response], self.response)
        for plan, bar in zip(self.bar_plans, self.parsed.bars):
            checks.check_numeric_random(cols, plan.variables, str(bar))
        checks.check_finite_columns(cols, self.predictor_columns)
        X = self.fixed_plan.matrix(chunk, cols)
        Z = _random_matrix(self.bar_plans, chunk, cols)
        if not self.fast:
            checks.check_finite_matrix(X, self.fixed_terms, chunk.index, "fixed-effects matrix")
        if any(isinstance(p, _FormulaicPart) for p in self.bar_plans):
            checks.check_finite_matrix(Z, self.random_terms, chunk.index, "random-effects matrix")
        if self.several:
            return ChunkMatrices(y=y, X=X, Z=Z, groups=None,
                                 factors=tuple(factor_codes(cols, f.columns) for f in self.factors))
        (only,) = self.factors
        if len(only.columns) == 1:
            return ChunkMatrices(y=y, X=X, Z=Z, groups=cols[only.columns[0]].to_numpy())
        codes, levels = factor_codes(cols, only.columns)
        return ChunkMatrices(y=y, X=X, Z=Z, groups=levels[codes])


@dataclass
class Design:
    """The checked matrices of the whole data.

    One grouping factor: ``codes`` and ``levels`` are its rows' codes and its
    labels.  Several: ``factor_codes`` / ``factor_levels`` hold them per
    factor of ``spec.factors`` (``codes`` and ``levels`` are those of the first).
    """

    parsed: ParsedFormula
    y: np.ndarray  # (n,)
    X: np.ndarray  # (n, p)
    Z: np.ndarray  # (n, q)
    codes: np.ndarray  # (n,) group code of each row
    levels: np.ndarray  # (J,) group labels, in factor order
    fixed_terms: list[str]
    random_terms: list[str]
    block_sizes: tuple[int, ...]  # Z columns form contiguous blocks of these sizes
    block_bars: tuple[str, ...]  # the bar each block comes from (for messages)
    index: pd.Index  # row labels of the data
    spec: RowSpec  # how the rows became X, Z, y (to rebuild them for new rows)
    factor_codes: tuple[np.ndarray, ...] = ()
    factor_levels: tuple[np.ndarray, ...] = ()
    frame: pd.DataFrame | None = field(default=None, repr=False)  # the data as given (for augment)

    @property
    def nobs(self) -> int:
        return int(self.y.shape[0])

    @property
    def group_name(self) -> str:
        return self.parsed.group


# ------------------------------------------------- the fast subset: the text
class _Outside(Exception):
    """The fixed part is outside the subset our builder reads (formulaic builds it)."""


_TOKEN = re.compile(r"\*\*|[-+*:()]|[^\W\d]\w*|\d[\w.]*|\S")


def _join(a: Term, b: Term) -> Term:
    """The interaction a:b; a factor named twice counts once (x:x is x)."""
    return tuple(dict.fromkeys(a + b))


def _union(*parts: list[Term]) -> list[Term]:
    """Terms of all parts in order, a term (a set of factors) kept where it first appears."""
    seen: set[frozenset[str]] = set()
    out: list[Term] = []
    for part in parts:
        for t in part:
            if frozenset(t) not in seen:
                seen.add(frozenset(t))
                out.append(t)
    return out


class _TermReader:
    """Recursive descent over ``+ * : ( )`` and column names, formulaic's precedence.

    ``:`` binds tighter than ``*``, which binds tighter than ``+``;
    ``A*B`` is ``A + B + A:B``; ``(a+b):(c+d)`` is ``a:c + a:d + b:c + b:d``.
    """

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0

    def peek(self, ahead: int = 0) -> str | None:
        i = self.pos + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _Outside
        self.pos += 1
        return tok

    def top(self) -> tuple[bool, list[Term]]:
        """The intercept flag and the terms of the whole right-hand side."""
        intercept = True
        terms: list[Term] = []
        sign = "+"
        if self.peek() in ("+", "-"):
            sign = self.take()
        while True:
            tok, after = self.peek(), self.peek(1)
            if tok in ("0", "1") and after in (None, "+", "-"):
                self.take()
                if (sign, tok) == ("-", "0"):
                    raise _Outside  # "- 0" adds the intercept in R; rare, leave it to formulaic
                intercept = (sign, tok) == ("+", "1")  # later wins, as in formulaic
            elif sign == "-":
                raise _Outside  # removing terms other than the intercept
            else:
                terms = _union(terms, self.product())
            if self.peek() is None:
                return intercept, terms
            sign = self.take()
            if sign not in ("+", "-"):
                raise _Outside

    def sum(self) -> list[Term]:
        terms = self.product()
        while self.peek() == "+":
            self.take()
            terms = _union(terms, self.product())
        return terms

    def product(self) -> list[Term]:
        terms = self.interaction()
        while self.peek() == "*":
            self.take()
            right = self.interaction()
            terms = _union(terms, right, [_join(a, b) for a in terms for b in right])
        return terms

    def interaction(self) -> list[Term]:
        terms = self.atom()
        while self.peek() == ":":
            self.take()
            right = self.atom()
            terms = _union([_join(a, b) for a in terms for b in right])
        return terms

    def atom(self) -> list[Term]:
        tok = self.take()
        if tok == "(":
            terms = self.sum()
            if self.take() != ")":
                raise _Outside
            return terms
        if tok.isidentifier() and not keyword.iskeyword(tok) and self.peek() != "(":
            return [(tok,)]
        raise _Outside  # literals inside terms, function calls, other operators


def _fast_terms(expr: str) -> tuple[bool, tuple[Term, ...]] | None:
    """Intercept flag and terms (formulaic's order: by degree, stable), or None outside the subset."""
    try:
        intercept, terms = _TermReader(_TOKEN.findall(expr)).top()
    except _Outside:
        return None
    return intercept, tuple(sorted(terms, key=len))


# ------------------------------------------------- the fast subset: the data
def _column_kind(dtype) -> str | None:
    """'categorical' or 'numeric' as formulaic sees a column; None for anything else.

    Every string dtype is a factor here, also pandas' ``string`` dtype
    (Dask's and pyarrow's strings), which formulaic mistakes for numbers.
    """
    if (isinstance(dtype, pd.CategoricalDtype) or dtype in ("object", "str")
            or pd.api.types.is_string_dtype(dtype)):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
    ):
        return "numeric"
    return None


def _products_exact(terms: Sequence[Term], kinds: Mapping[str, str],
                    dtypes: Mapping[str, object]) -> bool:
    """True when our float64 products of numeric factors equal formulaic's.

    formulaic multiplies numeric columns in their own dtype (float32
    rounding, int8 wrap-around) before converting; we multiply in float64.
    A single numeric factor, or factors that are all 64-bit or boolean,
    give the same numbers (int64 products up to 2**53).
    """
    for t in terms:
        numeric = [f for f in t if kinds[f] == "numeric"]
        if len(numeric) > 1 and not all(_wide(dtypes[f]) for f in numeric):
            return False
    return True


def _wide(dtype) -> bool:
    return pd.api.types.is_bool_dtype(dtype) or getattr(dtype, "itemsize", 0) == 8


def _treatment_only(intercept: bool, terms: Sequence[Term], kinds: Mapping[str, str]) -> bool:
    """True when formulaic codes every factor of every term by treatment contrasts.

    That is so when, for each term, every term made of its numeric factors
    and a proper subset of its factors (the intercept for the empty set) is
    in the model: each such part is then already spanned, so formulaic
    drops the reference level of every factor.  Otherwise some factor gets
    full (indicator) coding, which formulaic builds.
    """
    present = {frozenset(t) for t in terms} | ({frozenset()} if intercept else set())
    for t in terms:
        numeric = frozenset(f for f in t if kinds[f] == "numeric")
        factors = [f for f in t if kinds[f] == "categorical"]
        for r in range(len(factors)):
            if any(numeric | set(sub) not in present for sub in combinations(factors, r)):
                return False
    return True


@dataclass(frozen=True)
class _FastColumn:
    """One X column: the product of numeric columns (left to right) and level indicators."""

    name: str
    numeric: tuple[str, ...]
    indicators: tuple[tuple[str, int], ...]  # (factor column, level position)


@dataclass(frozen=True, eq=False)
class _FastFixed:
    """Our own builder of X for a formula in the subset."""

    columns: tuple[_FastColumn, ...]
    numeric: tuple[str, ...]  # numeric columns used
    levels: Mapping[str, tuple]  # factor column -> its fixed levels

    def matrix(self, chunk: pd.DataFrame, cols: Mapping[str, pd.Series]) -> np.ndarray:
        n = len(chunk)
        values = {c: _numeric_values(cols[c], c) for c in self.numeric}
        codes = {c: _level_codes(cols[c], c, lv) for c, lv in self.levels.items()}
        X = np.empty((len(self.columns), n)).T  # column-major, as formulaic's frame gives it
        for j, col in enumerate(self.columns):
            out = X[:, j]
            if col.numeric:
                out[:] = values[col.numeric[0]]
                for c in col.numeric[1:]:
                    np.multiply(out, values[c], out=out)
            else:
                out[:] = 1.0
            for c, k in col.indicators:
                np.multiply(out, codes[c] == k, out=out)
        return X


def _term_columns(term: Term, kinds: Mapping[str, str],
                  levels: Mapping[str, tuple]) -> list[_FastColumn]:
    """The X columns of one treatment-coded term, first factor varying fastest (formulaic's order)."""
    cols: list[tuple[list[str], list[str], list[tuple[str, int]]]] = [([], [], [])]
    for f in term:
        if kinds[f] == "numeric":
            options = [(f, None)]
        else:
            options = [(f"{f}[T.{lev}]", (f, k)) for k, lev in enumerate(levels[f]) if k > 0]
        cols = [
            (names + [name], nums + ([f] if ind is None else []), inds + ([] if ind is None else [ind]))
            for name, ind in options
            for names, nums, inds in cols
        ]
    return [_FastColumn(":".join(names), tuple(nums), tuple(inds)) for names, nums, inds in cols]


def _fast_fixed(intercept: bool, terms: Sequence[Term], kinds: Mapping[str, str],
                levels: Mapping[str, tuple]) -> _FastFixed:
    columns = [_FastColumn("Intercept", (), ())] if intercept else []
    for t in terms:
        columns.extend(_term_columns(t, kinds, levels))
    numeric = tuple(c for c, k in kinds.items() if k == "numeric")
    return _FastFixed(columns=tuple(columns), numeric=numeric, levels=dict(levels))


def _numeric_values(col: pd.Series, name: str) -> np.ndarray:
    if _column_kind(col.dtype) != "numeric":
        checks.check_numeric_column(col, name)
    return col.to_numpy(dtype=float)


def _level_codes(col: pd.Series, name: str, levels: tuple) -> np.ndarray:
    """Position of each row's value among the fixed levels; refuses levels outside them."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = col.array.codes
        categories = tuple(dtype.categories)
        if categories != levels:  # other categories: recode by value
            codes = _level_index(levels).get_indexer(categories)[codes]
    else:
        codes = _level_index(levels).get_indexer(col)
    checks.check_known_levels(col, codes, name, levels)
    return codes


def _level_index(levels: tuple) -> pd.Index:
    return pd.Index(list(levels), dtype=object)


# ---------------------------------------------------------------- fallbacks
def _variables(expr: str) -> list[str]:
    import formulaic  # only for what our own builder does not read (~0.1 s to import)

    try:
        return sorted(str(v) for v in formulaic.Formula(expr).required_variables)
    except Exception as exc:  # formulaic's parser errors, re-worded
        raise ValueError(f"cannot parse formula part {expr!r}: {exc}") from exc


@dataclass(frozen=True, eq=False)
class _FormulaicPart:
    """A formula part built by formulaic with the ModelSpec of the first chunk.

    Factor columns are handed to formulaic as Categoricals of the fixed
    levels, so that declared levels hold and every chunk is coded alike.
    """

    expr: str
    where: str
    variables: tuple[str, ...]
    model_spec: object  # formulaic ModelSpec
    levels: Mapping[str, tuple]

    def matrix(self, chunk: pd.DataFrame, cols: Mapping[str, pd.Series] | None = None) -> np.ndarray:
        from formulaic.errors import DataMismatchWarning

        frame = _with_fixed_levels(chunk, self.levels)
        try:
            with warnings.catch_warnings():
                # a level the first chunk lacked (say through C(x)) would become
                # an all-zero row there: refuse instead
                warnings.simplefilter("error", DataMismatchWarning)
                mm = self.model_spec.get_model_matrix(frame, context=_FORMULA_CONTEXT)
        except Exception as exc:
            raise ValueError(f"cannot build the {self.where} from {self.expr!r}: {exc}") from exc
        return np.asarray(mm, dtype=float)


def _with_fixed_levels(chunk: pd.DataFrame, levels: Mapping[str, tuple]) -> pd.DataFrame:
    """``chunk`` with its factor columns as Categoricals of the fixed levels (checked)."""
    recoded = {}
    for c, lv in levels.items():
        col = chunk[c]
        codes = _level_codes(col, c, lv)
        if not (isinstance(col.dtype, pd.CategoricalDtype) and tuple(col.dtype.categories) == lv):
            recoded[c] = pd.Categorical.from_codes(codes, categories=_level_index(lv))
    return chunk.assign(**recoded) if recoded else chunk


def _formulaic_part(expr: str, first: pd.DataFrame, where: str, variables: Sequence[str],
                    levels: Mapping[str, tuple]) -> tuple[_FormulaicPart, list[str]]:
    """The formulaic builder fixed on the first chunk, and its column names."""
    import formulaic  # only for what our own builder does not read

    frame = _with_fixed_levels(first, levels)
    try:
        mm = formulaic.model_matrix(expr, frame, na_action="raise", context=_FORMULA_CONTEXT)
    except Exception as exc:
        raise ValueError(f"cannot build the {where} from {expr!r}: {exc}") from exc
    part = _FormulaicPart(expr=expr, where=where, variables=tuple(variables),
                          model_spec=mm.model_spec, levels=dict(levels))
    return part, [str(c) for c in mm.columns]


# ------------------------------------------------------------ random terms
@dataclass(frozen=True)
class _SimpleBar:
    """A random term made of 1, 0, -1 and plain numeric column names."""

    intercept: bool
    variables: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return (["Intercept"] if self.intercept else []) + list(self.variables)

    def matrix(self, chunk: pd.DataFrame, cols: Mapping[str, pd.Series]) -> np.ndarray:
        Z = np.empty((len(chunk), len(self.names)))
        if self.intercept:
            Z[:, 0] = 1.0
        for j, c in enumerate(self.variables, start=int(self.intercept)):
            Z[:, j] = cols[c].to_numpy(dtype=float)
        return Z


def _simple_bar(expr: str) -> _SimpleBar | None:
    """The bar's columns when it is 1/0/-1 and column names (formulaic's names and order)."""
    intercept = True
    names: list[str] = []
    for sign, tok in _split_top(expr, "+-"):
        if tok == "" and sign == "+" and not names:
            continue
        if tok in ("0", "1"):
            if (sign, tok) == ("-", "0"):
                return None
            intercept = (sign, tok) == ("+", "1")  # later wins, as in formulaic
        elif sign == "+" and tok.isidentifier() and not keyword.iskeyword(tok):
            if tok not in names:
                names.append(tok)
        else:
            return None
    return _SimpleBar(intercept=intercept, variables=tuple(names))


def _simple_columns(expr: str, data: pd.DataFrame) -> tuple[list[str], np.ndarray] | None:
    """Names and Z columns of a simple random term on ``data``; None when formulaic is needed."""
    bar = _simple_bar(expr)
    if bar is None or any(c not in data.columns or _column_kind(data[c].dtype) != "numeric"
                          for c in bar.variables):
        return None
    return bar.names, bar.matrix(data, data)


def _random_matrix(plans: Sequence[_SimpleBar | _FormulaicPart], chunk: pd.DataFrame,
                   cols: Mapping[str, pd.Series]) -> np.ndarray:
    blocks = [plan.matrix(chunk, cols) for plan in plans]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)


# ------------------------------------------------------------------- levels
def _fixed_levels(col: pd.Series, name: str, declared: Sequence | None) -> tuple:
    """Levels of a factor column: declared, else a Categorical's categories, else sorted values."""
    if declared is not None:
        levels = tuple(declared)
        if len(set(levels)) != len(levels):
            raise ValueError(f"levels= for column {name!r} names a level more than once: {list(levels)}")
        return levels
    if isinstance(col.dtype, pd.CategoricalDtype):
        return tuple(col.cat.categories)
    # what formulaic does with a string column: the sorted distinct values
    return tuple(col.astype("category").cat.categories)


def _factor_levels(first: pd.DataFrame, kinds: Mapping[str, str | None],
                   declared: Mapping[str, Sequence] | None) -> dict[str, tuple]:
    declared = dict(declared or {})
    for c in declared:
        if kinds.get(c) == "numeric":
            raise ValueError(
                f"levels= names column {c!r}, which is numeric and enters the fixed part as a "
                "number; levels apply to factor (Categorical, string or object) columns"
            )
    return {c: _fixed_levels(first[c], c, declared.get(c))
            for c, k in kinds.items() if k == "categorical"}


# ----------------------------------------------------------------- the spec
@lru_cache(maxsize=256)
def _read_formula(formula: str | ParsedFormula):
    """The text stage, which depends on the formula only (cached: fits repeat formulas).

    Returns the parsed formula, the fast-subset terms (or None), the simple
    bars (None where formulaic is needed) and the variables of the fixed
    part and of each bar.
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    fast = _fast_terms(parsed.fixed)
    if fast is not None:
        fixed_vars = tuple(sorted({f for t in fast[1] for f in t}))
    else:
        fixed_vars = tuple(_variables(parsed.fixed))
    simple_bars = tuple(_simple_bar(b.expr) for b in parsed.bars)
    random_vars = tuple(sb.variables if sb else tuple(_variables(b.expr))
                        for sb, b in zip(simple_bars, parsed.bars))
    return parsed, fast, simple_bars, fixed_vars, random_vars


def formula_columns(formula: str | ParsedFormula) -> tuple[str, ...]:
    """The data columns a formula reads: response, group, fixed and random variables.

    Known before any row is read, so that a file can be read for these columns only.
    """
    parsed, _, _, fixed_vars, random_vars = _read_formula(formula)
    return tuple(dict.fromkeys([parsed.response, *parsed.group_columns, *fixed_vars,
                                *(v for vs in random_vars for v in vs)]))


def row_spec(formula: str | ParsedFormula, first: pd.DataFrame, *,
             levels: Mapping[str, Sequence] | None = None) -> RowSpec:
    """Fix, from a first chunk of rows, how every chunk becomes model matrices.

    Runs the structural checks on ``first`` (the columns exist, random
    terms are numeric, the model has fixed effects, no random column twice)
    and fixes the levels of each factor column of the fixed part: a pandas
    Categorical's categories, else ``levels[col]`` when declared (declared
    levels win over a Categorical's), else the sorted distinct values of
    ``first``.  In the last case a later chunk holding a level that
    ``first`` lacks is refused by :meth:`RowSpec.matrices`; declare
    ``levels=`` or use a Categorical dtype with every category to avoid that.
    Values (missing, non-finite) are checked chunk by chunk by ``matrices``.
    """
    if not isinstance(first, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(first).__name__}")
    if not isinstance(formula, (str, ParsedFormula)):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")
    parsed, fast_terms, simple_bars, fixed_vars, random_vars = _read_formula(formula)

    # -- which columns does the model use?  unknown names are refused first
    checks.check_columns_exist(first, [parsed.response], "the response")
    checks.check_columns_exist(first, fixed_vars, f"the fixed part {parsed.fixed!r}")
    for bar, vs in zip(parsed.bars, random_vars):
        checks.check_columns_exist(first, vs, f"random term {bar}")
    checks.check_columns_exist(first, parsed.group_columns, "the grouping factor(s)")
    used = formula_columns(parsed)
    for bar, vs in zip(parsed.bars, random_vars):
        checks.check_numeric_random(first, vs, str(bar))

    # -- the fixed part: our builder when formulaic would give treatment coding
    dtypes = {c: first[c].dtype for c in fixed_vars}
    kinds = {c: _column_kind(dt) for c, dt in dtypes.items()}
    factor_levels = _factor_levels(first, kinds, levels)
    use_fast = (fast_terms is not None and None not in kinds.values()
                and _treatment_only(*fast_terms, kinds)
                and _products_exact(fast_terms[1], kinds, dtypes))
    if not use_fast or None in simple_bars:
        checks.check_missing(first, used)  # formulaic needs complete rows
    if use_fast:
        fixed_plan = _fast_fixed(*fast_terms, kinds, factor_levels)
        fixed_terms = [c.name for c in fixed_plan.columns]
    else:
        fixed_plan, fixed_terms = _formulaic_part(parsed.fixed, first, "fixed-effects matrix",
                                                  fixed_vars, factor_levels)
    if not fixed_terms:
        raise ValueError(
            f"formula {parsed.formula!r} has no fixed effects; a model without fixed "
            "effects (y ~ 0 + (...)) is not supported"
        )

    bar_plans, random_terms, sizes, bars, factors, block_factors = _random_part(
        parsed, simple_bars, random_vars, first)
    return RowSpec(
        parsed=parsed,
        fixed_terms=tuple(fixed_terms),
        random_terms=tuple(random_terms),
        block_sizes=tuple(sizes),
        block_bars=tuple(bars),
        columns=used,
        levels=factor_levels,
        fast=use_fast,
        fixed_plan=fixed_plan,
        bar_plans=tuple(bar_plans),
        factors=factors,
        block_factors=block_factors,
    )


def _random_part(parsed: ParsedFormula, simple_bars: Sequence[_SimpleBar | None],
                 random_vars: Sequence[Sequence[str]], first: pd.DataFrame):
    """Builders, column names, block sizes and block labels of the random part, and its factors.

    One covariance block per bar, or one per column for ``||``; the bars of
    one grouping factor make that factor's block-diagonal covariance.
    """
    plans: list[_SimpleBar | _FormulaicPart] = []
    random_terms: list[str] = []
    sizes: list[int] = []
    bars: list[str] = []
    per_factor: dict[str, dict] = {}
    block_factors: list[tuple[int, int]] = []
    for bar, simple, vs in zip(parsed.bars, simple_bars, random_vars):
        if simple is not None:
            plan, names = simple, simple.names
        else:
            plan, names = _formulaic_part(bar.expr, first, f"random-effects columns of {bar}", vs, {})
        if not names:
            raise ValueError(f"random term {bar} has no columns")
        fac = per_factor.setdefault(bar.group, {"columns": bar.factors, "z": [], "terms": [],
                                                "sizes": [], "bars": []})
        for name in names:
            if name in fac["terms"]:
                raise ValueError(
                    f"random-effect column {name!r} appears in more than one random term "
                    f"of {bar.group!r} (again in {bar}); each column may appear once per "
                    "grouping factor"
                )
        fac["z"].extend(range(len(random_terms), len(random_terms) + len(names)))
        fac["terms"].extend(names)
        random_terms.extend(names)
        plans.append(plan)
        if bar.uncorrelated:
            block_sizes, block_bars = [1] * len(names), [str(bar)] * len(names)
        else:
            block_sizes, block_bars = [len(names)], [str(bar)]
        sizes.extend(block_sizes)
        bars.extend(block_bars)
        f_index = list(per_factor).index(bar.group)
        block_factors.extend((f_index, len(fac["sizes"]) + i) for i in range(len(block_sizes)))
        fac["sizes"].extend(block_sizes)
        fac["bars"].extend(block_bars)
    factors = tuple(FactorSpec(name=g, columns=tuple(f["columns"]), z_index=tuple(f["z"]),
                               random_terms=tuple(f["terms"]), block_sizes=tuple(f["sizes"]),
                               block_bars=tuple(f["bars"]))
                    for g, f in per_factor.items())
    return plans, random_terms, sizes, bars, factors, tuple(block_factors)


# ------------------------------------------------------------- whole data
def _group_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and observed levels; a Categorical keeps its category order."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.cat.remove_unused_categories()
        return col.cat.codes.to_numpy().astype(np.intp), np.asarray(col.cat.categories)
    values = col.to_numpy()
    if values.dtype.kind in "iu" and values.size:
        lo, hi = int(values.min()), int(values.max())
        # dense integer labels: a lookup table is cheaper than factorize's sort
        if hi - lo <= 4 * values.size and -(2**62) < lo and hi < 2**62:
            offset = values.astype(np.int64) - lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[offset] = True
            position = np.cumsum(present, dtype=np.intp) - 1
            return position[offset], (np.flatnonzero(present) + lo).astype(values.dtype)
    codes, levels = pd.factorize(col, sort=True)
    return codes.astype(np.intp), np.asarray(levels)


def factor_codes(cols: Mapping[str, pd.Series] | pd.DataFrame,
                 columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's level code and the observed levels of a grouping factor.

    One column: its values (a Categorical keeps its category order).  An
    interaction of columns: the observed combinations, ordered by the
    columns' own level orders, labelled as R labels them (``"a:A"``).
    """
    if len(columns) == 1:
        return _group_codes(cols[columns[0]])
    parts = [_group_codes(cols[c]) for c in columns]
    key = np.zeros(len(parts[0][0]), dtype=np.int64)
    for codes, levels in parts:
        key = key * len(levels) + codes
    codes, uniq = pd.factorize(key, sort=True)
    labels = []
    rest = uniq.copy()
    for _, levels in reversed(parts):
        labels.append(np.asarray(levels).astype(str)[rest % len(levels)])
        rest //= len(levels)
    joined = labels[-1].astype(object)
    for lab in reversed(labels[:-1]):
        joined = joined + ":" + lab.astype(object)
    return codes.astype(np.intp), np.asarray(joined, dtype=object)


def build_design(formula: str | ParsedFormula, data: pd.DataFrame, *,
                 levels: Mapping[str, Sequence] | None = None) -> Design:
    """Validate the inputs and build y, X, Z and group codes (see module docstring).

    ``levels`` declares the levels of factor columns, as for :func:`row_spec`.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    spec = row_spec(formula, data, levels=levels)
    m = spec.matrices(data)
    n = m.y.shape[0]
    if spec.several:
        fcodes = tuple(c for c, _ in m.factors)
        flevels = tuple(lv for _, lv in m.factors)
    else:
        codes1, levels1 = factor_codes(data, spec.factors[0].columns)
        fcodes, flevels = (codes1,), (levels1,)
    checks.check_response_varies(m.y, spec.response)
    for f, codes, lv in zip(spec.factors, fcodes, flevels):
        checks.check_grouping(codes, f.name, n)
    checks.check_fixed_rank(m.X, spec.fixed_terms)
    for f, lv in zip(spec.factors, flevels):
        checks.check_nobs_vs_nre(n, len(lv), len(f.z_index), f.name)
    codes, levels = fcodes[0], flevels[0]
    return Design(
        parsed=spec.parsed,
        y=m.y,
        X=m.X,
        Z=m.Z,
        codes=codes,
        levels=levels,
        fixed_terms=list(spec.fixed_terms),
        random_terms=list(spec.random_terms),
        block_sizes=spec.block_sizes,
        block_bars=spec.block_bars,
        index=data.index,
        spec=spec,
        factor_codes=fcodes,
        factor_levels=flevels,
        frame=data,
    )
