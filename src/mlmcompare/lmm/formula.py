"""Parse lme4's formula syntax into a fixed part and random-effect bars.

This module owns the *text* stage of a fit: it splits
``"y ~ fixed + (terms | group)"`` into the response name, a fixed-effects
formula that formulaic can read, and a list of random-effect bars
(``RandomBar``: expression, grouping factor, ``|`` or ``||``).  It does not
look at data; turning the random expressions into model-matrix columns and
covariance blocks happens in :mod:`mlmcompare.lmm.design`.

Supported: any number of bars on any number of grouping factors (crossed
``(1 | a) + (1 | b)``), interactions of factor columns as grouping factors
(``(1 | a:b)``), nesting ``(x | a/b)``, which is ``(x | a) + (x | b:a)``
with lme4's names (``a/b/c`` gives ``a``, ``b:a`` and ``c:(b:a)``), ``||``
(expanded later into one block per column, as lme4 does for numeric
columns), ``0 +`` and ``- 1`` in either part.  Refused with a
``ValueError`` that says what is unsupported: other operators in a grouping
expression, bars inside other operators, formulas without a random term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RandomBar", "ParsedFormula", "parse_formula"]

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class RandomBar:
    """One ``(expr | group)`` or ``(expr || group)`` term of the formula.

    ``group`` is lme4's name of the grouping factor (``school``,
    ``class:school``); ``factors`` are the data columns whose combinations
    are its levels, in the order of the name (one column for a plain factor).
    """

    expr: str
    group: str
    uncorrelated: bool  # True for ``||``
    factors: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.factors:
            object.__setattr__(self, "factors", (self.group,))

    def __str__(self) -> str:
        bar = "||" if self.uncorrelated else "|"
        return f"({self.expr} {bar} {self.group})"


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into response, fixed part and random bars."""

    formula: str
    response: str
    fixed: str  # right-hand side for formulaic, e.g. "ses * Sector" or "0 + ses"
    bars: tuple[RandomBar, ...]

    @property
    def groups(self) -> tuple[str, ...]:
        """The grouping factors' names, in order of first appearance."""
        return tuple(dict.fromkeys(b.group for b in self.bars))

    @property
    def group(self) -> str:
        """The grouping factor of a one-factor formula (refused for several)."""
        groups = self.groups
        if len(groups) > 1:
            raise ValueError(
                f"formula {self.formula!r} has several grouping factors ({', '.join(groups)}); "
                "this step takes one"
            )
        return groups[0]

    @property
    def group_columns(self) -> tuple[str, ...]:
        """The data columns the grouping factors are made of, in order of first appearance."""
        return tuple(dict.fromkeys(f for b in self.bars for f in b.factors))


def _split_top(text: str, seps: str) -> list[tuple[str, str]]:
    """Split ``text`` at top-level (paren depth 0) separator characters.

    Returns ``(sep_before, piece)`` pairs; the first piece gets ``"+"``.
    """
    pieces: list[tuple[str, str]] = []
    depth = 0
    current: list[str] = []
    sign = "+"
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced parentheses in formula part {text!r}")
        if depth == 0 and ch in seps:
            pieces.append((sign, "".join(current).strip()))
            current = []
            sign = ch
            continue
        current.append(ch)
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in formula part {text!r}")
    pieces.append((sign, "".join(current).strip()))
    return pieces


