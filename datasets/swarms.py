"""Collective motion: 3-D Vicsek and D'Orsogna swarms (``docs/protocols.md`` §7).

The data of Neural Persistence Dynamics (Zeng, Graf, Uray, Huber, Kwitt, NeurIPS 2024;
``plus-rkwitt/neural_persistence_dynamics`` ``simulations/generate_vicsek.py`` and
``generate_attractionrepulsion.py``), which run the models of the ``sisyphe`` package (Diez,
JOSS 2021): 200 particles in 3-D, ``dt = 0.01``, 1000 steps of which every 10th is kept (100
frames), and four generating parameters per simulation drawn at random; the task regresses
them from the trajectories.

``vicsek``
    Sisyphe's ``Vicsek`` (the continuous-time alignment model of Degond & Motsch 2008, a
    time-continuous form of Vicsek et al. 1995): constant speed ``c``, velocities on the unit
    sphere relaxed at rate ``nu`` towards the normalised mean velocity of the neighbours within
    ``radius`` (the particle itself included), with rotational noise of intensity ``noise``
    (sisyphe's ``sigma``); periodic box of side 20 with minimum-image distances. Integrator:
    explicit Euler for positions, then sisyphe's projected Euler-Maruyama step on the sphere
    with its Stratonovich correction, ``v <- normalise(v + P_v(nu Omega dt + sqrt(2 sigma dt)
    xi) - sigma (d - 1) v dt)``.
``dorsogna``
    Sisyphe's ``AttractionRepulsion`` (D'Orsogna, Chuang, Bertozzi, Chayes, PRL 2006) in free
    space: ``dx/dt = v``, ``dv/dt = alpha v - beta |v|^2 v + (1/m) sum_j m^2 (C_r/l_r
    e^{-r/l_r} - C_a/l_a e^{-r/l_a}) (x_i - x_j)/r`` (Morse potential with exponent ``p = 1``,
    summed, not averaged), mass ``m = radius^3``, ``beta = C_a = l_a = 1``; classical RK4 in
    float32, the precision sisyphe ran NPD's data in (data version 3).

Both simulators advance every simulation of a call together (arrays (sim, particle, 3));
neighbours come from vectorized pairwise differences (``O(N^2)`` per simulation and step, as
sisyphe's KeOps reductions without block sparsity). Chunk ``c`` of part ``p`` uses
``numpy.random.default_rng([seed, p, c])``. The stored datasets, their tasks and speed
benchmarks are in :mod:`decathlon.datasets.swarms_tasks`, the one-at-a-time references of the
speed benchmark in :mod:`decathlon.datasets.swarms_reference`, the pair terms (numpy passes, and
numba loops that give the same bits) in :mod:`decathlon.datasets.swarms_kernels`.

**Data version 2: the same bits on every machine.** Only IEEE-754 basic operations in a fixed
order (a portable exponential, neighbour sums in a fixed order, no BLAS), so a store's
``data_sha256`` does not depend on the CPU's SIMD level or the BLAS kernel (version 1 did:
tested in ``tests/test_portability.py``, measured in the cards). D'Orsogna's version 3 does
the same in float32 (sisyphe's precision): a force evaluation at 200 particles takes about 48
us per simulation, 135 us in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from decathlon.datasets import swarms_kernels as K

__all__ = [
    "SWARMS",
    "SwarmSystem",
    "simulate_vicsek",
    "simulate_dorsogna",
    "polarization",
]

DT = 0.01
STEPS = 1000
SAVE_EVERY = 10
N_PARTICLES = 200
VICSEK_BOX = 20.0


@dataclass(frozen=True)
class SwarmSystem:
    """A swarm model's generating parameters: names, units and how they are drawn.

    ``low``/``high`` bound the draw: uniform on ``[low, high]`` (``log2=False``) or
    ``2 ** U(low, high)`` (``log2=True``), NPD's distributions (``docs/protocols.md`` §7.1).
    """

    name: str
    params: tuple[str, ...]
    units: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    log2: bool
    #: The precision the system is simulated in (D'Orsogna's data version 3: float32, sisyphe's).
    dtype: type[np.floating] = np.float64

    def in_precision(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        """``arrays`` (parameters, initial state, drawn in float64) rounded to :attr:`dtype`."""
        return tuple(a.astype(self.dtype, copy=False) for a in arrays)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` parameter vectors (n, 4), float64 (powers of two by the portable ``2^u``)."""
        u = rng.uniform(np.asarray(self.low), np.asarray(self.high), size=(n, len(self.params)))
        return K.exp2_portable(u) if self.log2 else u

    def check(self, params: np.ndarray | None, rng: np.random.Generator, n: int) -> np.ndarray:
        """Given parameters as (n, 4) (or one (4,) vector for every simulation), else drawn."""
        if params is None:
            return self.draw(rng, n)
        p = np.asarray(params, dtype=np.float64)
        if p.shape == (len(self.params),):
            p = np.broadcast_to(p, (n, len(self.params)))
        if p.shape != (n, len(self.params)) or not np.isfinite(p).all():
            raise ValueError(
                f"{self.name} params have shape {p.shape}, expected ({n}, {len(self.params)}) or "
                f"({len(self.params)},) finite values for {', '.join(self.params)}; pass one row "
                "per simulation (or one row for all), or params=None to draw them"
            )
        return np.array(p)


