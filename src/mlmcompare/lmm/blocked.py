"""Several grouping factors: blocked statistics, the structure of L(theta) and the objective.

This module owns the fit of a model whose random effects belong to more
than one grouping factor (crossed ``(1 | a) + (1 | b)``, nested
``(1 | a/b)``, partially crossed), as MixedModels.jl organises it:

* :class:`BlockedStats`: the blocks of A = [Z X y]'[Z X y] from one pass
  over the rows: per factor and level Z_j'Z_j, Z_j'X, Z_j'y (as the
  one-factor :class:`~mlmcompare.lmm.stats.SufficientStats`), and for each
  pair of factors Z_s'Z_t at every pair of levels that share a row (a sparse
  block).  Sums over disjoint row sets add them up (``+``), levels and pairs
  of levels matched by label, so chunks, files and Dask partitions work as
  for one factor; a crossed fit holds one q_s x q_t block per pair of levels
  that meet in the data (up to one per row when every cell is unique).
* :class:`BlockedProblem`: the factors in lme4's order (most levels first),
  scaled, and the structure of the Cholesky factor of
  Omega(theta) = Lambda'Z'Z Lambda + I.  The first factor's block of Omega is
  block-diagonal (each row has one level); its levels are eliminated first,
  each a q1 x q1 factor L_jj plus blocks L_{v,j} to the other factors'
  levels v ("the rest") that share rows with j.  What is left, the rest's
  block minus the Schur complement sum_j L_{R_j,j} L_{R_j,j}', is factored
  dense (LAPACK) when it fills in, else sparse, in a minimum-degree order of
  the rest's levels computed once (teachers within schools crossed with
  students: cliques per school instead of a dense 1.4k x 1.4k block).
  Nested factors give no fill at all.
* :func:`factorize` and :class:`BlockedEvaluation`: for one theta, log|L|^2,
  the fixed effects, r^2 and the profiled deviance, from the statistics only.
* :func:`gradient_pieces`: the analytic gradient.  With F = Omega^{-1}Lambda'Z'Z,
  u = Omega^{-1}Lambda'Z'(y - X beta) (spherical random effects),
  w = Z'(y - X beta - Z Lambda u), B = Omega^{-1}Lambda'Z'X, P = Z'X - Z'Z Lambda B
  and A = X'V0^{-1}X, the derivative in theta_k (element (r, c) of lambda_t) is

      2 sum_j [ F_tj[c, r] - (m / r^2) w_tj[r] u_tj[c] - (P_tj A^{-1} B_tj')[r, c] ]

  over the levels j of factor t (m = n - p for REML, whose last term only it
  has; m = n and no last term for ML).  F's diagonal blocks need Omega^{-1}
  only where Z'Z is not zero, which Takahashi's equations give on the
  pattern of L (the "selected inverse"), dense or sparse.  For one factor
  this is the gradient of :mod:`.objective`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.linalg.lapack as lapack
import scipy.sparse as sp

from . import kernels
from . import kernels_blocked as kb
from .objective import ProfiledCriterion, ThetaLayout
from .stats import ShiftedFixed, default_shifts

__all__ = [
    "FactorStats",
    "CrossStats",
    "BlockedStats",
    "blocked_stats",
    "BlockedProblem",
    "BlockedEvaluation",
    "factorize",
    "gradient_pieces",
    "BlockedDevianceFunction",
]

#: the rest's block is factored dense (LAPACK) when its pattern after fill holds
#: more than this share of a dense lower triangle ...
DENSE_SHARE = 0.25
#: ... and it has more rows than this; smaller ones go through the compiled
#: sparse code (a multi-threaded BLAS spends more on waking its threads than on
#: a small matrix)
DENSE_BELOW = 200


# ----------------------------------------------------------------- statistics
@dataclass(frozen=True)
class FactorStats:
    """One grouping factor's per-level blocks (levels in their fixed order)."""

    name: str
    terms: tuple[str, ...]  # its random-effect columns
    block_sizes: tuple[int, ...]  # its covariance blocks (one per bar, one per column for ||)
    levels: np.ndarray  # (l,) labels
    n: np.ndarray  # (l,) rows per level
    ZtZ: np.ndarray  # (l, q, q)
    ZtX: np.ndarray  # (l, q, p)
    Zty: np.ndarray  # (l, q)
    yty_j: np.ndarray  # (l,) per-level sum of the squared (shifted) response
    columns: tuple[int, ...] = ()  # its columns' positions in the factor's formula order

    @property
    def q(self) -> int:
        return int(self.ZtZ.shape[1])

    def block_columns(self) -> list[list[int]]:
        """The columns of each block."""
        out, start = [], 0
        for size in self.block_sizes:
            out.append(list(range(start, start + size)))
            start += size
        return out

    @property
    def nlevels(self) -> int:
        return int(self.levels.shape[0])


@dataclass(frozen=True)
class CrossStats:
    """Z_s'Z_t at each pair of levels (i of factor s, j of factor t) that share rows."""

    s: int
    t: int
    i: np.ndarray  # (m,) level codes in factor s
    j: np.ndarray  # (m,) level codes in factor t
    block: np.ndarray  # (m, q_s, q_t)


