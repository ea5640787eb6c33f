"""Clip sources of the arrow-of-time event: a small registry of simulators labelled by physics.

Each :class:`ClipSource` names a system, says whether its physics is time-reversible, and
simulates ``n_sims`` trajectories of :data:`FRAMES` frames at :data:`FRAME_DT` seconds
(``docs/protocols.md`` §9). Adding a source is one :func:`register_source` call (before
:mod:`decathlon.datasets.arrow` is imported: the dataset and the task read the registry then).

**Centred trajectories.** A reversible source simulates each trajectory both ways from one
random state ``(x0, v0)`` at the middle frame: forward from ``(x0, v0)`` and forward from
``(x0, -v0)``, the second half then played backwards with its velocities negated. The ensemble
of starts is symmetric under ``v -> -v`` (isotropic velocities), so the ensemble of whole
trajectories, and of clips cut at mirror-symmetric offsets, is invariant under time reversal:
a low-entropy start (particles flying apart in free space, a compact cluster spreading in a
box) cannot reveal the direction, only the dynamics can. An irreversible source is centred the
same way with the exact time-reversed dynamics for the past half (friction ``-gamma``: the
damped system run backwards), so its arrow is the friction's and not its start's.

Sources here: ``springs``, ``charged`` (NRI, elastic walls) and ``nbody`` (EGNN, free space),
reversible; ``damped-springs`` and ``damped-charged`` (the same with a linear drag
``-gamma v``), ``vicsek`` (alignment with noise) and ``dorsogna`` (self-propulsion with
friction), irreversible. The swarms start from a disordered state and are not centred: their
arrow is the relaxation the dissipative dynamics drive, which has no time-reversed counterpart.
Every source gives :data:`ENTITIES` entities in 3-D (2-D systems get ``z = 0``); a source with
fewer entities is padded and masked by the dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from decathlon.benchmark.registry import Registry
from decathlon.datasets import nri, swarms
from decathlon.datasets.nbody import NBODY

__all__ = [
    "ClipSource",
    "SOURCES",
    "register_source",
    "centred_nri",
    "FRAMES",
    "HALF",
    "FRAME_DT",
    "ENTITIES",
    "FRICTION",
    "SWARM_BOX",
]

#: Frames stored per simulation: HALF before the middle state, the middle one, HALF after.
HALF = 20
FRAMES = 2 * HALF + 1
#: Seconds between stored frames (NRI and EGNN: every 100th step of dt = 0.001).
FRAME_DT = nri.SAMPLE_FREQ * nri.SPRINGS.dt
#: Entities per clip (the particle systems' 5 balls); the dataset's entity axis.
ENTITIES = 5
#: Drag coefficient of the damped sources (1/s): kinetic energy falls by exp(-2 gamma t), a
#: factor exp(-0.8) = 0.45 over a 2-second clip, an arrow visible but not trivial.
FRICTION = 0.2

#: ``simulate(rng, n_sims)`` -> ``(pos, vel)``, each (sims, FRAMES, entities, dim), float64.
Simulator = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ClipSource:
    """One system the arrow-of-time clips are cut from.

    Parameters
    ----------
    name
        Registry key, also the window group its metrics are reported under (``auroc@name``).
    reversible
        Whether its dynamics (velocities negated) and its ensemble of trajectories are symmetric
        under time reversal; scored by ``|AUROC - 1/2|`` if so, by AUROC otherwise.
    simulate
        ``simulate(rng, n_sims) -> (pos, vel)`` of :data:`FRAMES` frames at :data:`FRAME_DT`.
    n_entities
        Entities per simulation (at most :data:`ENTITIES`).
    citation
        Where the physics comes from.
    note
        One line for the data card and ``describe``.
    """

    name: str
    reversible: bool
    simulate: Simulator
    n_entities: int
    citation: str
    note: str = ""


SOURCES: Registry[ClipSource] = Registry("arrow-of-time source")


def register_source(source: ClipSource) -> ClipSource:
    """Register a clip source (duplicates refused; at most :data:`ENTITIES` entities).

    Examples
    --------
    >>> SOURCES.get("springs").reversible, SOURCES.get("damped-springs").reversible
    (True, False)
    """
    if not 1 <= source.n_entities <= ENTITIES:
        raise ValueError(
            f"arrow-of-time source {source.name!r} has {source.n_entities} entities; expected "
            f"1..{ENTITIES} (subsample larger systems, or raise ENTITIES for every source)"
        )
    return SOURCES.register(source.name, source)


def centred_nri(
    params: nri.NRIParams, rng: np.random.Generator, n_sims: int, friction: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Trajectories of an NRI-style system centred on a random state (module text).

    The future half integrates ``(x0, v0)`` with drag ``friction``, the past half ``(x0, -v0)``
    with ``-friction`` (the time-reversed dynamics), both in one batch of ``2 n_sims``
    simulations with :func:`decathlon.datasets.nri.integrate_from`. Returns ``pos``, ``vel``
    (sims, :data:`FRAMES`, balls, dim).

    Examples
    --------
    >>> pos, vel = centred_nri(nri.SPRINGS, np.random.default_rng(0), 2)
    >>> pos.shape
    (2, 41, 5, 2)
    """
    coupling, _, x0, v0 = nri.initial_conditions(params, n_sims, rng)
    gamma = np.repeat([friction, -friction], n_sims)
    both = nri.integrate_from(
        np.concatenate([x0, x0]),
        np.concatenate([v0, -v0]),
        np.concatenate([coupling, coupling]),
        params,
        (HALF + 1) * nri.SAMPLE_FREQ,
        nri.SAMPLE_FREQ,
        gamma if friction else 0.0,
    )
    fut_x, past_x = both[0][:n_sims], both[0][n_sims:]
    fut_v, past_v = both[1][:n_sims], both[1][n_sims:]
    pos = np.concatenate([past_x[:, ::-1], x0[:, None], fut_x], axis=1)
    vel = np.concatenate([-past_v[:, ::-1], v0[:, None], fut_v], axis=1)
    return pos, vel


