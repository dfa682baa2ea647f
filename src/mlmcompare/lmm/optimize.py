"""Minimise the profiled deviance over theta, robustly and tightly.

This module owns the optimizer stage (lme4's optimizeLmer).  The strategy:

1. A start from the spread of per-group OLS fits (:func:`moment_start`),
   then BFGS with the analytic gradient, compiled together with the
   objective (:func:`mlmcompare.lmm.kernels.quasi_newton`), *without*
   bounds: the deviance depends on Lambda Lambda' only, and every real
   lower-triangular Lambda gives a valid covariance, so the unconstrained
   problem has the same minimum as lme4's bounded one.  This removes the
   corner trap of a bounded quasi-Newton method (stopping on a bound tens of
   log-likelihood units below the optimum), and a boundary optimum (a
   correlation at +-1, a variance at 0) becomes an ordinary stationary
   point, where the deviance is even in the last diagonal element of a block.
2. Columns of Lambda with a negative diagonal are flipped (same Lambda
   Lambda'); if the gradient is then not yet small, BFGS is restarted from
   there with fresh curvature memory.
3. Diagonal elements that ended near 0 are snapped to exactly 0 (with the
   other elements re-optimised) when that costs no more than ``SNAP_TOL`` in
   deviance, so that singular fits are reported as lme4 reports them.
4. A few Newton steps on the free elements, with the Hessian from forward
   differences of the analytic gradient: BFGS stops when the deviance
   no longer changes in double precision, which in flat directions can
   leave theta ~1e-6 away from the stationary point; Newton on the gradient
   pins it to ~1e-10 (this is what makes variance components reproducible
   to 1e-5 relative).  A step is judged against the rounding of the
   deviance (1e-12 of its size), which for millions of rows is far above
   ``SNAP_TOL``.
5. Diagonal elements at exactly 0 are probed on both sides (a start on the
   boundary would otherwise never leave it, the gradient being 0 there).
6. Verdict from the projected gradient; if it is not small, a
   derivative-free bounded search (Powell) and further L-BFGS-B starts
   (lme4's identity start among them) run, and the best point wins.

With several grouping factors (:mod:`.blocked`) an evaluation costs a
factorisation of L(theta), so steps 1 and the start differ: the moment start
is taken per factor, with sigma^2 from the residual of y on every factor's
columns (:func:`blocked_moment_start`), and the search is a BFGS whose first
inverse Hessian comes from finite differences of the analytic gradient at
the start (:func:`_newton_bfgs`); from a near start its first steps are
Newton steps (13 evaluations on InstEval, 20 for six theta elements).
Steps 2-6 are shared.

Every objective evaluation is counted for the optimizer summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import kernels
from .blocked import BlockedDevianceFunction, BlockedStats, factorize
from .objective import DevianceFunction, ThetaLayout, make_layout
from .stats import SufficientStats, scaled_z, z_scale

__all__ = ["OptimizerResult", "optimize_theta", "moment_start", "GRAD_TOL", "SNAP_TOL", "SINGULAR_TOL"]

#: max |projected gradient| of the deviance accepted as converged
GRAD_TOL = 1e-3
#: deviance increase accepted when snapping a near-zero diagonal element to 0
SNAP_TOL = 1e-9
#: diagonal elements of Lambda below this are reported singular (lme4's isSingular)
SINGULAR_TOL = 1e-4
#: diagonal elements below this are candidates for snapping to 0
SNAP_CANDIDATE = 1e-3


@dataclass
class OptimizerResult:
    theta: np.ndarray
    deviance: float
    gradient: np.ndarray
    grad_norm: float
    converged: bool
    n_evals: int
    theta_start: np.ndarray
    method: str
    message: str
    history: list[str] = field(default_factory=list)
    #: several factors: the objective the search ran on (unit-scaled columns), for the result
    objective: object = field(default=None, repr=False)

    def summary(self) -> dict:
        return {
            "method": self.method,
            "theta_start": self.theta_start.tolist(),
            "theta_end": self.theta.tolist(),
            "n_evals": self.n_evals,
            "grad_norm": float(self.grad_norm),
            "verdict": "converged" if self.converged else "not converged",
            "message": self.message,
        }


class _Counted:
    """The objective with an evaluation counter and a memory of the best point."""

    def __init__(self, fun: DevianceFunction | BlockedDevianceFunction, layout: ThetaLayout):
        self.layout = layout
        self.fun = fun
        self.n = 0
        self.best_f = np.inf
        self.best_x: np.ndarray | None = None
        self._seen: dict[bytes, tuple[float, np.ndarray]] = {}

    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Deviance and gradient at x as computed (inf where undefined), counted."""
        # the stages often come back to a point evaluated a few calls before
        x = np.asarray(x, dtype=float)
        known = self._seen.get(x.tobytes())
        if known is not None:
            return known[0], known[1].copy()
        f, g = self.fun(x)
        self.record(x, f, g)
        return f, np.array(g, dtype=float)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`evaluate` for the line searches: kept away from broken regions."""
        f, g = self.evaluate(x)
        if not np.isfinite(f):
            return 1e300, np.zeros_like(g)
        return f, g

    def record(self, x: np.ndarray, f: float, g: np.ndarray, evaluations: int = 1) -> None:
        """Count evaluations that reached x, and remember x (and whether it is the best)."""
        self.n += int(evaluations)
        if np.isfinite(f) and f < self.best_f:
            self.best_f, self.best_x = float(f), np.array(x, dtype=float)
        self.remember(x, f, g)

    def normalized(self, x: np.ndarray) -> np.ndarray:
        """layout.normalize(x), with its deviance and gradient known if x's are."""
        signs = self.layout.column_signs(x)
        xn = np.asarray(x, dtype=float) * signs
        known = self._seen.get(np.asarray(x, dtype=float).tobytes())
        if known is not None:
            self.remember(xn, known[0], known[1] * signs)
        return xn

    def remember(self, x: np.ndarray, f: float, g: np.ndarray) -> None:
        if len(self._seen) >= 16:
            self._seen.pop(next(iter(self._seen)))
        self._seen[np.asarray(x, dtype=float).tobytes()] = (float(f), np.array(g, dtype=float))

    def value(self, x: np.ndarray) -> float:
        return self(x)[0]


