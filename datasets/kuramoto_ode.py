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

References: J. R. Dormand, P. J. Prince. A family of embedded Runge-Kutta formulae. J. Comput.
Appl. Math. 6(1):19-26, 1980. E. Hairer, S. P. Nørsett, G. Wanner. Solving Ordinary Differential
Equations I, 2nd ed., Springer 1993, §II.4 (error norm and step-size control).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["kuramoto_rhs", "integrate"]

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
    s, c = np.sin(phi_t), np.cos(phi_t)
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


def _dopri_step(
    y: np.ndarray,
    f: np.ndarray,
    hs: float,
    w: np.ndarray,
    cpl: np.ndarray,
    rtol: float,
    atol: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One Dormand–Prince 5(4) trial step of size ``hs`` from ``y`` (``f`` = RHS at ``y``).

    Arrays in the (n, sims) layout of :func:`_rhs_t`. Returns the 5th-order solution, the RHS
    there (FSAL: the next step's ``k1``) and the error norm of the worst simulation.
    """
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
    idx = 1
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
        y_new, k7, err_norm = _dopri_step(y, f, hs, w, cpl, rtol, atol)
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
