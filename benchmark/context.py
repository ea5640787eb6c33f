"""The evaluation context: a task resolved once, handed down to everything that scores it.

:func:`prepare` turns a task name into a :class:`PreparedTask`: the task record, the store's
metadata (``COMPLETE.json``, read once), the train-split normalization statistics and the
windows of the evaluated split. The evaluator, the probes, the offline route and the result
record all read from this one object instead of resolving the task again. How an evaluation
runs (batch size, bootstrap resamples, seed, probes, progress bars) is an :class:`EvalConfig`.
WeatherBench 2's plain config dataclasses handed to its evaluator are the model.

Examples
--------
>>> prepared = prepare("particles/springs-forecast", "test", "mini")
>>> prepared.task.primary, len(prepared.windows) > 0, prepared.tier
('mse', True, 'mini')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .data import Tier, materialize, store_meta
from .normalization import task_stats
from .tasks import TaskSpec, get_task
from .windows import Windows, make_windows

__all__ = ["EvalConfig", "PreparedTask", "prepare", "provenance", "split_hash"]


@dataclass(frozen=True)
class EvalConfig:
    """How an evaluation runs; none of it changes what is measured except ``n_boot``/``seed``.

    Parameters
    ----------
    batch_size
        Windows per ``predict`` call.
    n_boot, seed
        Paired bootstrap resamples of the windows for every interval, and their seed.
    probes
        Run the temporal and symmetry probes (the default; leave on for leaderboard results).
    progress
        Show a progress bar.
    """

    batch_size: int = 512
    n_boot: int = 1000
    seed: int = 0
    probes: bool = True
    progress: bool = False

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.n_boot < 0:
            raise ValueError(f"n_boot must be >= 0, got {self.n_boot}")


@dataclass(frozen=True, eq=False)
class PreparedTask:
    """A task resolved once for one split and tier (see the module text).

    ``meta`` is the store's ``COMPLETE.json``, ``stats`` the train-split normalization
    statistics (empty when the task does not normalize), ``windows`` the windows of ``split``.
    """

    task: TaskSpec
    split: str
    tier: Tier
    meta: Mapping[str, Any]
    stats: Mapping[str, Any]
    windows: Windows

    def provenance(self) -> dict[str, Any]:
        """The ``task`` block of a result record: what was evaluated, on which exact data."""
        return provenance(self.task, self.split, self.tier, self.meta, self.stats)


def provenance(
    t: TaskSpec, split: str, tier: Tier, meta: Mapping[str, Any], stats: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``task`` block of a result record for ``t`` on ``split`` of the store ``meta``."""
    norm = {"method": t.normalize, "train_stats": stats} if t.normalize else None
    return {
        "name": t.name,
        "version": t.version,
        "event": t.event,
        "kind": t.kind,
        "dataset": t.dataset,
        "tier": meta["tier"],
        "split": split,
        "data_sha256": meta["data_sha256"],
        "split_sha256": split_hash(t, tier, meta),
        "primary": t.primary,
        "higher_is_better": t.higher_is_better,
        "reversible": t.reversible,
        "normalization": norm,
    }


def split_hash(task: TaskSpec, tier: Tier, meta: Mapping[str, Any]) -> str:
    """sha256 of the split definition plus the hashes of the parts it draws from."""
    desc: dict[str, Any] = {
        k: {
            "part": s.part,
            "samples": list(s.samples) if s.samples is not None else "all",
            "part_sha256": meta["parts"][s.part]["sha256"],
            **({"shares": [list(s.shares), s.share]} if s.shares is not None else {}),
        }
        for k, s in sorted(task.splits.items())
    }
    mini = task.mini_windows if tier == "mini" else None
    desc["window"] = [task.context, task.horizon, task.offset, task.stride, mini]
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()


def prepare(
    task: TaskSpec | str | PreparedTask,
    split: str = "test",
    tier: Tier = "mini",
    *,
    build: bool = True,
    progress: bool = False,
) -> PreparedTask:
    """Resolve ``task`` once for ``split`` at ``tier``: the evaluation context.

    With ``build=True`` (the default) the dataset is materialized first if it is not in the
    cache (simulated on the spot, or downloaded and verified); with ``build=False`` a missing
    store raises :class:`~decathlon.benchmark.data.StoreError` naming the command to run.
    A :class:`PreparedTask` passed in is returned as it is.
    """
    if isinstance(task, PreparedTask):
        return task
    task = get_task(task)
    if build:
        materialize(task.dataset, tier, progress=progress)
    meta = store_meta(task.dataset, tier)
    stats = task_stats(task, tier, meta)
    windows = make_windows(task, split, tier, stats=stats, meta=meta)
    return PreparedTask(task, split, tier, meta, stats, windows)
