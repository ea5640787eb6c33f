"""3-D charged N-body system of EGNN (Satorras, Hoogeboom, Welling, ICML 2021).

EGNN's ``nbody_small`` data (``vgsatorras/egnn`` ``n_body_system/dataset/synthetic_sim.py``
``ChargedParticlesSim`` and ``generate_dataset.py``; summarised in ``docs/protocols.md`` §3.1)
is the NRI charged-particle simulator (:mod:`decathlon.datasets.nri`) with these changes:

* 3-D (``dim = 3``) and **no walls**: the ``_clamp`` call inside the integration loop is
  commented out, so the particles move freely (``box_size=None`` here);
* ``loc_std = 1 * (n_balls / 5) ** (1/3)``, which is exactly 1 for the 5 balls used;
* ``vel_norm = 0.5`` (``--initial_vel 1``), ``interaction_strength = 1``, charges +-1 with
  probability 1/2, ``dt = 0.001``;
* the component-wise force clip at ``0.1 / dt = 100`` is **kept** (the ``F[F > self._max_F]``
  lines are still active in EGNN's loop), so close encounters (pair distance below about 0.1) are
  softened exactly as in EGNN's files;
* 5000 integration steps, every 100th stored: 49 frames at ``t = 0.1, 0.2, ..., 4.9``, for every
  split (``--length 5000 --length_test 5000``); seed 43 (README command for ``nbody_small``).

EGNN's task takes (positions, velocities, charges) at frame 30 and predicts the positions at
frame 40 (1000 integration steps later); EGNN trains on the first 3000 of 10000 generated
training simulations and uses 2000 validation and 2000 test simulations, which is the ``full``
tier here. Charges are stored as ``entity_features`` (``entity_feature = ["charge"]``) and the
"like charges" graph as ``edges``.

The simulation is :func:`decathlon.datasets.nri.simulate` (all simulations of a chunk advance
together); the dataset attributes (units, source, citation) are EGNN's.
"""

from __future__ import annotations

import numpy as np

from decathlon.benchmark.data import Chunk, DatasetSpec, register_dataset, stream_chunks
from decathlon.benchmark.lazy import xr
from decathlon.datasets import c_reference, nri
from decathlon.datasets.speed import SimBench, register_bench

__all__ = ["NBODY", "NBODY_STEPS", "NBODY_TIERS", "NBODY_SPEC", "simulate"]

#: Constants of EGNN's ``ChargedParticlesSim(n_balls=5, vel_norm=0.5)`` in 3-D without walls.
NBODY = nri.NRIParams(
    system="charged",
    n_balls=5,
    box_size=None,
    loc_std=1.0 * (5 / 5) ** (1 / 3),
    vel_norm=0.5,
    interaction_strength=1.0,
    edge_prob=0.5,
    dt=0.001,
    max_force=100.0,
    dim=3,
)

#: Integration steps per split (EGNN ``--length 5000 --length_test 5000``).
NBODY_STEPS = {"train": 5000, "valid": 5000, "test": 5000}

#: ``full``: EGNN's 3000 training (``--max_training_samples 3000``), 2000 valid, 2000 test.
NBODY_TIERS = {
    "mini": {"train": 500, "valid": 200, "test": 200},
    "full": {"train": 3000, "valid": 2000, "test": 2000},
}

_ATTRS = {
    "units": "simulation units (unit mass, unit charge magnitude, Coulomb constant 1; no walls)",
    "source": (
        "simulated: decathlon.datasets.nbody (physics of vgsatorras/egnn "
        "n_body_system/dataset/synthetic_sim.py ChargedParticlesSim)"
    ),
    "license": "CC0-1.0 (simulated)",
    "citation": (
        "Satorras, Hoogeboom, Welling. E(n) Equivariant Graph Neural Networks. ICML 2021."
    ),
}


def simulate(
    n_sims: int,
    rng: np.random.Generator | int | None = 0,
    n_steps: int = 5000,
    sample_freq: int = nri.SAMPLE_FREQ,
) -> dict[str, np.ndarray]:
    """Simulate ``n_sims`` EGNN n-body systems together (a thin wrapper of :func:`nri.simulate`).

    Parameters
    ----------
    n_sims
        Number of simulations.
    rng
        A ``numpy.random.Generator`` or a seed.
    n_steps, sample_freq
        Integration steps and storing period (EGNN: 5000 and 100, so 49 frames).

    Returns
    -------
    dict
        As :func:`decathlon.datasets.nri.simulate`: ``pos``/``vel`` (sims, frames, 5, 3),
        ``edges`` (like charges, zero diagonal), ``charges`` (sims, 5) in {-1, +1}, ``time``.

    Examples
    --------
    >>> out = simulate(2, rng=0, n_steps=300)
    >>> out["pos"].shape, sorted(set(out["charges"].ravel().tolist()))
    ((2, 2, 5, 3), [-1.0, 1.0])
    """
    return nri.simulate(n_sims, n_steps, sample_freq, NBODY, rng)


_NRI_CHUNK = nri.make_chunk_builder(NBODY, NBODY_STEPS, nri.SAMPLE_FREQ)


def _build_chunk(spec: DatasetSpec, tier: str, chunk: Chunk) -> xr.Dataset:
    """One chunk by :func:`nri.make_chunk_builder`, with EGNN's provenance attributes."""
    ds = _NRI_CHUNK(spec, tier, chunk)
    ds.attrs.update(_ATTRS)
    return ds


NBODY_SPEC = register_dataset(
    DatasetSpec(
        name="nbody-charged-3d",
        version="1",
        domain="particles",
        family="trajectories",
        build=stream_chunks,
        build_chunk=_build_chunk,
        chunk_size=nri.CHUNK,
        parts=("train", "valid", "test"),
        tiers=NBODY_TIERS,
        params={**NBODY.__dict__, "steps": NBODY_STEPS, "sample_freq": nri.SAMPLE_FREQ},
        seed=43,
        license="CC0-1.0 (simulated data)",
        citation="Satorras, Hoogeboom, Welling, E(n) Equivariant Graph Neural Networks, ICML 2021",
        card="nbody-charged-3d.md",
        source=(
            "https://github.com/vgsatorras/egnn (n_body_system/dataset/synthetic_sim.py, "
            "generate_dataset.py)"
        ),
    )
)

register_bench(
    SimBench(
        name="nbody-charged-3d",
        fast=lambda n: nri.simulate(n, 5000, nri.SAMPLE_FREQ, NBODY, 0),
        reference=lambda n: nri.simulate_reference(n, 5000, nri.SAMPLE_FREQ, NBODY, 0),
        n_fast=2000,
        n_reference=10,
        note="5 charged balls in 3-D without walls, 5000 steps each (one EGNN simulation)",
        compiled=lambda n: c_reference.simulate_c(n, 5000, nri.SAMPLE_FREQ, NBODY, 0),
        compiler=c_reference.describe,
    )
)
