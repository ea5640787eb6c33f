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

**Integrator.** :func:`simulate` integrates a whole batch at once with the shared-step
Dormand–Prince 5(4) solver of :mod:`decathlon.datasets.kuramoto_ode`, landing exactly on every
output time. :func:`simulate_reference` integrates one simulation at a time with scipy's
``ode(...).set_integrator("dopri5")``, stepping through the full 0.01 grid as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decathlon.benchmark.data import Chunk, DatasetSpec, register_dataset, stream_chunks
from decathlon.benchmark.lazy import xr
from decathlon.datasets.kuramoto_ode import integrate, sincos_portable
from decathlon.datasets.speed import SimBench, register_bench

__all__ = [
    "KuramotoParams",
    "KURAMOTO",
    "KURAMOTO_FRAMES",
    "KURAMOTO_TIERS",
    "KURAMOTO_SPEC",
    "FEATURES",
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
        Error tolerances of :func:`~decathlon.datasets.kuramoto_ode.integrate`. ``1e-10`` keeps
        the integration error (measured against ``1e-12``: at most about 2e-8 rad in ``phi`` and
        5e-8 rad/s in ``dphi_dt`` over 2000 simulations) far below the float32 resolution of the
        stored values, like the reference's ``dopri5`` stopped at every 0.01 grid point (about
        1e-10).
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
        Number of simulations, all integrated together by
        :func:`~decathlon.datasets.kuramoto_ode.integrate`.
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
    sin, cos = sincos_portable(phi)  # not numpy's: its last bits are the platform libm's
    state[..., 0] = dphi
    state[..., 1] = sin
    state[..., 2] = phi
    state[..., 3] = omega[:, None, :]
    pos = np.empty(phi.shape + (2,), dtype=np.float32)
    pos[..., 0] = cos
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


def _build_chunk(spec: DatasetSpec, tier: str, chunk: Chunk) -> xr.Dataset:
    """Chunk ``c`` of part ``p`` (at most :data:`CHUNK` simulations), from the generator
    ``default_rng([seed, p, c])``."""
    if spec.seed is None:  # the recipe derives every chunk's generator from the seed
        raise ValueError(f"dataset {spec.name!r} needs a seed (DatasetSpec.seed is None)")
    rng = np.random.default_rng([spec.seed, PART_INDEX[chunk.part], chunk.index])
    out = simulate(chunk.size, KURAMOTO_FRAMES[chunk.part], KURAMOTO, rng)
    return to_dataset(out, spec.name, spec.version)


KURAMOTO_SPEC = register_dataset(
    DatasetSpec(
        name="kuramoto-5",
        version="2",  # 2: portable sine and cosine, the same bits on every machine
        domain="particles",
        family="trajectories",
        build=stream_chunks,
        build_chunk=_build_chunk,
        chunk_size=CHUNK,
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