@dataclass(frozen=True)
class BlockedStats(ShiftedFixed):
    """Blocks of [Z X y]'[Z X y] for several factors, in formula order (see module docstring)."""

    factors: tuple[FactorStats, ...]
    cross: tuple[CrossStats, ...]
    blocks: tuple[tuple[int, int], ...]  # every block in formula order: (factor, block in it)
    XtX: np.ndarray
    Xty: np.ndarray
    yty: float
    n_rows: float
    ysum: float  # sum of the shifted response
    x_shift: np.ndarray
    y_shift: float
    intercept_col: int | None
    ones_coef: np.ndarray | None

    @property
    def nobs(self) -> int:
        return int(round(self.n_rows))

    @property
    def p(self) -> int:
        return int(self.XtX.shape[0])

    def lme4_blocks(self) -> list[tuple[int, int]]:
        """The blocks in lme4's order of random-effect terms (mkReTrms).

        lme4 keeps the formula's order unless a term has more levels than the
        one before it; then it orders the terms by decreasing number of
        levels, ties in *reverse* formula order (``rev(order(nl))``).
        """
        nl = [self.factors[f].nlevels for f, _ in self.blocks]
        if not any(b > a for a, b in zip(nl, nl[1:])):
            return list(self.blocks)
        asc = sorted(range(len(nl)), key=lambda i: nl[i])  # stable
        return [self.blocks[i] for i in reversed(asc)]

    def fit_order(self) -> list[int]:
        """lme4's order of the factors (of their first terms in :meth:`lme4_blocks`)."""
        return list(dict.fromkeys(f for f, _ in self.lme4_blocks()))

    def in_lme4_order(self) -> BlockedStats:
        """The same statistics with each factor's blocks (columns) in lme4's order of terms.

        Factors stay where they are (cross blocks refer to them); theta's
        layout then follows lme4's except where two factors with the same
        number of levels interleave their terms.
        """
        order = self.lme4_blocks()
        factors = list(self.factors)
        blocks = []
        for f, fs in enumerate(self.factors):
            mine = [b for g, b in order if g == f]
            if mine == sorted(mine):
                blocks.append({b: b for b in mine})
                continue
            cols = fs.block_columns()
            perm = [c for b in mine for c in cols[b]]
            factors[f] = replace(fs, terms=tuple(fs.terms[c] for c in perm),
                                 block_sizes=tuple(fs.block_sizes[b] for b in mine),
                                 ZtZ=fs.ZtZ[:, perm][:, :, perm], ZtX=fs.ZtX[:, perm],
                                 Zty=fs.Zty[:, perm],
                                 columns=tuple((fs.columns or tuple(range(fs.q)))[c] for c in perm))
            blocks.append({b: k for k, b in enumerate(mine)})
        if all(all(k == b for b, k in m.items()) for m in blocks):
            return self
        cross = []
        for c in self.cross:
            ps = _column_perm(self.factors[c.s], factors[c.s])
            pt = _column_perm(self.factors[c.t], factors[c.t])
            cross.append(replace(c, block=c.block[:, ps][:, :, pt]))
        new_blocks = tuple((f, blocks[f][b]) for f, b in self.blocks)
        return replace(self, factors=tuple(factors), cross=tuple(cross), blocks=new_blocks)

    def fitted_factors(self) -> list[FactorStats]:
        """The factors in lme4's order."""
        return [self.factors[f] for f in self.fit_order()]

    def block_sizes(self) -> tuple[int, ...]:
        """Covariance blocks of all factors, in lme4's order (the theta layout)."""
        return tuple(b for f in self.fitted_factors() for b in f.block_sizes)

    def z_scale(self) -> np.ndarray:
        """Root mean square of each random-effect column (factors in lme4's order); 1 for a 0 column."""
        ms = np.concatenate([np.einsum("jii->i", f.ZtZ) for f in self.fitted_factors()]) / max(
            self.n_rows, 1.0)
        return np.where(ms > 0, np.sqrt(ms), 1.0)

    def ss_about_mean(self) -> float:
        """Sum of squares of the response about its mean (from the shifted sums)."""
        return float(self.yty - self.ysum ** 2 / max(self.n_rows, 1.0))

    def fingerprint(self) -> tuple[int, float, float]:
        """(n, sum y, sum y^2) of the response as given, to tell data sets apart."""
        s = self.y_shift
        return self.nobs, self.ysum + self.n_rows * s, self.yty + 2 * s * self.ysum + self.n_rows * s * s

    def __add__(self, other: BlockedStats) -> BlockedStats:
        """The statistics of two disjoint row sets (chunks), levels matched by label."""
        if not isinstance(other, BlockedStats):
            return NotImplemented
        if [(f.name, f.q) for f in self.factors] != [(f.name, f.q) for f in other.factors] \
                or self.p != other.p:
            raise ValueError("cannot add statistics of different models (factors or p differ)")
        if not (np.array_equal(self.x_shift, other.x_shift) and self.y_shift == other.y_shift):
            raise ValueError("cannot add statistics built with different shifts")
        factors, maps = [], []
        for a, b in zip(self.factors, other.factors):
            merged, ma, mb = _merge_factor(a, b)
            factors.append(merged)
            maps.append((ma, mb))
        cross = [_merge_cross(ca, cb, maps, factors) for ca, cb in zip(self.cross, other.cross)]
        return replace(self, factors=tuple(factors), cross=tuple(cross),
                       XtX=self.XtX + other.XtX, Xty=self.Xty + other.Xty,
                       yty=self.yty + other.yty, n_rows=self.n_rows + other.n_rows,
                       ysum=self.ysum + other.ysum)


def _column_perm(before: FactorStats, after: FactorStats) -> list[int]:
    """Positions in ``before``'s columns of ``after``'s columns."""
    b = list(before.columns or range(before.q))
    return [b.index(c) for c in (after.columns or range(after.q))]


def _merge_factor(a: FactorStats, b: FactorStats):
    if a.nlevels == b.nlevels and np.array_equal(a.levels, b.levels):
        idx = np.arange(a.nlevels)
        return replace(a, n=a.n + b.n, ZtZ=a.ZtZ + b.ZtZ, ZtX=a.ZtX + b.ZtX,
                       Zty=a.Zty + b.Zty, yty_j=a.yty_j + b.yty_j), idx, idx
    codes, uniq = pd.factorize(np.concatenate([a.levels, b.levels]), sort=True)
    ma, mb = codes[: a.nlevels], codes[a.nlevels:]
    L = len(uniq)

    def merge(x, y):
        out = np.zeros((L,) + x.shape[1:])
        out[ma] = x
        out[mb] += y
        return out

    return replace(a, levels=np.asarray(uniq), n=merge(a.n, b.n), ZtZ=merge(a.ZtZ, b.ZtZ),
                   ZtX=merge(a.ZtX, b.ZtX), Zty=merge(a.Zty, b.Zty),
                   yty_j=merge(a.yty_j, b.yty_j)), ma, mb


