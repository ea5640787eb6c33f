"""Normalization: the train-split statistics of a task and the minmax scaling built on them.

A task with ``normalize="minmax"`` scales each input variable to [-1, 1] with its train-split
minimum and maximum (NRI's ``utils.load_data``, ``docs/protocols.md`` §1.2). Spatial vectors get
one range for all their components, so rotations stay rotations; non-spatial features get one
range per column. The statistics are computed once per (task, tier, data hash) and handed down
by the evaluation context (:mod:`decathlon.benchmark.context`). Stores record every variable's
per-column range when they are built, so the statistics of a whole-part train split are read
from ``COMPLETE.json`` instead of loading the split again.

Examples
--------
>>> lo, hi = np.array([0.0]), np.array([4.0])
>>> to_unit(np.array([0.0, 2.0, 4.0]), lo, hi).tolist()
[-1.0, 0.0, 1.0]
>>> from_unit(np.array([-1.0, 1.0]), lo, hi).tolist()
[0.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from .data import Tier, store_meta
from .tasks import TaskSpec, get_task, load_split

__all__ = ["to_unit", "from_unit", "half_range", "column_ranges", "task_stats", "Ranges", "Stats"]

#: ``{variable: [min, max]}`` (one range) or ``{variable: [[min, max], ...]}`` (one per column).
Stats = Mapping[str, list[Any]]
#: Per-column ``(lo, hi)`` arrays of a minmax scaling.
Ranges = tuple[np.ndarray, np.ndarray]


def half_range(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.where(hi > lo, (hi - lo) / 2.0, 1.0)  # a constant column is only shifted


def to_unit(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The minmax scaling ``(v - lo) * 2 / (hi - lo) - 1`` (NRI's ``utils.load_data``)."""
    return (v - lo) / half_range(lo, hi) - 1.0


def from_unit(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_unit`: back to physical units."""
    return (x + 1.0) * half_range(lo, hi) + lo


def column_ranges(stats: Stats, widths: list[int], variables: tuple[str, ...]) -> Ranges:
    """Per-column (lo, hi) arrays from ``task_stats`` for stacked variables of given widths."""
    lo: list[float] = []
    hi: list[float] = []
    for v, wdt in zip(variables, widths, strict=True):
        r = stats[v]
        if isinstance(r[0], list):
            lo += [c[0] for c in r]
            hi += [c[1] for c in r]
        else:
            lo += [r[0]] * wdt
            hi += [r[1]] * wdt
    return np.asarray(lo), np.asarray(hi)


def _stored_stats(task: TaskSpec, meta: Mapping[str, Any]) -> dict[str, list[Any]] | None:
    """The statistics from the value ranges recorded when the store was built, when the train
    split is a whole part and every input was recorded; ``None`` otherwise.

    A spatial vector (``<var>_x``, ``<var>_y`` ... stored along ``space``) gets one range over
    its components; other multi-column variables one range per column (as computed from data).
    """
    split = task.splits["train"]
    if split.samples is not None or split.coord is not None:
        return None
    ranges = meta.get("parts", {}).get(split.part, {}).get("ranges")
    spatial = meta.get("spatial")
    if not ranges or spatial is None or any(v not in ranges for v in task.inputs):
        return None
    stats: dict[str, list[Any]] = {}
    for v in task.inputs:
        lo, hi = ranges[v]["min"], ranges[v]["max"]
        if len(lo) > 1 and v not in spatial:
            stats[v] = [[float(x), float(y)] for x, y in zip(lo, hi, strict=True)]
        else:
            stats[v] = [float(min(lo)), float(max(hi))]
    return stats


@lru_cache(maxsize=32)
def _stats_cached(task_name: str, tier: Tier, data_sha: str) -> dict[str, list[Any]]:
    """The statistics computed from the loaded train split (subsets of a part, older stores)."""
    task = get_task(task_name)
    ds = load_split(task, "train", tier)
    stats: dict[str, list[Any]] = {}
    for v in task.inputs:
        a = np.asarray(ds[v].values, dtype=np.float64)
        if "mask" in ds and ds["mask"].dims == ds[v].dims[:3]:
            a = a[np.asarray(ds["mask"].values)]
        if a.ndim > 1 and ds[v].dims[-1] != "space":  # non-spatial features: one range each
            a = a.reshape(-1, a.shape[-1])
            lo, hi = np.nanmin(a, 0), np.nanmax(a, 0)
            stats[v] = [[float(x), float(y)] for x, y in zip(lo, hi, strict=True)]
        else:  # a scalar or a spatial vector: one range, so rotations stay rotations
            stats[v] = [float(np.nanmin(a)), float(np.nanmax(a))]
    return stats


def task_stats(
    task: TaskSpec | str, tier: Tier, meta: Mapping[str, Any] | None = None
) -> dict[str, list[Any]]:
    """Normalization statistics from the train split: ``{variable: [min, max]}``.

    Empty when the task does not normalize. ``meta`` is the store's ``COMPLETE.json`` when the
    caller has read it already; the statistics are cached per data hash.
    """
    task = get_task(task)
    if task.normalize is None:
        return {}
    if task.normalize != "minmax":
        raise ValueError(f"task {task.name!r}: unknown normalization {task.normalize!r}")
    meta = store_meta(task.dataset, tier) if meta is None else meta
    stored = _stored_stats(task, meta)
    if stored is not None:
        return stored
    return _stats_cached(task.name, tier, meta["data_sha256"])
