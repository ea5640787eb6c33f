"""The arrow of time on real recordings: ETH/UCY pedestrians (``docs/protocols.md`` §9.7).

Task ``arrow/pedestrians`` of the arrow-of-time event, on the ``eth-ucy`` dataset
(:mod:`decathlon.datasets.eth_ucy`; nothing new is downloaded or copied). Is a clip of a walking
pedestrian and its neighbours playing forward or backward?

**Clips.** A *focal* pedestrian present (one identity, one entity slot) in :data:`CLIP_FRAMES`
= 20 consecutive steps of the dataset's regular 0.4 s grid: 8 s, the length of the Social-GAN
windows of the ETH/UCY forecasting tasks (8 observed + 12 predicted steps), long enough to hold
a start, a stop or an avoidance manoeuvre, short enough that most pedestrians give several clips
(a step of the grid where nobody is annotated breaks the run, so no clip spans a gap in the
frames). A clip starts at every step of every such run (stride 1), so the set of clips of a run
is the same set played backwards: the clip selection carries no arrow (a grid anchored at the
run's first frame would put the pedestrian's entrance into view at the start of forward clips
only). Up to :data:`NEIGHBOURS` = 4 co-present neighbours join the focal (5 entities, as the
simulated clips): the pedestrians present in both middle frames of the clip, nearest to the focal
there (a time-symmetric choice), each masked in the frames it is absent.

**Coordinates.** Positions in metres relative to the focal's middle position (the mean of its
two middle frames), rotated about it by a seeded uniform angle per clip (:data:`ROTATION_SEED`,
the same for a clip and its reverse): the world axes of a scene, and the direction of its main
walkways, say nothing about the direction of time, and a leave-one-scene-out split should not
be able to learn them. Reflections are not applied: the side on which people pass each other is
behaviour, and it flips under time reversal. Velocities follow the dataset's convention for
derivatives of the Trajectron++ preprocessing (``numpy.gradient``: central differences
``(x[t+1] - x[t-1]) / 2 dt`` inside a run of presence, one-sided at its ends), computed inside
the clip from its own positions (:func:`decathlon.benchmark.kinematics.clip_velocities`, the
event's one derivative rule, re-exported here), so a reversed clip (frames reversed, velocities
negated: :func:`decathlon.datasets.arrow.reverse_clips`) has exactly the velocities the same
rule gives its reversed positions. A backward difference would not: reversed, it
becomes a forward difference, and a model could read the direction off the lag between
velocity and displacement. A neighbour present in one frame only (no difference) is masked there.

**Windows.** Every clip forward (label 1) and reversed (label 0), shuffled by the arrow event's
fixed permutation (:func:`decathlon.datasets.arrow.paired_windows`); one probability per window.

**Splits**, grouped by scene: ETH/UCY's leave-one-scene-out split for the held-out scene
:data:`TEST_SCENE` (``univ``: ``students001`` and ``students003``; :func:`~decathlon.datasets.
eth_ucy.scene_split`): test on its ``all_data`` files, train on the ``_train`` files of the other
source files, valid on their ``_val`` files. A clip and its reverse, and every (overlapping)
clip of one pedestrian, come from one file, so they never straddle splits; no test pedestrian or
scene is seen in training. ``univ`` is held out because it is the largest scene (about 700
focal pedestrians, 26 000 clips), which gives the tightest interval; the decision was made
before any model was run. Clusters: clips of one focal pedestrian (file, ``ped_id``) are
strongly correlated (overlapping by up to 19 of 20 frames), so a window bootstrap is too narrow;
:func:`pedestrian_clips` returns the focal identity of each clip for a pedestrian-level
(clustered) bootstrap.
"""

from __future__ import annotations

import numpy as np

from decathlon.benchmark.kinematics import clip_velocities
from decathlon.benchmark.lazy import xr
from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.benchmark.windows import Windows
from decathlon.datasets.arrow import paired_windows
from decathlon.datasets.eth_ucy import CITATION, DT, scene_split

__all__ = [
    "CLIP_FRAMES",
    "NEIGHBOURS",
    "TEST_SCENE",
    "FEATURES",
    "clip_velocities",
    "pedestrian_clips",
    "pedestrian_windows",
    "PEDESTRIAN_TASK",
]

