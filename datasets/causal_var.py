"""Sparse stable VAR(lag) coefficients: the random parent patterns and the stationarity scaling.

The draws and the scaling of Neural-GC's ``simulate_var`` and ``make_var_stationary`` (Tank,
Covert, Foti, Shojaie, Fox, TPAMI 2021; ``iancovert/Neural-GC`` ``synthetic.py``), written
twice: as the reference does them, one dataset at a time (:func:`var_pattern`,
:func:`stable_coef_reference`), and for many datasets at once with the same draws and the same
result (:func:`var_patterns`, :func:`stable_coef`). The simulators, stores and benchmarks are in
:mod:`decathlon.datasets.causal`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "VARParams",
    "companion_radius",
    "var_pattern",
    "var_patterns",
    "stable_coef",
    "stable_coef_reference",
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
