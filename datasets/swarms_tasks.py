"""Stored swarm datasets, their parameter-regression tasks and speed benchmarks.

``swarms-vicsek`` and ``swarms-dorsogna`` store the simulations of
:mod:`decathlon.datasets.swarms` (trajectories family: ``pos``, ``vel``, ``params``); the tasks
``swarms/vicsek-params`` and ``swarms/dorsogna-params`` regress the four generating parameters
from the whole 100-frame trajectory, as Neural Persistence Dynamics (Zeng et al., NeurIPS 2024;
``docs/protocols.md`` §7): R^2 per parameter in original units then averaged (primary) and
SMAPE. Neither system is time-reversible (noise and alignment in Vicsek, propulsion and friction
in D'Orsogna), so both are flagged ``reversible=False``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from decathlon.benchmark.data import Chunk, DatasetSpec, register_dataset, stream_chunks
from decathlon.benchmark.lazy import xr
from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.datasets import c_reference
from decathlon.datasets.speed import SimBench, register_bench
from decathlon.datasets.swarms import (
    DT,
    N_PARTICLES,
    SAVE_EVERY,
    STEPS,
    SWARMS,
    VICSEK_BOX,
    simulate_dorsogna,
    simulate_vicsek,
)
from decathlon.datasets.swarms_reference import (
    simulate_dorsogna_reference,
    simulate_vicsek_reference,
)

__all__ = [
    "SWARM_TIERS",
    "PARTICLES",
    "to_dataset",
    "VICSEK_SPEC",
    "DORSOGNA_SPEC",
    "VICSEK_TASK",
    "DORSOGNA_TASK",
]

CHUNK = 100  # simulations per chunk (part of the seed derivation, so fixed)
PART_INDEX = {"train": 0, "valid": 1, "test": 2}

#: Simulations per part. ``full``: NPD's 10 000 per system, split 80/20 (``random_split``) with a
#: fifth of the 20 % as the validation part (NPD's evaluation notebook picks the epoch on 20 % of
#: its test set). ``mini``: 200 simulations of 50 particles (the pair sums cost N^2: 16x less
#: than 200 particles), built in one to three minutes per system on two cores.
SWARM_TIERS = {
    "mini": {"train": 120, "valid": 40, "test": 40},
    "full": {"train": 8000, "valid": 400, "test": 1600},
}
PARTICLES = {"mini": 50, "full": N_PARTICLES}

_SIMULATE = {"vicsek": simulate_vicsek, "dorsogna": simulate_dorsogna}
_CITATION = {
    "vicsek": (
        "Vicsek, Czirok, Ben-Jacob, Cohen, Shochet. Novel type of phase transition in a system of "
        "self-driven particles. PRL 75, 1995; Degond, Motsch. Continuum limit of self-driven "
        "particles with orientation interaction. M3AS 18, 2008"
    ),
    "dorsogna": (
        "D'Orsogna, Chuang, Bertozzi, Chayes. Self-propelled particles with soft-core "
        "interactions: patterns, stability, and collapse. PRL 96, 2006"
    ),
}
_NPD = (
    "Zeng, Graf, Uray, Huber, Kwitt. Latent SDEs on homogeneous spaces / Neural Persistence "
    "Dynamics. NeurIPS 2024; Diez. SiSyPHE: a Python package for the Simulation of Systems of "
    "interacting mean-field Particles with High Efficiency. JOSS 6(65), 2021"
)


def to_dataset(
    system: str, pos: np.ndarray, vel: np.ndarray, params: np.ndarray, version: str = "1"
) -> xr.Dataset:
    """Simulator output as a trajectories-family dataset: ``pos``, ``vel`` (float32) and
    ``params(sample, param)`` (float64, the regression targets) with the names and units of
    :data:`SWARMS` as the ``param`` coordinate and its ``units`` coordinate."""
    sysm = SWARMS[system]
    n_frames = pos.shape[1]
    time = DT * (1 + SAVE_EVERY * np.arange(n_frames))
    dims = ("sample", "time", "entity", "space")
    return xr.Dataset(
        {
            "pos": (dims, pos.astype(np.float32)),
            "vel": (dims, vel.astype(np.float32)),
            "params": (("sample", "param"), params.astype(np.float64)),
        },
        coords={
            "time": time,
            "space": ["x", "y", "z"],
            "param": list(sysm.params),
            "param_units": ("param", list(sysm.units)),
        },
        attrs={
            "family": "trajectories",
            "name": f"swarms-{system}",
            "units": "simulation units (sisyphe's; time in simulation seconds)",
            "dt": DT * SAVE_EVERY,
            "source": (
                f"simulated: decathlon.datasets.swarms (sisyphe's "
                f"{'Vicsek' if system == 'vicsek' else 'AttractionRepulsion'} as run by "
                "plus-rkwitt/neural_persistence_dynamics simulations/)"
            ),
            "license": "CC0-1.0 (simulated)",
            "citation": f"{_CITATION[system]}; {_NPD}",
            "dataset_version": version,
            "system": system,
            "box": VICSEK_BOX if system == "vicsek" else "none (free space)",
        },
    )


def _build_chunk(spec: DatasetSpec, tier: str, chunk: Chunk) -> xr.Dataset:
    """Chunk ``c`` of part ``p``: ``chunk.size`` simulations from ``default_rng([seed, p, c])``."""
    if spec.seed is None:
        raise ValueError(f"dataset {spec.name!r} needs a seed (DatasetSpec.seed is None)")
    system = str(spec.params["system"])
    rng = np.random.default_rng([spec.seed, PART_INDEX[chunk.part], chunk.index])
    n = int(spec.params["particles"].get(tier, PARTICLES["mini"]))
    pos, vel, params = _SIMULATE[system](rng, chunk.size, n_particles=n)
    return to_dataset(system, pos, vel, params, spec.version)


#: Data versions: 2 is portable arithmetic (the same bits on every machine); D'Orsogna's 3
#: simulates in float32 as sisyphe did (its card).
_VERSION = {"vicsek": "2", "dorsogna": "3"}


def _register(system: str, seed: int) -> DatasetSpec:
    sysm = SWARMS[system]
    return register_dataset(
        DatasetSpec(
            name=f"swarms-{system}",
            version=_VERSION[system],
            domain="swarms",
            family="trajectories",
            build=stream_chunks,
            build_chunk=_build_chunk,
            chunk_size=CHUNK,
            parts=("train", "valid", "test"),
            tiers=SWARM_TIERS,
            params={
                "system": system,
                "particles": PARTICLES,
                "params": list(sysm.params),
                "low": list(sysm.low),
                "high": list(sysm.high),
                "log2": sysm.log2,
                "dt": DT,
                "steps": STEPS,
                "save_every": SAVE_EVERY,
            },
            seed=seed,
            license="CC0-1.0 (simulated data)",
            citation=f"{_CITATION[system]}; {_NPD}",
            card=f"swarms-{system}.md",
            source=(
                "https://github.com/plus-rkwitt/neural_persistence_dynamics (simulations/), "
                "https://github.com/antoinediez/Sisyphe (sisyphe/models.py)"
            ),
        )
    )


VICSEK_SPEC = _register("vicsek", 2024)
DORSOGNA_SPEC = _register("dorsogna", 2025)


def _bench(system: str, reference: Callable[..., object], note: str, n_fast: int) -> None:
    fast = _SIMULATE[system]
    register_bench(
        SimBench(
            name=f"swarms-{system}",
            fast=lambda n: fast(0, n, steps=100),
            reference=lambda n: reference(0, n, steps=100),
            n_fast=n_fast,
            n_reference=2,
            note=note,
            compiled=lambda n: c_reference.simulate_swarm_c(system, 0, n, steps=100),
            compiler=c_reference.describe,
        )
    )


_bench(
    "vicsek",
    simulate_vicsek_reference,
    "200 particles, 100 of the 1000 steps (time scales linearly with steps)",
    20,
)
_bench(
    "dorsogna",
    simulate_dorsogna_reference,
    "200 particles, RK4, 100 of the 1000 steps (time scales linearly with steps)",
    10,
)


#: Points targets (docs/probes.md §4): the best published mean R^2, NPD's joint model
#: (topological + point-cloud backbones), mean of 15 runs (Zeng et al. 2024, evaluation
#: notebook; ``docs/protocols.md`` §7.4).
TARGETS = {
    "vicsek": (
        0.571,
        "NPD joint model, mean R^2 on vicsek-10k (Zeng et al. 2024, Evaluation.ipynb)",
    ),
    "dorsogna": (
        0.688,
        "NPD joint model, mean R^2 on dorsogna-10k (Zeng et al. 2024, Evaluation.ipynb)",
    ),
}

#: Symmetries probed (only true ones). D'Orsogna lives in free space: any rotation, translation
#: or relabelling of the particles maps a solution to a solution with the same parameters.
#: Vicsek lives in the periodic box [0, 20)^3: relabelling, quarter turns and mirror images
#: about the origin map the lattice of periodic images onto itself (the transformed positions
#: are another image of the same state); a random rotation does not, and a translation is a
#: symmetry only when positions are wrapped back into the box, which the probe does not do.
EQUIVARIANCE = {
    "vicsek": ("rot90", "reflect", "permute"),
    "dorsogna": ("rotate", "translate", "permute"),
}


def _task(system: str) -> TaskSpec:
    target, source = TARGETS[system]
    return register_task(
        TaskSpec(
            name=f"swarms/{system}-params",
            version="1",
            event=f"swarms/{system}",
            kind="regress",
            dataset=f"swarms-{system}",
            splits={p: Split(p) for p in ("train", "valid", "test")},
            inputs=("pos", "vel"),
            context=100,
            stride=None,
            normalize="minmax",
            velocity=("vel",),
            reversible=False,
            equivariance=EQUIVARIANCE[system],
            metrics=("r2", "smape"),
            primary="r2",
            trivial="train-mean",
            target=target,
            target_source=source,
            description=(
                f"regress the 4 generating parameters ({', '.join(SWARMS[system].params)}) of a "
                f"{system} swarm from its 100 frames"
            ),
            extra={
                "params": SWARMS[system].params,
                "output": f"the parameters {', '.join(SWARMS[system].params)} in original units",
            },
        )
    )


VICSEK_TASK = _task("vicsek")
DORSOGNA_TASK = _task("dorsogna")