#: Frames per clip: 20 steps of 0.4 s = 8 s (the Social-GAN window length).
CLIP_FRAMES = 20
#: Neighbours per clip besides the focal pedestrian (5 entities, as the simulated clips).
NEIGHBOURS = 4
#: Held-out scene of the leave-one-scene-out split (docs/protocols.md §4.1).
TEST_SCENE = "univ"
#: Seed of the per-clip rotation angles.
ROTATION_SEED = 2027
#: Input features of every window.
FEATURES = ["pos_x", "pos_y", "vel_x", "vel_y"]


def _focal_starts(mask: np.ndarray, ids: np.ndarray, length: int) -> tuple[np.ndarray, ...]:
    """(first step, slot) of every run of ``length`` steps one pedestrian spends in one slot."""
    n_t = mask.shape[0]
    if n_t < length:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cont = np.zeros_like(mask)
    cont[1:] = mask[1:] & mask[:-1] & (ids[1:] == ids[:-1])  # same person as the step before
    cs = np.concatenate([np.zeros((1, mask.shape[1]), np.int64), np.cumsum(cont, axis=0)])
    t0 = np.arange(n_t - length + 1)
    ok = mask[t0] & (cs[t0 + length] - cs[t0 + 1] == length - 1)
    start, slot = np.nonzero(ok)
    return start.astype(np.int64), slot.astype(np.int64)


