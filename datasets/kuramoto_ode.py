"""Kuramoto ODE solver: a batched, adaptive Dormand–Prince 5(4) integrator.

The system is ``d phi_i / dt = omega_i + sum_j C_ij sin(phi_j - phi_i)`` with ``C = s K`` per
simulation (:func:`kuramoto_rhs`); :func:`decathlon.datasets.kuramoto.simulate` solves it here.

:func:`integrate` is a Dormand–Prince 5(4) Runge–Kutta (the method of scipy's ``dopri5`` /
``RK45``) written for a whole batch: every simulation shares the same time and step size ``h``,
and ``h`` is accepted only when the error estimate of the *worst* simulation of the batch is
within tolerance (per-simulation RMS norm of ``err / (atol + rtol |y|)``, then the maximum over
the batch). A shared step wastes a little work on the easy simulations but keeps the loop free of
masks and indexing, so every step is a handful of array operations over the whole batch; all
systems here have similar stiffness (``|d phi/dt| <= 10 + 4 s``), so the worst-case step is close
to the typical one. Steps are shortened to land exactly on every output time (no interpolation).

**Portable arithmetic (data version 2).** The sines and cosines are :func:`sincos_portable`
(IEEE-754 basic operations in a fixed order), not numpy's, whose last bits are the platform
libm's: with an adaptive step, one bit can change a step's acceptance and so every later value.
With numba (the ``fast`` extra) each step runs as three compiled loops with the same operations
(:func:`_dopri_step` with :func:`_kuramoto_kernels`, 5x faster); without it, as numpy
passes; the same bits.

References: J. R. Dormand, P. J. Prince. A family of embedded Runge-Kutta formulae. J. Comput.
Appl. Math. 6(1):19-26, 1980. E. Hairer, S. P. Nørsett, G. Wanner. Solving Ordinary Differential
Equations I, 2nd ed., Springer 1993, §II.4 (error norm and step-size control).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from decathlon.datasets.speed import numba_jit

__all__ = ["kuramoto_rhs", "integrate", "sincos_portable"]

# Dormand & Prince (1980) 5(4) tableau; c = (0, 1/5, 3/10, 4/5, 8/9, 1, 1) (autonomous RHS here).
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),  # = 5th-order weights b
)
# e = b - b_hat (5th minus embedded 4th order weights), over the 7 stages (FSAL).
_E = (
    71 / 57600,
    0.0,
    -71 / 16695,
    71 / 1920,
    -17253 / 339200,
    22 / 525,
    -1 / 40,
)


# ------------------------------------------------------------------- portable sine and cosine
#: ``2/pi`` and ``pi/2`` split in three (fdlibm's ``e_rem_pio2.c`` ``pio2_1``, ``pio2_2``,
#: ``pio2_2t``): the first two have 31 and 32 significant bits, so ``n * PIO2_1`` and
#: ``n * PIO2_2`` are exact for ``|n| < 2^21``; their sum with ``PIO2_3`` is ``pi/2`` to 1e-37.
TWO_OVER_PI = 6.36619772367581382433e-01
PIO2_1 = 1.57079632673412561417e00
PIO2_2 = 6.07710050630396597660e-11
PIO2_3 = 2.02226624879595063154e-21
#: Taylor coefficients of ``(sin r - r) / r^3`` and ``(cos r - 1 + r^2/2) / r^4`` in ``z = r^2``
#: (Horner order, ``(-1)^k / (2k+1)!`` for ``k = 8..1`` and ``(-1)^k / (2k)!`` for ``k = 9..2``):
#: on ``|r| <= pi/4`` the truncation errors are below ``1e-19`` and ``1e-20``.
SIN_COEF = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(8, 0, -1))
COS_COEF = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(9, 1, -1))


def sincos_portable(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sin x`` and ``cos x`` with IEEE-754 basic operations and ``floor`` only, so the same
    bits on every platform (a libm's ``sin`` differs between glibc, macOS and Windows in the
    last bit of some values); within 2 ulp of glibc's for ``|x| <= 10^6`` (tested).

    ``x = n pi/2 + r`` (``n = floor(x 2/pi + 1/2)``, Cody and Waite's three-part ``pi/2``), the
    Taylor polynomials of ``sin r`` and ``cos r`` by Horner's rule in ``r^2``, then the quadrant
    ``n mod 4`` picks and signs them. :func:`_rhs_loop` repeats these operations for numba.

    Examples
    --------
    >>> s, c = sincos_portable(np.array([0.0, np.pi / 6, 3.0, -100.0]))
    >>> bool(np.allclose(s, np.sin([0, np.pi / 6, 3, -100]), rtol=0, atol=3e-16))
    True
    >>> bool(np.allclose(c, np.cos([0, np.pi / 6, 3, -100]), rtol=0, atol=3e-16))
    True
    """
    x = np.asarray(x, dtype=np.float64)
    n = np.floor(x * TWO_OVER_PI + 0.5)
    r = ((x - n * PIO2_1) - n * PIO2_2) - n * PIO2_3
    z = r * r
    ps, pc = np.full_like(z, SIN_COEF[0]), np.full_like(z, COS_COEF[0])
    for c in SIN_COEF[1:]:
        ps *= z
        ps += c
    for c in COS_COEF[1:]:
        pc *= z
        pc += c
    s = r + (r * z) * ps
    co = (1.0 - 0.5 * z) + (z * z) * pc
    quad = n - 4.0 * np.floor(n * 0.25)  # n mod 4, exactly, as a float
    odd = (quad == 1.0) | (quad == 3.0)
    sign = np.where(quad >= 2.0, -1.0, 1.0)
    return sign * np.where(odd, co, s), sign * np.where(odd, -s, co)


