"""Task records and the task registry.

A :class:`TaskSpec` names everything needed to score a model: the dataset, the stored split, the
window geometry, what the model sees and must return, the metrics (and the primary one), the
normalization (statistics from the train split), the temporal probes and the trivial baseline
that anchors the decathlon points. A name alone gives data, split and metrics (OGB's contract).

Four task kinds exist:

``forecast``
    The model sees ``x`` of shape (window, context, entity, feature) and returns the next
    ``horizon`` frames of the target features, shape (window, horizon, entity, target_feature).
``graph``
    The model sees ``x`` and returns a score in [0, 1] for every ordered pair ``(i, j)``, shape
    (window, entity, entity): the belief that an edge ``i -> j`` exists (the diagonal is ignored).
``classify``
    The model sees ``x`` and returns a probability for every entity, shape (window, entity): the
    belief that a binary event happens to it (a cell divides within the next k frames); scored on
    the entities the task marks (``Windows.mask_y``, (window, entity)) by pooled AUROC and
    average precision.
``regress``
    The model sees ``x`` and returns one vector per window, shape (window, param): the
    parameters that generated the window's simulation (``params(sample, param)``), in their
    original units; scored by R^2 and SMAPE per parameter, averaged (``benchmark/regression.py``).

Windows are cut in :mod:`decathlon.benchmark.windows`, normalization statistics computed in
:mod:`decathlon.benchmark.normalization`, and everything is resolved once per evaluation in
:mod:`decathlon.benchmark.context` (see ``docs/contract.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .data import Tier, open_part
from .lazy import xr
from .metrics import get_metric, metric_family
from .registry import Registry

if TYPE_CHECKING:
    from .store_view import StoreView
    from .train_data import TrainData
    from .windows import Windows

__all__ = [
    "TASKS",
    "CHALLENGE_SPLIT",
    "Split",
    "TaskSpec",
    "get_task",
    "list_tasks",
    "register_task",
    "load_split",
    "load_split_view",
    "supports_challenge",
    "DEFAULT_PROBES",
    "ONE_FRAME",
]

KINDS = ("forecast", "graph", "classify", "regress")
#: Units the bootstrap may resample (``TaskSpec.bootstrap_unit``, :mod:`.bootstrap`).
BOOTSTRAP_UNITS = ("window", "sample", "cluster", "block")
#: Every temporal probe, in display order (``docs/probes.md`` §1); a task runs all of them
#: unless its record says otherwise, and those its context is too short for are reported n/a.
DEFAULT_PROBES = ("reversal", "shuffle", "half", "local-2", "local-4", "freeze")
#: Why a one-frame context has no temporal probe (the table's and the figure's ``n/a`` marker).
ONE_FRAME = "one-frame context"

#: The hidden-target split of a simulated task: a test-sized part simulated from a maintainer's
#: secret seed, outside the stored tiers (``decathlon.leaderboard.challenge``,
#: ``docs/leaderboard.md`` §7). It is never in a task's ``splits`` and never in the cache.
CHALLENGE_SPLIT = "challenge"


@dataclass(frozen=True)
class Split:
    """Which samples of which stored part form a split.

    ``samples=None`` takes every sample of ``part`` (simulators draw their splits separately).
    Explicit indices are stored in the task and hashed into ``split_sha256``; they are never
    computed from an unseeded RNG.

    ``shares`` (with ``share``) splits one continuous recording (no ``sample`` dim)
    chronologically by window: of the ``W`` windows of ``context + horizon`` frames, the first
    ``round(shares[0] * W)`` form share 0, the last ``round(shares[2] * W)`` share 2 and the
    rest share 1 (DCRNN's ``generate_training_data.py``); the split is the frames its windows
    cover, so neighbouring splits overlap by ``context + horizon - 1`` frames, as in DCRNN.
    """

    part: str
    samples: tuple[int, ...] | None = None
    coord: str | None = None  # select samples by the labels of this coordinate instead
    labels: tuple[str, ...] = ()
    shares: tuple[float, float, float] | None = None
    share: int = 0

    def frames(self, n_t: int, length: int) -> slice:
        """The frames of a ``shares`` split of a recording of ``n_t`` frames, for windows of
        ``length`` frames.

        Examples
        --------
        >>> s = Split("all", shares=(0.7, 0.1, 0.2), share=2)
        >>> s.frames(34272, 24)  # METR-LA: 34249 windows, the last 6850 are the test split
        slice(27399, 34272, None)
        """
        n_w = max(n_t - length + 1, 0)
        if self.shares is None or self.share not in (0, 1, 2):
            raise ValueError(f"split {self!r} is not a chronological share (0, 1 or 2)")
        first, last = round(self.shares[0] * n_w), round(self.shares[2] * n_w)
        w0, w1 = [(0, first), (first, n_w - last), (n_w - last, n_w)][self.share]
        return slice(w0, w1 + length - 1)


@dataclass(frozen=True, eq=False)
class TaskSpec:
    """A benchmark task (``docs/contract.md``, "Task record").

    Parameters
    ----------
    name
        ``domain/event-task``, e.g. ``particles/springs-forecast``.
    event
        The decathlon event the task scores for (``particles/springs``); an event's points are
        the mean of its tasks' points.
    kind
        ``forecast``, ``graph``, ``classify`` or ``regress`` (module text).
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
    constants
        Per-entity dataset variables (sample, entity, k), such as charges, handed to the model
        as ``batch["constants"]``.
    normalize
        ``"minmax"``: each input variable scaled to [-1, 1] by its train-split min and max
        (NRI's ``utils.load_data``); ``None``: original units.
    velocity
        Input variables negated by the reversal probe (time reversal flips velocities).
    metrics, primary
        Reported metric names (rows of :data:`decathlon.benchmark.metrics.METRICS`; ``mse@k``
        reports horizon step ``k``) and the ranking one. The direction (:attr:`higher_is_better`)
        and the perfect value come from the metric table.
    error
        Forecast error per entity and step: ``"se"`` squared error averaged over target features
        (NRI's MSE), ``"l2"`` Euclidean norm over the target's spatial components, or
        ``"masked"`` DCRNN's masked absolute, squared and percentage errors (zero targets
        excluded; the ``mae``/``rmse``/``mape`` metrics).
    target_steps
        Only these horizon steps are predicted and scored (e.g. EGNN's single frame 10 steps
        ahead); ``None``: every step 1..horizon.
    best_of
        Maximum number of stochastic samples per window a model may return (best-of-K
        metrics); 1 for deterministic tasks.
    equivariance
        Symmetry transforms probed (``rot90``, ``reflect``, ``rotate``, ``translate``,
        ``permute``), applied in physical units with fixed seeds (see ``probes``).
    probes, shuffle_seeds, local_seeds
        Temporal probes run on every evaluation (default :data:`DEFAULT_PROBES`); the seeds of
        the K shuffle permutations and of the draws of the block-local ``local-b`` probes.
    trivial
        Baseline name scoring 0 decathlon points.
    target, target_source
        The value of the primary metric that scores 1000 decathlon points (the best published
        value for this metric and protocol, else a stated physics or noise floor) and where it
        comes from, in one line. Required; it must be better than the trivial baseline where
        that is known without data (chance AUROC 0.5) and worse than the perfect value.
    mini_windows
        Cap on test windows at the ``mini`` tier (first ones, deterministic); ``None``: all.
    reversible
        Whether the physics is time-reversal symmetric (velocities negated) for these inputs.
    window_fn
        Optional custom window builder ``window_fn(task, ds) -> Windows`` over the loaded split
        ``ds`` (see :func:`decathlon.benchmark.windows.make_windows`).
    sequence_fn
        Optional ``sequence_fn(task, ds) -> Windows``: the loaded split as training sequences
        (e.g. one continuous recording as one sequence), used by ``task.train_data``.
    bootstrap_unit
        What the bootstrap of the confidence intervals resamples: ``"window"`` (each window
        independently) or ``"sample"`` (the simulation or recording a window is cut from, with
        all its windows: a cluster bootstrap, for tasks that cut several correlated windows
        from one sample) or ``"cluster"`` (the units the window function names in
        ``Windows.cluster``, e.g. one pedestrian's overlapping clips) or ``"block"`` (runs of
        windows of one recording whose starts fall in the same span of ``context + horizon``
        frames: a block bootstrap in time, for windows sliding along a long recording). See
        :mod:`decathlon.benchmark.bootstrap`.
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
    trivial: str
    context: int
    horizon: int = 0
    targets: tuple[str, ...] = ()
    offset: int = 0
    stride: int | None = None
    train_length: int | None = None
    constants: tuple[str, ...] = ()
    normalize: str | None = None
    velocity: tuple[str, ...] = ()
    error: str = "se"
    target_steps: tuple[int, ...] | None = None
    best_of: int = 1
    equivariance: tuple[str, ...] = ()
    probes: tuple[str, ...] = DEFAULT_PROBES
    shuffle_seeds: tuple[int, ...] = tuple(range(10))
    local_seeds: tuple[int, ...] = tuple(range(3))
    mini_windows: int | None = None
    reversible: bool | None = None
    window_fn: Callable[[TaskSpec, xr.Dataset], Windows] | None = None
    sequence_fn: Callable[[TaskSpec, xr.Dataset], Windows] | None = None
    bootstrap_unit: str = "window"
    target: float | None = None
    target_source: str = ""
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        """Ranking direction of the primary metric (from the metric table)."""
        return get_metric(self.primary)[0].higher_is_better

    @property
    def perfect(self) -> float:
        """Best attainable value of the primary metric (the end of the points' log scale)."""
        return get_metric(self.primary)[0].perfect

    @property
    def steps(self) -> tuple[int, ...]:
        """The horizon steps (1-based) the model must predict: ``target_steps`` or 1..horizon."""
        return self.target_steps or tuple(range(1, self.horizon + 1))

    def targets_features(self, features: list[str]) -> list[str]:
        """The target feature names among stacked input ``features`` (columns of ``targets``)."""
        return [f for f in features if any(f == v or f.startswith(v + "_") for v in self.targets)]

    def train_data(self, tier: Tier = "mini", split: str = "train") -> TrainData:
        """The training data of this task: arrays normalized like the evaluator's inputs.

        Returns a :class:`~decathlon.benchmark.train_data.TrainData` (``x``, ``features``,
        ``constants``, ``edges``, ``dt``, ``ids``; ``.windows(stride, context=, horizon=)`` for
        (input, target) windows, ``.as_torch(...)`` for a torch ``Dataset``). ``split="valid"``
        gives the validation sequences. The dataset is built (or downloaded) first if needed;
        examples in :mod:`decathlon.benchmark.train_data`.
        """
        from .train_data import train_data

        return train_data(self, tier, split)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.bootstrap_unit not in BOOTSTRAP_UNITS:
            raise ValueError(
                f"task {self.name!r}: bootstrap_unit {self.bootstrap_unit!r} is not one of "
                f"{BOOTSTRAP_UNITS}; use 'sample' to resample whole simulations or recordings, "
                "'cluster' for the window function's own units, 'block' for windows sliding along "
                "a recording"
            )
        if self.primary not in self.metrics:
            raise ValueError(
                f"task {self.name!r}: primary metric {self.primary!r} not in {self.metrics}"
            )
        missing = {"train", "valid", "test"} - set(self.splits)
        if missing:
            raise ValueError(f"task {self.name!r}: splits {sorted(missing)} missing")
        if self.kind == "forecast" and (self.horizon < 1 or not self.targets):
            raise ValueError(f"forecast task {self.name!r} needs horizon >= 1 and targets")
        if not set(self.targets) <= set(self.inputs):
            raise ValueError(
                f"task {self.name!r}: targets {self.targets} must be among inputs {self.inputs}"
            )
        for m in self.metrics:
            row, step = get_metric(m)
            if row.kind != self.kind and self.kind not in row.also:
                raise ValueError(
                    f"task {self.name!r}: metric {m!r} is for {row.kind} tasks, not {self.kind}"
                )
            if step is not None and not 0 <= step < max(self.horizon, 1):
                raise ValueError(
                    f"task {self.name!r}: metric {m!r} names a step outside 1..{self.horizon}"
                )
        _check_target(self)


#: Values of a primary metric under a trivial baseline that no data can change: constant edge
#: scores rank every pair equally, so chance AUROC is 1/2 at any edge density.
FIXED_TRIVIAL: Mapping[tuple[str, str], float] = {
    ("chance", "auroc"): 0.5,
    ("chance", "auroc_mean"): 0.5,
}


def _check_target(task: TaskSpec) -> None:
    """Refuse a points target that is missing, not finite, at or past the perfect value, or no
    better than a trivial value known without data (``docs/probes.md`` §4)."""
    t, perfect, up = task.target, task.perfect, task.higher_is_better
    where = f"task {task.name!r}: points target"
    if t is None or not task.target_source:
        raise ValueError(
            f"{where} {t!r} with source {task.target_source!r}; every task declares "
            "TaskSpec.target (the value of its primary metric worth 1000 points: the best "
            "published value, else a stated floor) and a one-line target_source"
        )
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError(f"{where} {t!r} is not a finite number; give a float")
    if (perfect - t if up else t - perfect) <= 0:
        raise ValueError(
            f"{where} {t!r} is at or past the perfect {task.primary} {perfect}; points are "
            "logarithmic in the error, so declare a target short of perfection (a floor)"
        )
    fixed = FIXED_TRIVIAL.get((task.trivial, metric_family(task.primary)))
    if fixed is not None and (t <= fixed if up else t >= fixed):
        raise ValueError(
            f"{where} {t!r} is no better than the {task.trivial} baseline's {task.primary} "
            f"{fixed}; declare a target better than the trivial baseline"
        )


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


def supports_challenge(task: TaskSpec | str) -> bool:
    """Whether ``task`` can have a :data:`CHALLENGE_SPLIT`: its dataset is a simulator built in
    seeded chunks (``DatasetSpec.build_chunk``) and its test split is a whole simulated part.

    Examples
    --------
    >>> supports_challenge("particles/springs-forecast")
    True
    """
    from .data import DATASETS

    task = get_task(task)
    spec = DATASETS.get(task.dataset)
    test = task.splits["test"]
    return (
        spec.build_chunk is not None
        and bool(spec.chunk_size)
        and test.part in spec.parts
        and test.samples is None
        and test.coord is None
    )


def list_tasks() -> list[str]:
    """Names of every registered task."""
    return TASKS.names()


def load_split(
    task: TaskSpec, split: str, tier: Tier, meta: Mapping[str, Any] | None = None
) -> xr.Dataset:
    """The samples of ``split`` (a verified, loaded part of the prepared dataset).

    ``meta`` is the store's ``COMPLETE.json`` when the caller has already read it.
    """
    s = _split_of(task, split)
    ds = open_part(task.dataset, tier, s.part, verify=True, meta=meta)
    return _select(task, split, s, ds)


def load_split_view(
    task: TaskSpec, split: str, tier: Tier, meta: Mapping[str, Any] | None = None
) -> StoreView | None:
    """:func:`load_split` read into numpy arrays without xarray (:mod:`.store_view`), or None
    when the part is not stored plainly (then use :func:`load_split`)."""
    s = _split_of(task, split)
    from .store_view import open_part_view

    view = open_part_view(task.dataset, tier, s.part, meta=meta)
    return None if view is None else _select(task, split, s, view)


def _split_of(task: TaskSpec, split: str) -> Split:
    if split not in task.splits:
        raise KeyError(
            f"task {task.name!r} has no split {split!r}; valid: {', '.join(task.splits)}"
        )
    return task.splits[split]


_D = TypeVar("_D", "xr.Dataset", "StoreView")


def _select(task: TaskSpec, split: str, s: Split, ds: _D) -> _D:
    """The samples (or frames) of split ``s`` from its loaded part."""
    if s.shares is not None:
        return ds.isel(time=s.frames(ds.sizes["time"], task.context + task.horizon))
    if s.samples is not None:
        return ds.isel(sample=list(s.samples))
    if s.coord is not None:
        have = [str(v) for v in ds[s.coord].values]
        missing = [lab for lab in s.labels if lab not in have]
        if missing:
            raise ValueError(
                f"task {task.name!r} split {split!r}: {s.coord} labels {missing} are not in "
                f"dataset {task.dataset!r} (it has {have}); re-run "
                f"`decathlon prepare {task.dataset}`"
            )
        return ds.isel(sample=[have.index(lab) for lab in s.labels])
    return ds