def _lbfgs(obj: _Counted, x0: np.ndarray, bounds=None) -> tuple[np.ndarray, float]:
    import scipy.optimize  # the snapping and fallback searches only: most fits never import it

    res = scipy.optimize.minimize(
        obj,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
    )
    return np.array(res.x, dtype=float), float(res.fun)


def moment_components(ZtZ: np.ndarray, Zty: np.ndarray, yty_j: np.ndarray, n_j: np.ndarray,
                      block_index: np.ndarray) -> tuple[np.ndarray, float] | None:
    """G and sigma^2 from the spread of per-group OLS fits of y on Z (method of moments).

    G is the covariance of the per-group coefficients minus their average
    sampling covariance, restricted to the covariance blocks; sigma^2 the
    pooled within-group residual variance.  None when too few groups can be
    fitted on their own.
    """
    q = ZtZ.shape[1]
    m, sb, sbb, sSi, rss, df = kernels.moment_sums(ZtZ, Zty, yty_j, n_j, 1e-8)
    if m <= q + 1 or not rss > 0:
        return None
    s2 = rss / df
    spread = (sbb - np.outer(sb, sb) / m) / (m - 1)  # covariance of the b_j
    G = spread - s2 * sSi / m
    return G * (block_index[:, None] == block_index[None, :]), float(s2)


def theta_from_covariance(G_rel: np.ndarray, layout: ThetaLayout) -> np.ndarray:
    """theta of chol(G / sigma^2), eigenvalues floored so that the start is off the boundary."""
    w, V = np.linalg.eigh(G_rel)
    w = np.maximum(w, 1e-2 * max(float(w.max()), 1e-2))
    Lam = np.linalg.cholesky((V * w) @ V.T)
    return Lam[layout.rows, layout.cols]


def moment_start(stats: SufficientStats, layout: ThetaLayout) -> np.ndarray:
    """A start for theta from the spread of per-group OLS fits (method of moments).

    theta is read off chol(G / sigma^2) of :func:`moment_components`.  The
    fixed effects are ignored: a start only has to be near, and from it the
    search needs a third of the evaluations that lme4's identity start
    needs.  Falls back to the identity start when too few groups can be
    fitted on their own.
    """
    comp = moment_components(stats.ZtZ, stats.Zty, stats.yty_j, stats.n_j, layout.block_index)
    if comp is None:
        return layout.start()
    G, s2 = comp
    start = theta_from_covariance(G / s2, layout)
    return start if np.all(np.isfinite(start)) else layout.start()


