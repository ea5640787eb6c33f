"""Sparse stable VAR(lag) coefficients: the random parent patterns and the stationarity scaling.

The draws and the scaling of Neural-GC's ``simulate_var`` and ``make_var_stationary`` (Tank,
Covert, Foti, Shojaie, Fox, TPAMI 2021; ``iancovert/Neural-GC`` ``synthetic.py``), written
twice: as the reference does them, one dataset at a time (:func:`var_pattern`,
:func:`stable_coef_reference`), and for many datasets at once with the same draws and the same
result (:func:`var_patterns`, :func:`stable_coef`); and the recursion itself in a fixed order
(:func:`var_recursion`). The simulators, stores and benchmarks are in
:mod:`decathlon.datasets.causal`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from decathlon.datasets.speed import numba_jit

__all__ = [
    "VARParams",
    "companion_radius",
    "var_pattern",
    "var_patterns",
    "stable_coef",
    "stable_coef_reference",
    "var_parents",
    "var_recursion",
]


@dataclass(frozen=True)
class VARParams:
    """Sparse stable VAR settings (Neural-GC ``simulate_var`` and its paper's ``p = 20``; CUTS
    uses ``p = 10``, where ridge Granger already reaches AUROC 0.9998 at T = 1000)."""

    p: int = 20
    lag: int = 3
    frames: int = 1000
    sparsity: float = 0.2
    beta: float = 1.0
    noise_sd: float = 0.1
    burn_in: int = 100
    radius: float = 0.97
    shrink: float = 0.95


def companion_radius(coef: np.ndarray) -> float:
    """Spectral radius of the companion matrix of VAR coefficients ``coef`` (lag, p, p), with
    ``x_t = sum_l coef[l] @ x_{t-l-1} + e_t``.

    Examples
    --------
    >>> companion_radius(np.array([[[0.5]]]))
    0.5
    """
    lag, p, _ = coef.shape
    comp = np.zeros((lag * p, lag * p))
    comp[:p] = np.concatenate(list(coef), axis=1)
    comp[p:, : (lag - 1) * p] = np.eye((lag - 1) * p)
    return float(np.max(np.abs(np.linalg.eigvals(comp))))


def _cubic_radius(z: np.ndarray) -> np.ndarray:
    """Largest root modulus of ``lambda^3 - z (lambda^2 + lambda + 1)`` for each complex ``z``
    (Cardano's formula, vectorized; the three roots are ``t - a/3`` with ``t = C w^k -
    P / (3 C w^k)`` for the cube roots of unity ``w^k``)."""
    a = -z
    pp = -z - a * a / 3.0
    qq = 2.0 * a**3 / 27.0 - a * (-z) / 3.0 - z
    disc = np.sqrt(qq * qq / 4.0 + pp**3 / 27.0 + 0j)
    w = -qq / 2.0 + np.where(np.abs(-qq / 2.0 + disc) >= np.abs(-qq / 2.0 - disc), disc, -disc)
    cc = np.exp(np.log(np.where(w == 0, 1.0, w)) / 3.0)
    out = np.zeros(z.shape)
    for k in range(3):
        ck = cc * np.exp(2j * np.pi * k / 3)
        t = np.where(w == 0, 0.0, ck - pp / (3.0 * ck))
        out = np.maximum(out, np.abs(t - a / 3.0))
    return out


def _lag_radius(mu: np.ndarray, c: np.ndarray, lag: int) -> np.ndarray:
    """Spectral radius of the companion matrix of ``A_l = c A`` for every lag, for each scale
    in ``c`` (..., K), from eigenvalues ``mu`` (..., q) of ``A`` (the leading axes broadcast):
    its eigenvalues solve ``lambda^lag = c mu sum_{k<lag} lambda^k`` for each ``mu`` (closed
    form for lag 3, else these polynomials' companion matrices in one batch); (..., K), the
    maximum over the ``mu`` given."""
    z = c[..., :, None] * mu[..., None, :]
    if lag == 3:
        return _cubic_radius(z).max(-1)
    comp = np.zeros(z.shape + (lag, lag), dtype=complex)
    comp[..., 0, :] = z[..., None]
    comp[..., np.arange(1, lag), np.arange(lag - 1)] = 1.0
    return np.abs(np.linalg.eigvals(comp)).max(axis=(-2, -1))


def var_pattern(rng: np.random.Generator, pr: VARParams) -> np.ndarray:
    """The unscaled pattern ``A`` (p, p) of one dataset, ``A[j, i]``: effect of ``x_i`` on
    ``x_j``; self-lags on and ``int(p sparsity) - 1`` random other parents per row."""
    p, k = pr.p, int(pr.p * pr.sparsity) - 1
    a = np.eye(p) * pr.beta
    for j in range(p):
        pick = rng.choice(p - 1, size=k, replace=False)
        pick[pick >= j] += 1
        a[j, pick] = pr.beta
    return a


def var_patterns(rngs: list[np.random.Generator], pr: VARParams) -> np.ndarray:
    """:func:`var_pattern` of every generator (n, p, p), the same parents from the same draws.

    ``Generator.choice(m, k, replace=False)`` (numpy >= 1.17, ``m <= 10000``) draws Floyd's
    sample with one bounded integer on ``[0, j]`` for ``j = m - k, ..., m - 1`` (a value
    already taken is replaced by ``j``), then shuffles it with one on ``[0, i]`` for
    ``i = k - 1, ..., 1``; ``integers`` with an array of bounds makes the same bounded draws
    (Lemire's method on 32-bit outputs) in order. So one ``integers`` call per dataset, for all
    ``p`` rows, leaves each generator exactly where the ``p`` ``choice`` calls do
    (``tests/test_causal.py`` compares the states), and Floyd's rule is applied to every row of
    every dataset at once. The shuffle only reorders a row's parents, so its draws are consumed
    and not used.

    Examples
    --------
    >>> pr = VARParams(p=5, sparsity=0.6)  # each variable: itself and 2 other parents
    >>> fast = var_patterns([np.random.default_rng(1)], pr)[0]
    >>> bool((fast == var_pattern(np.random.default_rng(1), pr)).all()), fast.sum(1).tolist()
    (True, [3.0, 3.0, 3.0, 3.0, 3.0])
    """
    p, k = pr.p, int(pr.p * pr.sparsity) - 1
    m = p - 1
    if k < 0 or k > m:
        raise ValueError(
            f"VAR sparsity {pr.sparsity} gives {k} other parents per variable for p = {p}; "
            f"expected 0 to {m}: choose sparsity in [1/p, 1]"
        )
    if m > 10000:  # numpy's choice shuffles the tail of a permutation instead
        return np.stack([var_pattern(r, pr) for r in rngs])
    highs = np.tile(np.concatenate([np.arange(m - k, m) + 1, np.arange(k - 1, 0, -1) + 1]), p)
    draws = np.stack([r.integers(0, highs) for r in rngs])
    draws = draws.reshape(len(rngs), p, max(2 * k - 1, 0))[..., :k]
    pick = np.empty_like(draws)
    for t in range(k):  # Floyd: a value already taken becomes j = m - k + t
        taken = (pick[..., :t] == draws[..., t, None]).any(-1)
        pick[..., t] = np.where(taken, m - k + t, draws[..., t])
    pick += pick >= np.arange(p)[:, None]  # skip the diagonal
    a = np.repeat((np.eye(p) * pr.beta)[None], len(rngs), axis=0)
    np.put_along_axis(a, pick, pr.beta, axis=-1)
    return a


def stable_coef(a: np.ndarray, pr: VARParams) -> np.ndarray:
    """Coefficients (n, lag, p, p) of patterns ``a`` (n, p, p): ``A`` at every lag, scaled by
    ``shrink^k`` with the first ``k`` that brings the companion matrix's spectral radius to at
    most ``radius``; radii from the eigenvalues of ``A`` (:func:`_lag_radius`, equal to
    :func:`companion_radius`) for 128 candidate scales at a time.

    The largest-modulus eigenvalue alone gives a radius no larger than all of them (the same
    numbers, a maximum over fewer), so a scale it rules out is out: every dataset's candidates
    are screened with it, and the full radius is computed only at its first candidate left
    (usually the answer). The ``k`` found, hence the coefficients, are those of the full scan.

    Examples
    --------
    >>> a = var_patterns([np.random.default_rng(1)], VARParams(p=5, sparsity=0.6))
    >>> coef = stable_coef(a, VARParams(p=5, sparsity=0.6))
    >>> coef.shape, companion_radius(coef[0]) <= 0.97 < companion_radius(coef[0] / 0.95)
    ((1, 3, 5, 5), True)
    """
    mu = np.linalg.eigvals(a)  # (n, p)
    top = np.take_along_axis(mu, np.argmax(np.abs(mu), axis=1)[:, None], axis=1)
    first, k0 = np.full(len(a), -1), 0
    while (first < 0).any():
        c = pr.shrink ** np.arange(k0, k0 + 128, dtype=np.float64)
        todo = np.flatnonzero(first < 0)
        maybe = _lag_radius(top[todo], c, pr.lag) <= pr.radius  # (todo, 128)
        while maybe.any():
            rows = np.flatnonzero(maybe.any(1))
            col = np.argmax(maybe[rows], axis=1)  # first candidate left
            ok = _lag_radius(mu[todo[rows]], c[col, None], pr.lag)[:, 0] <= pr.radius
            first[todo[rows[ok]]] = k0 + col[ok]
            maybe[rows[ok]] = False
            maybe[rows[~ok], col[~ok]] = False
        k0 += 128
    scale = np.empty(len(a))
    for b in np.unique(first // 128):  # the same powers as the scan's batches
        c = pr.shrink ** np.arange(128 * b, 128 * b + 128, dtype=np.float64)
        sel = first // 128 == b
        scale[sel] = c[first[sel] - 128 * b]
    return np.repeat((a * scale[:, None, None])[:, None], pr.lag, axis=1)


def stable_coef_reference(a: np.ndarray, pr: VARParams) -> np.ndarray:
    """The same scaling as Neural-GC's ``make_var_stationary``: multiply by ``shrink`` while the
    full companion matrix has a larger spectral radius than ``radius``."""
    coef = np.repeat(a[None], pr.lag, axis=0)
    while companion_radius(coef) > pr.radius:
        coef = coef * pr.shrink
    return coef


# ------------------------------------------------------------------------------- the recursion
def var_parents(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nonzero columns of ``a`` (n, p, p) in increasing order, and their values:
    ``idx`` (n, p, K) int64 and ``val`` (n, p, K), ``K`` the most in any row; a shorter row
    is padded with column 0 and value 0.0 (a term ``0 w_0``, which adds a zero)."""
    nz = a != 0
    k = max(int(nz.sum(-1).max(initial=0)), 1)
    order = np.argsort(~nz, axis=-1, kind="stable")[..., :k]  # nonzero columns first, ascending
    val = np.take_along_axis(a, order, -1)
    return np.ascontiguousarray(np.where(val != 0, order, 0), dtype=np.int64), val


def var_recursion(a: np.ndarray, x: np.ndarray, lag: int) -> np.ndarray:
    """Run ``x_t = e_t + A (x_{t-1} + ... + x_{t-lag})`` in place on ``x`` (n, T, p), which
    holds the noise ``e`` (the first ``lag`` steps stay the noise, as Neural-GC's
    ``simulate_var``), with one matrix ``A`` (n, p, p) at every lag, as that model has: the
    same process as ``sum_l A_l x_{t-l}`` with ``A_l = A``, with a third of its nonzero
    products. Returns ``x``.

    The operations and their order are fixed, so the bits do not depend on a BLAS library or
    the CPU: the window sum ``(x_{t-1} + x_{t-2}) + x_{t-3} ...``, then for each variable the
    products with its parents' sums in increasing column order (:func:`var_parents`) added
    from the first, then added to ``e_t``. numba's loop (:func:`var_loop`) and the numpy
    passes give the same bits (tested); a matrix product's summation order would depend on
    the BLAS kernel (it did, by 1 ulp in float64, on a CPU without FMA).

    Examples
    --------
    >>> a = np.array([[[0.5, 0.0], [0.25, 0.5]]])  # x_1 drives x_2
    >>> x = np.zeros((1, 4, 2)); x[0, 0] = [1.0, 0.0]
    >>> var_recursion(a, x, 1)[0].tolist()
    [[1.0, 0.0], [0.5, 0.25], [0.25, 0.25], [0.125, 0.1875]]
    """
    idx, val = var_parents(a)
    kernel = _var_kernel()
    if kernel is not None:
        kernel(idx, val, x, lag, np.empty(x.shape[2]))
        return x
    n, n_t, p = x.shape
    rows = (idx + (np.arange(n) * p)[:, None, None]).transpose(2, 0, 1)  # (K, n, p) into w
    rows, val = np.ascontiguousarray(rows), np.ascontiguousarray(val.transpose(2, 0, 1))
    w, g, acc = np.empty((n, p)), np.empty(rows.shape), np.empty((n, p))
    for t in range(lag, n_t):
        np.copyto(w, x[:, t - 1])
        for back in range(2, lag + 1):
            np.add(w, x[:, t - back], out=w)
        np.take(w.reshape(-1), rows, out=g)
        np.multiply(g, val, out=g)
        np.copyto(acc, g[0])
        for q in range(1, len(g)):
            np.add(acc, g[q], out=acc)
        np.add(x[:, t], acc, out=x[:, t])
    return x


def var_loop(idx: np.ndarray, val: np.ndarray, x: np.ndarray, lag: int, w: np.ndarray) -> None:
    """:func:`var_recursion` as loops for numba, one dataset at a time (``w`` (p,) scratch):
    the same operations in the same order as its numpy passes."""
    n, n_t, p = x.shape
    k = idx.shape[2]
    for s in range(n):
        xs, js, vs = x[s], idx[s], val[s]
        for t in range(lag, n_t):
            for j in range(p):
                w[j] = xs[t - 1, j]
            for back in range(2, lag + 1):
                for j in range(p):
                    w[j] += xs[t - back, j]
            for i in range(p):
                acc = vs[i, 0] * w[js[i, 0]]
                for q in range(1, k):
                    acc += vs[i, q] * w[js[i, q]]
                xs[t, i] += acc


@functools.cache
def _var_kernel() -> Callable[..., None] | None:
    """:func:`var_loop` compiled by numba (:func:`~decathlon.datasets.speed.numba_jit`), or
    None (then numpy's passes, the same bits, about 3x slower)."""
    return numba_jit(var_loop)