def kuramoto_rhs(phi: np.ndarray, omega: np.ndarray, coupling: np.ndarray) -> np.ndarray:
    """``d phi_i/dt = omega_i + sum_j C_ij sin(phi_j - phi_i)`` for a batch.

    Parameters
    ----------
    phi, omega
        Arrays (sims, n).
    coupling
        ``C = s K`` of shape (sims, n, n); ``C_ij`` is the influence of ``j`` on ``i``.

    Returns
    -------
    numpy.ndarray
        (sims, n). Computed as ``cos phi_i (C sin phi)_i - sin phi_i (C cos phi)_i``, which equals
        the sum above and needs ``2 n`` instead of ``n^2`` sines per simulation.

    Examples
    --------
    >>> phi = np.array([[0.0, np.pi / 2]]); c = np.array([[[0.0, 1.0], [0.0, 0.0]]])
    >>> kuramoto_rhs(phi, np.ones((1, 2)), c).round(12).tolist()  # 0 is pulled by 1, not back
    [[2.0, 1.0]]
    """
    phi = np.asarray(phi, dtype=np.float64)
    ct = np.ascontiguousarray(np.transpose(coupling, (1, 2, 0)))
    return _rhs_t(phi.T, np.asarray(omega, dtype=np.float64).T, ct).T


def _rhs_t(phi_t: np.ndarray, omega_t: np.ndarray, coupling_t: np.ndarray) -> np.ndarray:
    """:func:`kuramoto_rhs` in the (n, sims) layout the integrator uses (faster reductions).

    ``phi_t``, ``omega_t`` are (n, sims); ``coupling_t[i, j, s] = C[s, i, j]``.
    """
    s, c = sincos_portable(phi_t)
    cs = (coupling_t * s[None]).sum(axis=1)  # (C sin phi)_i
    cc = (coupling_t * c[None]).sum(axis=1)
    return omega_t + c * cs - s * cc