def _merge_cross(ca: CrossStats, cb: CrossStats, maps, factors) -> CrossStats:
    lt = factors[ca.t].nlevels
    ia, ja = maps[ca.s][0][ca.i], maps[ca.t][0][ca.j]
    ib, jb = maps[cb.s][1][cb.i], maps[cb.t][1][cb.j]
    keys = np.concatenate([ia * lt + ja, ib * lt + jb])
    codes, uniq = pd.factorize(keys, sort=True)
    out = np.zeros((len(uniq),) + ca.block.shape[1:])
    np.add.at(out, codes, np.concatenate([ca.block, cb.block]))
    return CrossStats(s=ca.s, t=ca.t, i=(uniq // lt).astype(np.intp), j=(uniq % lt).astype(np.intp),
                      block=out)


def pair_codes(ci: np.ndarray, cj: np.ndarray, lj: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's pair of levels as a code, and the pairs (i, j) in sorted order."""
    keys = ci.astype(np.int64) * lj + cj
    pair, uniq = pd.factorize(keys, sort=True)
    return pair.astype(np.intp), (uniq // lj).astype(np.intp), (uniq % lj).astype(np.intp)


def blocked_stats(
    X: np.ndarray,
    y: np.ndarray,
    Zs: Sequence[np.ndarray],
    codes: Sequence[np.ndarray],
    levels: Sequence[np.ndarray],
    names: Sequence[str],
    terms: Sequence[Sequence[str]],
    block_sizes: Sequence[Sequence[int]] | None = None,
    *,
    blocks: Sequence[tuple[int, int]] | None = None,
    x_shift: np.ndarray | None = None,
    y_shift: float | None = None,
) -> BlockedStats:
    """One pass over the rows per factor and per pair of factors (see module docstring).

    ``Zs[f]`` are factor f's random-effect columns (n x q_f), ``codes[f]``
    each row's level code into ``levels[f]``; ``blocks`` lists every
    covariance block in formula order as (factor, block within it) (default:
    factor by factor).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    xs0, ys0, icol, ones = default_shifts(X, y)
    x_shift = xs0 if x_shift is None else np.asarray(x_shift, dtype=float)
    y_shift = ys0 if y_shift is None else float(y_shift)
    factors = []
    # X'X, X'y and y'y once (one matrix product), then each factor's blocks
    Xc = X - x_shift
    yc = y - y_shift
    XtX, Xty, yty = Xc.T @ Xc, Xc.T @ yc, float(yc @ yc)
    if block_sizes is None:
        block_sizes = [(len(tm),) for tm in terms]
    for Z, c, lv, name, tm, bs in zip(Zs, codes, levels, names, terms, block_sizes):
        Z = np.asarray(Z, dtype=float)
        J, q = len(lv), Z.shape[1]
        n_j, yty_j = np.zeros(J), np.zeros(J)
        ZW = np.zeros((J, q, q + p + 1))
        # the one-factor pass; its X'X (the same for every factor) is not needed here
        kernels.accumulate_rows(np.asarray(c, dtype=np.intp), X, Z, y, x_shift, float(y_shift),
                                n_j, ZW, yty_j, np.zeros(J), np.zeros((J, q)),
                                np.zeros((p, p)), np.zeros(p))
        factors.append(FactorStats(name=name, terms=tuple(tm), block_sizes=tuple(int(b) for b in bs),
                                   levels=np.asarray(lv), n=n_j,
                                   ZtZ=ZW[:, :, :q].copy(), ZtX=ZW[:, :, q:q + p].copy(),
                                   Zty=ZW[:, :, q + p].copy(), yty_j=yty_j, columns=tuple(range(q))))
    if blocks is None:
        blocks = [(f, b) for f, fs in enumerate(factors) for b in range(len(fs.block_sizes))]
    cross = []
    for s in range(len(factors)):
        for t in range(s + 1, len(factors)):
            pair, i, j = pair_codes(np.asarray(codes[s]), np.asarray(codes[t]), factors[t].nlevels)
            block = np.zeros((len(i), factors[s].q, factors[t].q))
            kb.accumulate_cross(pair, np.asarray(Zs[s], float), np.asarray(Zs[t], float), block)
            cross.append(CrossStats(s=s, t=t, i=i, j=j, block=block))
    return BlockedStats(factors=tuple(factors), cross=tuple(cross),
                        blocks=tuple((int(f), int(b)) for f, b in blocks), XtX=XtX, Xty=Xty,
                        yty=float(yty), n_rows=float(n), ysum=float((y - y_shift).sum()),
                        x_shift=x_shift, y_shift=float(y_shift), intercept_col=icol,
                        ones_coef=ones)


# ---------------------------------------------------------- the structure of L
def minimum_degree(adj: sp.csr_matrix) -> tuple[list[int], list[list[int]]]:
    """A minimum-degree elimination order of a symmetric pattern, and each node's later neighbours.

    Plain minimum degree on explicit neighbour sets (ties by index): enough
    for the rests this engine meets (levels within cliques, a few links).
    """
    n = adj.shape[0]
    nbrs = [set(adj.indices[adj.indptr[v]:adj.indptr[v + 1]].tolist()) - {v} for v in range(n)]
    heap = [(len(s), v) for v, s in enumerate(nbrs)]
    heapq.heapify(heap)
    done = np.zeros(n, dtype=bool)
    order: list[int] = []
    later: list[list[int]] = [[] for _ in range(n)]
    while heap:
        deg, v = heapq.heappop(heap)
        if done[v] or deg != len(nbrs[v]):
            continue
        done[v] = True
        order.append(v)
        clique = nbrs[v]
        later[v] = list(clique)
        for u in clique:
            nu = nbrs[u]
            nu.discard(v)
            nu |= clique
            nu.discard(u)
            heapq.heappush(heap, (len(nu), u))  # the old entry is skipped when popped
        nbrs[v] = set()
    return order, later


@dataclass
class _Rest:
    """The rest's levels (nodes) in elimination order and the storage of its block."""

    node_factor: np.ndarray  # (V,) factor position in the fit order (>= 1)
    node_level: np.ndarray  # (V,) level within that factor
    start: np.ndarray  # (V,) first scalar row
    q: np.ndarray  # (V,)
    off: np.ndarray  # (V,) column of the factor's lambda in the template
    nr: int
    dense: bool
    cp: np.ndarray  # compressed columns (sparse), else empty
    ri: np.ndarray
    rl_ptr: np.ndarray
    rl_col: np.ndarray
    rl_pos: np.ndarray
    nnz: int
    flops: float
    tail: int = 0  # sparse storage: first column of the dense trailing block (nr: none)
    tail_csc: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    tail_dense: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))


def _node_graph(l1: int, V: int, nb_j: np.ndarray, nb_v: np.ndarray, rr_a: np.ndarray,
                rr_b: np.ndarray) -> sp.csr_matrix:
    """Pattern of the rest's block after the first factor is eliminated (levels as nodes)."""
    inc = sp.csr_matrix((np.ones(len(nb_j)), (nb_j, nb_v)), shape=(l1, V))
    schur = (inc.T @ inc).tocsr()
    links = sp.csr_matrix((np.ones(len(rr_a)), (rr_a, rr_b)), shape=(V, V))
    g = (schur + links + links.T + sp.identity(V, format="csr")).tocsr()
    g.data[:] = 1.0
    return g


#: the compiled minimum-degree order keeps a V x V bit matrix: up to this many levels
DENSE_ORDER_MAX = 8000


def _order(graph: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-degree order and each node's later neighbours (CSR over elimination positions)."""
    V = graph.shape[0]
    if V <= DENSE_ORDER_MAX:
        return kb.minimum_degree_dense(graph.indptr.astype(np.int64), graph.indices.astype(np.int64), V)
    order, later = minimum_degree(graph)
    ptr = np.concatenate([[0], np.cumsum([len(later[v]) for v in order])]).astype(np.int64)
    flat = np.array([w for v in order for w in later[v]], dtype=np.int64)
    return np.asarray(order, dtype=np.int64), ptr, flat


def _rest_structure(graph: sp.csr_matrix, node_factor, node_level, qv,
                    off) -> tuple[_Rest, np.ndarray]:
    """Elimination order, storage (dense or sparse pattern) of the rest; node -> position."""
    V = graph.shape[0]
    nr_total = int(qv.sum())
    density = graph.nnz / max(V * V, 1)
    big = nr_total > DENSE_BELOW
    dense = big and density > 2 * DENSE_SHARE  # dense before any fill: no order helps
    if dense:
        order = np.arange(V, dtype=np.int64)
    else:
        order, later_ptr, later = _order(graph)
    position = np.empty(V, dtype=np.intp)
    position[order] = np.arange(V)
    q = qv[order].astype(np.int64)
    start = np.concatenate([[0], np.cumsum(q)[:-1]]).astype(np.int64)
    nr = int(q.sum())
    cp = ri = rl_ptr = rl_col = rl_pos = np.zeros(0, dtype=np.intp)
    flops = nr ** 3 / 3.0
    nnz = nr * (nr + 1) // 2
    if not dense:
        cp, ri = kb.scalar_pattern(q, start, position.astype(np.int64), later_ptr, later)
        counts = np.diff(cp)
        nnz = int(cp[-1])
        flops = float((counts.astype(float) ** 2).sum())
        if big and nnz > DENSE_SHARE * nr * (nr + 1) / 2 and flops * 8 > nr ** 3 / 3.0:
            dense = True
            flops = nr ** 3 / 3.0
            nnz = nr * (nr + 1) // 2
            cp = ri = np.zeros(0, dtype=np.intp)
        else:
            rl_ptr, rl_col, rl_pos = _row_lists(cp, ri, nr)
    rest = _Rest(node_factor=node_factor[order], node_level=node_level[order], start=start, q=q,
                 off=off[order], nr=nr, dense=dense, cp=cp, ri=ri, rl_ptr=rl_ptr, rl_col=rl_col,
                 rl_pos=rl_pos, nnz=nnz, flops=flops, tail=nr)
    if not dense:
        _dense_tail(rest)
    return rest, position


#: a trailing block of the sparse factor at least this dense (and this large)
#: is factored and inverted by LAPACK
TAIL_SHARE = 0.9
TAIL_MIN = 96


def _dense_tail(rest: _Rest) -> None:
    """Find the largest trailing block of L that is mostly dense; make it full; map it to a matrix.

    Minimum-degree orders leave the most connected levels to the end, where
    the fill is complete: there a LAPACK factorisation (blocked, BLAS-3) does
    the bulk of the flops far faster than a scalar sparse loop.  The block's
    columns are stored full (the few structural zeros as zeros), so that
    Takahashi's equations index them directly.
    """
    nr, cp, ri = rest.nr, rest.cp, rest.ri
    counts = np.diff(cp)  # every row of column c is >= c: all in any tail that holds c
    tail_nnz = np.cumsum(counts[::-1])[::-1]
    nt = nr - np.arange(nr)
    ok = (tail_nnz >= TAIL_SHARE * nt * (nt + 1) / 2) & (nt >= TAIL_MIN)
    if not ok.any():
        return
    s = int(np.flatnonzero(ok)[0])
    full = [np.arange(k, nr) for k in range(s, nr)]
    ri = np.concatenate([ri[:cp[s]]] + full).astype(np.int64)
    counts = np.concatenate([counts[:s], nr - np.arange(s, nr)])
    cp = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rest.cp, rest.ri = cp, ri
    rest.nnz = int(cp[-1])
    rest.rl_ptr, rest.rl_col, rest.rl_pos = _row_lists(cp, ri, nr)
    cols = np.repeat(np.arange(nr), counts)
    pos = np.arange(cp[s], cp[-1])
    rest.tail = s
    rest.tail_csc = pos.astype(np.intp)
    rest.tail_dense = ((cols[pos] - s) * (nr - s) + (ri[pos] - s)).astype(np.intp)


def _row_lists(cp: np.ndarray, ri: np.ndarray, n: int):
    """For each row j of L, the earlier columns k with L[j, k] in the pattern and its position."""
    col_of = np.repeat(np.arange(n), np.diff(cp))
    pos = np.arange(len(ri))
    below = ri != col_of
    rows, cols, where = ri[below], col_of[below], pos[below]
    order = np.lexsort((cols, rows))
    rows, cols, where = rows[order], cols[order], where[order]
    ptr = np.zeros(n + 1, dtype=np.intp)
    np.add.at(ptr, rows + 1, 1)
    return np.cumsum(ptr).astype(np.intp), cols.astype(np.intp), where.astype(np.intp)


def _reorder_blocks(groups: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """The blocks of several (m_i, a_i, b_i) arrays, flattened in the given order of all blocks."""
    if not groups:
        return np.zeros(0)
    flat = np.concatenate([g.ravel() for g in groups])
    sizes = np.concatenate([np.full(len(g), g.shape[1] * g.shape[2]) for g in groups])
    src = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    size_o = sizes[order]
    out_start = np.concatenate([[0], np.cumsum(size_o)[:-1]])
    idx = np.repeat(src[order] - out_start, size_o) + np.arange(int(size_o.sum()))
    return flat[idx]


class BlockedProblem:
    """The statistics in fit order, scaled, with the structure and scratch of one evaluation.

    ``scale`` divides the random-effect columns (template order), as the
    optimizer's unit-scale search wants; the structure does not depend on it.
    """

    def __init__(self, stats: BlockedStats, layout: ThetaLayout, scale: np.ndarray | None = None):
        self.stats = stats
        self.layout = layout
        order = stats.fit_order()
        self.order = order
        facs = [stats.factors[f] for f in order]
        self.factors = facs
        qs = np.array([f.q for f in facs])
        self.fac_off = np.concatenate([[0], np.cumsum(qs)[:-1]]).astype(np.intp)
        Q = int(qs.sum())
        if layout.q != Q:
            raise ValueError(f"layout has {layout.q} random-effect columns, the factors {Q}")
        d = np.ones(Q) if scale is None else np.asarray(scale, float)
        inv = 1.0 / d
        self.scale = d
        p = stats.p
        self.p = p
        self.inv = [inv[o:o + f.q] for o, f in zip(self.fac_off, facs)]

        f1 = facs[0]
        i1 = self.inv[0]
        self.M1 = f1.ZtZ * i1[None, :, None] * i1[None, None, :]
        self.X1 = f1.ZtX * i1[None, :, None]
        self.y1 = f1.Zty * i1[None, :]
        l1, q1 = f1.nlevels, f1.q

        # rest nodes: every level of factors 2.. (fit order)
        node_factor = np.concatenate([np.full(f.nlevels, k) for k, f in enumerate(facs) if k > 0]) \
            if len(facs) > 1 else np.zeros(0, dtype=np.intp)
        node_level = np.concatenate([np.arange(f.nlevels) for k, f in enumerate(facs) if k > 0])
        first_node = {}
        base = 0
        for k, f in enumerate(facs):
            if k > 0:
                first_node[k] = base
                base += f.nlevels
        V = base
        qv = qs[node_factor].astype(np.intp)
        offv = self.fac_off[node_factor].astype(np.intp)

        # cross blocks by fit position, oriented as M_{rest node, level}: (s, t) with s < t in fit order
        pos_of = {f: k for k, f in enumerate(order)}
        nb_j, nb_v, nb_blocks = [], [], []
        rr_a, rr_b, rr_blocks = [], [], []
        for c in stats.cross:
            ks, kt = pos_of[c.s], pos_of[c.t]
            blk = c.block * self.inv[ks][None, :, None] * self.inv[kt][None, None, :]
            ci, cj = c.i, c.j
            if ks > kt:  # orient so that ks < kt
                ks, kt, ci, cj, blk = kt, ks, cj, ci, np.swapaxes(blk, 1, 2)
            if ks == 0:
                nb_j.append(ci)
                nb_v.append(first_node[kt] + cj)
                nb_blocks.append(np.swapaxes(blk, 1, 2))  # M_{v,j}: q_t x q1
            else:
                rr_a.append(first_node[ks] + ci)
                rr_b.append(first_node[kt] + cj)
                rr_blocks.append(blk)
        nb_j = np.concatenate(nb_j) if nb_j else np.zeros(0, dtype=np.intp)
        nb_v = np.concatenate(nb_v) if nb_v else np.zeros(0, dtype=np.intp)
        rr_a = np.concatenate(rr_a) if rr_a else np.zeros(0, dtype=np.intp)
        rr_b = np.concatenate(rr_b) if rr_b else np.zeros(0, dtype=np.intp)

        graph = _node_graph(l1, V, nb_j, nb_v, rr_a, rr_b)
        rest, position = _rest_structure(graph, node_factor, node_level, qv, offv)
        self.rest = rest
        self.node_position = position  # node (factor-major) -> elimination position
        nr = rest.nr

        # first-factor neighbours, by level j, in elimination order of the nodes
        nbp = position[nb_v]
        srt = np.lexsort((nbp, nb_j))
        self.nb_node = nbp[srt].astype(np.intp)
        nb_jj = nb_j[srt]
        self.nb_ptr = np.searchsorted(nb_jj, np.arange(l1 + 1)).astype(np.intp)
        sizes = rest.q[self.nb_node] * q1
        self.nb_vptr = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        self.nb_val = _reorder_blocks(nb_blocks, srt)

        # rest blocks: each node's own Z'Z block, then the links between rest factors
        own_a = np.arange(V)
        own_blocks = []
        for k in range(1, len(facs)):
            ik = self.inv[k]
            own_blocks.extend(list(facs[k].ZtZ * ik[None, :, None] * ik[None, None, :]))
        ra = np.concatenate([position[own_a], position[rr_a]]).astype(np.intp)
        rb = np.concatenate([position[own_a], position[rr_b]]).astype(np.intp)
        self.rb_a, self.rb_b = ra, rb
        rsz = rest.q[ra] * rest.q[rb]
        self.rb_ptr = np.concatenate([[0], np.cumsum(rsz)[:-1]]).astype(np.intp)
        self.rb_val = np.concatenate([np.concatenate([b.ravel() for b in own_blocks])]
                                     + [b.ravel() for b in rr_blocks]) if V else np.zeros(0)
        self.rb_own = V  # the first V rest blocks are the nodes' own blocks, node by node

        # rest rows' Z'X and Z'y, in elimination order
        self.Xr = np.zeros((nr, p))
        self.yr = np.zeros(nr)
        for k in range(1, len(facs)):
            f, ik = facs[k], self.inv[k]
            nodes = position[first_node[k] + np.arange(f.nlevels)]
            rows = rest.start[nodes][:, None] + np.arange(f.q)[None, :]
            self.Xr[rows] = f.ZtX * ik[None, :, None]
            self.yr[rows] = f.Zty * ik[None, :]
        self.first_node = first_node

        # positions in the rest's storage
        cp, ri = rest.cp, rest.ri
        self.rb_pos = kb.block_positions(rest.dense, nr, cp, ri, rest.start, rest.q, ra, rb,
                                         self.rb_ptr, len(self.rb_val))
        self.diag_pos = (np.arange(nr) * (nr + 1) if rest.dense else cp[:-1]).astype(np.int64)
        self.sch_ptr, self.sch_pos = kb.schur_positions(rest.dense, nr, cp, ri, self.nb_ptr,
                                                        self.nb_node, rest.start, rest.q)
        # scratch of one evaluation
        self.L1 = np.zeros((l1, q1, q1))
        self.sol1 = np.zeros((l1, q1, 1 + p))
        self.Lnb = np.zeros_like(self.nb_val)
        self.S = np.zeros((nr, nr), order="F") if rest.dense else None
        self.Sval = self.S.ravel(order="F") if rest.dense else np.zeros(len(ri))
        self.rhs = np.zeros((nr, 1 + p))
        self.work = np.zeros(nr)
        nt = nr - rest.tail if not rest.dense else 0
        self.T = np.zeros((nt, nt), order="F")  # the dense tail of a sparse factor

    # ------------------------------------------------------------ accessors
    @property
    def q_total(self) -> int:
        """Number of random effects."""
        return sum(f.nlevels * f.q for f in self.factors)

    def rest_rows(self, k: int) -> np.ndarray:
        """(l_k, q_k) rows of factor k (fit order, k >= 1) in the rest's elimination order."""
        f = self.factors[k]
        nodes = self.node_position[self.first_node[k] + np.arange(f.nlevels)]
        return self.rest.start[nodes][:, None] + np.arange(f.q)[None, :]

    def rest_own_positions(self, k: int) -> np.ndarray:
        """(l_k, q_k, q_k) positions of factor k's levels' own blocks in the rest's storage."""
        f = self.factors[k]
        nodes = self.first_node[k] + np.arange(f.nlevels)  # own blocks are listed node by node
        base = self.rb_ptr[nodes]
        idx = base[:, None, None] + (np.arange(f.q)[:, None] * f.q + np.arange(f.q)[None, :])[None]
        return self.rb_pos[idx]

    def describe(self) -> dict:
        """How the rest's block is stored (for the optimizer summary)."""
        r = self.rest
        return {"first_factor": self.factors[0].name, "rest_size": r.nr,
                "rest_storage": "dense" if r.dense else "sparse", "rest_nnz": int(r.nnz)}


# ---------------------------------------------------------------- evaluation
@dataclass
class BlockedEvaluation(ProfiledCriterion):
    """What one theta determines (scaled, shifted coordinates), copied out of the scratch."""

    theta: np.ndarray
    Lam: np.ndarray
    L1: np.ndarray
    sol1: np.ndarray
    Lnb: np.ndarray
    Lr: np.ndarray  # the rest's factor: dense (nr x nr, Fortran) or the sparse values
    rhs: np.ndarray  # L_rr^{-1}(...): the rest's [c, C]
    A: np.ndarray
    LX: np.ndarray
    gamma: np.ndarray
    r2: float
    ldL2: float
    ldRX2: float
    nobs: int
    p: int
    ok: bool = True


def _tail_lapack(prob: BlockedProblem, values: np.ndarray, routine) -> bool:
    """Apply a LAPACK routine (potrf, potri) to the dense tail of a sparse factor, in place."""
    r = prob.rest
    T = prob.T
    flat = T.ravel(order="F")
    flat[:] = 0.0
    flat[r.tail_dense] = values[r.tail_csc]
    if routine is lapack.dpotrf:
        out, info = lapack.dpotrf(T, lower=1, clean=0, overwrite_a=1)
    else:
        out, info = routine(T)
    if info != 0:
        return False
    values[r.tail_csc] = np.asarray(out).ravel(order="F")[r.tail_dense]
    return True


def factorize(prob: BlockedProblem, theta: np.ndarray, keep: bool = False) -> BlockedEvaluation:
    """L(theta), the fixed effects and r^2 (no row access); ``keep`` copies the scratch out."""
    theta = np.asarray(theta, dtype=float)
    lay, r = prob.layout, prob.rest
    Lam = lay.make_lambda(theta)
    nan_eval = BlockedEvaluation(theta, Lam, prob.L1, prob.sol1, prob.Lnb, prob.Sval, prob.rhs,
                                 np.full((prob.p, prob.p), np.nan), np.full((prob.p, prob.p), np.nan),
                                 np.full(prob.p, np.nan), np.nan, np.nan, np.nan,
                                 prob.stats.nobs, prob.p, ok=False)
    kb.fill_rest(Lam, r.start, r.q, r.off, prob.rb_a, prob.rb_b, prob.rb_ptr, prob.rb_val,
                 prob.rb_pos, prob.diag_pos, prob.Xr, prob.yr, prob.Sval, prob.rhs)
    ld, ok = kb.first_factor_pass(
        Lam, prob.M1, prob.X1, prob.y1, prob.nb_ptr, prob.nb_node, prob.nb_vptr, prob.nb_val,
        prob.sch_ptr, prob.sch_pos, r.start, r.q, r.off, prob.L1, prob.sol1, prob.Lnb,
        prob.Sval, prob.rhs)
    if not ok:
        return nan_eval
    if r.dense:
        _, info = lapack.dpotrf(prob.S, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            return nan_eval
        kb.dense_forward(prob.S, prob.rhs)
    else:
        if not kb.sparse_cholesky(r.cp, r.ri, r.rl_ptr, r.rl_col, r.rl_pos, prob.Sval, prob.work,
                                  r.tail):
            return nan_eval
        if r.tail < r.nr and not _tail_lapack(prob, prob.Sval, lapack.dpotrf):
            return nan_eval
        kb.sparse_forward(r.cp, r.ri, prob.Sval, prob.rhs)
    ld += kb.log_diagonal(prob.Sval, prob.diag_pos)
    # sum of [c C]'[c C] over every random effect: one product of the solved rows
    sol = np.concatenate([prob.sol1.reshape(-1, 1 + prob.p), prob.rhs])
    cross = sol.T @ sol
    st = prob.stats
    # contiguous copies of the small slices: the types the one-factor engine
    # passes, so that the version of fixed_pass compiled at install serves both
    A, LX, gamma, r2, ldRX2, ok = kernels.fixed_pass(st.XtX, st.Xty, st.yty, np.ascontiguousarray(cross[1:, 1:]),
                                                     np.ascontiguousarray(cross[1:, 0]), float(cross[0, 0]))
    ev = BlockedEvaluation(theta, Lam, prob.L1, prob.sol1, prob.Lnb,
                           prob.S if r.dense else prob.Sval, prob.rhs, A, LX, gamma, float(r2),
                           float(ld), float(ldRX2), st.nobs, prob.p, ok=bool(ok))
    if keep:
        ev = replace(ev, L1=prob.L1.copy(), sol1=prob.sol1.copy(), Lnb=prob.Lnb.copy(),
                     Lr=ev.Lr.copy(order="F") if r.dense else ev.Lr.copy(), rhs=prob.rhs.copy())
    return ev


@dataclass
class GradientPieces:
    """Per-level quantities of the gradient and the results (scaled coordinates).

    ``x1`` (l1, q1, 1+p) and ``xr`` (nr, 1+p): Omega^{-1}Lambda'Z'[y X];
    ``Q1``, ``Qr``: Z'[y X] - Z'Z Lambda x; ``Z1`` (l1, q1, q1) and ``Zr``:
    the selected inverse; ``F`` (template Q x Q, factor blocks): sum_j F_tj.
    """

    x1: np.ndarray
    xr: np.ndarray
    Q1: np.ndarray
    Qr: np.ndarray
    Z1: np.ndarray
    Zr: np.ndarray
    F: np.ndarray


def gradient_pieces(prob: BlockedProblem, ev: BlockedEvaluation) -> GradientPieces:
    """The solves, products and selected inverse the gradient needs (see module docstring)."""
    r = prob.rest
    xr = ev.rhs.copy()
    if r.dense:
        kb.dense_backward(ev.Lr, xr)
    else:
        kb.sparse_backward(r.cp, r.ri, ev.Lr, xr)
    f1 = prob.factors[0]
    x1 = np.empty_like(ev.sol1)
    kb.backward_first(ev.L1, ev.Lnb, prob.nb_ptr, prob.nb_node, prob.nb_vptr, r.start, r.q,
                      ev.sol1, xr, x1)
    Q1 = np.empty_like(x1)
    Qr = np.empty_like(xr)
    kb.random_products(ev.Lam, prob.M1, prob.X1, prob.y1, prob.nb_ptr, prob.nb_node, prob.nb_vptr,
                       prob.nb_val, r.start, r.q, r.off, prob.rb_a, prob.rb_b, prob.rb_ptr,
                       prob.rb_val, prob.Xr, prob.yr, x1, xr, Q1, Qr)
    if r.dense:
        Zd, info = lapack.dpotri(ev.Lr.copy(order="F"), lower=1, overwrite_c=1)
        Zr = np.asfortranarray(Zd).ravel(order="F")
    else:
        Zr = np.zeros_like(ev.Lr)
        if r.tail < r.nr:
            Zr[r.tail_csc] = ev.Lr[r.tail_csc]
            _tail_lapack(prob, Zr, lambda T: lapack.dpotri(T, lower=1, overwrite_c=1))
        kb.sparse_selected_inverse(r.cp, r.ri, ev.Lr, Zr, np.zeros(r.nr),
                                   np.full(r.nr, -1, dtype=np.intp), np.zeros(r.nr, dtype=np.intp),
                                   r.tail)
    q1 = f1.q
    Z1 = np.empty((f1.nlevels, q1, q1))
    F1 = np.zeros((q1, q1))
    qmax = int(max([f.q for f in prob.factors]))
    Fr = np.zeros((r.nr, qmax))
    kb.first_selected_inverse(ev.Lam, prob.M1, prob.nb_ptr, prob.nb_node, prob.nb_vptr,
                              prob.nb_val, prob.sch_ptr, prob.sch_pos, r.start, r.q, r.off,
                              ev.L1, ev.Lnb, Zr, Z1, F1, Fr)
    kb.rest_f_sums(ev.Lam, r.start, r.q, r.off, prob.rb_a, prob.rb_b, prob.rb_ptr, prob.rb_val,
                   prob.rb_pos, Zr, Fr)
    Q = prob.layout.q
    F = np.zeros((Q, Q))
    F[:q1, :q1] = F1
    for k in range(1, len(prob.factors)):
        o, q = prob.fac_off[k], prob.factors[k].q
        rows = prob.rest_rows(k)  # (l, q)
        F[o:o + q, o:o + q] = Fr[rows][:, :, :q].sum(axis=0)
    return GradientPieces(x1=x1, xr=xr, Q1=Q1, Qr=Qr, Z1=Z1, Zr=Zr, F=F)


def per_factor(prob: BlockedProblem, a1: np.ndarray, ar: np.ndarray) -> list[np.ndarray]:
    """Split a per-random-effect array (first factor (l1, q1, ...), rest (nr, ...)) by factor.

    Returns, in fit order, arrays of shape (l_k, q_k, ...) in each factor's level order.
    """
    out = [a1]
    for k in range(1, len(prob.factors)):
        out.append(ar[prob.rest_rows(k)])
    return out


def gradient_matrix(prob: BlockedProblem, ev: BlockedEvaluation, gp: GradientPieces,
                    coef: float, reml: bool) -> np.ndarray:
    """G (template Q x Q, factor blocks) with d dev / d theta_k = 2 G[row_k, col_k].

    ``coef`` multiplies sum_j w u': m / r^2 for the profiled deviance, 1 / sigma^2
    for the deviance in (theta, sigma).
    """
    g = ev.gamma
    W = np.zeros_like(gp.F)
    PAB = np.zeros_like(gp.F)
    with_pab = reml and prob.p > 0
    Ainv = kernels.inverse_from_factor(ev.LX) if with_pab else None
    xs = per_factor(prob, gp.x1, gp.xr)
    Qs = per_factor(prob, gp.Q1, gp.Qr)
    for k, (x, Qm) in enumerate(zip(xs, Qs)):
        o, q = prob.fac_off[k], prob.factors[k].q
        # one BLAS product per factor over all its levels (rows: level x column)
        x2 = x.reshape(-1, 1 + prob.p)
        Q2 = Qm.reshape(-1, 1 + prob.p)
        u = (x2[:, 0] - x2[:, 1:] @ g).reshape(-1, q)
        w = (Q2[:, 0] - Q2[:, 1:] @ g).reshape(-1, q)
        W[o:o + q, o:o + q] = w.T @ u
        if with_pab:
            PA = (Q2[:, 1:] @ Ainv).reshape(-1, q, prob.p)
            PAB[o:o + q, o:o + q] = np.tensordot(PA, x[..., 1:], axes=([0, 2], [0, 2]))
    return gp.F.T - coef * W - PAB


def deviance_gradient(prob: BlockedProblem, theta: np.ndarray, reml: bool) -> tuple[float, np.ndarray]:
    """Profiled deviance and its analytic gradient in theta (inf and NaN where undefined)."""
    ev = factorize(prob, theta)
    f = ev.deviance(reml)
    lay = prob.layout
    if not np.isfinite(f):
        return f, np.full(lay.k, np.nan)
    gp = gradient_pieces(prob, ev)
    m = ev.nobs - ev.p if reml else ev.nobs
    G = gradient_matrix(prob, ev, gp, m / ev.r2, reml)
    return f, 2.0 * G[lay.rows, lay.cols]


class BlockedDevianceFunction:
    """The profiled deviance and its gradient for several factors, as the optimizer calls it.

    (The search itself is :func:`mlmcompare.lmm.optimize._newton_bfgs`.)
    """

    def __init__(self, stats: BlockedStats, layout: ThetaLayout, reml: bool,
                 scale: np.ndarray | None = None):
        self.problem = BlockedProblem(stats, layout, scale)
        self.reml = reml

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        return deviance_gradient(self.problem, np.asarray(theta, dtype=float), self.reml)


# ------------------------------------------------------------ for the result
class BlockedFit:
    """The fitted objective of several factors, for the result's tables and Satterthwaite's df.

    Reuses the optimizer's :class:`BlockedProblem` (unit-scaled columns:
    theta* = d theta elementwise, b* = D b) when given, else builds an
    unscaled one; answers, in the data's units, what
    :class:`~mlmcompare.lmm.result.LmmResult` asks of an engine.
    """

    def __init__(self, stats: BlockedStats, layout: ThetaLayout,
                 objective: BlockedDevianceFunction | None = None):
        self.stats = stats
        self.layout = layout
        if objective is not None:
            self.problem = objective.problem
        else:
            self.problem = BlockedProblem(stats, layout)
        self.scale = self.problem.scale  # per random-effect column (template)
        self.d = self.scale[layout.rows]  # per theta element

    def evaluate(self, theta: np.ndarray) -> BlockedEvaluation:
        return factorize(self.problem, np.asarray(theta, float) * self.d, keep=True)

    def z_rms(self) -> np.ndarray:
        return self.stats.z_scale()

    def varpar_gradient(self, varpar: np.ndarray, reml: bool) -> np.ndarray:
        """Gradient of the (RE)ML deviance in (theta, sigma), not profiled over sigma."""
        theta, sigma = np.asarray(varpar[:-1], float) * self.d, float(varpar[-1])
        ev = factorize(self.problem, theta)
        gp = gradient_pieces(self.problem, ev)
        s2 = sigma * sigma
        G = gradient_matrix(self.problem, ev, gp, 1.0 / s2, reml)
        m = ev.nobs - ev.p if reml else ev.nobs
        g_sigma = -2.0 * ev.r2 / (s2 * sigma) + 2.0 * m / sigma
        return np.append(2.0 * G[self.layout.rows, self.layout.cols] * self.d, g_sigma)

    def vcov_jacobian(self, varpar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """C = sigma^2 A^{-1} and dC/dvarpar (k+1, p, p), as :func:`.objective.vcov_jacobian`.

        dA/dtheta_k = -(S_k + S_k'), S_k = sum_j P_tj[r, :]' B_tj[c, :] over the
        levels of theta_k's factor t.
        """
        theta, sigma = np.asarray(varpar[:-1], float) * self.d, float(varpar[-1])
        prob, lay = self.problem, self.layout
        ev = factorize(prob, theta)
        gp = gradient_pieces(prob, ev)
        Ai = kernels.inverse_from_factor(ev.LX)
        s2 = sigma * sigma
        Ps = per_factor(prob, gp.Q1[..., 1:], gp.Qr[:, 1:])
        Bs = per_factor(prob, gp.x1[..., 1:], gp.xr[:, 1:])
        fac_of_col = np.repeat(np.arange(len(prob.factors)), [f.q for f in prob.factors])
        jac = np.empty((lay.k + 1, prob.p, prob.p))
        for i, (r, c) in enumerate(zip(lay.rows, lay.cols)):
            t = fac_of_col[r]
            o = prob.fac_off[t]
            S = Ps[t][:, r - o, :].T @ Bs[t][:, c - o, :]
            jac[i] = s2 * Ai @ (S + S.T) @ Ai * self.d[i]
        jac[-1] = 2.0 * sigma * Ai
        return s2 * Ai, jac

    def ranef_arrays(self, ev: BlockedEvaluation, sigma2: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per factor (lme4's order): conditional modes b (l, q) and conditional SDs (l, q).

        b_tj = lambda_t u_tj; the conditional covariance sigma^2 lambda_t
        Omega^{-1}_{tj,tj} lambda_t' (lme4's condVar) from the selected inverse;
        both mapped back from unit-scaled columns.
        """
        prob = self.problem
        gp = gradient_pieces(prob, ev)
        out = []
        xs = per_factor(prob, gp.x1, gp.xr)
        for k, x in enumerate(xs):
            o, q = prob.fac_off[k], prob.factors[k].q
            lam = ev.Lam[o:o + q, o:o + q] / self.scale[o:o + q, None]
            u = x[..., 0] - x[..., 1:] @ ev.gamma
            b = u @ lam.T
            Zk = gp.Z1 if k == 0 else gp.Zr[prob.rest_own_positions(k)]
            cvar = sigma2 * np.einsum("ab,jbc,ac->ja", lam, Zk, lam)
            out.append((b, np.sqrt(np.clip(cvar, 0.0, None))))
        return out


def stats_from_matrices(spec, X: np.ndarray, y: np.ndarray, Z: np.ndarray,
                        codes: Sequence[np.ndarray], levels: Sequence[np.ndarray],
                        x_shift: np.ndarray | None = None,
                        y_shift: float | None = None) -> BlockedStats:
    """The blocked statistics of rows made by a row spec with several factors."""
    return blocked_stats(
        X, y, [Z[:, list(f.z_index)] for f in spec.factors], codes, levels,
        [f.name for f in spec.factors], [f.random_terms for f in spec.factors],
        [f.block_sizes for f in spec.factors], blocks=spec.block_factors,
        x_shift=x_shift, y_shift=y_shift)


def stats_from_design(design) -> BlockedStats:
    """The blocked statistics of a :class:`~mlmcompare.lmm.design.Design` with several factors."""
    return stats_from_matrices(design.spec, design.X, design.y, design.Z, design.factor_codes,
                               design.factor_levels)