#: NPD's ``generate_param()`` of ``generate_vicsek.py``, in its order (rad, c, sigma, nu).
VICSEK = SwarmSystem(
    "vicsek",
    ("radius", "speed", "noise", "nu"),
    ("length", "length/time", "1/time", "1/time"),
    (0.5, 0.5, 0.0, 0.5),
    (5.0, 5.0, 2.0, 5.0),
    log2=False,
)
#: NPD's ``generate_attractionrepulsion.py``: rad, propulsion, C_r, l_r as powers of 2.
DORSOGNA = SwarmSystem(
    "dorsogna",
    ("radius", "propulsion", "c_r", "l_r"),
    ("length", "1/time", "force", "length"),
    (-2 / 3, -2.0, -1.0, -1.5),
    (2 / 3, 2.0, 1.0, 0.5),
    log2=True,
    dtype=np.float32,
)
SWARMS = {"vicsek": VICSEK, "dorsogna": DORSOGNA}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _init(
    rng: np.random.Generator, n_sims: int, n: int, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions in ``[low, high]^3`` and uniformly random unit velocities."""
    pos = rng.uniform(low, high, size=(n_sims, n, 3))
    return pos, _unit(rng.standard_normal((n_sims, n, 3)))


def _saved(steps: int, save_every: int) -> np.ndarray:
    """Steps (0-based) after which the state is kept: NPD keeps the state yielded at
    iteration ``i`` for ``i % 10 == 0``, i.e. after steps 1, 11, 21, ..."""
    return np.arange(0, steps, save_every)


# ------------------------------------------------------------------------------------ Vicsek
#: Simulations whose pair sums are computed together: two (block, N, N) float64 buffers of
#: 6.4 MB at N = 200 stay near the cache, where (100, N, N) ones ran 2x slower per simulation.
PAIR_BLOCK = 16


def _neighbour_sums(
    pos: np.ndarray, vel: np.ndarray, r2max: np.ndarray, box: float, work: np.ndarray
) -> np.ndarray:
    """Sum of the velocities of each particle's neighbours within ``sqrt(r2max)`` (itself
    included), for arrays (sim, particle, 3) and ``r2max`` (sim, 1, 1), :data:`PAIR_BLOCK`
    simulations at a time in the reused buffers ``work`` (2, block, N, N): the 0/1 neighbour
    mask of :func:`~decathlon.datasets.swarms_kernels.neighbour_mask`, then the velocities summed
    in the fixed order of :func:`~decathlon.datasets.swarms_kernels.lane_sums` (data version 1:
    a BLAS product, whose order depends on the BLAS kernel)."""
    out = np.empty_like(vel)
    for s in range(0, len(pos), work.shape[1]):
        m = len(pos[s : s + work.shape[1]])
        mask = K.neighbour_mask(pos[s : s + m], r2max[s : s + m], box, work[:, :m])
        out[s : s + m] = K.lane_sums(mask, vel[s : s + m], diff=False, symmetric=True)
    return out


def _vicsek_step(
    pos: np.ndarray,
    vel: np.ndarray,
    p: np.ndarray,
    noise: np.ndarray,
    box: float,
    dt: float,
    work: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One step of sisyphe's ``Vicsek.update`` for arrays (sim, particle, 3); ``p`` (sim, 4)
    broadcast as (sim, 1, 1) columns; ``noise`` (sim, particle, 3) standard normal draws;
    ``work``: the pair buffers of :func:`_neighbour_sums` (allocated when None)."""
    radius, speed, sigma, nu = (p[:, k, None, None] for k in range(4))
    pos = np.mod(pos + speed * dt * vel, box)
    if work is None:
        work = np.empty((2, min(PAIR_BLOCK, len(pos)), pos.shape[1], pos.shape[1]))
    omega = _unit(_neighbour_sums(pos, vel, radius**2, box, work))
    drive = nu * omega * dt + np.sqrt(2 * sigma * dt) * noise
    tangent = drive - np.sum(vel * drive, axis=-1, keepdims=True) * vel
    return pos, _unit(vel + tangent - sigma * 2.0 * vel * dt)  # d - 1 = 2 in 3-D


