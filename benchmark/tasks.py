"""Task records, the task registry, windows and ``describe``.

A :class:`TaskSpec` names everything needed to score a model: the dataset, the stored split, the
window geometry, what the model sees and must return, the metrics (and the primary one), the
normalization (statistics from the train split), the temporal probes and the trivial baseline
that anchors the decathlon points. A name alone gives data, split and metrics.

Two task kinds exist:

``forecast``
    The model sees ``x`` of shape (window, context, entity, feature) and returns the next
    ``horizon`` frames of the target features, shape (window, horizon, entity, target_feature).
``graph``
    The model sees ``x`` and returns a score in [0, 1] for every ordered pair ``(i, j)``, shape
    (window, entity, entity): the belief that an edge ``i -> j`` exists (the diagonal is ignored).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from .data import DATASETS, open_part, store_meta
from .registry import Registry

__all__ = [
    "TASKS",
    "Split",
    "TaskSpec",
    "Windows",
    "describe",
    "get_task",
    "list_tasks",
    "register_task",
    "make_windows",
    "train_sequences",
    "load_split",
    "task_stats",
]

KINDS = ("forecast", "graph")


@dataclass(frozen=True)
class Split:
    """Which samples of which stored part form a split.

    ``samples=None`` takes every sample of ``part`` (simulators draw their splits separately).
    Explicit indices are stored in the task and hashed into ``split_sha256``; they are never
    computed from an unseeded RNG.
    """

    part: str
    samples: tuple[int, ...] | None = None
    coord: str | None = None  # select samples by the labels of this coordinate instead
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class TaskSpec:
    """A benchmark task (DESIGN §3, "Task record").

    Parameters
    ----------
    name
        ``domain/event-task``, e.g. ``particles/springs-forecast``.
    event
        The decathlon event the task scores for (``particles/springs``); an event's points are
        the mean of its tasks' points.
    kind
        ``forecast`` or ``graph``.
    dataset
        A registered dataset name.
    splits
        ``{"train": Split, "valid": Split, "test": Split}``.
    inputs
        Dataset variables stacked (in order, trailing dims flattened) as the input features.
    targets
        Forecast: variables to predict (a subset of ``inputs``). Graph: unused (``edges``).
    context, horizon
        Input frames and predicted frames per window.
    offset, stride
        First window start; ``stride=None`` gives one window per sample at ``offset``.
    train_length
        Frames per training sequence handed to ``fit`` (``None``: context + horizon).
    static
        Per-entity dataset variables (sample, entity, k) handed to the model as ``static``.
    normalize
        ``"minmax"``: each input variable scaled to [-1, 1] by its train-split min and max
        (NRI's ``utils.load_data``); ``None``: original units.
    velocity
        Input variables negated by the reversal probe (time reversal flips velocities).
    metrics, primary, higher_is_better
        Reported metric names (see :mod:`decathlon.benchmark.metrics`) and the ranking one.
    error
        Forecast error per entity and step: ``"se"`` squared error averaged over target features
        (NRI's MSE) or ``"l2"`` Euclidean norm over the target's spatial components.
    report_steps
        Horizon steps (1-based) reported individually, e.g. (1, 10, 20).
    target_steps
        Only these horizon steps are predicted and scored (e.g. EGNN's single frame 10 steps
        ahead); ``None``: every step 1..horizon.
    samples
        Maximum number of stochastic samples per window a model may return (best-of-K
        metrics); 1 for deterministic tasks.
    equivariance
        Symmetry transforms probed (``rot90``, ``reflect``, ``rotate``, ``translate``,
        ``permute``), applied in physical units with fixed seeds (see ``probes``).
    probes, shuffle_seeds
        Temporal probes run on every evaluation; the seeds of the K shuffle permutations.
    trivial
        Baseline name scoring 0 decathlon points (1000 = a perfect score).
    mini_windows
        Cap on test windows at the ``mini`` tier (first ones, deterministic); ``None``: all.
    reversible
        Whether the physics is time-reversal symmetric (velocities negated) for these inputs.
    window_fn
        Optional custom window builder ``window_fn(task, tier, split) -> Windows``.
    """

    name: str
    version: str
    event: str
    kind: str
    dataset: str
    splits: Mapping[str, Split]
    inputs: tuple[str, ...]
    metrics: tuple[str, ...]
    primary: str
    higher_is_better: bool
    trivial: str
    context: int
    horizon: int = 0
    targets: tuple[str, ...] = ()
    offset: int = 0
    stride: int | None = None
    train_length: int | None = None
    static: tuple[str, ...] = ()
    normalize: str | None = None
    velocity: tuple[str, ...] = ()
    error: str = "se"
    report_steps: tuple[int, ...] = ()
    target_steps: tuple[int, ...] | None = None
    samples: int = 1
    equivariance: tuple[str, ...] = ()
    probes: tuple[str, ...] = ("reversal", "shuffle", "freeze")
    shuffle_seeds: tuple[int, ...] = tuple(range(10))
    mini_windows: int | None = None
    reversible: bool | None = None
    window_fn: Callable[..., Windows] | None = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> tuple[int, ...]:
        """The horizon steps (1-based) the model must predict: ``target_steps`` or 1..horizon."""
        return self.target_steps or tuple(range(1, self.horizon + 1))

    def targets_features(self, features: list[str]) -> list[str]:
        """The target feature names among stacked input ``features`` (columns of ``targets``)."""
        return [f for f in features if any(f == v or f.startswith(v + "_") for v in self.targets)]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.primary not in self.metrics:
            raise ValueError(f"task {self.name!r}: primary metric {self.primary!r} not in {self.metrics}")
        missing = {"train", "valid", "test"} - set(self.splits)
        if missing:
            raise ValueError(f"task {self.name!r}: splits {sorted(missing)} missing")
        if self.kind == "forecast" and (self.horizon < 1 or not self.targets):
            raise ValueError(f"forecast task {self.name!r} needs horizon >= 1 and targets")
        if not set(self.targets) <= set(self.inputs):
            raise ValueError(f"task {self.name!r}: targets {self.targets} must be among inputs {self.inputs}")
        bad = [s for s in self.report_steps if not 1 <= s <= max(self.horizon, 1)]
        if bad:
            raise ValueError(f"task {self.name!r}: report_steps {bad} outside 1..{self.horizon}")


TASKS: Registry[TaskSpec] = Registry("task", plugins=("decathlon.datasets",))


def register_task(task: TaskSpec) -> TaskSpec:
    """Register ``task`` under ``task.name`` (duplicates refused)."""
    return TASKS.register(task.name, task)


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The task called ``name``; ``KeyError`` listing the valid names otherwise.

    Examples
    --------
    >>> get_task("particles/springs-forecast").primary
    'mse'
    """
    if isinstance(name, TaskSpec):
        return name
    return TASKS.get(name)


def list_tasks() -> list[str]:
    """Names of every registered task."""
    return TASKS.names()


@dataclass
class Windows:
    """The windows of one split, ready for a model and for scoring.

    ``x`` (window, context, entity, feature) is what the model sees; ``y`` is the target
    (forecast: (window, horizon, entity, target_feature); graph: (window, entity, entity)).
    ``mask_x`` / ``mask_y`` (window, time, entity) mark present entities (``None``: all present).
    ``static`` (window, entity, k) holds per-entity constants. ``ids`` are the window ids the
    model must return predictions for; ``sample`` and ``start`` locate each window.
    """

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    sample: np.ndarray
    start: np.ndarray
    features: list[str]
    target_features: list[str]
    mask_x: np.ndarray | None = None
    mask_y: np.ndarray | None = None
    static: np.ndarray | None = None
    static_features: list[str] = field(default_factory=list)
    norm: tuple[np.ndarray, np.ndarray] | None = None  # per input column (lo, hi) of the minmax scaling

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: np.ndarray) -> Windows:
        """The windows at positions ``idx``."""
        def take(a):
            return None if a is None else a[idx]

        return Windows(
            self.ids[idx], self.x[idx], self.y[idx], self.sample[idx], self.start[idx],
            self.features, self.target_features, take(self.mask_x), take(self.mask_y),
            take(self.static), self.static_features, self.norm,
        )


def _feature_names(ds: xr.Dataset, var: str) -> list[str]:
    da = ds[var]
    trailing = [d for d in da.dims if d not in ("sample", "time", "entity")]
    if not trailing:
        return [var]
    if len(trailing) > 1:
        raise ValueError(f"variable {var!r} has more than one feature dim: {trailing}")
    d = trailing[0]
    labels = ds[d].values.tolist() if d in ds.coords else list(range(da.sizes[d]))
    return [f"{var}_{lab}" for lab in labels]


def _stack(ds: xr.Dataset, variables: tuple[str, ...]) -> np.ndarray:
    """Variables of dims (sample, time, entity[, k]) stacked to (sample, time, entity, feature)."""
    arrs = []
    for v in variables:
        a = np.asarray(ds[v].values, dtype=np.float32)
        arrs.append(a[..., None] if a.ndim == 3 else a)
    return np.concatenate(arrs, axis=-1)


def load_split(task: TaskSpec, tier: str, split: str) -> xr.Dataset:
    """The samples of ``split`` (a verified, loaded part of the prepared dataset)."""
    if split not in task.splits:
        raise KeyError(f"task {task.name!r} has no split {split!r}; valid: {', '.join(task.splits)}")
    s = task.splits[split]
    ds = open_part(task.dataset, tier, s.part, verify=True)
    if s.samples is not None:
        ds = ds.isel(sample=list(s.samples))
    elif s.coord is not None:
        have = [str(v) for v in ds[s.coord].values]
        missing = [lab for lab in s.labels if lab not in have]
        if missing:
            raise ValueError(
                f"task {task.name!r} split {split!r}: {s.coord} labels {missing} are not in dataset "
                f"{task.dataset!r} (it has {have}); re-run `decathlon prepare {task.dataset}`"
            )
        ds = ds.isel(sample=[have.index(lab) for lab in s.labels])
    return ds


@lru_cache(maxsize=32)
def _stats_cached(task_name: str, tier: str, data_sha: str) -> dict[str, list[float]]:
    task = get_task(task_name)
    ds = load_split(task, tier, "train")
    stats: dict[str, list] = {}
    for v in task.inputs:
        a = np.asarray(ds[v].values, dtype=np.float64)
        if "mask" in ds and ds["mask"].dims == ds[v].dims[:3]:
            a = a[np.asarray(ds["mask"].values)]
        if a.ndim > 1 and ds[v].dims[-1] != "space":  # non-spatial features: one range each
            a = a.reshape(-1, a.shape[-1])
            stats[v] = [[float(lo), float(hi)] for lo, hi in zip(np.nanmin(a, 0), np.nanmax(a, 0), strict=True)]
        else:  # a scalar or a spatial vector: one range, so rotations stay rotations
            stats[v] = [float(np.nanmin(a)), float(np.nanmax(a))]
    return stats


def task_stats(task: TaskSpec | str, tier: str) -> dict[str, list[float]]:
    """Normalization statistics from the train split: ``{variable: [min, max]}``.

    Empty when the task does not normalize.
    """
    task = get_task(task)
    if task.normalize is None:
        return {}
    if task.normalize != "minmax":
        raise ValueError(f"task {task.name!r}: unknown normalization {task.normalize!r}")
    return _stats_cached(task.name, tier, store_meta(task.dataset, tier)["data_sha256"])


def _normalize(task: TaskSpec, ds: xr.Dataset, arr: np.ndarray, variables: tuple[str, ...], stats) -> np.ndarray:
    """Scale each column to [-1, 1] with its train (lo, hi) (see :func:`to_unit`)."""
    if not stats or not arr.size:
        return arr
    lo, hi = column_ranges(stats, [len(_feature_names(ds, v)) for v in variables], variables)
    return to_unit(arr, lo, hi).astype(arr.dtype)


def _half_range(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.where(hi > lo, (hi - lo) / 2.0, 1.0)  # a constant column is only shifted


def to_unit(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The minmax scaling ``(v - lo) * 2 / (hi - lo) - 1`` (NRI's ``utils.load_data``)."""
    return (v - lo) / _half_range(lo, hi) - 1.0


def from_unit(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_unit`: back to physical units."""
    return (x + 1.0) * _half_range(lo, hi) + lo


def column_ranges(stats: Mapping[str, list], widths: list[int], variables: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (lo, hi) arrays from ``task_stats`` for stacked variables of given widths."""
    lo, hi = [], []
    for v, wdt in zip(variables, widths, strict=True):
        r = stats[v]
        if isinstance(r[0], list):
            lo += [c[0] for c in r]
            hi += [c[1] for c in r]
        else:
            lo += [r[0]] * wdt
            hi += [r[1]] * wdt
    return np.asarray(lo), np.asarray(hi)


def make_windows(task: TaskSpec | str, tier: str = "mini", split: str = "test") -> Windows:
    """Build the windows of ``split`` (inputs and targets) for ``task`` at ``tier``.

    Windows start at ``offset`` and every ``stride`` frames (one per sample if ``stride`` is
    None) and must fit entirely in the sample. Inputs (and forecast targets) are normalized with
    the train-split statistics when the task says so. At the ``mini`` tier the test windows are
    capped at ``task.mini_windows``.
    """
    task = get_task(task)
    if task.window_fn is not None:
        w = task.window_fn(task, tier, split)
    else:
        w = _default_windows(task, tier, split)
    if tier == "mini" and task.mini_windows is not None and len(w) > task.mini_windows:
        w = w.subset(np.arange(task.mini_windows))
        w.ids = np.arange(len(w), dtype=np.int64)
    return w


@dataclass
class _Cut:
    """Fixed-length windows cut from a split: the shared core of evaluation and training windows."""

    ds: xr.Dataset
    features: list[str]
    seq: np.ndarray  # (W, length, entity, feature), normalized, zero where absent
    mask: np.ndarray | None  # (W, length, entity) presence, None if every entity is always present
    sample: np.ndarray
    start: np.ndarray
    static: np.ndarray | None
    static_features: list[str]


def _cut(task: TaskSpec, tier: str, split: str, length: int, offset: int, stride: int | None) -> _Cut:
    """Windows of ``length`` frames starting at ``offset`` and then every ``stride`` frames (one
    per sample if ``stride`` is None), kept only where every frame lies inside the sample's
    recording (for masked datasets: some entity present in each frame)."""
    ds = load_split(task, tier, split)
    feats = [f for v in task.inputs for f in _feature_names(ds, v)]
    data = _normalize(task, ds, _stack(ds, task.inputs), task.inputs, task_stats(task, tier))
    n_s, n_t = data.shape[:2]
    if stride is None:
        starts = [offset] if offset + length <= n_t else []
    else:
        starts = list(range(offset, n_t - length + 1, stride))
    if not starts:
        raise ValueError(
            f"task {task.name!r}: samples of split {split!r} have {n_t} frames, too few for windows of "
            f"{length} frames from frame {offset}"
        )
    samp = np.repeat(np.arange(n_s), len(starts))
    st = np.tile(np.asarray(starts), n_s)
    tidx = st[:, None] + np.arange(length)[None, :]
    seq = data[samp[:, None], tidx]
    mseq = None
    if "mask" in ds.data_vars:
        mseq = np.asarray(ds["mask"].values)[samp[:, None], tidx]
        keep = mseq.any(-1).all(-1)
        samp, st, seq, mseq = samp[keep], st[keep], seq[keep], mseq[keep]
        if not len(samp):
            raise ValueError(f"task {task.name!r}: no complete window in split {split!r}")
        seq = np.where(mseq[..., None], seq, 0.0).astype(np.float32)
        if mseq.all():
            mseq = None
    static = None
    if task.static:
        static = np.concatenate(
            [np.asarray(ds[v].values, dtype=np.float32).reshape(n_s, ds.sizes["entity"], -1) for v in task.static],
            axis=-1,
        )[samp]
    sfeat = [f for v in task.static for f in _static_names(ds, v)]
    return _Cut(ds, feats, seq, mseq, samp, st, static, sfeat)


def _default_windows(task: TaskSpec, tier: str, split: str) -> Windows:
    c = _cut(task, tier, split, task.context + task.horizon, task.offset, task.stride)
    tfeats = task.targets_features(c.features) if task.kind == "forecast" else []
    steps = np.asarray(task.steps) - 1 + task.context
    if task.kind == "forecast":
        y = c.seq[:, steps][..., [c.features.index(f) for f in tfeats]]
    else:
        y = np.asarray(c.ds["edges"].values, dtype=np.float32)[c.sample]
    stats = task_stats(task, tier)
    norm = column_ranges(stats, [len(_feature_names(c.ds, v)) for v in task.inputs], task.inputs) if stats else None
    return Windows(
        ids=np.arange(len(c.sample), dtype=np.int64), x=np.ascontiguousarray(c.seq[:, : task.context]),
        y=np.ascontiguousarray(y), sample=c.sample, start=c.start, features=c.features, target_features=tfeats,
        mask_x=None if c.mask is None else c.mask[:, : task.context],
        mask_y=None if c.mask is None else c.mask[:, steps],
        static=c.static, static_features=c.static_features, norm=norm,
    )


def _static_names(ds: xr.Dataset, var: str) -> list[str]:
    da = ds[var]
    d = [x for x in da.dims if x not in ("sample", "entity")]
    if not d:
        return [var]
    return [f"{var}_{lab}" for lab in (ds[d[0]].values.tolist() if d[0] in ds.coords else range(da.sizes[d[0]]))]


def train_sequences(task: TaskSpec | str, tier: str = "mini", split: str = "train") -> Windows:
    """Sequences for ``fit``: non-overlapping windows of ``train_length`` frames.

    ``x`` is (window, train_length, entity, feature), normalized like the evaluation inputs; a
    forecast model learns from whole sequences (``y`` is empty), a graph model gets the edges in
    ``y``. One sequence per sample if the task has one window per sample (``stride=None``).
    """
    task = get_task(task)
    length = task.train_length or (task.context + task.horizon)
    c = _cut(task, tier, split, length, 0, None if task.stride is None else length)
    if task.kind == "graph":
        y = np.asarray(c.ds["edges"].values, dtype=np.float32)[c.sample]
    else:
        y = np.zeros((len(c.sample), 0), np.float32)
    return Windows(np.arange(len(c.sample), dtype=np.int64), c.seq, y, c.sample, c.start, c.features, [],
                   c.mask, None, c.static, c.static_features)


def split_hash(task: TaskSpec | str, tier: str) -> str:
    """sha256 of the split definition plus the sizes of the parts it draws from."""
    task = get_task(task)
    meta = store_meta(task.dataset, tier)
    desc = {
        k: {"part": s.part, "samples": list(s.samples) if s.samples is not None else "all",
            "part_sha256": meta["parts"][s.part]["sha256"]}
        for k, s in sorted(task.splits.items())
    }
    desc["window"] = [task.context, task.horizon, task.offset, task.stride, task.mini_windows if tier == "mini" else None]
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()


def describe(task: TaskSpec | str, tier: str = "mini") -> dict[str, Any]:
    """What the model receives and must return, with names, dims and shapes.

    Shapes are given with ``W`` for the number of windows; entity and feature counts are read
    from the prepared dataset when available, else left symbolic.

    Examples
    --------
    >>> d = describe("particles/springs-forecast")
    >>> d["output"]["dims"]
    ['window', 'horizon', 'entity', 'target_feature']
    """
    task = get_task(task)
    spec = DATASETS.get(task.dataset)
    n_ent: Any = "N"
    feats: list[str] = list(task.inputs)
    tfeats: list[str] = list(task.targets)
    try:
        meta = store_meta(task.dataset, tier)
        ds = open_part(task.dataset, tier, task.splits["test"].part)
        n_ent = ds.sizes.get("entity", "N") if task.window_fn is None else "P"
        feats = [f for v in task.inputs for f in _feature_names(ds, v)]
        tfeats = [f for v in task.targets for f in _feature_names(ds, v)]
        sfeats = [f for v in task.static for f in _static_names(ds, v)]
        prepared = bool(meta)
    except (KeyError, ValueError, OSError):
        prepared = False
        sfeats = list(task.static)
    inputs = {
        "ids": {"dims": ["window"], "shape": ["W"], "dtype": "int64"},
        "x": {"dims": ["window", "time", "entity", "feature"], "shape": ["W", task.context, n_ent, len(feats)],
              "dtype": "float32", "features": feats},
    }
    if task.static:
        inputs["static"] = {"dims": ["window", "entity", "static_feature"],
                            "shape": ["W", n_ent, len(sfeats) if prepared else "K"],
                            "dtype": "float32", "features": sfeats}
    inputs["mask"] = {"dims": ["window", "time", "entity"], "dtype": "bool",
                      "note": "present only for datasets where entities come and go"
                      + ("; P = entities of the busiest window, padded slots are masked out" if n_ent == "P" else "")}
    if task.kind == "forecast":
        steps = task.steps
        what = (f"the {task.horizon} frames after the context" if len(steps) == task.horizon
                else f"the frames {list(steps)} steps after the last context frame")
        output = {"dims": ["window", "horizon", "entity", "target_feature"],
                  "shape": ["W", len(steps), n_ent, len(tfeats)], "features": tfeats,
                  "meaning": f"{what}, in the input's units"
                  + (f"; or (W, K <= {task.samples}, ...) stochastic samples scored best-of-K" if task.samples > 1 else "")}
    else:
        output = {"dims": ["window", "entity", "entity_"], "shape": ["W", n_ent, n_ent],
                  "meaning": "score in [0, 1] that edge i -> j exists; the diagonal is ignored"}
    return {
        "task": task.name, "version": task.version, "event": task.event, "kind": task.kind,
        "dataset": task.dataset, "domain": spec.domain, "tier": tier, "prepared": prepared,
        "context": task.context, "horizon": task.horizon,
        "normalization": task.normalize or "none (original units)",
        "inputs": inputs, "output": output,
        "metrics": list(task.metrics), "primary": task.primary,
        "direction": "higher is better" if task.higher_is_better else "lower is better",
        "probes": list(task.probes), "equivariance": list(task.equivariance),
        "time_reversible_physics": task.reversible, "trivial_baseline": task.trivial,
        "description": task.description,
    }