def _nri_source(
    name: str, params: nri.NRIParams, friction: float, citation: str, note: str
) -> ClipSource:
    def simulate(rng: np.random.Generator, n_sims: int) -> tuple[np.ndarray, np.ndarray]:
        return centred_nri(params, rng, n_sims, friction)

    return register_source(
        ClipSource(name, friction == 0.0, simulate, params.n_balls, citation, note)
    )


_NRI = "Kipf et al., Neural Relational Inference for Interacting Systems, ICML 2018"
_EGNN = "Satorras, Hoogeboom, Welling, E(n) Equivariant Graph Neural Networks, ICML 2021"

_nri_source("springs", nri.SPRINGS, 0.0, _NRI, "NRI springs, 5 balls, 2-D box, elastic walls")
_nri_source("charged", nri.CHARGED, 0.0, _NRI, "NRI charged, 5 balls, 2-D box, elastic walls")
_nri_source("nbody", NBODY, 0.0, _EGNN, "EGNN charged n-body, 5 balls, 3-D, no walls")
_nri_source(
    "damped-springs",
    nri.SPRINGS,
    FRICTION,
    _NRI + " (with a linear drag)",
    f"NRI springs with drag -{FRICTION} v",
)
_nri_source(
    "damped-charged",
    nri.CHARGED,
    FRICTION,
    _NRI + " (with a linear drag)",
    f"NRI charged with drag -{FRICTION} v",
)


#: Side of the periodic box of the Vicsek clips: 5 agents in NPD's box of 20 would rarely meet,
#: in a box of 4 every agent is within the interaction radius (0.5..5) of others most of the time.
SWARM_BOX = 4.0
#: Integrator steps per stored frame: NPD's dt = 0.01 saved every 10th step is 0.1 s, FRAME_DT.
_SWARM_STEPS = FRAMES * swarms.SAVE_EVERY


def _unwrapped(pos: np.ndarray, box: float) -> np.ndarray:
    """Positions (sims, frames, agents, 3) in a periodic box made continuous in time: each
    frame-to-frame move taken by the minimum image, so a wrap is not a jump."""
    step = np.diff(pos, axis=1)
    step -= box * np.round(step / box)
    return np.concatenate([pos[:, :1], pos[:, :1] + np.cumsum(step, axis=1)], axis=1)


def _vicsek_clips(rng: np.random.Generator, n_sims: int) -> tuple[np.ndarray, np.ndarray]:
    """5-agent Vicsek swarms (NPD's parameter ranges) from a disordered start: alignment orders
    them while the noise keeps stirring, an irreversible relaxation. Velocities in units of
    length per second (the unit heading times the speed)."""
    pos, head, p = swarms.simulate_vicsek(
        rng, n_sims, n_particles=ENTITIES, steps=_SWARM_STEPS, box=SWARM_BOX
    )
    return _unwrapped(pos, SWARM_BOX), head * p[:, 1, None, None, None]


def _dorsogna_clips(rng: np.random.Generator, n_sims: int) -> tuple[np.ndarray, np.ndarray]:
    """5-agent D'Orsogna swarms (NPD's parameter ranges, friction 1) from random velocities:
    self-propulsion and friction drive every speed towards their balance, an irreversible
    relaxation; the Morse forces couple the agents."""
    pos, vel, _ = swarms.simulate_dorsogna(rng, n_sims, n_particles=ENTITIES, steps=_SWARM_STEPS)
    return pos, vel


_NPD = (
    "Zeng et al., Neural Persistence Dynamics, 2024 (sisyphe models: Vicsek et al. 1995, "
    "D'Orsogna et al. 2006)"
)
register_source(
    ClipSource(
        "vicsek",
        False,
        _vicsek_clips,
        ENTITIES,
        _NPD,
        f"3-D Vicsek with noise, 5 agents, periodic box {SWARM_BOX:g}, disordered start",
    )
)
register_source(
    ClipSource(
        "dorsogna",
        False,
        _dorsogna_clips,
        ENTITIES,
        _NPD,
        "3-D D'Orsogna (self-propulsion, friction, Morse forces), 5 agents, random start",
    )
)