def blocked_moment_start(fun: BlockedDevianceFunction, layout: ThetaLayout) -> np.ndarray:
    """The moment start for several factors: each factor's G from its own levels' OLS fits.

    G_t is the spread of factor t's per-level OLS coefficients less their
    sampling variance; sigma^2 is the residual variance of y on X and every
    factor's columns together (one factorisation at a large theta, where the
    penalty vanishes: the residual sum of squares over n - p - sum of levels
    x columns), as a factor's own within-level residual still holds the
    variances of the factors that vary within its levels.  Each factor's
    G_t / sigma^2 gives its part of theta (unit-scaled columns); the
    identity start where a factor cannot be fitted.
    """
    prob = fun.problem
    start = layout.start()
    comps = []
    for k, f in enumerate(prob.factors):
        inv = prob.inv[k]
        comps.append(moment_components(f.ZtZ * inv[None, :, None] * inv[None, None, :],
                                       f.Zty * inv[None, :], f.yty_j, f.n,
                                       layout.block_index[prob.fac_off[k]:prob.fac_off[k] + f.q]))
    ev = factorize(prob, 1e4 * layout.start())
    n, p = prob.stats.nobs, prob.p
    df = max(n - p - prob.q_total, n / 10.0)
    s2 = ev.r2 / df if ev.ok and ev.r2 > 0 else min(
        (c[1] for c in comps if c is not None), default=None)
    if s2 is None or not s2 > 0:
        return start
    for k, comp in enumerate(comps):
        if comp is None:
            continue
        off, q = prob.fac_off[k], prob.factors[k].q
        mine = (layout.rows >= off) & (layout.rows < off + q)
        part = make_layout([layout.block_sizes[b] for b in sorted(set(layout.block_of[mine].tolist()))])
        theta = theta_from_covariance(comp[0] / s2, part)
        if np.all(np.isfinite(theta)):
            start[mine] = theta
    return start


def _quasi_newton(obj: _Counted, x0: np.ndarray) -> tuple[np.ndarray, float]:
    """The main search (unbounded); its evaluations are counted.

    One factor: the compiled BFGS.  Several: a BFGS started from the
    finite-difference Hessian (:func:`_newton_bfgs`), as each evaluation
    costs a factorisation and fewer of them matter more than bookkeeping.
    """
    if isinstance(obj.fun, BlockedDevianceFunction):
        return _newton_bfgs(obj, x0)
    x, f, g, nev, _status = obj.fun.minimize(x0)
    obj.record(x, f, g, evaluations=nev)
    return np.array(x, dtype=float), float(f)


