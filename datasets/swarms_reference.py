"""One simulation at a time, one particle at a time: the references of the swarm simulators'
speed benchmark (``decathlon bench``), drawing from the generator in the order of the vectorized
:func:`~decathlon.datasets.swarms.simulate_vicsek` and
:func:`~decathlon.datasets.swarms.simulate_dorsogna`, so the same seed gives the same
trajectories up to round-off (tested)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from decathlon.datasets.swarms import (
    DORSOGNA,
    DT,
    N_PARTICLES,
    SAVE_EVERY,
    STEPS,
    VICSEK,
    VICSEK_BOX,
    SwarmSystem,
    _init,
    _rk4,
    _saved,
)

__all__ = ["simulate_vicsek_reference", "simulate_dorsogna_reference"]


def simulate_vicsek_reference(
    rng: np.random.Generator | int | None, n_sims: int, **kw: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One simulation at a time, one particle at a time in the neighbour sums: the Python loop
    of a per-simulation generator, drawing from ``rng`` in the order of
    :func:`simulate_vicsek` (so the same seed gives the same trajectories up to round-off)."""
    return _reference(rng, n_sims, VICSEK, _vicsek_loop, **kw)


def _vicsek_loop(
    pos: np.ndarray, vel: np.ndarray, p: np.ndarray, noise: np.ndarray, box: float, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """One Vicsek step of one simulation (pos, vel (N, 3)) with a loop over particles."""
    radius, speed, sigma, nu = p
    pos = np.mod(pos + speed * dt * vel, box)
    new = np.empty_like(vel)
    for i in range(len(pos)):
        d = pos[i] - pos
        d -= box * np.round(d / box)
        j = vel[np.sum(d * d, axis=1) <= radius**2].sum(0)
        drive = nu * j / np.linalg.norm(j) * dt + np.sqrt(2 * sigma * dt) * noise[i]
        tangent = drive - np.dot(vel[i], drive) * vel[i]
        v = vel[i] + tangent - sigma * 2.0 * vel[i] * dt
        new[i] = v / np.linalg.norm(v)
    return pos, new


def _dorsogna_loop_force(pos: np.ndarray, vel: np.ndarray, p: np.ndarray) -> np.ndarray:
    """:func:`_dorsogna_force` for one simulation (N, 3), one particle at a time, in the dtype
    of ``pos`` (float32, as sisyphe and the vectorized simulator), with numpy's ``exp``."""
    radius, alpha, c_r, l_r = p[0]
    out = np.empty_like(vel)
    for i in range(len(pos)):
        d = pos[i] - pos
        r = np.sqrt(np.sum(d * d, axis=1))
        r[i] = 1.0
        mag = radius**3 * (c_r / l_r * np.exp(-r / l_r) - np.exp(-r)) / r
        mag[i] = 0.0
        out[i] = alpha * vel[i] - np.dot(vel[i], vel[i]) * vel[i] + mag @ d
    return out


def _dorsogna_loop(
    pos: np.ndarray, vel: np.ndarray, p: np.ndarray, noise: np.ndarray, box: float, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    return _rk4(_dorsogna_loop_force, pos, vel, p[None], dt)


def simulate_dorsogna_reference(
    rng: np.random.Generator | int | None, n_sims: int, **kw: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One simulation at a time with a loop over particles (the reference of the speed
    benchmark), same draws as :func:`simulate_dorsogna`, in float32 as it (data version 3)."""
    return _reference(rng, n_sims, DORSOGNA, _dorsogna_loop, **kw)


def _reference(
    rng: np.random.Generator | int | None,
    n_sims: int,
    system: SwarmSystem,
    step_fn: Callable[..., tuple[np.ndarray, np.ndarray]],
    *,
    n_particles: int = N_PARTICLES,
    steps: int = STEPS,
    save_every: int = SAVE_EVERY,
    dt: float = DT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-simulation, per-step, per-particle loop of both systems. The draws are those of
    the vectorized simulators (parameters, positions, velocities for every simulation, then
    one normal block per step for Vicsek), sliced per simulation."""
    rng = np.random.default_rng(rng)
    p = system.check(None, rng, n_sims)
    low, high = (0.0, VICSEK_BOX) if system is VICSEK else (-0.5, 0.5)
    p, pos0, vel0 = system.in_precision(p, *_init(rng, n_sims, n_particles, low, high))
    noise = (
        [rng.standard_normal((n_sims, n_particles, 3)) for _ in range(steps)]
        if system is VICSEK
        else [np.zeros((n_sims, n_particles, 3))] * steps
    )
    keep = set(_saved(steps, save_every).tolist())
    all_p, all_v = [], []
    for s in range(n_sims):
        pos, vel, frames_p, frames_v = pos0[s], vel0[s], [], []
        for step in range(steps):
            pos, vel = step_fn(pos, vel, p[s], noise[step][s], VICSEK_BOX, dt)
            if step in keep:
                frames_p.append(pos)
                frames_v.append(vel)
        all_p.append(np.stack(frames_p))
        all_v.append(np.stack(frames_v))
    return np.stack(all_p), np.stack(all_v), p.astype(np.float64)
