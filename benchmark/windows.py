"""Windows: the fixed-length pieces of a split that a model sees and is scored on.

:func:`make_windows` cuts the evaluation windows of a split (inputs and targets),
:func:`train_sequences` the sequences handed to ``fit``; both share one cutter. Inputs (and
forecast targets) are normalized with the train-split statistics when the task says so
(:mod:`decathlon.benchmark.normalization`). A task may bring its own ``window_fn(task, ds)``
(e.g. Social-GAN's windows for ETH/UCY).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union

import numpy as np

from .data import TIERS, Tier, open_part, store_meta, verify_digest
from .lazy import xr
from .normalization import Ranges, Stats, column_ranges, task_stats, to_unit
from .store_view import StoreView
from .stores import ArrayHasher
from .tasks import TaskSpec, get_task, load_split, load_split_view

__all__ = [
    "Windows",
    "make_windows",
    "split_windows",
    "iter_windows",
    "train_sequences",
    "feature_names",
    "constant_names",
    "check_split_tier",
    "series_windows",
]


#: A loaded split: an xarray dataset, or the same arrays read without xarray (tasks without a
#: ``window_fn``, :mod:`.store_view`).
SplitData = Union["xr.Dataset", StoreView]


@dataclass
class Windows:
    """The windows of one split, ready for a model and for scoring.

    ``x`` (window, context, entity, feature) is what the model sees; ``y`` is the target
    (forecast: (window, horizon, entity, target_feature); graph: (window, entity, entity)).
    ``mask_x`` / ``mask_y`` (window, time, entity) mark present entities (``None``: all present).
    ``constants`` (window, entity, k) holds per-entity constants (charges ...). ``ids`` are the
    window ids the model must return predictions for; ``sample`` and ``start`` locate each
    window. ``ranges`` is the per-input-column ``(lo, hi)`` of the minmax scaling (``None`` in
    original units); ``dt`` the seconds between frames. ``group`` (window,) names a group of
    windows whose metrics are also reported on their own (the source system of an
    arrow-of-time clip: ``auroc@<group>``); ``None``: no groups. ``cluster`` (window,) integer
    ids of the units a task with ``bootstrap_unit="cluster"`` resamples (e.g. the pedestrian a
    clip follows); ``None`` elsewhere.
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
    constants: np.ndarray | None = None
    constant_features: list[str] = field(default_factory=list)
    ranges: Ranges | None = None
    dt: float | None = None
    group: np.ndarray | None = None
    cluster: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: np.ndarray | slice) -> Windows:
        """The windows at positions ``idx`` (ids kept)."""

        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return replace(
            self,
            ids=self.ids[idx],
            x=self.x[idx],
            y=self.y[idx],
            sample=self.sample[idx],
            start=self.start[idx],
            mask_x=take(self.mask_x),
            mask_y=take(self.mask_y),
            constants=take(self.constants),
            group=take(self.group),
            cluster=take(self.cluster),
        )


def feature_names(ds: SplitData, var: str) -> list[str]:
    """Column names of a (sample, time, entity[, k]) variable: ``var`` or ``var_<label>``
    (a sensor network's ``node`` is its entity)."""
    da = ds[var]
    trailing = [d for d in da.dims if d not in ("sample", "time", "entity", "node", "variable")]
    if not trailing:
        return [var]
    if len(trailing) > 1:
        raise ValueError(f"variable {var!r} has more than one feature dim: {trailing}")
    d = str(trailing[0])
    labels = ds[d].values.tolist() if d in ds.coords else list(range(da.sizes[d]))
    return [f"{var}_{lab}" for lab in labels]


def constant_names(ds: SplitData, var: str) -> list[str]:
    """Column names of a (sample, entity[, k]) per-entity constant."""
    da = ds[var]
    d = [str(x) for x in da.dims if x not in ("sample", "entity")]
    if not d:
        return [var]
    labels = ds[d[0]].values.tolist() if d[0] in ds.coords else range(da.sizes[d[0]])
    return [f"{var}_{lab}" for lab in labels]


