"""Training data in one line: ``get_task(name).train_data(tier)``.

:func:`train_data` returns a :class:`TrainData`: the training sequences of a task's ``train``
(or ``valid``) split as arrays, normalized exactly like the inputs the evaluator hands to
``predict`` (the train-split statistics), with the feature names, per-entity constants, the
ground-truth edges of graph tasks and the seconds between frames. :meth:`TrainData.windows`
cuts (input, target) windows of the task's geometry (or a shorter context) with a stride, and
:meth:`TrainData.as_torch` wraps them in a ``torch.utils.data.Dataset`` (torch is imported only
then, by :mod:`decathlon.benchmark.torch_data`).

Training sequences may be shorter than a test window: NRI trains on 49-frame simulations and
tests 49 context frames plus 20 predicted ones (Kipf et al. 2018, section 5), so on the particle
tasks a model learns from shorter windows (``windows(context=...)``) and rolls them out.

Examples
--------
>>> from decathlon.benchmark.data import materialize
>>> _ = materialize("nri-springs", "mini")
>>> data = get_task("particles/springs-forecast").train_data("mini")
>>> data.x.shape, data.features
((2000, 49, 5, 4), ('pos_x', 'pos_y', 'vel_x', 'vel_y'))
>>> w = data.windows(context=3, horizon=1, stride=10)
>>> w.x.shape, w.y.shape
((10000, 3, 5, 4), (10000, 1, 5, 4))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import Tier, materialize
from .normalization import Ranges
from .tasks import TaskSpec, get_task, load_split
from .windows import Windows, check_split_tier, train_sequences

if TYPE_CHECKING:
    from .torch_data import WindowDataset

__all__ = ["TrainData", "train_data"]


@dataclass(frozen=True, eq=False)
class TrainData:
    """The training sequences of one split of a task, as arrays (see the module text).

    Attributes
    ----------
    task, tier, split
        Where the data come from.
    x
        float32 (sequence, time, entity, feature), normalized like the evaluator's inputs
        (zero where an entity is absent).
    features, target_features
        Names of the columns of ``x``, and of those a forecast must return.
    mask
        bool (sequence, time, entity) presence, or ``None`` when every entity is always there.
    constants, constant_features
        float32 (sequence, entity, k) per-entity constants (charges ...) and their names, or
        ``None`` when the task has none.
    edges
        Graph tasks: float32 (sequence, entity, entity), the true interaction graph; regress
        tasks: float64 (sequence, param), the generating parameters in original units (the
        targets; names in ``target_features``); else ``None``.
    dt
        Seconds between frames (``None`` without a regular frame rate).
    ids, sample, start
        Sequence ids 0..n-1, the split's sample each sequence is cut from, its first frame.
    ranges
        Per-column ``(lo, hi)`` of the minmax scaling (``None``: original units).
    """

    task: TaskSpec
    tier: str
    split: str
    x: np.ndarray
    features: tuple[str, ...]
    target_features: tuple[str, ...]
    mask: np.ndarray | None
    constants: np.ndarray | None
    constant_features: tuple[str, ...]
    edges: np.ndarray | None
    dt: float | None
    ids: np.ndarray
    sample: np.ndarray
    start: np.ndarray
    ranges: Ranges | None

    def __len__(self) -> int:
        return len(self.ids)

    def windows(
        self, stride: int | None = None, *, context: int | None = None, horizon: int | None = None
    ) -> Windows:
        """(input, target) windows cut from the sequences, shaped like the evaluation windows.

        Parameters
        ----------
        stride
            Frames between window starts within a sequence (default: the task's ``stride``,
            or 1 for tasks with one test window per sample).
        context
            Input frames per window (default: the task's ``context``).
        horizon
            Forecast tasks: predict steps ``1..horizon`` (default: the task's steps, e.g. only
            step 10 for EGNN's N-body task). Graph tasks have no horizon: ``y`` is the edges.

        Returns
        -------
        Windows
            ``x`` (window, context, entity, feature), ``y`` (window, step, entity,
            target_feature) or (window, entity, entity), with ``mask_x``/``mask_y``,
            ``constants``, ``sample`` and ``start`` (the frame in the split's sample).

        Raises
        ------
        ValueError
            A window longer than the sequences (the message names a context that fits), or a
            non-positive ``stride``, ``context`` or ``horizon``.
        """
        task = self.task
        c = task.context if context is None else _positive("context", context)
        if task.kind == "forecast":
            steps = (
                task.steps
                if horizon is None
                else tuple(range(1, _positive("horizon", horizon) + 1))
            )
        else:
            steps = ()
        step = (task.stride or 1) if stride is None else _positive("stride", stride)
        ahead = max(steps, default=0)
        n_t = self.x.shape[1]
        if c + ahead > n_t:
            fits = f", e.g. .windows(context={n_t - ahead})" if n_t - ahead >= 1 else ""
            raise ValueError(
                f"task {task.name!r}: {self.split} sequences ({self.tier}) have {n_t} frames, "
                f"too few for windows of context {c} + {ahead} steps ahead = {c + ahead} frames; "
                f"pass a shorter context{fits}"
            )
        return self._cut(c, steps, step)

    def _cut(self, c: int, steps: tuple[int, ...], stride: int) -> Windows:
        starts = np.arange(0, self.x.shape[1] - c - max(steps, default=0) + 1, stride)
        seq = np.repeat(np.arange(len(self)), len(starts))
        st = np.tile(starts, len(self))
        mx = my = None
        if self.mask is not None:  # keep windows with some entity present in every frame
            mx = self.mask[seq[:, None], st[:, None] + np.arange(c)]
            my = self.mask[seq[:, None], st[:, None] + c - 1 + np.asarray(steps, dtype=np.int64)]
            keep = mx.any(-1).all(-1) & my.any(-1).all(-1)  # (all over no steps: True)
            seq, st, mx, my = seq[keep], st[keep], mx[keep], my[keep]
        x = self.x[seq[:, None], st[:, None] + np.arange(c)]
        if steps:
            cols = [self.features.index(f) for f in self.target_features]
            t = st[:, None] + c - 1 + np.asarray(steps)
            y = self.x[seq[:, None], t][..., cols]
        else:
            y = np.zeros((len(seq), 0), np.float32) if self.edges is None else self.edges[seq]
        all_there = mx is None or (bool(mx.all()) and bool(my is not None and my.all()))
        return Windows(
            ids=np.arange(len(seq), dtype=np.int64),
            x=x,
            y=y,
            sample=self.sample[seq],
            start=self.start[seq] + st,
            features=list(self.features),
            target_features=list(self.target_features),
            mask_x=None if all_there else mx,
            mask_y=None if all_there or not steps else my,
            constants=None if self.constants is None else self.constants[seq],
            constant_features=list(self.constant_features),
            ranges=self.ranges,
            dt=self.dt,
        )

    def as_torch(
        self, stride: int | None = None, *, context: int | None = None, horizon: int | None = None
    ) -> WindowDataset:
        """The :meth:`windows` as a ``torch.utils.data.Dataset`` of ``(input, target)`` float32
        tensors (:class:`~decathlon.benchmark.torch_data.WindowDataset`; imports torch)."""
        from .torch_data import WindowDataset

        return WindowDataset(self.windows(stride, context=context, horizon=horizon))


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def train_data(
    task: TaskSpec | str, tier: Tier = "mini", split: str = "train", *, build: bool = True
) -> TrainData:
    """The training sequences of ``split`` of ``task`` at ``tier`` (:class:`TrainData`).

    The same sequences the built-in learned baselines train on
    (:func:`~decathlon.benchmark.windows.train_sequences`): ``train_length`` frames each,
    non-overlapping, normalized with the train-split statistics. A task with its own window
    cutter (``window_fn``: Social-GAN's windows of ETH/UCY) gets that cutter's windows of
    ``split`` instead, input and target frames joined into one sequence each (the protocol
    trains on the same kind of windows it tests); a task with a ``sequence_fn`` (a continuous
    sensor recording) gets its split as one sequence. ``split="valid"`` gives the validation
    sequences for early stopping. With ``build=True`` the dataset is simulated (or downloaded
    and verified) first if it is not in the cache, as :func:`~.context.prepare` does.
    """
    task = get_task(task)
    check_split_tier(task, split, tier, "task.train_data", tier_first=True)
    if build:
        materialize(task.dataset, tier)
    if task.sequence_fn is not None:
        ds = load_split(task, split, tier)
        dt = ds.attrs.get("dt")
        s = replace(task.sequence_fn(task, ds), dt=None if dt is None else float(dt))
    elif task.window_fn is None:
        s = train_sequences(task, split, tier)
    else:
        s = _joined(task, split, tier)
    tfeats = task.targets_features(s.features) if task.kind == "forecast" else []
    if task.kind == "regress":
        tfeats = s.target_features
    return TrainData(
        task=task,
        tier=tier,
        split=split,
        x=s.x,
        features=tuple(s.features),
        target_features=tuple(tfeats),
        mask=s.mask_x,
        constants=s.constants,
        constant_features=tuple(s.constant_features),
        edges=s.y if task.kind in ("graph", "regress") else None,
        dt=s.dt,
        ids=s.ids,
        sample=s.sample,
        start=s.start,
        ranges=s.ranges,
    )


def _joined(task: TaskSpec, split: str, tier: Tier) -> Windows:
    """The ``window_fn`` windows of ``split`` with inputs and targets joined along time:
    ``x`` (window, context + horizon, entity, feature), ``mask_x`` likewise."""
    ds = load_split(task, split, tier)  # not make_windows: its mini-tier cap is for test windows
    w = task.window_fn(task, ds)  # type: ignore[misc]  # only called when the task has one
    dt = ds.attrs.get("dt")
    w = replace(w, dt=None if dt is None else float(dt))
    if (
        task.kind != "forecast"
        or w.target_features != w.features
        or len(task.steps) != task.horizon
    ):
        raise ValueError(
            f"task {task.name!r}: its window_fn windows cannot be joined into training sequences "
            "(targets must be every input feature at every horizon step); use make_windows"
        )
    x = np.concatenate([w.x, w.y.astype(w.x.dtype)], axis=1)
    mask = None
    if w.mask_x is not None:
        my = w.mask_y if w.mask_y is not None else np.ones(w.y.shape[:3], bool)
        mask = np.concatenate([w.mask_x, my], axis=1)
    return replace(w, x=x, y=np.zeros((len(w), 0), np.float32), mask_x=mask, mask_y=None)
