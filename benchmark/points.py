"""Decathlon points of a task and the decathlon score of a model (``docs/probes.md`` §4).

A task's primary metric maps to points: 0 at the task's trivial baseline (persistence, chance),
1000 at the metric's perfect value (from :data:`decathlon.benchmark.metrics.METRICS`), clipped
to [0, 1000]. An event's points are the mean over its tasks; a model's decathlon score is the
sum over events, a task it did not run counting 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bootstrap import PairedBootstrap, ci, finite
from .tasks import TaskSpec

__all__ = ["points", "task_points", "decathlon_score", "check_score_inputs"]


def points(value: np.ndarray, trivial: np.ndarray, perfect: float) -> np.ndarray:
    """Decathlon points: 0 at the trivial baseline, 1000 at a perfect score, clipped to [0, 1000].

    ``points = 1000 * clip((trivial - value) / (trivial - perfect), 0, 1)``; the same formula
    serves higher-is-better metrics (both differences change sign).

    Examples
    --------
    >>> points(np.array([0.5]), np.array([1.0]), 0.0).tolist()
    [500.0]
    >>> points(np.array([0.75]), np.array([0.5]), 1.0).tolist()
    [500.0]
    """
    den = np.asarray(trivial, dtype=np.float64) - perfect
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(np.abs(den) > 0, (trivial - np.asarray(value)) / den, 0.0)
    return 1000.0 * np.clip(np.nan_to_num(frac, nan=0.0), 0.0, 1.0) + 0.0


def task_points(task: TaskSpec, boot: PairedBootstrap) -> dict[str, Any]:
    """The ``points`` block of a result: value and interval against the trivial baseline scored
    on the same windows and resamples (``boot`` must hold the ``trivial`` variant)."""
    base_val, base_reps = boot(task.primary, "plain")
    tv, treps = boot(task.primary, "trivial")
    perfect = task.perfect
    pts = points(np.array([base_val]), np.array([tv]), perfect)[0]
    return {
        "value": float(pts),
        "ci95": ci(points(base_reps, treps, perfect)),
        "trivial_baseline": task.trivial,
        "trivial_value": finite(tv),
        "perfect_value": perfect,
    }


def decathlon_score(
    results: list[dict[str, Any]],
    n_boot: int = 1000,
    seed: int = 0,
    events: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Sum of event points for one model; an event's points are the mean over its tasks.

    ``events`` maps each event to its task names; a task without a result counts 0 points, so
    a model that skips a task of an event is not rewarded for it (default: the events and tasks
    present in ``results``). The interval is approximate: per-task points are resampled
    independently from a normal approximation fitted to each task's bootstrap interval
    ((hi - lo) / 3.92 as standard deviation), clipped to [0, 1000], summed over events.
    """
    check_score_inputs(results)
    by_task = {r["task"]["name"]: r for r in results if "points" in r}
    if events is None:
        events = {}
        for r in by_task.values():
            events.setdefault(r["task"].get("event") or r["task"]["name"], []).append(
                r["task"]["name"]
            )
    rng = np.random.default_rng(seed)
    total = 0.0
    draws = np.zeros(n_boot)
    per_event = {}
    for ev, names in sorted(events.items()):
        ev_draw = np.zeros(n_boot)
        vals = []
        for name in names:
            rec = by_task.get(name)
            if rec is None:
                vals.append(0.0)
                continue
            lo, hi = rec["points"]["ci95"]
            sd = 0.0 if lo is None or hi is None else (hi - lo) / 3.92
            ev_draw += np.clip(rng.normal(rec["points"]["value"], sd, n_boot), 0, 1000)
            vals.append(rec["points"]["value"])
        per_event[ev] = float(np.mean(vals))
        total += per_event[ev]
        draws += ev_draw / len(names)
    lo, hi = np.percentile(draws, [2.5, 97.5]) if events else (0.0, 0.0)
    return {
        "total": total,
        "ci95": [float(lo), float(hi)],
        "events": per_event,
        "max": 1000 * len(events),
    }


def check_score_inputs(results: list[dict[str, Any]]) -> None:
    """Refuse what would make :func:`decathlon_score` wrong rather than fail loudly: two results
    for one task (the second would silently replace the first), non-finite points (a NaN total)
    and inverted or non-finite intervals (a negative spread).

    Examples
    --------
    >>> rec = {"task": {"name": "a/x"}, "points": {"value": 5.0, "ci95": [6.0, 4.0]}}
    >>> check_score_inputs([rec])
    Traceback (most recent call last):
    ...
    ValueError: points/ci95 of task 'a/x' is [6.0, 4.0]: inverted (low > high); ...
    """
    seen: set[str] = set()
    for r in results:
        name = r["task"]["name"]
        if name in seen:
            raise ValueError(
                f"two results for task {name!r}; a model scores once per task: keep one"
            )
        seen.add(name)
        if "points" not in r:
            continue
        value, (lo, hi) = r["points"]["value"], r["points"]["ci95"]
        ends = [x for x in (value, lo, hi) if x is not None]
        if not all(isinstance(x, (int, float)) and np.isfinite(x) for x in ends) or value is None:
            raise ValueError(
                f"points of task {name!r} are {value} with interval {[lo, hi]}; points and their "
                "interval must be finite numbers"
            )
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(
                f"points/ci95 of task {name!r} is {[lo, hi]}: inverted (low > high); an interval "
                "is [low, high]"
            )