def _is_wrapped(piece: str) -> bool:
    """True if ``piece`` is one parenthesised group ``( ... )``."""
    if not (piece.startswith("(") and piece.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(piece):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(piece) - 1:
                return False
    return True


def _grouping_name(name: str, piece: str) -> str:
    name = name.strip().strip("`")
    if not _NAME.match(name):
        raise ValueError(
            f"grouping factor {name!r} in {piece!r} must be a plain column name, an "
            "interaction of column names (a:b) or a nesting (a/b); other expressions "
            "as grouping factors are not supported"
        )
    return name


def _interaction(text: str, piece: str) -> tuple[str, ...]:
    """The columns of ``a:b:c`` (parentheses around it allowed)."""
    text = text.strip()
    while _is_wrapped(text):
        text = text[1:-1].strip()
    if not text:
        raise ValueError(f"random term {piece!r} has an empty grouping factor")
    return tuple(_grouping_name(c, piece) for c in text.split(":"))


def _grouping_factors(group: str, piece: str) -> list[tuple[str, tuple[str, ...]]]:
    """(lme4 name, columns) of each grouping factor of ``group``; ``a/b`` gives a and b:a."""
    parts = [p for _, p in _split_top(group, "/")]
    out: list[tuple[str, tuple[str, ...]]] = []
    name = ""
    columns: tuple[str, ...] = ()
    for part in parts:
        cols = _interaction(part, piece)
        own = ":".join(cols)
        if not columns:
            name, columns = own, cols
        else:
            # lme4's names: a/b/c -> a, b:a, c:(b:a)
            name = f"{own}:({name})" if len(columns) > 1 else f"{own}:{name}"
            columns = cols + columns
        out.append((name, columns))
    return out


def _parse_bar(piece: str, formula: str) -> list[RandomBar]:
    """The bars of one ``( ... | ... )`` piece: one, or one per level of a nesting a/b."""
    inner = piece[1:-1].strip()
    # the bar must sit at depth 0 inside the parentheses
    depth = 0
    pos = -1
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            pos = i
            break
    if pos < 0:
        raise ValueError(f"random term {piece!r} has no '|' at its top level")
    uncorrelated = inner[pos : pos + 2] == "||"
    expr = inner[:pos].strip()
    group = inner[pos + (2 if uncorrelated else 1) :].strip()
    if "|" in group:
        raise ValueError(f"random term {piece!r} has more than one bar")
    if not expr:
        raise ValueError(f"random term {piece!r} has an empty left-hand side")
    if any(op in group for op in "+*-"):
        raise ValueError(
            f"grouping expression {group!r} in {piece!r} is not supported: write one factor "
            "(school), an interaction (class:school) or a nesting (school/class), and "
            "crossed factors as separate terms, (1 | a) + (1 | b)"
        )
    return [RandomBar(expr=expr, group=name, uncorrelated=uncorrelated, factors=cols)
            for name, cols in _grouping_factors(group, piece)]


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4-style formula into response, fixed part and random bars.

    >>> p = parse_formula("mathach ~ ses * Sector + (1 + ses | school)")
    >>> p.response, p.fixed, [str(b) for b in p.bars]
    ('mathach', 'ses * Sector', ['(1 + ses | school)'])
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")
    if formula.count("~") != 1:
        raise ValueError(f"formula {formula!r} must contain exactly one '~'")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise ValueError(f"formula {formula!r} has no response on the left of '~'")
    lhs = lhs.strip("`")
    if not _NAME.match(lhs):
        raise ValueError(
            f"response {lhs!r} must be a plain column name; transform it in the data first"
        )
    if not rhs:
        raise ValueError(f"formula {formula!r} has an empty right-hand side")

    bars: list[RandomBar] = []
    fixed: list[tuple[str, str]] = []
    for sign, piece in _split_top(rhs, "+-"):
        if piece == "" and sign == "+" and not fixed and not bars:
            continue  # leading "-1 + ..." gives an empty first piece
        if _is_wrapped(piece) and "|" in piece:
            if sign == "-":
                raise ValueError(f"cannot subtract a random term: '- {piece}'")
            bars.extend(_parse_bar(piece, formula))
        elif "|" in piece:
            raise ValueError(
                f"random term {piece!r} must be written as one parenthesised group "
                "'(terms | group)' added with '+'; random terms inside other operators "
                "are not supported"
            )
        else:
            if piece == "":
                raise ValueError(f"formula {formula!r} has an empty term")
            fixed.append((sign, piece))

    if not bars:
        raise ValueError(
            f"formula {formula!r} has no random term such as (1 | group); "
            "use an OLS method for a model without random effects"
        )
    if fixed:
        parts = [("-" if fixed[0][0] == "-" else "") + fixed[0][1]]
        parts += [f"{s} {p}" for s, p in fixed[1:]]
        fixed_text = " ".join(parts)
    else:
        fixed_text = "1"  # lme4: "y ~ (1|g)" keeps the intercept
    return ParsedFormula(formula=formula, response=lhs, fixed=fixed_text, bars=tuple(bars))
