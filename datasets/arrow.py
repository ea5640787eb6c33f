"""The arrow-of-time event: is a clip of trajectories playing forward or backward?
(``docs/protocols.md`` §9).

Dataset ``arrow-of-time``: simulations of the clip sources of
:mod:`decathlon.datasets.arrow_sources` (time-reversible: springs, charged, n-body;
irreversible: the damped systems), each :data:`~decathlon.datasets.arrow_sources.FRAMES`
frames centred on a random state. Sample ``i`` of a part comes from source ``i mod S`` (the
sources in registry order), so every tier, whatever its size, holds every source in equal shares
(to within one). Chunk ``c`` of part ``p`` simulates source ``s``'s samples with
``default_rng([seed, p, c, s])``. Stored: ``pos``, ``vel`` (3-D; 2-D systems have ``z = 0``),
``mask`` (entities of sources with fewer than the dataset's five) and the ``source`` of every
sample.

Task ``arrow/forward-backward``: every simulation gives :data:`CLIPS` clips of :data:`CLIP`
frames starting at frames ``0, 5, ..., 20`` (offsets symmetric about the middle state), and
every clip appears twice: as recorded (label 1, forward) and reversed (frames in reverse order,
velocities negated, label 0). Each clip is centred on its mean position and scaled by its RMS
distance from it, statistics that do not depend on the order of the frames, so the scaling
treats a clip and its reverse alike. The windows of a split are shuffled by a fixed
permutation, so a window's position says nothing about its label. The model returns one
probability per window (``(window, 1)``: "this clip plays forward"). Splits are the simulated
parts, so a clip, its reverse and every clip of the same simulation stay in one split.

Metrics, per source (the window's group): ``auroc@<source>`` on irreversible sources (higher is
better) and ``auroc_bias@<source>`` = ``|AUROC - 1/2|`` on reversible ones (lower is better: a
model that sees an arrow in reversible physics has learned an artefact); the primary metric is
the mean AUROC over the irreversible sources, ``auroc@<s1>+<s2>``. Their intervals come from a
cluster bootstrap over simulations (``bootstrap_unit="sample"``): the ten windows of a
simulation (five clips, each both ways) are drawn together, as they are not independent.

Task ``arrow/forward-backward-positions``: the same clips, windows, splits, metrics and probes
with positions only (``inputs=("pos",)``; :func:`arrow_windows` keeps the columns the task's
inputs name). Reversal negates velocities, so with velocities a single frame can carry the
arrow (``x . v < 0`` on average as a damped system spirals in), and a model blind to the order
of the frames scores well above chance on the velocity task. Without them a clip and its reverse
hold exactly the same multiset of frames: a model that ignores the order of the frames is at
chance by construction, and only one that reads the order can see the arrow.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from decathlon.benchmark.data import Chunk, DatasetSpec, register_dataset, stream_chunks
from decathlon.benchmark.lazy import xr
from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.benchmark.windows import Windows
from decathlon.datasets.arrow_sources import ENTITIES, FRAME_DT, FRAMES, HALF, SOURCES

__all__ = [
    "ARROW_SPEC",
    "ARROW_TASK",
    "POSITIONS_TASK",
    "CLIP",
    "CLIPS",
    "arrow_windows",
    "normalize_clips",
    "paired_windows",
    "reverse_clips",
    "source_names",
]

#: Frames per clip and the stride between clip starts; starts 0, 5, ..., 20 are symmetric about
#: the middle frame of the FRAMES = 41 stored.
CLIP, CLIP_STRIDE = HALF + 1, 5
CLIPS = (FRAMES - CLIP) // CLIP_STRIDE + 1
PART_INDEX = {"train": 0, "valid": 1, "test": 2}
CHUNK = 5000
#: Stored variables an arrow-of-time task may read, in the column order of the clips.
VARIABLES = ("pos", "vel")
#: Seed of the fixed permutation of each split's windows.
ORDER_SEED = 2026
#: Simulations per part: multiples of the 7 sources, so every source has the same count (mini:
#: 400/100/200 per source, enough for the honesty test's +-0.03; full: 2000/400/800).
ARROW_TIERS = {
    "mini": {"train": 2800, "valid": 700, "test": 1400},
    "full": {"train": 14000, "valid": 2800, "test": 5600},
}


def source_names(reversible: bool | None = None) -> list[str]:
    """Registered sources by name (only the (ir)reversible ones if asked).

    Examples
    --------
    >>> source_names(reversible=False)
    ['damped-charged', 'damped-springs', 'dorsogna', 'vicsek']
    """
    return [s for s in SOURCES.names() if reversible in (None, SOURCES.get(s).reversible)]


def _pad(a: np.ndarray) -> np.ndarray:
    """(sims, T, n, d) float64 -> (sims, T, ENTITIES, 3) float32, zeros where absent."""
    out = np.zeros(a.shape[:2] + (ENTITIES, 3), np.float32)
    out[:, :, : a.shape[2], : a.shape[3]] = a
    return out


def _build_chunk(spec: DatasetSpec, tier: str, chunk: Chunk) -> xr.Dataset:
    names = source_names()
    idx = np.arange(chunk.start, chunk.start + chunk.size)
    pos = np.zeros((chunk.size, FRAMES, ENTITIES, 3), np.float32)
    vel, mask = np.zeros_like(pos), np.zeros((chunk.size, FRAMES, ENTITIES), bool)
    for s, name in enumerate(names):
        rows = np.flatnonzero(idx % len(names) == s)
        if not len(rows):
            continue
        src = SOURCES.get(name)
        rng = np.random.default_rng([int(spec.seed or 0), PART_INDEX[chunk.part], chunk.index, s])
        p, v = src.simulate(rng, len(rows))
        pos[rows], vel[rows] = _pad(p), _pad(v)
        mask[rows, :, : src.n_entities] = True
    space = ("sample", "time", "entity", "space")
    return xr.Dataset(
        {
            "pos": (space, pos),
            "vel": (space, vel),
            "mask": (("sample", "time", "entity"), mask),
        },
        coords={
            "time": np.arange(FRAMES) * FRAME_DT,
            "space": ["x", "y", "z"],
            "source": ("sample", np.array([names[i % len(names)] for i in idx])),
        },
        attrs={
            "family": "trajectories",
            "name": spec.name,
            "units": "simulation units of each source (unit masses)",
            "dt": FRAME_DT,
            "source": "simulated: decathlon.datasets.arrow_sources (" + ", ".join(names) + ")",
            "license": "CC0-1.0 (simulated)",
            "citation": "; ".join(sorted({SOURCES.get(n).citation for n in names})),
            "dataset_version": spec.version,
        },
    )


ARROW_SPEC = register_dataset(
    DatasetSpec(
        name="arrow-of-time",
        # 2: the swarm clips with portable arithmetic (datasets/swarms_kernels.py); 3: the
        # D'Orsogna clips in float32 (that simulator's data version 3)
        version="3",
        domain="particles",
        family="trajectories",
        build=stream_chunks,
        build_chunk=_build_chunk,
        chunk_size=CHUNK,
        parts=("train", "valid", "test"),
        tiers=ARROW_TIERS,
        params={
            "sources": {n: SOURCES.get(n).note for n in source_names()},
            "reversible": source_names(True),
            "frames": FRAMES,
            "frame_dt": FRAME_DT,
        },
        seed=44,
        license="CC0-1.0 (simulated data)",
        citation="Pickup et al., Seeing the arrow of time, CVPR 2014 (the task)",
        card="arrow-of-time.md",
        source="simulated: decathlon.datasets.arrow_sources (NRI and EGNN physics)",
    )
)


def reverse_clips(x: np.ndarray, features: list[str]) -> np.ndarray:
    """Clips (clip, time, entity, feature) played backwards: frames in reverse order and the
    ``vel*`` columns negated, so a reversed clip of reversible physics is a valid trajectory.

    Examples
    --------
    >>> x = np.arange(4.0).reshape(1, 2, 1, 2)  # pos_x, vel_x at two frames
    >>> reverse_clips(x, ["pos_x", "vel_x"])[0, :, 0].tolist()
    [[2.0, -3.0], [0.0, -1.0]]
    """
    sign = np.array([-1.0 if f.startswith("vel") else 1.0 for f in features], x.dtype)
    return x[:, ::-1] * sign


def normalize_clips(pos: np.ndarray, vel: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Clips centred on their mean position and scaled by their RMS distance from it.

    ``pos``, ``vel`` (clip, time, entity, 3), ``mask`` (clip, time, entity). Both statistics
    are means over every frame, so a clip and its reverse are scaled alike. Returns
    (clip, time, entity, 6): positions then velocities, in clip length units; zero where absent.
    """
    m = mask[..., None].astype(np.float64)
    n = np.maximum(m.sum((1, 2), keepdims=True), 1.0)
    centre = (pos * m).sum((1, 2), keepdims=True) / n
    d2 = (((pos - centre) ** 2).sum(-1, keepdims=True) * m).sum((1, 2), keepdims=True) / n
    scale = np.sqrt(np.maximum(d2, 1e-12))
    out = np.concatenate([(pos - centre) / scale, vel / scale], axis=-1) * m
    return out.astype(np.float32)


