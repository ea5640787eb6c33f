"""Kuramoto phase oscillators with a directed coupling graph (NRI / ACD "Kuramoto-5").

The system follows the generator of Amortized Causal Discovery (Löwe, Madras, Zemel, Welling,
CLeaR 2022; ``loeweX/AmortizedCausalDiscovery`` ``codebase/data/generate_ODE_dataset.py`` and
``codebase/data/kuramoto.py``), itself the Kuramoto data of NRI (Kipf et al., ICML 2018);
summarised in ``docs/protocols.md`` §1.1:

* ``n = 5`` oscillators; natural frequencies ``omega_i ~ U[1, 10)``; initial phases
  ``phi_i(0) ~ U[0, 2 pi)``;
* coupling matrix ``K`` with ``K_ij ~ Bernoulli(1/2)`` for ``i != j`` (directed), zero diagonal,
  coupling strength 1;
* ``d phi_i / dt = omega_i + s * sum_j K_ij sin(phi_j - phi_i)``, so ``K_ij = 1`` means that
  oscillator ``j`` drives oscillator ``i``;
* the reference solves it with scipy's ``dopri5`` on the grid ``t = 0, 0.01, ..., 9.99`` and keeps
  every 10th point: frames at ``t = 0, 0.1, ..., 9.8`` (99 frames) for the test split; train and
  valid are cut to their first 49 frames. ``dphi/dt`` is the forward difference
  ``(phi(t + 0.01) - phi(t)) / 0.01`` at every kept grid point.

**Edge convention (matters for directed SHD).** ``edges[s, i, j] = 1`` iff there is a directed
edge ``i -> j``, i.e. oscillator ``i`` drives oscillator ``j``; hence ``edges = K^T`` with ``K``
as in the ODE above. ACD's saved ``edges_*.npy`` arrays are ``K`` itself (row = driven
oscillator), the transpose of ours.

**Stored variables** (trajectories family of the data contract):

* ``state(sample, time, entity, feature)`` with ``feature = ["dphi_dt", "sin_phi", "phi",
  "omega"]``: the reference's four node features in its order, but **raw**: ACD min-max
  normalises ``dphi/dt`` and ``phi`` per oscillator and sets ``dphi/dt`` of an oscillator without
  parents to 0, which tells a model which nodes have no incoming edge. Normalisation belongs to
  the task (train-split statistics). ``phi`` is the unwrapped phase.
* ``entity_features(sample, entity, entity_feature)`` with ``entity_feature = ["omega"]``.
* ``pos(sample, time, entity, space)``: the position ``(cos phi, sin phi)`` on the unit circle,
  ``space = ["x", "y"]`` (the contract requires ``pos``; it carries the same information as the
  phase modulo 2 pi).
* ``edges(sample, entity, entity_)`` as above.

**Integrator.** :func:`integrate` is a Dormand–Prince 5(4) Runge–Kutta (the method of scipy's
``dopri5`` / ``RK45``) written for a whole batch: every simulation shares the same time and step
size ``h``, and ``h`` is accepted only when the error estimate of the *worst* simulation of the
batch is within tolerance (per-simulation RMS norm of ``err / (atol + rtol |y|)``, then the
maximum over the batch). A shared step wastes a little work on the easy simulations but keeps the
loop free of masks and indexing, so every step is a handful of array operations over the whole
batch; all systems here have similar stiffness (``|d phi/dt| <= 10 + 4 s``), so the worst-case
step is close to the typical one. Steps are shortened to land exactly on every output time
(no interpolation). :func:`simulate_reference` integrates one simulation at a time with scipy's
``ode(...).set_integrator("dopri5")``, stepping through the full 0.01 grid as the reference does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import xarray as xr

from decathlon.benchmark.data import DatasetSpec, register_dataset
from decathlon.datasets.speed import SimBench, register_bench

__all__ = [
    "KuramotoParams",
    "KURAMOTO",
    "KURAMOTO_FRAMES",
    "KURAMOTO_TIERS",
    "KURAMOTO_SPEC",
    "FEATURES",
    "kuramoto_rhs",
    "integrate",
    "simulate",
    "simulate_reference",
    "to_dataset",
    "order_parameter",
]

#: Names of the ``state`` features, in the reference's order.
FEATURES = ["dphi_dt", "sin_phi", "phi", "omega"]


@dataclass(frozen=True)
class KuramotoParams:
    """Constants of the Kuramoto system (values of ACD's ``generate_ODE_dataset.py`` defaults).

    Parameters
    ----------
    n_osc
        Number of oscillators.
    omega_low, omega_high
        Natural frequencies are drawn from ``U[omega_low, omega_high)``.
    edge_prob
        Probability of each directed coupling ``K_ij``, ``i != j``.
    coupling
        Coupling strength ``s`` multiplying ``K`` (ACD's ``--interaction_strength``, 1).
    undirected
        Symmetrise ``K`` (lower triangle mirrored), ACD's ``--undirected``.
    grid_dt
        Spacing of the reference's output grid (0.01); also the finite-difference step of
        ``dphi_dt``.
    sample_every
        Keep every ``sample_every``-th grid point (10), so frames are ``grid_dt * sample_every``
        apart.
    rtol, atol
        Error tolerances of :func:`integrate`. ``1e-10`` keeps the integration error (measured
        against ``1e-12``: at most about 2e-8 rad in ``phi`` and 5e-8 rad/s in ``dphi_dt`` over
        2000 simulations) far below the float32 resolution of the stored values, like the
        reference's ``dopri5`` stopped at every 0.01 grid point (about 1e-10).
    """

    n_osc: int = 5
    omega_low: float = 1.0
    omega_high: float = 10.0
    edge_prob: float = 0.5
    coupling: float = 1.0
    undirected: bool = False
    grid_dt: float = 0.01
    sample_every: int = 10
    rtol: float = 1e-10
    atol: float = 1e-10


KURAMOTO = KuramotoParams()

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

    References
    ----------
    J. R. Dormand, P. J. Prince. A family of embedded Runge-Kutta formulae. J. Comput. Appl.
    Math. 6(1):19-26, 1980. E. Hairer, S. P. Nørsett, G. Wanner. Solving Ordinary Differential
    Equations I, 2nd ed., Springer 1993, §II.4 (error norm and step-size control).

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


def _draw(
    rng: np.random.Generator, p: KuramotoParams, n_sims: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Natural frequencies, initial phases and the 0/1 coupling matrix ``K`` (i driven by j)."""
    n = p.n_osc
    omega = rng.random((n_sims, n)) * (p.omega_high - p.omega_low) + p.omega_low
    phi0 = rng.random((n_sims, n)) * 2 * np.pi
    k = (rng.random((n_sims, n, n)) < p.edge_prob).astype(np.float64)
    if p.undirected:
        low = np.tril(k, -1)
        k = low + np.swapaxes(low, 1, 2)
    k *= 1 - np.eye(n)
    return omega, phi0, k


def _check(n_sims: int, n_frames: int, p: KuramotoParams) -> None:
    if n_sims < 1 or n_frames < 1 or p.n_osc < 1 or p.sample_every < 1 or p.grid_dt <= 0:
        raise ValueError(
            "need n_sims >= 1, n_frames >= 1, n_osc >= 1, sample_every >= 1 and grid_dt > 0; got "
            f"n_sims={n_sims}, n_frames={n_frames}, n_osc={p.n_osc}, "
            f"sample_every={p.sample_every}, grid_dt={p.grid_dt}"
        )


def _pack(
    phi_pairs: np.ndarray, omega: np.ndarray, k: np.ndarray, p: KuramotoParams, n_frames: int
) -> dict[str, np.ndarray]:
    """Frames and forward differences from phases at (t_k, t_k + grid_dt), (sims, frames, 2, n)."""
    phi = phi_pairs[:, :, 0]
    return {
        "phi": phi,
        "dphi_dt": (phi_pairs[:, :, 1] - phi) / p.grid_dt,
        "omega": omega,
        "coupling": k,
        "edges": np.swapaxes(k, 1, 2).copy(),
        "time": np.arange(n_frames) * p.sample_every * p.grid_dt,
    }


def simulate(
    n_sims: int,
    n_frames: int = 99,
    params: KuramotoParams = KURAMOTO,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, np.ndarray]:
    """Simulate ``n_sims`` Kuramoto systems together.

    Parameters
    ----------
    n_sims
        Number of simulations, all integrated together by :func:`integrate`.
    n_frames
        Frames kept, at ``t_k = k * grid_dt * sample_every`` (99 for the reference's test split,
        49 for train/valid).
    params
        :data:`KURAMOTO` or any :class:`KuramotoParams`.
    rng
        A generator or a seed; the same seed gives the same bytes.

    Returns
    -------
    dict
        ``phi`` and ``dphi_dt`` (sims, frames, n) float64 (unwrapped phase, forward difference
        over ``grid_dt``); ``omega`` (sims, n); ``coupling`` the 0/1 matrix ``K`` of the ODE
        (``K_ij``: j drives i); ``edges = K^T`` (``edges[s, i, j] = 1`` iff i drives j);
        ``time`` (frames,) in seconds.

    Examples
    --------
    >>> out = simulate(4, n_frames=3, rng=1)
    >>> out["phi"].shape, out["time"].round(2).tolist()
    ((4, 3, 5), [0.0, 0.1, 0.2])
    """
    _check(n_sims, n_frames, params)
    omega, phi0, k = _draw(np.random.default_rng(rng), params, n_sims)
    base = np.arange(n_frames) * params.sample_every
    steps = np.stack([base, base + 1], axis=1).ravel()  # grid indices t_k and t_k + grid_dt
    phi, _ = integrate(
        phi0, omega, params.coupling * k, steps * params.grid_dt, params.rtol, params.atol
    )
    return _pack(phi.reshape(n_sims, n_frames, 2, params.n_osc), omega, k, params, n_frames)


def simulate_reference(
    n_sims: int,
    n_frames: int = 99,
    params: KuramotoParams = KURAMOTO,
    rng: np.random.Generator | int | None = 0,
    rtol: float = 1e-6,
    atol: float = 1e-12,
) -> dict[str, np.ndarray]:
    """The same systems solved the way ACD does: one simulation at a time with scipy ``dopri5``.

    Each simulation is integrated with ``scipy.integrate.ode(...).set_integrator("dopri5")``
    through every point of the 0.01 grid, calling ``integrate(t)`` per grid point like
    ``codebase/data/kuramoto.py``, with the right-hand side written as the reference writes it
    (``omega + sum_j K_ij sin(phi_j - phi_i)``). ``rtol``/``atol`` default to scipy's ``dopri5``
    defaults, which ACD uses (stopping at every grid point keeps the steps at most 0.01, so the
    result is accurate to about 1e-10 rad). The random numbers are drawn in the same order as
    :func:`simulate`, so both see the same systems. Used by the speed benchmark and the accuracy
    tests.

    Parameters
    ----------
    n_sims, n_frames, params, rng
        As :func:`simulate` (``params.rtol``/``params.atol`` are not used here).
    rtol, atol
        Tolerances of scipy's ``dopri5``.

    Returns
    -------
    dict
        As :func:`simulate`.

    Raises
    ------
    ValueError
        Bad sizes, or scipy reports a failed integration.
    """
    from scipy.integrate import ode

    _check(n_sims, n_frames, params)
    omega, phi0, k = _draw(np.random.default_rng(rng), params, n_sims)
    n = params.n_osc
    n_grid = (n_frames - 1) * params.sample_every + 2  # up to t_last + grid_dt
    grid = np.arange(n_grid) * params.grid_dt
    pairs = np.empty((n_sims, n_frames, 2, n))

    def rhs(t: float, y: np.ndarray, w: np.ndarray, c: np.ndarray) -> np.ndarray:
        return w + np.sum(c * np.sin(y[None, :] - y[:, None]), axis=1)

    for s in range(n_sims):
        solver = ode(rhs).set_integrator("dopri5", rtol=rtol, atol=atol)
        solver.set_initial_value(phi0[s], grid[0]).set_f_params(omega[s], params.coupling * k[s])
        phi = np.empty((n_grid, n))
        phi[0] = phi0[s]
        for g in range(1, n_grid):
            phi[g] = solver.integrate(grid[g])
            if not solver.successful():
                raise ValueError(f"scipy dopri5 failed on simulation {s} at t={grid[g]}")
        base = np.arange(n_frames) * params.sample_every
        pairs[s, :, 0], pairs[s, :, 1] = phi[base], phi[base + 1]
    return _pack(pairs, omega, k, params, n_frames)


def order_parameter(phi: np.ndarray) -> np.ndarray:
    """Kuramoto order parameter ``r = |mean_i exp(i phi_i)|`` over the last axis (1 = in sync)."""
    return np.abs(np.mean(np.exp(1j * np.asarray(phi)), axis=-1))


def to_dataset(out: dict[str, np.ndarray], spec_name: str, version: str) -> xr.Dataset:
    """Wrap :func:`simulate` output as a trajectories-family dataset (data contract).

    ``state`` holds the raw features :data:`FEATURES`; ``pos`` the unit-circle position.
    """
    phi, dphi, omega = out["phi"], out["dphi_dt"], out["omega"]
    state = np.empty(phi.shape + (len(FEATURES),), dtype=np.float32)  # filled in float32
    state[..., 0] = dphi
    state[..., 1] = np.sin(phi)
    state[..., 2] = phi
    state[..., 3] = omega[:, None, :]
    pos = np.empty(phi.shape + (2,), dtype=np.float32)
    pos[..., 0] = np.cos(phi)
    pos[..., 1] = state[..., 1]
    t = out["time"]
    return xr.Dataset(
        {
            "pos": (("sample", "time", "entity", "space"), pos),
            "state": (("sample", "time", "entity", "feature"), state),
            "entity_features": (
                ("sample", "entity", "entity_feature"),
                omega[..., None].astype(np.float32),
            ),
            "edges": (("sample", "entity", "entity_"), out["edges"].astype(np.float32)),
        },
        coords={
            "time": t.astype(np.float64),
            "space": ["x", "y"],
            "feature": FEATURES,
            "entity_feature": ["omega"],
        },
        attrs={
            "family": "trajectories",
            "name": spec_name,
            "units": (
                "time in seconds; phi in radians (unwrapped), dphi_dt and omega in rad/s; "
                "pos = (cos phi, sin phi) on the unit circle"
            ),
            "dt": float(t[1] - t[0]) if len(t) > 1 else 0.0,
            "source": (
                "simulated: decathlon.datasets.kuramoto (system of loeweX/AmortizedCausalDiscovery "
                "codebase/data/generate_ODE_dataset.py, kuramoto.py)"
            ),
            "license": "CC0-1.0 (simulated)",
            "citation": (
                "Kipf, Fetaya, Wang, Welling, Zemel. Neural Relational Inference for Interacting "
                "Systems. ICML 2018; Löwe, Madras, Zemel, Welling. Amortized Causal Discovery. "
                "CLeaR 2022."
            ),
            "dataset_version": version,
            "system": "kuramoto",
            "edge_convention": "edges[s, i, j] = 1 iff oscillator i drives oscillator j (i -> j)",
        },
    )


# --------------------------------------------------------------------------------------------
# Dataset record
# --------------------------------------------------------------------------------------------

#: Frames per part: the reference integrates every split for 99 frames and cuts train/valid to
#: 49; integrating train/valid only as far as needed gives the same frames.
KURAMOTO_FRAMES = {"train": 49, "valid": 49, "test": 99}

#: ``full``: ACD's 50k/10k/10k (seed 42); ``mini`` is CPU-sized.
KURAMOTO_TIERS = {
    "mini": {"train": 2000, "valid": 500, "test": 500},
    "full": {"train": 50000, "valid": 10000, "test": 10000},
}
CHUNK = 5000  # simulations per streamed chunk (and per shared-step batch); part of the recipe
PART_INDEX = {"train": 0, "valid": 1, "test": 2}


def _build(spec: DatasetSpec, tier: str, progress: bool) -> Iterator[tuple[str, xr.Dataset]]:
    """Stream train/valid/test in chunks.

    Chunk ``c`` of part ``p`` uses the generator ``default_rng([seed, p, c])``.
    """
    from tqdm.auto import tqdm

    sizes = spec.tiers[tier]
    total = sum(sizes[p] for p in spec.parts)
    with tqdm(
        total=total, desc=f"simulate {spec.name} ({tier})", unit="sim", disable=not progress
    ) as bar:
        for part in spec.parts:
            n = sizes[part]
            for c, start in enumerate(range(0, n, CHUNK)):
                m = min(CHUNK, n - start)
                rng = np.random.default_rng([spec.seed, PART_INDEX[part], c])
                out = simulate(m, KURAMOTO_FRAMES[part], KURAMOTO, rng)
                yield part, to_dataset(out, spec.name, spec.version)
                bar.update(m)


KURAMOTO_SPEC = register_dataset(
    DatasetSpec(
        name="kuramoto-5",
        version="1",
        domain="particles",
        family="trajectories",
        build=_build,
        parts=("train", "valid", "test"),
        tiers=KURAMOTO_TIERS,
        params={**KURAMOTO.__dict__, "frames": KURAMOTO_FRAMES, "chunk": CHUNK},
        seed=42,
        license="CC0-1.0 (simulated data)",
        citation=(
            "Kipf et al., Neural Relational Inference for Interacting Systems, ICML 2018; "
            "Löwe et al., Amortized Causal Discovery, CLeaR 2022"
        ),
        card="kuramoto-5.md",
        source=(
            "https://github.com/loeweX/AmortizedCausalDiscovery "
            "(codebase/data/generate_ODE_dataset.py, codebase/data/kuramoto.py)"
        ),
    )
)

register_bench(
    SimBench(
        name="kuramoto-5",
        fast=lambda n: simulate(n, 99, KURAMOTO, 0),
        reference=lambda n: simulate_reference(n, 99, KURAMOTO, 0),
        n_fast=2000,
        n_reference=10,
        note="5 oscillators, 99 frames (t up to 9.81 s; one ACD test simulation)",
    )
)