def _stack(
    ds: SplitData,
    variables: tuple[str, ...],
    frames: slice,
    ranges: Ranges | None,
    chunk: int = 1024,
) -> np.ndarray:
    """Variables of dims (sample, time, entity[, k]) stacked to (sample, time, entity, feature)
    float32 over ``frames``, scaled by ``ranges`` (per column, :func:`to_unit`) when given.

    Filled ``chunk`` samples at a time into one preallocated array: no full-size float64
    temporaries, and each element gets exactly the arithmetic of scaling the stacked array.
    """
    arrs = [ds[v].data if isinstance(ds[v].data, np.ndarray) else ds[v].values for v in variables]
    widths = [a.shape[3] if a.ndim == 4 else 1 for a in arrs]
    n_s, n_e = arrs[0].shape[0], arrs[0].shape[2]
    n_t = len(range(*frames.indices(arrs[0].shape[1])))
    out = np.empty((n_s, n_t, n_e, sum(widths)), dtype=np.float32)
    col = 0
    for a, wdt in zip(arrs, widths, strict=True):
        cols = slice(col, col + wdt)
        for s in range(0, n_s, chunk):
            piece = np.asarray(a[s : s + chunk, frames], dtype=np.float32)
            piece = piece[..., None] if piece.ndim == 3 else piece
            if ranges is not None:
                piece = to_unit(piece, ranges[0][cols], ranges[1][cols]).astype(np.float32)
            out[s : s + chunk, :, :, cols] = piece
        col += wdt
    return out


def _ranges(task: TaskSpec, ds: SplitData, stats: Stats) -> Ranges | None:
    """Per-column (lo, hi) of the task's inputs, ``None`` when the task does not normalize."""
    if not stats:
        return None
    widths = [len(feature_names(ds, v)) for v in task.inputs]
    return column_ranges(stats, widths, task.inputs)


def check_split_tier(
    task: TaskSpec, split: str, tier: str, call: str = "make_windows", tier_first: bool = False
) -> None:
    """Refuse a ``split`` or ``tier`` that is not one, naming both (and the order) when swapped.

    ``call`` names the function in the message; its arguments are ``(task, split, tier)``, or
    ``(tier, split)`` when ``tier_first`` (``task.train_data(tier, split)``).

    Examples
    --------
    >>> task = get_task("particles/springs-forecast")
    >>> check_split_tier(task, "mini", "train")
    Traceback (most recent call last):
    ...
    ValueError: make_windows(task, split, tier) got split='mini' and tier='train': they look ...
    """
    if split in task.splits and tier in TIERS:
        return
    usage = f"{call}(tier, split)" if tier_first else f"{call}(task, split, tier)"
    splits, tiers = ", ".join(task.splits), ", ".join(TIERS)
    if split in TIERS and tier in task.splits:
        fixed = (
            f"{call}({split!r}, {tier!r})" if tier_first else f"{call}(task, {tier!r}, {split!r})"
        )
        raise ValueError(
            f"{usage} got split={split!r} and tier={tier!r}: they look swapped; call {fixed}"
        )
    if split not in task.splits:
        hint = " (a tier, not a split)" if split in TIERS else ""
        raise ValueError(
            f"{usage}: split {split!r}{hint} is not a split of task {task.name!r}; splits: "
            f"{splits}; tiers: {tiers}"
        )
    hint = " (a split, not a tier)" if tier in task.splits else ""
    raise ValueError(
        f"{usage}: tier {tier!r}{hint} is not a tier; tiers: {tiers}; splits of task "
        f"{task.name!r}: {splits}"
    )


def _frame_seconds(ds: SplitData) -> float | None:
    dt = ds.attrs.get("dt")
    return None if dt is None else float(dt)