def paired_windows(
    x: np.ndarray,
    mask: np.ndarray,
    features: list[str],
    sample: np.ndarray,
    start: np.ndarray,
    group: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
) -> Windows:
    """Windows of clips ``x`` (clip, time, entity, feature) played forward (label 1) and
    reversed by :func:`reverse_clips` (label 0), shuffled by the fixed permutation of
    :data:`ORDER_SEED`, so a window's position says nothing about its label.

    ``mask`` (clip, time, entity) marks present entities (reversed with the frames);
    ``sample``, ``start``, ``group`` and ``cluster`` (clip,) locate each clip and are shared by
    its reverse.
    ``y`` and ``mask_y`` are (window, 1); ``mask_x`` is None when every entity is present.
    Every arrow-of-time task builds its windows here (simulated sources and pedestrians).

    Examples
    --------
    >>> x, at = np.arange(4.0).reshape(1, 2, 1, 2), np.zeros(1, np.int64)
    >>> w = paired_windows(x, np.ones((1, 2, 1), bool), ["pos_x", "vel_x"], at, at)
    >>> len(w), sorted(w.y[:, 0].tolist())
    (2, [0.0, 1.0])
    """
    n = len(x)
    both = np.concatenate([x, reverse_clips(x, features)])
    m = np.concatenate([mask, mask[:, ::-1]])
    label = np.repeat([1.0, 0.0], n).astype(np.float32)
    order = np.random.default_rng(ORDER_SEED).permutation(2 * n)
    return Windows(
        ids=np.arange(2 * n, dtype=np.int64),
        x=np.ascontiguousarray(both[order]),
        y=label[order, None],
        sample=np.tile(sample, 2)[order],
        start=np.tile(start, 2)[order],
        features=list(features),
        target_features=[],
        mask_x=None if m.all() else m[order],
        mask_y=np.ones((2 * n, 1), bool),
        group=None if group is None else np.tile(group, 2)[order],
        cluster=None if cluster is None else np.tile(cluster, 2)[order],
    )