def _integrate_inputs(
    phi0: np.ndarray,
    omega: np.ndarray,
    coupling: np.ndarray,
    t_out: np.ndarray,
    rtol: float,
    atol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arguments of :func:`integrate` as float64 arrays, after every shape and value check."""
    phi0 = np.asarray(phi0, dtype=np.float64)
    omega = np.asarray(omega, dtype=np.float64)
    coupling = np.asarray(coupling, dtype=np.float64)
    t_out = np.asarray(t_out, dtype=np.float64)
    b, n = phi0.shape if phi0.ndim == 2 else (None, None)
    if b is None or omega.shape != (b, n) or coupling.shape != (b, n, n):
        raise ValueError(
            "integrate() expects phi0 and omega of shape (sims, n) and coupling of shape "
            f"(sims, n, n); got {phi0.shape}, {omega.shape}, {coupling.shape}"
        )
    if t_out.ndim != 1 or t_out.size < 1 or np.any(np.diff(t_out) <= 0):
        raise ValueError("t_out must be a non-empty, strictly increasing 1-D array of times")
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be positive; got rtol={rtol}, atol={atol}")
    return phi0, omega, coupling, t_out


#: The tableau as arrays for the compiled step: row ``r`` of ``_A`` (stage ``r + 1``) padded
#: with zeros, and ``_E``. A zero coefficient is skipped, as :func:`_dopri_step` leaves it out.
_A_ROWS = np.array([list(r) + [0.0] * (6 - len(r)) for r in _A])
_E_ROW = np.array(_E)


def _dopri_step(
    y: np.ndarray,
    f: np.ndarray,
    hs: float,
    w: np.ndarray,
    cpl: np.ndarray,
    rtol: float,
    atol: float,
    kernels: tuple[Callable[..., None], Callable[..., None], Callable[..., float]] | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One Dormand–Prince 5(4) trial step of size ``hs`` from ``y`` (``f`` = RHS at ``y``).

    Arrays in the (n, sims) layout of :func:`_rhs_t`. Returns the 5th-order solution, the RHS
    there (FSAL: the next step's ``k1``) and the error norm of the worst simulation.

    With ``kernels`` (:func:`_kuramoto_kernels`) the step runs as numba's loops: every value
    from the same operations in the same order as the numpy passes below, so the same bits
    (tested), in 13 loop calls instead of about 500 numpy passes (most of them the portable
    sines and cosines).
    """
    if kernels is not None:
        stage, rhs, error = kernels
        ks = np.empty((7,) + y.shape)
        ks[0] = f
        sc, acc, arg = np.empty((2,) + y.shape), np.empty((2, y.shape[1])), np.empty(y.shape)
        for row in range(1, 7):  # stages 2-6, then the 5th-order solution (row 6) and its RHS
            y_new = np.empty(y.shape) if row == 6 else arg
            stage(y, ks, _A_ROWS[row], row, hs, y_new)
            rhs(y_new, w, cpl, ks[row], sc, acc)
        return y_new, ks[6], error(y, y_new, ks, _E_ROW, hs, rtol, atol, acc[0])
    a2, a3, a4, a5, a6, a7 = _A[1:]
    e1, _, e3, e4, e5, e6, e7 = _E
    k1 = f
    k2 = _rhs_t(y + hs * (a2[0] * k1), w, cpl)
    k3 = _rhs_t(y + hs * (a3[0] * k1 + a3[1] * k2), w, cpl)
    k4 = _rhs_t(y + hs * (a4[0] * k1 + a4[1] * k2 + a4[2] * k3), w, cpl)
    k5 = _rhs_t(y + hs * (a5[0] * k1 + a5[1] * k2 + a5[2] * k3 + a5[3] * k4), w, cpl)
    k6 = _rhs_t(
        y + hs * (a6[0] * k1 + a6[1] * k2 + a6[2] * k3 + a6[3] * k4 + a6[4] * k5),
        w,
        cpl,
    )
    y_new = y + hs * (a7[0] * k1 + a7[2] * k3 + a7[3] * k4 + a7[4] * k5 + a7[5] * k6)
    k7 = _rhs_t(y_new, w, cpl)
    err = hs * (e1 * k1 + e3 * k3 + e4 * k4 + e5 * k5 + e6 * k6 + e7 * k7)
    scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
    err_norm = float(np.sqrt(np.mean((err / scale) ** 2, axis=0)).max())
    return y_new, k7, err_norm


def _stage_loop(
    y: np.ndarray, ks: np.ndarray, a: np.ndarray, terms: int, hs: float, out: np.ndarray
) -> None:
    """``out = y + hs * (a_0 k_1 + a_1 k_2 + ...)`` over the first ``terms`` stages, added
    left to right from the first, zero coefficients left out (:func:`_dopri_step`'s sums)."""
    n, m = y.shape
    for i in range(n):
        for q in range(m):
            acc = a[0] * ks[0, i, q]
            for r in range(1, terms):
                if a[r] != 0.0:
                    acc = acc + a[r] * ks[r, i, q]
            out[i, q] = y[i, q] + hs * acc


def _rhs_loop(
    phi: np.ndarray,
    w: np.ndarray,
    cpl: np.ndarray,
    out: np.ndarray,
    sc: np.ndarray,
    acc: np.ndarray,
) -> None:
    """:func:`_rhs_t` as loops: :func:`sincos_portable`'s operations into ``sc`` (2, n,
    sims), the sums over ``j`` from 0.0 in increasing ``j`` (numpy's reduction over a
    non-contiguous axis), then ``(omega + cos * cs) - sin * cc``; ``acc`` (2, sims) scratch."""
    n, m = phi.shape
    for i in range(n):
        for q in range(m):
            x = phi[i, q]
            k = np.floor(x * TWO_OVER_PI + 0.5)
            r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3
            z = r * r
            ps, pc = SIN_COEF[0], COS_COEF[0]
            for c in SIN_COEF[1:]:
                ps = ps * z + c
            for c in COS_COEF[1:]:
                pc = pc * z + c
            sr = r + (r * z) * ps
            cr = (1.0 - 0.5 * z) + (z * z) * pc
            quad = k - 4.0 * np.floor(k * 0.25)
            odd = quad == 1.0 or quad == 3.0
            sign = -1.0 if quad >= 2.0 else 1.0
            sc[0, i, q] = sign * (cr if odd else sr)
            sc[1, i, q] = sign * (-sr if odd else cr)
    s, c = sc[0], sc[1]
    cs, cc = acc[0], acc[1]
    for i in range(n):
        cs[:] = 0.0
        cc[:] = 0.0
        for j in range(n):
            row, sj, cj = cpl[i, j], s[j], c[j]
            for q in range(m):
                cs[q] += row[q] * sj[q]
                cc[q] += row[q] * cj[q]
        for q in range(m):
            out[i, q] = (w[i, q] + c[i, q] * cs[q]) - s[i, q] * cc[q]


def _error_loop(
    y: np.ndarray,
    y_new: np.ndarray,
    ks: np.ndarray,
    e: np.ndarray,
    hs: float,
    rtol: float,
    atol: float,
    acc: np.ndarray,
) -> float:
    """:func:`_dopri_step`'s error norm: ``hs * (e_1 k_1 + e_3 k_3 + ...)`` over
    ``atol + rtol max(|y|, |y_new|)``, squared, averaged over the oscillators from 0.0 in
    order, square root, the largest over the simulations (NaN if any is NaN, as numpy's)."""
    n, m = y.shape
    acc[:] = 0.0
    for i in range(n):
        for q in range(m):
            t = e[0] * ks[0, i, q]
            for r in range(1, 7):
                if e[r] != 0.0:
                    t = t + e[r] * ks[r, i, q]
            a, b = abs(y[i, q]), abs(y_new[i, q])
            big = a if (a >= b or a != a) else b  # np.maximum: NaN wins
            v = (hs * t) / (atol + rtol * big)
            acc[q] += v * v
    worst = -math.inf
    for q in range(m):
        norm = math.sqrt(acc[q] / n)
        if norm != norm:
            return norm
        worst = norm if norm > worst else worst
    return worst


@functools.cache
def _kuramoto_kernels() -> (
    tuple[Callable[..., None], Callable[..., None], Callable[..., float]] | None
):
    """:func:`_stage_loop`, :func:`_rhs_loop` and :func:`_error_loop` compiled by numba
    (:func:`~decathlon.datasets.speed.numba_jit`), or None (then :func:`_dopri_step`)."""
    loops = tuple(numba_jit(f) for f in (_stage_loop, _rhs_loop, _error_loop))
    return None if any(k is None for k in loops) else loops  # type: ignore[return-value]


def _next_step_size(h: float, hs: float, err_norm: float) -> float:
    """Step-size control after a trial step ``hs`` (of the planned ``h``) with ``err_norm``."""
    if err_norm <= 1.0:  # accepted (NaN compares False and is rejected)
        factor = 10.0 if err_norm == 0 else min(10.0, 0.9 * err_norm**-0.2)
        h_new = hs * factor
        # a step shortened to land on an output time says nothing against the longer step
        return max(h, h_new) if hs < h else h_new
    factor = 0.2 if not math.isfinite(err_norm) else max(0.2, 0.9 * err_norm**-0.2)
    return hs * factor


def _march(
    y: np.ndarray,
    w: np.ndarray,
    cpl: np.ndarray,
    t_out: np.ndarray,
    h: float,
    rtol: float,
    atol: float,
    max_steps: int,
) -> tuple[np.ndarray, dict[str, int]]:
    """The adaptive loop of :func:`integrate` in the (n, sims) layout: (t_out, n, sims), stats."""
    out = np.empty((t_out.size,) + y.shape)
    out[0] = y
    t = float(t_out[0])
    f = _rhs_t(y, w, cpl)
    stats = {"accepted": 0, "rejected": 0, "rhs_evals": 1}
    idx, kernels = 1, _kuramoto_kernels()
    while idx < t_out.size:
        if stats["accepted"] + stats["rejected"] >= max_steps:
            raise ValueError(
                f"integrate() took {max_steps} steps before t={t_out[-1]} (stuck at t={t}); "
                "check that phi0, omega and coupling are finite or loosen rtol/atol"
            )
        target = float(t_out[idx])
        remaining = target - t
        hits = h >= remaining * (1 - 1e-12)
        hs = remaining if hits else h
        y_new, k7, err_norm = _dopri_step(y, f, hs, w, cpl, rtol, atol, kernels)
        stats["rhs_evals"] += 6
        if err_norm <= 1.0:
            stats["accepted"] += 1
            y, f = y_new, k7
            if hits:
                t = target
                out[idx] = y
                idx += 1
            else:
                t += hs
        else:
            stats["rejected"] += 1
        h = _next_step_size(h, hs, err_norm)
    return out, stats


def integrate(
    phi0: np.ndarray,
    omega: np.ndarray,
    coupling: np.ndarray,
    t_out: np.ndarray,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    h0: float | None = None,
    max_steps: int = 1_000_000,
) -> tuple[np.ndarray, dict[str, int]]:
    """Solve the Kuramoto ODE for a batch with a shared adaptive Dormand–Prince 5(4) step.

    Parameters
    ----------
    phi0, omega
        Initial phases and natural frequencies, (sims, n).
    coupling
        ``s K``, (sims, n, n); see :func:`kuramoto_rhs`.
    t_out
        Increasing output times; the integration starts at ``t_out[0]`` from ``phi0``.
    rtol, atol
        Tolerances. A step is accepted when ``max_sims sqrt(mean_i (err_i / (atol + rtol
        max(|y_i|, |y_new_i|)))^2) <= 1`` (Hairer's norm per simulation, worst simulation).
    h0
        First trial step; default ``min(0.01, first output gap)`` (the controller adapts it).
    max_steps
        Guard against a step size collapsing (non-finite input).

    Returns
    -------
    phi : numpy.ndarray
        (sims, len(t_out), n) phases at the output times.
    stats : dict
        ``accepted`` and ``rejected`` step counts and ``rhs_evals``.

    Raises
    ------
    ValueError
        Shapes disagree, ``t_out`` is not increasing, or the step size collapses.

    Examples
    --------
    >>> phi0 = np.zeros((1, 2)); omega = np.array([[1.0, 2.0]])
    >>> phi, _ = integrate(phi0, omega, np.zeros((1, 2, 2)), np.array([0.0, 1.0, 2.5]))
    >>> np.round(phi[0], 12).tolist()
    [[0.0, 0.0], [1.0, 2.0], [2.5, 5.0]]
    """
    phi0, omega, coupling, t_out = _integrate_inputs(phi0, omega, coupling, t_out, rtol, atol)
    h = (
        float(h0)
        if h0 is not None
        else min(0.01, float(t_out[1] - t_out[0]) if t_out.size > 1 else 0.01)
    )
    # (n, sims) layout inside: reductions run along sims
    y = np.ascontiguousarray(phi0.T)
    w = np.ascontiguousarray(omega.T)
    cpl = np.ascontiguousarray(np.transpose(coupling, (1, 2, 0)))
    out, stats = _march(y, w, cpl, t_out, h, rtol, atol, max_steps)
    return np.transpose(out, (2, 0, 1)).copy(), stats
