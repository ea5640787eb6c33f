"""NRI particle systems: springs and charged particles in a 2-D box (Kipf et al., ICML 2018).

The physics, integrator and constants follow the NRI generator
(``ethanfetaya/NRI`` ``data/synthetic_sim.py`` ``SpringSim`` / ``ChargedParticlesSim`` and
``data/generate_dataset.py``; summarised in ``docs/protocols.md`` §1.1):

* ``n_balls`` = 5 balls in 2-D, box half-width 5 with elastic walls: a coordinate past a wall is
  mirrored back (``x -> 2*5 - x``) and the normal velocity component points inwards.
* ``dt`` = 0.001; force components are clipped to +-``max_force`` = 0.1/dt = 100; unit masses.
* initial positions ``N(0, loc_std^2)``; initial velocities ``N(0, 1)`` rescaled so that every
  ball's speed is ``vel_norm`` = 0.5.
* integrator: ``v += dt F(x)`` once, then for ``i = 1 .. T-1``: ``x += dt v``; wall reflection;
  store ``(x, v)`` if ``i % sample_freq == 0``; ``v += dt F(x)``. This stores ``T/sample_freq - 1``
  frames, at times ``k * sample_freq * dt`` for ``k = 1, 2, ...``.
* springs: ``F_i = -k sum_j A_ij (x_i - x_j)``, ``k = 0.1``, ``A`` symmetric with zero diagonal and
  each unordered pair connected with probability 1/2, ``loc_std = 0.5``.
* charged: ``F_i = k sum_j q_i q_j (x_i - x_j) / |x_i - x_j|^3``, ``k = 1``, charges +-1 with
  probability 1/2, ``loc_std = 1``; the interaction graph is "like charges" (``q_i q_j = +1``).

Unlike the reference, which runs one simulation at a time in a Python loop over steps, every
simulation of a batch advances together (:mod:`decathlon.datasets.nri_kernels`: arrays
``(dim, balls, sims)``, buffers allocated once); only the loop over time steps remains.
:func:`simulate_reference` keeps the reference's one-at-a-time structure with the same physics,
for the speed benchmark and for the equivalence test; :mod:`decathlon.datasets.c_reference` is the
same loop in C, the compiled yardstick of ``decathlon bench``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from decathlon.benchmark.data import Chunk, DatasetSpec, register_dataset, stream_chunks
from decathlon.benchmark.lazy import xr
from decathlon.datasets import c_reference
from decathlon.datasets.nri_kernels import integrate, make_forces
from decathlon.datasets.speed import SimBench, register_bench

__all__ = [
    "NRIParams",
    "SPRINGS",
    "CHARGED",
    "simulate",
    "simulate_reference",
    "energy",
    "initial_conditions",
    "integrate_from",
]


@dataclass(frozen=True)
class NRIParams:
    """Constants of one NRI system (values from ``ethanfetaya/NRI`` ``synthetic_sim.py``)."""

    system: str  # "springs" or "charged"
    n_balls: int = 5
    box_size: float | None = 5.0  # None: no walls
    loc_std: float = 0.5
    vel_norm: float = 0.5
    interaction_strength: float = 0.1
    edge_prob: float = 0.5  # P(spring) or P(charge = +1)
    dt: float = 0.001
    max_force: float = 100.0  # 0.1 / dt in the reference
    dim: int = 2


SPRINGS = NRIParams("springs")
CHARGED = NRIParams("charged", loc_std=1.0, interaction_strength=1.0)


def _sample_graph(rng: np.random.Generator, p: NRIParams, n_sims: int):
    """Springs: symmetric 0/1 adjacency (lower triangle mirrored). Charged: charges and q q^T."""
    n = p.n_balls
    if p.system == "springs":
        a = (rng.random((n_sims, n, n)) < p.edge_prob).astype(np.float64)
        low = np.tril(a, -1)
        adj = low + np.swapaxes(low, 1, 2)
        return adj, None
    if p.system == "charged":
        q = np.where(rng.random((n_sims, n)) < p.edge_prob, 1.0, -1.0)
        qq = q[:, :, None] * q[:, None, :]
        return qq, q
    raise ValueError(f"unknown NRI system {p.system!r}; expected 'springs' or 'charged'")


def _forces(x: np.ndarray, coupling: np.ndarray, p: NRIParams) -> np.ndarray:
    """Forces on every ball, ``x`` of shape (sims, n, dim), clipped component-wise (the
    integrator's own arithmetic, :mod:`decathlon.datasets.nri_kernels`)."""
    xs = np.ascontiguousarray(x.transpose(2, 1, 0))
    f = np.empty_like(xs)
    make_forces(coupling, p)(xs, f)
    return f.transpose(2, 1, 0)


def _reflect(x: np.ndarray, v: np.ndarray, box: float | None) -> None:
    """Elastic walls at +-box, in place (the reference's ``_clamp``)."""
    if box is None:
        return
    over = x > box
    x[over] = 2 * box - x[over]
    v[over] = -np.abs(v[over])
    under = x < -box
    x[under] = -2 * box - x[under]
    v[under] = np.abs(v[under])


def _initial_state(rng: np.random.Generator, p: NRIParams, n_sims: int):
    x = rng.standard_normal((n_sims, p.n_balls, p.dim)) * p.loc_std
    v = rng.standard_normal((n_sims, p.n_balls, p.dim))
    v *= p.vel_norm / np.linalg.norm(v, axis=-1, keepdims=True)
    return x, v


def simulate(
    n_sims: int,
    n_steps: int = 5000,
    sample_freq: int = 100,
    params: NRIParams = SPRINGS,
    rng: np.random.Generator | int | None = 0,
    *,
    friction: float = 0.0,
) -> dict[str, np.ndarray]:
    """Simulate ``n_sims`` independent systems together.

    Parameters
    ----------
    n_sims
        Number of simulations, all advanced together.
    n_steps, sample_freq
        Integration steps ``T`` and the storing period; ``T // sample_freq - 1`` frames are kept.
    params
        :data:`SPRINGS`, :data:`CHARGED` or any :class:`NRIParams`.
    rng
        A generator or a seed; the same seed gives the same bytes.
    friction
        Linear drag ``gamma`` (force ``-gamma v``, unit masses); 0 (the default) is NRI's
        conservative system, byte for byte. A positive value gives the damped variant of the
        arrow-of-time event (``docs/protocols.md`` §9).

    Returns
    -------
    dict
        ``pos``, ``vel`` of shape (sims, frames, balls, dim), float64; ``edges`` (sims, n, n)
        0/1 ground-truth interaction graph with zero diagonal; ``charges`` (sims, n) for the
        charged system; ``time`` (frames,) in seconds.

    Examples
    --------
    >>> out = simulate(3, n_steps=500, sample_freq=100, rng=1)
    >>> out["pos"].shape, out["time"].round(2).tolist()
    ((3, 4, 5, 2), [0.1, 0.2, 0.3, 0.4])
    """
    if n_sims < 1 or n_steps < 2 * sample_freq or sample_freq < 1:
        raise ValueError(
            f"need n_sims >= 1 and n_steps >= 2*sample_freq >= 2; got n_sims={n_sims}, "
            f"n_steps={n_steps}, sample_freq={sample_freq}"
        )
    coupling, charges, x, v = initial_conditions(params, n_sims, rng)
    pos, vel = integrate_from(x, v, coupling, params, n_steps, sample_freq, friction)
    edges = coupling if params.system == "springs" else (coupling > 0).astype(np.float64)
    n = params.n_balls
    edges = edges * (1 - np.eye(n))
    out = {
        "pos": pos,
        "vel": vel,
        "edges": edges,
        "time": np.arange(1, pos.shape[1] + 1) * sample_freq * params.dt,
    }
    if charges is not None:
        out["charges"] = charges
    return out


def initial_conditions(
    params: NRIParams, n_sims: int, rng: np.random.Generator | int | None = 0
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """The random start of :func:`simulate`: ``coupling`` (sims, n, n), ``charges`` (sims, n) or
    None, positions and velocities (sims, n, dim) with the walls applied, drawn in
    :func:`simulate`'s order (so the same generator gives the same start).

    Examples
    --------
    >>> coupling, charges, x, v = initial_conditions(SPRINGS, 2, 0)
    >>> coupling.shape, charges, x.shape, np.linalg.norm(v, axis=-1).round(3).tolist()[0]
    ((2, 5, 5), None, (2, 5, 2), [0.5, 0.5, 0.5, 0.5, 0.5])
    """
    rng = np.random.default_rng(rng)
    coupling, charges = _sample_graph(rng, params, n_sims)
    x, v = _initial_state(rng, params, n_sims)
    _reflect(x, v, params.box_size)
    return coupling, charges, x, v


def integrate_from(
    x: np.ndarray,
    v: np.ndarray,
    coupling: np.ndarray,
    params: NRIParams,
    n_steps: int,
    sample_freq: int,
    friction: float | np.ndarray = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate given starts ``x``, ``v`` (sims, n, dim) with :func:`simulate`'s loop
    (:func:`decathlon.datasets.nri_kernels.integrate`); ``friction`` a number or one per
    simulation. Returns the stored ``pos``, ``vel`` (sims, frames, n, dim)."""
    xs, vs = (np.ascontiguousarray(a.transpose(2, 1, 0)) for a in (x, v))  # (dim, n, sims)
    force = make_forces(coupling, params)
    return integrate(xs, vs, force, params, n_steps, sample_freq, friction)


def simulate_reference(
    n_sims: int,
    n_steps: int = 5000,
    sample_freq: int = 100,
    params: NRIParams = SPRINGS,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, np.ndarray]:
    """The same physics written the way the NRI generator is: one simulation at a time.

    Used only by the speed benchmark and the equivalence test. It draws the random numbers in the
    same order as :func:`simulate` (graph, positions and velocities for all simulations first), so
    the two agree to rounding.
    """
    rng = np.random.default_rng(rng)
    coupling, _ = _sample_graph(rng, params, n_sims)
    x0, v0 = _initial_state(rng, params, n_sims)
    n_save = n_steps // sample_freq - 1
    n, d, dt, box = params.n_balls, params.dim, params.dt, params.box_size
    pos = np.empty((n_sims, n_save, n, d))
    vel = np.empty_like(pos)
    for s in range(n_sims):
        a = coupling[s]
        x, v = x0[s].copy(), v0[s].copy()

        def force(x, a=a):
            # as NRI's generator: numpy over the pairs of one simulation (np.subtract.outer)
            diff = np.stack([np.subtract.outer(x[:, k], x[:, k]) for k in range(d)])  # (d, n, n)
            if params.system == "springs":
                w = -params.interaction_strength * a
            else:
                r2 = (diff**2).sum(0)
                np.fill_diagonal(r2, np.inf)
                w = params.interaction_strength * a / r2**1.5
            np.fill_diagonal(w, 0.0)
            f = (w[None] * diff).sum(-1).T  # (n, d)
            return np.clip(f, -params.max_force, params.max_force)

        _reflect(x[None], v[None], box)
        v += dt * force(x)
        k = 0
        for i in range(1, n_steps):
            x += dt * v
            _reflect(x[None], v[None], box)
            if i % sample_freq == 0 and k < n_save:
                pos[s, k], vel[s, k] = x, v
                k += 1
            v += dt * force(x)
    return {"pos": pos, "vel": vel}


def energy(pos: np.ndarray, vel: np.ndarray, coupling: np.ndarray, params: NRIParams) -> np.ndarray:
    """Total energy (unit masses) per simulation and frame, arrays (sims, frames, n, dim).

    Kinetic ``sum_i |v_i|^2 / 2`` plus potential: springs ``k/2 sum_{i<j} A_ij |x_i - x_j|^2``;
    charged ``k sum_{i<j} q_i q_j / |x_i - x_j|`` (``coupling`` = ``q q^T``). Walls add none.
    """
    kin = 0.5 * np.sum(vel**2, axis=(-1, -2))
    diff = pos[:, :, :, None, :] - pos[:, :, None, :, :]
    r2 = np.sum(diff**2, axis=-1)
    n = pos.shape[2]
    iu = np.triu_indices(n, 1)
    c = coupling[:, None][:, :, iu[0], iu[1]]
    if params.system == "springs":
        pot = 0.5 * params.interaction_strength * np.sum(c * r2[:, :, iu[0], iu[1]], axis=-1)
    else:
        pot = params.interaction_strength * np.sum(c / np.sqrt(r2[:, :, iu[0], iu[1]]), axis=-1)
    return kin + pot


# --------------------------------------------------------------------------------------------
# Dataset records: the simulator registered as a dataset whose parts are NRI's three splits.
# --------------------------------------------------------------------------------------------

#: Split sizes and lengths. ``full`` is NRI's ``generate_dataset.py`` default (50k/10k/10k,
#: 5000 steps, test 10000 steps, every 100th stored, seed 42); ``mini`` is CPU-sized.
NRI_TIERS = {
    "mini": {"train": 2000, "valid": 500, "test": 500},
    "full": {"train": 50000, "valid": 10000, "test": 10000},
}
#: Springs only: a million training simulations (scale tests, ``docs/architecture.md``
#: "Scale"); valid and test as ``full``. Chunks are seeded by (seed, part, chunk), so its valid
#: and test splits are the ``full`` tier's, byte for byte, and its first 50000 training
#: simulations are ``full``'s: only the amount of training data changes.
SPRINGS_TIERS = {**NRI_TIERS, "large": {"train": 1_000_000, "valid": 10000, "test": 10000}}
NRI_STEPS = {"train": 5000, "valid": 5000, "test": 10000}
SAMPLE_FREQ = 100
CHUNK = 5000  # simulations per streamed chunk; part of the seed derivation, so fixed
PART_INDEX = {"train": 0, "valid": 1, "test": 2}


def to_dataset(
    out: dict[str, np.ndarray], params: NRIParams, spec_name: str, version: str
) -> xr.Dataset:
    """Wrap :func:`simulate` output as a trajectories-family dataset (data contract)."""
    space = ["x", "y", "z"][: params.dim]
    data = {
        "pos": (("sample", "time", "entity", "space"), out["pos"].astype(np.float32)),
        "vel": (("sample", "time", "entity", "space"), out["vel"].astype(np.float32)),
        "edges": (("sample", "entity", "entity_"), out["edges"].astype(np.float32)),
    }
    if "charges" in out:
        data["entity_features"] = (
            ("sample", "entity", "entity_feature"),
            out["charges"][..., None].astype(np.float32),
        )
    coords = {"time": out["time"], "space": space}
    if "charges" in out:
        coords["entity_feature"] = ["charge"]
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "family": "trajectories",
            "name": spec_name,
            "units": "simulation units (unit mass, box half-width 5)",
            "dt": (
                float(out["time"][1] - out["time"][0])
                if len(out["time"]) > 1
                else float(out["time"][0])
            ),
            "source": (
                "simulated: decathlon.datasets.nri (physics of ethanfetaya/NRI "
                "data/synthetic_sim.py)"
            ),
            "license": "CC0-1.0 (simulated)",
            "citation": (
                "Kipf, Fetaya, Wang, Welling, Zemel. Neural Relational Inference for Interacting "
                "Systems. ICML 2018."
            ),
            "dataset_version": version,
            "system": params.system,
        },
    )


def make_chunk_builder(
    params: NRIParams, steps: dict[str, int] = NRI_STEPS, sample_freq: int = SAMPLE_FREQ
):
    """A ``DatasetSpec.build_chunk`` for an NRI-style system: chunk ``c`` of part ``p`` (at most
    :data:`CHUNK` simulations) uses the generator ``default_rng([seed, p, c])``, so a tier's
    bytes depend only on the seed and the sizes, and chunks can be built in any order."""

    def build_chunk(spec: DatasetSpec, tier: str, chunk: Chunk) -> xr.Dataset:
        if spec.seed is None:  # the recipe derives every chunk's generator from the seed
            raise ValueError(f"dataset {spec.name!r} needs a seed (DatasetSpec.seed is None)")
        rng = np.random.default_rng([spec.seed, PART_INDEX[chunk.part], chunk.index])
        out = simulate(chunk.size, steps[chunk.part], sample_freq, params, rng)
        return to_dataset(out, params, spec.name, spec.version)

    return build_chunk


def make_builder(
    params: NRIParams, steps: dict[str, int] = NRI_STEPS, sample_freq: int = SAMPLE_FREQ
):
    """A ``DatasetSpec.build`` for an NRI-style system: parts train/valid/test streamed in chunks
    of :data:`CHUNK` (:func:`make_chunk_builder`, in order), for a spec without ``build_chunk``.
    """
    build_chunk = make_chunk_builder(params, steps, sample_freq)

    def build(spec: DatasetSpec, tier: str, progress: bool):
        spec = dataclasses.replace(spec, build_chunk=build_chunk, chunk_size=CHUNK)
        return stream_chunks(spec, tier, progress)

    return build


def register_nri(
    name: str, params: NRIParams, note: str, tiers: dict[str, dict[str, int]] = NRI_TIERS
) -> DatasetSpec:
    """Register an NRI-style system as a dataset (splits as NRI's generator, seed 42) together
    with its speed benchmark (one NRI training simulation: 5000 steps; Python loop, vectorized,
    compiled C loop)."""
    spec = register_dataset(
        DatasetSpec(
            name=name,
            version="1",
            domain="particles",
            family="trajectories",
            build=stream_chunks,
            build_chunk=make_chunk_builder(params),
            chunk_size=CHUNK,
            parts=("train", "valid", "test"),
            tiers=tiers,
            params={**params.__dict__, "steps": NRI_STEPS, "sample_freq": SAMPLE_FREQ},
            seed=42,
            license="CC0-1.0 (simulated data)",
            citation="Kipf et al., Neural Relational Inference for Interacting Systems, ICML 2018",
            card=f"{name}.md",
            source=(
                "https://github.com/ethanfetaya/NRI "
                "(data/synthetic_sim.py, data/generate_dataset.py)"
            ),
        )
    )
    register_bench(
        SimBench(
            name=name,
            fast=lambda n: simulate(n, 5000, SAMPLE_FREQ, params, 0),
            reference=lambda n: simulate_reference(n, 5000, SAMPLE_FREQ, params, 0),
            n_fast=2000,
            n_reference=10,
            note=note,
            compiled=lambda n: c_reference.simulate_c(n, 5000, SAMPLE_FREQ, params, 0),
            compiler=c_reference.describe,
        )
    )
    return spec


SPRINGS_SPEC = register_nri(
    "nri-springs", SPRINGS, "5 balls, 5000 steps each (one NRI training simulation)", SPRINGS_TIERS
)
CHARGED_SPEC = register_nri(
    "nri-charged",
    CHARGED,
    "5 charged balls in a 2-D box, 5000 steps each (one NRI training simulation)",
)