def _input_columns(task: TaskSpec) -> tuple[list[int], list[str]]:
    """Columns of :func:`normalize_clips`'s output that ``task.inputs`` selects, and their
    feature names (``pos_x``, ...)."""
    bad = [v for v in task.inputs if v not in VARIABLES]
    if bad or not task.inputs:
        raise ValueError(
            f"task {task.name!r} has inputs {task.inputs}; an arrow-of-time task reads a "
            f"non-empty subset of {VARIABLES}: fix its TaskSpec.inputs"
        )
    axes = ("x", "y", "z")
    cols = [VARIABLES.index(v) * 3 + i for v in task.inputs for i in range(3)]
    return cols, [f"{v}_{c}" for v in task.inputs for c in axes]


def arrow_windows(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """Every clip of the split forward (label 1) and reversed (label 0), shuffled by a fixed
    permutation (:func:`paired_windows`); ``group`` the source of each window. The features are
    the task's ``inputs`` (``pos`` and ``vel``, or ``pos`` alone), three columns each."""
    cols, feats = _input_columns(task)
    pos, vel, mask = (np.asarray(ds[v].values) for v in ("pos", "vel", "mask"))
    starts = np.arange(CLIPS) * CLIP_STRIDE
    tidx = starts[:, None] + np.arange(CLIP)[None]  # (clip, CLIP)
    n_s = pos.shape[0]
    m = mask[:, tidx].reshape(-1, CLIP, ENTITIES)
    x = normalize_clips(
        pos[:, tidx].reshape(-1, CLIP, ENTITIES, 3), vel[:, tidx].reshape(-1, CLIP, ENTITIES, 3), m
    )[..., cols]
    sample = np.repeat(np.arange(n_s), CLIPS)
    group = np.asarray(ds["source"].values).astype(str)[sample]
    return paired_windows(x, m, feats, sample, np.tile(starts, n_s), group)


def _metrics() -> tuple[str, ...]:
    irr, rev = source_names(False), source_names(True)
    return (
        "auroc@" + "+".join(irr),
        *(f"auroc@{s}" for s in irr),
        "auroc_bias@" + "+".join(rev),
        *(f"auroc_bias@{s}" for s in rev),
    )


#: Points target: 1 - AUROC = 1e-3 (docs/probes.md §4): the dynamics are deterministic, so a
#: model that checks the equation of motion on one step separates every damped clip from its
#: reverse; 1e-3 is what the mini test split (2000 windows per source) can resolve.
TARGET = 0.999

ARROW_TASK = register_task(
    TaskSpec(
        name="arrow/forward-backward",
        version="1",
        event="arrow-of-time",
        kind="classify",
        dataset="arrow-of-time",
        splits={p: Split(p) for p in ("train", "valid", "test")},
        inputs=("pos", "vel"),
        context=CLIP,
        horizon=0,
        stride=CLIP_STRIDE,
        normalize=None,
        velocity=("vel",),
        metrics=_metrics(),
        primary=_metrics()[0],
        trivial="chance",
        target=TARGET,
        target_source=(
            "stated floor 1 - AUROC = 1e-3: deterministic dynamics, a one-step check of the "
            "equation of motion separates a damped clip from its reverse"
        ),
        window_fn=arrow_windows,
        sequence_fn=arrow_windows,
        bootstrap_unit="sample",  # a simulation's 10 windows are resampled together
        probes=("shuffle", "half", "local-2", "local-4", "freeze"),
        reversible=None,
        extra={
            "output": "probability that the clip plays forward (one per window)",
            "per_window": True,
            "probe_notes": {
                "reversal": "the reversed input is the other label by construction (every clip "
                "is also shown reversed), so its score is the plain score mirrored"
            },
        },
        description=(
            "Is a 21-frame clip of 5 particles (positions and velocities, scaled per clip) "
            "playing forward or backward? Every clip appears both ways (reversed: frames in "
            "reverse order, velocities negated). AUROC per irreversible source (primary: their "
            "mean) and |AUROC - 1/2| per reversible source (lower is better)."
        ),
    )
)

#: The same task on positions alone (module text): a clip and its reverse are the same set of
#: frames, so only the order of the frames tells them apart.
POSITIONS_TASK = register_task(
    replace(
        ARROW_TASK,
        name="arrow/forward-backward-positions",
        inputs=("pos",),
        velocity=(),
        extra=dict(ARROW_TASK.extra),
        target_source=(
            "stated floor 1 - AUROC = 1e-3, as arrow/forward-backward: the clip's positions "
            "determine its velocities up to the frame spacing (central differences), so the "
            "same one-step check of the equation of motion separates a damped clip from its "
            "reverse"
        ),
        description=(
            "Is a 21-frame clip of 5 particles (positions only, scaled per clip) playing "
            "forward or backward? A clip and its reverse hold the same frames in opposite "
            "order, so a model blind to the order of the frames is at chance by construction. "
            "AUROC per irreversible source (primary: their mean) and |AUROC - 1/2| per "
            "reversible source (lower is better)."
        ),
    )
)