def pedestrian_clips(
    pos: np.ndarray,
    mask: np.ndarray,
    ids: np.ndarray,
    length: int = CLIP_FRAMES,
    neighbours: int = NEIGHBOURS,
) -> dict[str, np.ndarray]:
    """Every clip of one file (module text), before rotation.

    ``pos`` (time, entity, 2) metres (NaN where absent), ``mask`` and ``ids`` (time, entity):
    one sample of the ``eth-ucy`` dataset. Returns ``pos`` and ``vel`` (clip, length,
    1 + neighbours, 2) relative to the focal's middle position (entity 0 is the focal), ``mask``
    (clip, length, 1 + neighbours), ``start`` (clip,) first time step and ``ped_id`` (clip,)
    the focal's upstream id (the clip's cluster).

    Examples
    --------
    >>> import tempfile
    >>> from decathlon.datasets.eth_ucy import make_fake_eth_ucy, open_eth_ucy
    >>> ds = open_eth_ucy(make_fake_eth_ucy(tempfile.mkdtemp(), seed=0, n_steps=80))
    >>> c = pedestrian_clips(ds.pos.values[0], ds.mask.values[0], ds.ped_id.values[0])
    >>> c["pos"].shape[1:], bool(c["mask"][:, :, 0].all())
    ((20, 5, 2), True)
    """
    mask = np.asarray(mask, bool)
    start, slot = _focal_starts(mask, ids, length)
    n, k = len(start), min(neighbours, max(mask.shape[1] - 1, 0))
    tidx = start[:, None] + np.arange(length)  # (clip, length)
    mids = start[:, None] + np.array([(length - 1) // 2, length // 2])  # (clip, 2)
    centre = pos[mids, slot[:, None]].mean(1)  # (clip, 2)
    cand = mask[mids[:, 0]] & mask[mids[:, 1]] & (ids[mids[:, 0]] == ids[mids[:, 1]])
    cand[np.arange(n), slot] = False
    dist = np.linalg.norm(pos[mids].mean(1) - centre[:, None], axis=-1)  # (clip, entity)
    dist = np.where(cand, dist, np.inf)
    near = np.argsort(dist, axis=1, kind="stable")[:, :k]
    found = np.isfinite(np.take_along_axis(dist, near, axis=1))
    ent = np.concatenate([slot[:, None], near], axis=1)  # (clip, 1 + k)
    who = ids[mids[:, 0, None], ent]  # each entity's identity at the middle of the clip
    t3, e3 = tidx[:, :, None], ent[:, None, :]
    m = (
        mask[t3, e3]
        & (ids[t3, e3] == who[:, None])
        & np.concatenate([np.ones((n, 1), bool), found], axis=1)[:, None]
    )
    p = np.where(m[..., None], pos[t3, e3] - centre[:, None, None], 0.0)
    vel, m = clip_velocities(p, m, DT)
    p = np.where(m[..., None], p, 0.0)
    return {"pos": p, "vel": vel, "mask": m, "start": start, "ped_id": who[:, 0].astype(np.int64)}


def _rotate(a: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """2-D vectors ``a`` (clip, ..., 2) rotated by ``angle`` (clip,) radians."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (clip, 2, 2)
    return np.einsum("nij,n...j->n...i", rot, a)


def pedestrian_windows(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """The split's clips (every file of ``ds``) forward and reversed, rotated (module text).

    ``x`` (window, 20, 5, 4): ``pos_x, pos_y`` (m) and ``vel_x, vel_y`` (m/s); ``mask_x``
    (window, 20, 5); ``y`` (window, 1) 1 forward, 0 reversed; ``sample`` the file's index in
    ``ds``, ``start`` the clip's first time step, ``cluster`` the focal pedestrian (file and
    upstream id): the unit the task's bootstrap resamples, since one pedestrian's overlapping
    clips (and each clip's reverse) are far from independent.
    """
    pos, mask, ids = (np.asarray(ds[v].values) for v in ("pos", "mask", "ped_id"))
    parts = [
        pedestrian_clips(pos[i], mask[i], ids[i], task.context, NEIGHBOURS)
        for i in range(pos.shape[0])
    ]
    keys = ("pos", "vel", "mask", "start", "ped_id")
    cat = {k: np.concatenate([c[k] for c in parts]) for k in keys}
    sample = np.concatenate([np.full(len(c["start"]), i, np.int64) for i, c in enumerate(parts)])
    cluster = np.unique(np.stack([sample, cat["ped_id"]], 1), axis=0, return_inverse=True)[1]
    # the split's clips in file order, one angle each (shared with the reverse)
    angle = np.random.default_rng(ROTATION_SEED).uniform(0.0, 2 * np.pi, len(sample))
    x = np.concatenate([_rotate(cat["pos"], angle), _rotate(cat["vel"], angle)], axis=-1)
    return paired_windows(
        x.astype(np.float32),
        cat["mask"].astype(bool),
        FEATURES,
        sample,
        cat["start"],
        cluster=cluster.reshape(-1).astype(np.int64),
    )


#: Points target, a stated floor (docs/probes.md §4): no published value exists for this task.
TARGET = 0.99

PEDESTRIAN_TASK = register_task(
    TaskSpec(
        name="arrow/pedestrians",
        version="1",
        event="arrow-of-time",
        kind="classify",
        dataset="eth-ucy",
        splits={
            k: Split("all", coord="file", labels=tuple(v))
            for k, v in scene_split(TEST_SCENE).items()
        },
        inputs=("pos",),
        context=CLIP_FRAMES,
        horizon=0,
        stride=1,
        normalize=None,
        velocity=("vel",),
        metrics=("auroc",),
        primary="auroc",
        trivial="chance",
        target=TARGET,
        target_source=(
            "stated floor 1 - AUROC = 1e-2 (no published value; human motion is not "
            "deterministic, so its ceiling is unknown and the floor is what the test split "
            "of about 700 pedestrians resolves)"
        ),
        window_fn=pedestrian_windows,
        sequence_fn=pedestrian_windows,
        bootstrap_unit="cluster",
        probes=("shuffle", "half", "local-2", "local-4", "freeze"),
        reversible=None,
        extra={
            "output": "probability that the clip plays forward (one per window)",
            "per_window": True,
            "features": FEATURES,
            # the trends with a pedestrian arrow (module text of baselines/arrow_features.py)
            "arrow_features": ("kinetic_energy",),
            "citation": CITATION,
            "probe_notes": {
                "reversal": "the reversed input is the other label by construction (every clip "
                "is also shown reversed), so its score is the plain score mirrored"
            },
        },
        description=(
            "Is an 8-s clip (20 steps of 0.4 s) of a real pedestrian and up to 4 co-present "
            "neighbours (ETH/UCY; metres relative to the pedestrian's middle position, rotated "
            "by a random angle per clip; velocities by central differences) playing forward or "
            "backward? Every clip appears both ways (reversed: frames in reverse order, "
            "velocities negated). Leave-one-scene-out: test on univ, train on the other scenes. "
            "Primary metric AUROC."
        ),
    )
)