def simulate_vicsek(
    rng: np.random.Generator | int | None,
    n_sims: int,
    *,
    n_particles: int = N_PARTICLES,
    steps: int = STEPS,
    save_every: int = SAVE_EVERY,
    params: np.ndarray | None = None,
    box: float = VICSEK_BOX,
    dt: float = DT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate ``n_sims`` 3-D Vicsek swarms together (sisyphe's ``Vicsek``, module text).

    Parameters
    ----------
    rng
        A generator or a seed. Draws, in order: the parameters (unless given), the initial
        positions and velocities, then one (n_sims, n_particles, 3) normal block per step.
    n_sims, n_particles, steps, save_every
        Sizes; the state after steps ``1, 1 + save_every, ...`` is kept (NPD's schedule).
    params
        (n_sims, 4) or (4,) values of ``radius, speed, noise, nu``; ``None`` draws them from
        NPD's ranges (:data:`VICSEK`).
    box, dt
        Periodic box side and time step.

    Returns
    -------
    pos, vel, params
        float64 arrays (n_sims, frames, n_particles, 3) twice and (n_sims, 4).

    Examples
    --------
    >>> pos, vel, p = simulate_vicsek(0, 2, n_particles=5, steps=20)
    >>> pos.shape, p.shape, bool(np.allclose(np.linalg.norm(vel, axis=-1), 1.0))
    ((2, 2, 5, 3), (2, 4), True)
    """
    rng = np.random.default_rng(rng)
    p = VICSEK.check(params, rng, n_sims)
    pos, vel = _init(rng, n_sims, n_particles, 0.0, box)
    keep = set(_saved(steps, save_every).tolist())
    out_p, out_v = [], []
    work = np.empty((2, min(PAIR_BLOCK, n_sims), n_particles, n_particles))
    for step in range(steps):
        pos, vel = _vicsek_step(pos, vel, p, rng.standard_normal(pos.shape), box, dt, work)
        if step in keep:
            out_p.append(pos)
            out_v.append(vel)
    return np.stack(out_p, 1), np.stack(out_v, 1), p


# ---------------------------------------------------------------------------------- D'Orsogna
def _dorsogna_force(pos: np.ndarray, vel: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Self-propulsion, friction and Morse (p = 1) forces per unit mass, (sim, particle, 3),
    in float32 (``pos``, ``vel`` and the parameters ``p`` are float32).

    The Morse sums ``sum_j g_ij (x_i - x_j)``, ``g_ij = m (C_r/l_r e^{-r/l_r} - e^{-r}) / r_ij``,
    come from :func:`~decathlon.datasets.swarms_kernels.morse_sums` (coordinate differences,
    portable exponentials, a fixed summation order; numba loops or numpy passes, the same bits)
    for :data:`PAIR_BLOCK` simulations at a time, which keeps the numpy passes' (block, N, N, 3)
    differences near the cache; ``|v|^2`` is ``(v_x^2 + v_y^2) + v_z^2``."""
    alpha = p[:, 1, None, None]
    morse = np.empty_like(pos)
    for s in range(0, len(pos), PAIR_BLOCK):
        morse[s : s + PAIR_BLOCK] = K.morse_sums(pos[s : s + PAIR_BLOCK], p[s : s + PAIR_BLOCK])
    v0, v1, v2 = vel[..., 0:1], vel[..., 1:2], vel[..., 2:3]
    speed2 = (v0 * v0 + v1 * v1) + v2 * v2
    return alpha * vel - speed2 * vel + morse


def _rk4(
    force: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    pos: np.ndarray,
    vel: np.ndarray,
    p: np.ndarray,
    dt: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One classical Runge-Kutta step of ``x' = v, v' = force(x, v)`` (sisyphe's ``update``),
    in the dtype of ``pos`` and ``vel`` (``dt`` a Python float, which does not promote)."""
    k1x, k1v = vel, force(pos, vel, p)
    k2x = vel + dt / 2 * k1v
    k2v = force(pos + dt / 2 * k1x, k2x, p)
    k3x = vel + dt / 2 * k2v
    k3v = force(pos + dt / 2 * k2x, k3x, p)
    k4x = vel + dt * k3v
    k4v = force(pos + dt * k3x, k4x, p)
    return (
        pos + dt / 6 * (k1x + 2 * k2x + 2 * k3x + k4x),
        vel + dt / 6 * (k1v + 2 * k2v + 2 * k3v + k4v),
    )


def simulate_dorsogna(
    rng: np.random.Generator | int | None,
    n_sims: int,
    *,
    n_particles: int = N_PARTICLES,
    steps: int = STEPS,
    save_every: int = SAVE_EVERY,
    params: np.ndarray | None = None,
    dt: float = DT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate ``n_sims`` 3-D D'Orsogna swarms together (sisyphe's ``AttractionRepulsion``).

    ``params`` (n_sims, 4) or (4,) are ``radius, propulsion, c_r, l_r`` (``None``: NPD's
    draws, :data:`DORSOGNA`); initial positions uniform in ``[-1/2, 1/2]^3``, unit random
    velocities; RK4 with step ``dt``; schedule and returns as :func:`simulate_vicsek`. The
    dynamics are deterministic once the initial state is drawn.

    Data version 3 simulates in float32, as sisyphe did for NPD (torch's default dtype): the
    parameters and the drawn initial state are rounded to float32 and the returned ``params``
    are those rounded values (float64 arrays holding float32 numbers). Version 2 ran in
    float64; version 1 took distances from the Gram matrix, which lost every digit in a
    travelling clump (one simulation in 10 000 overflowed and was redone from differences).

    Examples
    --------
    >>> pos, vel, p = simulate_dorsogna(0, 2, n_particles=5, steps=20)
    >>> pos.shape, bool(np.isfinite(vel).all())
    ((2, 2, 5, 3), True)
    """
    rng = np.random.default_rng(rng)
    p = DORSOGNA.check(params, rng, n_sims)
    p, pos, vel = DORSOGNA.in_precision(p, *_init(rng, n_sims, n_particles, -0.5, 0.5))
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, with the fix
        out_p, out_v = _dorsogna_run(pos, vel, p, steps, save_every, float(dt))
    bad = np.flatnonzero(_diverged(out_p, out_v))
    if len(bad):
        raise FloatingPointError(
            f"D'Orsogna simulations {bad.tolist()} overflowed; pass a smaller dt or parameters "
            "inside DORSOGNA's ranges"
        )
    return out_p, out_v, p.astype(np.float64)


def _diverged(pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """(sim,) True where a kept frame of a simulation (sim, frame, particle, 3) is not finite."""
    return ~(np.isfinite(pos).all(axis=(1, 2, 3)) & np.isfinite(vel).all(axis=(1, 2, 3)))


def _dorsogna_run(
    pos: np.ndarray, vel: np.ndarray, p: np.ndarray, steps: int, save_every: int, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """The kept frames (sim, frame, particle, 3) of :func:`simulate_dorsogna` from the initial
    state ``pos, vel``, forces from :func:`_dorsogna_force`."""
    keep = set(_saved(steps, save_every).tolist())
    out_p, out_v = [], []
    for step in range(steps):
        pos, vel = _rk4(_dorsogna_force, pos, vel, p, dt)
        if step in keep:
            out_p.append(pos)
            out_v.append(vel)
    return np.stack(out_p, 1), np.stack(out_v, 1)


def polarization(vel: np.ndarray) -> np.ndarray:
    """Vicsek's order parameter ``|sum_i v_i| / sum_i |v_i|`` over the particle axis (-2):
    1 when every particle moves the same way, about ``1/sqrt(N)`` for random directions.

    Examples
    --------
    >>> float(polarization(np.array([[1.0, 0, 0], [1.0, 0, 0]])))
    1.0
    """
    total = np.linalg.norm(vel.sum(-2), axis=-1)
    return total / np.maximum(np.linalg.norm(vel, axis=-1).sum(-1), 1e-300)