def _fd_hessian(obj: _Counted, x: np.ndarray, g: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Forward differences of the analytic gradient over the elements ``idx`` (one evaluation each)."""
    H = np.empty((idx.size, idx.size))
    for a, i in enumerate(idx):
        h = 1e-6 * max(abs(x[i]), 1e-1)
        e = np.zeros_like(x)
        e[i] = h
        H[:, a] = (obj(x + e)[1][idx] - g[idx]) / h
    return 0.5 * (H + H.T)


def _newton_bfgs(obj: _Counted, x0: np.ndarray, max_iter: int = 200,
                 gtol: float = 1e-8) -> tuple[np.ndarray, float]:
    """BFGS whose first inverse Hessian is that of the finite-difference Hessian at the start.

    From a near start (the moment start) the first steps are then Newton
    steps, and the search ends in a handful of evaluations after the k of
    the Hessian.  A step is kept when the deviance falls enough (Armijo) or,
    once deviances differ by less than their rounding, when the gradient
    shrinks; else it is cut back.  Stops at max |gradient| < ``gtol`` or when
    no step helps.
    """
    x = np.asarray(x0, dtype=float).copy()
    f, g = obj(x)
    k = x.size
    if not np.isfinite(f) or f >= 1e300:
        return x, f
    H = _fd_hessian(obj, x, g, np.arange(k))
    w, V = np.linalg.eigh(H)
    floor = 1e-6 * max(float(np.abs(w).max()), 1e-12)
    Hinv = (V / np.maximum(np.abs(w), floor)) @ V.T  # a descent metric even off convexity
    for _ in range(max_iter):
        gmax = float(np.max(np.abs(g)))
        if gmax < gtol:
            break
        d = -Hinv @ g
        if not g @ d < 0.0:  # lost descent: steepest descent with the diagonal's scale
            Hinv = np.diag(1.0 / np.maximum(np.abs(np.diag(H)), floor))
            d = -Hinv @ g
        # a relative trust region: far from the optimum the deviance is not quadratic
        # and a Newton step can overshoot by a lot
        cap = max(0.5, float(np.max(np.abs(x))))
        d *= min(1.0, cap / max(float(np.max(np.abs(d))), 1e-300))
        noise = 1e-13 * abs(f) + 1e-12
        t, accepted = 1.0, False
        for _ls in range(30):
            xn = x + t * d
            fn, gn = obj(xn)
            if fn < f + 1e-4 * t * (g @ d) or (fn <= f + noise and np.max(np.abs(gn)) < gmax):
                accepted = True
                break
            t *= 0.25
        if not accepted:
            break
        s, y = xn - x, gn - g
        sy = s @ y
        if sy > 1e-12 * np.sqrt((s @ s) * (y @ y)):
            rho = 1.0 / sy
            Hy = Hinv @ y
            Hinv = Hinv + (rho * rho * (y @ Hy) + rho) * np.outer(s, s) \
                - rho * (np.outer(Hy, s) + np.outer(s, Hy))
        x, f, g = xn, fn, gn
    return x, float(f)


def _projected_gradient(layout: ThetaLayout, theta: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Gradient with components zeroed where a diagonal sits on its bound 0 and g > 0."""
    pg = g.copy()
    at_bound = layout.is_diag & (theta == 0.0) & (g > 0)
    pg[at_bound] = 0.0
    return pg


def _gradient_small(obj: _Counted, layout: ThetaLayout, x: np.ndarray) -> bool:
    """True when the projected gradient at x is within the convergence tolerance."""
    pg = _projected_gradient(layout, x, obj(x)[1])
    return bool(pg.size == 0 or np.max(np.abs(pg)) < GRAD_TOL)


def _snap(obj: _Counted, layout: ThetaLayout, theta: np.ndarray, f: float):
    """Try setting near-zero diagonal elements to exactly 0."""
    cand = np.flatnonzero(layout.is_diag & (np.abs(theta) < SNAP_CANDIDATE) & (theta != 0.0))
    if cand.size == 0:
        return theta, f, False
    x0 = theta.copy()
    x0[cand] = 0.0
    f0 = obj.value(x0)
    if f0 <= f + SNAP_TOL:  # free already; the Newton polish re-optimises the others
        return layout.normalize(x0), f0, True
    bounds = [(0.0, 0.0) if i in set(cand.tolist()) else (None, None) for i in range(layout.k)]
    x1, f1 = _lbfgs(obj, x0, bounds)
    x1[cand] = 0.0
    f1 = obj.value(x1)
    if f1 <= f + SNAP_TOL:
        return layout.normalize(x1), f1, True
    return theta, f, False


def _newton_polish(obj: _Counted, layout: ThetaLayout, x: np.ndarray, f: float,
                   steps: int = 4) -> tuple[np.ndarray, float, int]:
    """Newton steps on the elements not pinned at 0; keep a step only if it helps."""
    free = ~(layout.is_diag & (x == 0.0))
    if not free.any():
        return x, f, 0
    fi = np.flatnonzero(free)
    done = 0
    _, g = obj(x)
    for _ in range(steps):
        gn = float(np.max(np.abs(g[fi])))
        if gn < 1e-8:  # already pinned: theta is then within ~1e-10 of the stationary point
            break
        # forward differences of the analytic gradient: one evaluation per free
        # element; an O(h) error in H only slows Newton's convergence a little
        H = _fd_hessian(obj, x, g, fi)
        try:
            np.linalg.cholesky(H)  # only descend where the model is convex
        except np.linalg.LinAlgError:
            break
        xn = x.copy()
        xn[fi] -= np.linalg.solve(H, g[fi])
        fn, gnew = obj(xn)
        # the deviance of n rows is computed to ~1e-13 of its size: a step that
        # shrinks the gradient is kept unless the deviance visibly rose
        if not (fn <= f + SNAP_TOL + 1e-12 * abs(f) and np.max(np.abs(gnew[fi])) < gn):
            break
        x, f, g = xn, fn, gnew
        done += 1
    return x, f, done


def optimize_theta(
    stats: SufficientStats,
    layout: ThetaLayout,
    reml: bool,
    theta_start: np.ndarray | None = None,
) -> OptimizerResult:
    """Minimise the profiled (RE)ML deviance over theta (see module docstring).

    The search runs in units where each random-effect column of Z has unit
    root mean square (Lambda* = D Lambda, D = diag(rms(z))): Z Lambda is
    unchanged, so is the deviance, but theta* is of order 1 whatever the
    units of the data, and the tolerances (snapping, convergence) mean the
    same for ses and for ses in millionths. Results are mapped back.
    """
    start = None if theta_start is None else np.asarray(theta_start, dtype=float)
    if start is not None and start.shape != (layout.k,):
        raise ValueError(f"theta_start must have {layout.k} elements, got {start.shape}")
    if isinstance(stats, BlockedStats):
        # several factors: the problem scales its own blocks
        scale = stats.z_scale()
        fun = BlockedDevianceFunction(stats, layout, reml, scale)
        default_start = blocked_moment_start(fun, layout) if start is None else None
    else:
        scale = z_scale(stats)
        unit = scaled_z(stats, scale)
        fun = DevianceFunction(unit, layout, reml)
        default_start = moment_start(unit, layout) if start is None else None
    d = scale[layout.rows]
    res = _optimize_unit_scale(fun, layout, default_start if start is None else start * d)
    if isinstance(fun, BlockedDevianceFunction):
        res.objective = fun
    res.theta = res.theta / d
    res.gradient = res.gradient * d  # chain rule: d dev / d theta = d dev / d theta* * d
    res.theta_start = res.theta_start / d
    return res


def _optimize_unit_scale(
    fun: DevianceFunction | BlockedDevianceFunction,
    layout: ThetaLayout,
    theta_start: np.ndarray,
) -> OptimizerResult:
    """The search itself, on an objective whose Z columns have unit scale."""
    obj = _Counted(fun, layout)
    x0 = np.asarray(theta_start, float)
    history: list[str] = []
    method = "L-BFGS-B (analytic gradient, unbounded theta, sign-normalised) + Newton polish"

    x, f = _quasi_newton(obj, x0)
    history.append(f"BFGS from start: {f:.10f}")
    x = obj.normalized(x)
    if not _gradient_small(obj, layout, x):
        x2, f2 = _quasi_newton(obj, x)  # restart with fresh curvature memory
        history.append(f"BFGS restart: {f2:.10f}")
        if f2 <= f:
            x, f = layout.normalize(x2), f2
    for _ in range(3):
        x, f, snapped = _snap(obj, layout, x, f)
        if snapped:
            history.append(f"snapped near-zero diagonal to 0: {f:.10f}")
        x, f, nsteps = _newton_polish(obj, layout, x, f)
        if nsteps:
            x = layout.normalize(x)
            history.append(f"{nsteps} Newton step(s): {f:.10f}")
        # a diagonal element at exactly 0 can be a saddle (the deviance is even
        # there, so its gradient vanishes): probe both sides before accepting it
        escaped = False
        for i in np.flatnonzero(layout.is_diag & (x == 0.0)):
            for step in (1e-3, 1e-1):
                xt = x.copy()
                xt[i] = step
                if obj.value(xt) < f - SNAP_TOL:
                    xr, fr = _lbfgs(obj, xt)
                    if fr < f:
                        x, f, escaped = layout.normalize(xr), fr, True
                        history.append(f"left the boundary at theta[{i}]: {f:.10f}")
                    break
        if not escaped:
            break

    f_chk, g = obj.evaluate(x)  # as computed: a broken point must not pass as converged
    pg = _projected_gradient(layout, x, g)
    gnorm = float(np.max(np.abs(pg))) if pg.size else 0.0

    if not (np.isfinite(gnorm) and gnorm < GRAD_TOL):
        # fallback: derivative-free bounded search and other starts; keep the best
        import scipy.optimize

        method += " + Powell/extra starts"
        lower = np.where(layout.is_diag, 0.0, -np.inf)
        bounds = scipy.optimize.Bounds(lower, np.full(layout.k, np.inf))
        starts = [x, layout.start(), 0.1 * layout.start(), 3.0 * layout.start()]
        for s in starts:
            res = scipy.optimize.minimize(
                obj.value, np.maximum(s, lower), method="Powell", bounds=bounds,
                options={"xtol": 1e-10, "ftol": 1e-15, "maxfev": 20000},
            )
            xs, fs = _lbfgs(obj, layout.normalize(np.asarray(res.x, float)))
            history.append(f"powell+lbfgs from {np.round(s, 4).tolist()}: {fs:.10f}")
        if obj.best_x is not None and obj.best_f < f:
            x, f = layout.normalize(obj.best_x), obj.best_f
            x, f, _ = _snap(obj, layout, x, f)
        f_chk, g = obj.evaluate(x)
        pg = _projected_gradient(layout, x, g)
        gnorm = float(np.max(np.abs(pg))) if pg.size else 0.0

    converged = bool(np.isfinite(f_chk) and gnorm < GRAD_TOL)
    if converged:
        message = f"projected gradient max {gnorm:.2e} < {GRAD_TOL:g}"
    else:
        message = (
            f"projected gradient max {gnorm:.2e} >= {GRAD_TOL:g} at the best point found "
            f"(deviance {f_chk:.6f})"
        )
    return OptimizerResult(
        theta=x,
        deviance=float(f_chk),
        gradient=g,
        grad_norm=gnorm,
        converged=converged,
        n_evals=obj.n,
        theta_start=x0,
        method=method,
        message=message,
        history=history,
    )