def make_windows(
    task: TaskSpec | str,
    split: str = "test",
    tier: Tier = "mini",
    *,
    stats: Stats | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Windows:
    """Build the windows of ``split`` (inputs and targets) for ``task`` at ``tier``.

    Windows start at ``offset`` and every ``stride`` frames (one per sample if ``stride`` is
    None) and must fit entirely in the sample. Inputs (and forecast targets) are normalized with
    the train-split statistics when the task says so. At the ``mini`` tier the test windows are
    capped at ``task.mini_windows``. ``stats`` and ``meta`` (the train statistics and the
    store's ``COMPLETE.json``) are passed by the evaluation context, which has them already.

    For training data use ``task.train_data(tier)`` (:class:`~decathlon.benchmark.train_data.
    TrainData`): training sequences can be shorter than a test window (NRI trains on 49 frames
    and tests on 49 + 20).
    """
    task = get_task(task)
    check_split_tier(task, split, tier)
    stats = task_stats(task, tier, meta) if stats is None else stats
    view = load_split_view(task, split, tier, meta) if task.window_fn is None else None
    ds = load_split(task, split, tier, meta) if view is None else view
    return split_windows(task, split, tier, ds, stats)


def split_windows(task: TaskSpec, split: str, tier: Tier, ds: SplitData, stats: Stats) -> Windows:
    """The windows of the loaded split ``ds`` (what :func:`make_windows` cuts once it has
    loaded the split; also a split that is not stored, such as a challenge part): normalized
    with ``stats``, capped at ``task.mini_windows`` at the ``mini`` tier. ``split`` names the
    split in messages."""
    w = _windows_of(task, split, ds, stats)
    if tier == "mini" and task.mini_windows is not None and len(w) > task.mini_windows:
        w = w.subset(np.arange(task.mini_windows))
        w.ids = np.arange(len(w), dtype=np.int64)
    return w


def iter_windows(
    task: TaskSpec | str,
    split: str = "test",
    tier: Tier = "mini",
    chunk: int = 1000,
    *,
    stats: Stats | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Iterator[Windows]:
    """The windows of ``split`` built ``chunk`` samples at a time, for splits larger than memory.

    Window ids run on across chunks; concatenated, the chunks are :func:`make_windows`' windows.
    When the split is a whole stored part its arrays are hashed as they stream by and checked
    against the hash recorded at build time after the last chunk (a ``StoreError`` then, naming
    the folder to delete); a split that selects samples is loaded and verified first.
    """
    task = get_task(task)
    check_split_tier(task, split, tier, "iter_windows")
    meta = store_meta(task.dataset, tier) if meta is None else meta
    stats = task_stats(task, tier, meta) if stats is None else stats
    s = task.splits[split]
    whole = s.samples is None and s.coord is None
    ds = (
        open_part(task.dataset, tier, s.part, meta=meta)
        if whole
        else load_split(task, split, tier, meta)
    )
    if "sample" not in ds.sizes:
        raise ValueError(
            f"task {task.name!r}: its dataset {task.dataset!r} is one continuous series with no "
            "'sample' axis to stream in chunks; evaluate it in memory (without --stream)"
        )
    hasher = ArrayHasher() if whole else None
    cap = task.mini_windows if tier == "mini" else None
    done = 0
    for a in range(0, ds.sizes["sample"], chunk):
        piece = ds.isel(sample=slice(a, a + chunk)).load()
        if hasher is not None:
            hasher.update(piece)
        w = _windows_of(task, split, piece, stats)
        if cap is not None and done + len(w) > cap:
            w = w.subset(np.arange(max(cap - done, 0)))
        w.ids = np.arange(done, done + len(w), dtype=np.int64)
        w.sample = w.sample + a  # sample index within the split
        done += len(w)
        if len(w):
            yield w
    if hasher is not None:
        verify_digest(task.dataset, tier, s.part, hasher.digest()[0], meta)


def _windows_of(task: TaskSpec, split: str, ds: SplitData, stats: Stats) -> Windows:
    if task.window_fn is not None:
        if not isinstance(ds, xr.Dataset):
            raise TypeError(
                f"task {task.name!r} cuts its windows with window_fn, which takes an "
                f"xarray.Dataset, got {type(ds).__name__}; load the split with load_split"
            )
        return replace(task.window_fn(task, ds), dt=_frame_seconds(ds))
    return _default_windows(task, split, ds, stats)


@dataclass
class _Cut:
    """Fixed-length windows cut from a split: the shared core of evaluation and training windows."""

    features: list[str]
    seq: np.ndarray  # (W, length, entity, feature), normalized, zero where absent
    mask: np.ndarray | None  # (W, length, entity) presence, None if every entity is always present
    sample: np.ndarray
    start: np.ndarray
    constants: np.ndarray | None
    constant_features: list[str]
    ranges: Ranges | None


def _starts(
    task: TaskSpec, split: str, n_t: int, length: int, offset: int, stride: int | None
) -> list[int]:
    if stride is None:
        starts = [offset] if offset + length <= n_t else []
    else:
        starts = list(range(offset, n_t - length + 1, stride))
    if not starts:
        raise ValueError(
            f"task {task.name!r}: samples of split {split!r} have {n_t} frames, too few for "
            f"windows of {length} frames from frame {offset}; for training data use "
            f"get_task({task.name!r}).train_data(tier), whose .windows(context=...) cuts "
            "windows that fit"
        )
    return starts


def _cut(
    task: TaskSpec,
    split: str,
    ds: SplitData,
    stats: Stats,
    length: int,
    offset: int,
    stride: int | None,
) -> _Cut:
    """Windows of ``length`` frames starting at ``offset`` and then every ``stride`` frames (one
    per sample if ``stride`` is None), kept only where every frame lies inside the sample's
    recording (for masked datasets: some entity present in each frame)."""
    feats = [f for v in task.inputs for f in feature_names(ds, v)]
    ranges = _ranges(task, ds, stats)
    n_s, n_t = ds.sizes["sample"], ds.sizes["time"]
    starts = _starts(task, split, n_t, length, offset, stride)
    first, end = starts[0], starts[-1] + length  # only the frames some window covers
    data = _stack(ds, task.inputs, slice(first, end), ranges)
    samp = np.repeat(np.arange(n_s), len(starts))
    st = np.tile(np.asarray(starts), n_s)
    if len(starts) == 1 and end - first == length:  # one window per sample: the data itself
        seq = data
    else:
        seq = data[samp[:, None], st[:, None] - first + np.arange(length)[None, :]]
    tidx = st[:, None] + np.arange(length)[None, :]
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
    consts = None
    if task.constants:
        n_e = ds.sizes["entity"]
        cols = [
            np.asarray(ds[v].values, dtype=np.float32).reshape(n_s, n_e, -1) for v in task.constants
        ]
        consts = np.concatenate(cols, axis=-1)[samp]
    cfeat = [f for v in task.constants for f in constant_names(ds, v)]
    return _Cut(feats, seq, mseq, samp, st, consts, cfeat, ranges)


def _labels(task: TaskSpec, ds: SplitData, sample: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per-sample targets of graph and regress tasks, with their names: the ``edges`` (float32)
    or the ``params`` (float64, original units, names from the ``param`` coordinate)."""
    if task.kind == "regress":
        names = [str(p) for p in ds["param"].values] if "param" in ds.coords else []
        return np.asarray(ds["params"].values, dtype=np.float64)[sample], names
    return np.asarray(ds["edges"].values, dtype=np.float32)[sample], []


def _default_windows(task: TaskSpec, split: str, ds: SplitData, stats: Stats) -> Windows:
    c = _cut(task, split, ds, stats, task.context + task.horizon, task.offset, task.stride)
    tfeats = task.targets_features(c.features) if task.kind == "forecast" else []
    steps = np.asarray(task.steps) - 1 + task.context
    if task.kind == "forecast":
        y = c.seq[:, steps][..., [c.features.index(f) for f in tfeats]]
    else:
        y, tfeats = _labels(task, ds, c.sample)
    return Windows(
        ids=np.arange(len(c.sample), dtype=np.int64),
        x=np.ascontiguousarray(c.seq[:, : task.context]),
        y=np.ascontiguousarray(y),
        sample=c.sample,
        start=c.start,
        features=c.features,
        target_features=tfeats,
        mask_x=None if c.mask is None else c.mask[:, : task.context],
        mask_y=None if c.mask is None else c.mask[:, steps],
        constants=c.constants,
        constant_features=c.constant_features,
        ranges=c.ranges,
        dt=_frame_seconds(ds),
    )


def train_sequences(task: TaskSpec | str, split: str = "train", tier: Tier = "mini") -> Windows:
    """Sequences for ``fit``: non-overlapping windows of ``train_length`` frames.

    ``x`` is (window, train_length, entity, feature), normalized like the evaluation inputs; a
    forecast model learns from whole sequences (``y`` is empty), a graph model gets the edges in
    ``y``. One sequence per sample if the task has one window per sample (``stride=None``).
    """
    task = get_task(task)
    check_split_tier(task, split, tier, "train_sequences")
    length = task.train_length or (task.context + task.horizon)
    ds = load_split(task, split, tier)
    if task.sequence_fn is not None:  # one continuous recording: the split as one sequence
        return replace(task.sequence_fn(task, ds), dt=_frame_seconds(ds))
    c = _cut(
        task, split, ds, task_stats(task, tier), length, 0, None if task.stride is None else length
    )
    y, tfeats = (
        _labels(task, ds, c.sample)
        if task.kind in ("graph", "regress")
        else (np.zeros((len(c.sample), 0), np.float32), [])
    )
    return Windows(
        np.arange(len(c.sample), dtype=np.int64),
        c.seq,
        y,
        c.sample,
        c.start,
        c.features,
        tfeats,
        c.mask,
        None,
        c.constants,
        c.constant_features,
        c.ranges,
        _frame_seconds(ds),
    )


def series_windows(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """One window per sample of a ``causal_series`` split: the first ``task.context`` frames.

    A ``window_fn`` (and ``sequence_fn``) for causal-discovery tasks: each sample is an
    independent dataset, ``x`` (sample, time, variable) becomes the input (window, context,
    variable, 1) (the variables are the entities), and the target is the summary graph
    ``max over lag of graph`` (window, variable, variable), CUTS' collapse of a lagged graph.
    Inputs are in original units.
    """
    n_t = ds.sizes["time"]
    if task.context > n_t:
        raise ValueError(
            f"task {task.name!r}: context {task.context} is longer than the {n_t} frames of its "
            f"dataset {task.dataset!r}; declare context <= {n_t}"
        )
    x = np.asarray(ds["x"].values[:, : task.context], dtype=np.float32)[..., None]
    y = np.asarray(ds["graph"].values).max(-1).astype(np.float32)
    n = len(x)
    return Windows(
        ids=np.arange(n, dtype=np.int64),
        x=np.ascontiguousarray(x),
        y=y,
        sample=np.arange(n),
        start=np.zeros(n, dtype=np.int64),
        features=["x"],
        target_features=[],
        dt=_frame_seconds(ds),
    )
