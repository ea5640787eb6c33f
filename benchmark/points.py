"""Decathlon points of a task and the decathlon score of a model (``docs/probes.md`` §4).

A task's primary metric maps to points on a logarithmic scale: 0 at the task's trivial
baseline (persistence, chance), 1000 at the task's declared target (:attr:`TaskSpec.target`,
the best published value or a stated floor), and equal *ratios* of error gain equal points::

    points = 1000 * clip(log(E_trivial / E) / log(E_trivial / E_target), 0, 1)

``E`` is the distance of the metric to its perfect value: the error itself for errors (MSE,
ADE), ``1 - value`` for metrics bounded above by 1 (AUROC, accuracy; chance AUROC 0.5 is an
error of 0.5). Halving the error gains the same points wherever it happens, so a model that
removes 99 % of the trivial error is not near the top when the target removes 99.99 %.

An event's points are the mean over its tasks; a model's decathlon score is the sum over every
*registered* event, a task or event without a result counting 0 (the score is then marked
incomplete and names what is missing), so totals are comparable across machines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .bootstrap import ci, finite

if TYPE_CHECKING:
    from .bootstrap import PairedBootstrap
    from .tasks import TaskSpec

__all__ = [
    "POINTS_RULE",
    "points",
    "metric_error",
    "points_block",
    "task_points",
    "registered_events",
    "decathlon_score",
    "check_score_inputs",
]

#: Name and version of the points rule, recorded in every result's ``points`` block.
POINTS_RULE = "log-ratio-v2"


def metric_error(value: Any, perfect: float, higher_is_better: bool) -> np.ndarray:
    """Distance of a metric value to its perfect value, the ``E`` of the points rule.

    Errors (lower is better, perfect 0) are their own distance; metrics bounded above (AUROC,
    accuracy, perfect 1) give ``1 - value``. Values past the perfect one give 0.

    Examples
    --------
    >>> metric_error(0.75, 1.0, True).tolist(), metric_error(0.02, 0.0, False).tolist()
    (0.25, 0.02)
    """
    v = np.asarray(value, dtype=np.float64)
    e = perfect - v if higher_is_better else v - perfect
    return np.maximum(e, 0.0)


def points(
    value: Any,
    trivial: Any,
    target: float,
    perfect: float = 0.0,
    higher_is_better: bool = False,
) -> np.ndarray:
    """Decathlon points of metric ``value`` (arrays broadcast: bootstrap replicates pair up).

    ``1000 * clip(log(E_trivial / E) / log(E_trivial / E_target), 0, 1)`` with ``E`` from
    :func:`metric_error`. Edge cases, in this order: a value no better than the trivial one, or
    one that is NaN or infinite, scores 0 (the trivial baseline always scores exactly 0); a
    value at or past the target (``E == 0`` included) scores 1000. A trivial value that is not
    finite gives 0.

    Examples
    --------
    One decade of a four-decade range is a quarter of the points:

    >>> points(1e-3, 1e-2, 1e-6).round(9).tolist()
    250.0
    >>> points(np.array([1e-2, 1e-4, 1e-6, 0.0]), 1e-2, 1e-6).round(9).tolist()
    [0.0, 500.0, 1000.0, 1000.0]

    AUROC: chance (0.5) to a target of 0.995 is two decades of ``1 - AUROC``:

    >>> round(float(points(0.95, 0.5, 0.995, perfect=1.0, higher_is_better=True)), 6)
    500.0
    """
    v, tv = np.broadcast_arrays(np.asarray(value, np.float64), np.asarray(trivial, np.float64))
    e = metric_error(v, perfect, higher_is_better)
    et = metric_error(tv, perfect, higher_is_better)
    eg = float(metric_error(target, perfect, higher_is_better))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        span = np.log(et) - math.log(eg) if eg > 0 else np.full(et.shape, np.inf)
        frac = (np.log(et) - np.log(e)) / span
    frac = np.where(e <= eg, 1.0, frac)
    bad = ~np.isfinite(v) | ~np.isfinite(tv) | (e >= et)
    frac = np.where(bad, 0.0, np.nan_to_num(frac, nan=0.0, posinf=1.0, neginf=0.0))
    return 1000.0 * np.clip(frac, 0.0, 1.0) + 0.0


def points_block(
    task: TaskSpec, value: float, reps: np.ndarray, trivial: float, trivial_reps: np.ndarray
) -> dict[str, Any]:
    """The self-describing ``points`` block of a result record.

    The interval comes from the paired replicates of the model and the trivial baseline pushed
    through the same :func:`points` function.
    """
    target = float(task.target or 0.0)  # never None: TaskSpec refuses a missing target
    args = (target, task.perfect, task.higher_is_better)
    pts = float(points(value, trivial, *args))
    return {
        "value": pts,
        "ci95": ci(np.atleast_1d(points(reps, trivial_reps, *args))),
        "rule": POINTS_RULE,
        "trivial_baseline": task.trivial,
        "trivial_value": finite(trivial),
        "target_value": target,
        "target_source": task.target_source,
        "perfect_value": task.perfect,
    }


def task_points(task: TaskSpec, boot: PairedBootstrap) -> dict[str, Any]:
    """The ``points`` block of a result: value and interval against the trivial baseline scored
    on the same windows and resamples (``boot`` must hold the ``trivial`` variant)."""
    base_val, base_reps = boot(task.primary, "plain")
    tv, treps = boot(task.primary, "trivial")
    return points_block(task, base_val, base_reps, tv, treps)


def registered_events() -> dict[str, list[str]]:
    """Every registered event and its task names (the denominator of the decathlon score).

    Examples
    --------
    >>> registered_events()["particles/springs"]
    ['particles/springs-forecast', 'particles/springs-graph']
    """
    from .tasks import get_task, list_tasks

    events: dict[str, list[str]] = {}
    for name in list_tasks():
        events.setdefault(get_task(name).event, []).append(name)
    return events


def _checked(rec: dict[str, Any]) -> tuple[float, float]:
    """Points value and interval standard deviation of one record; ``ValueError`` naming the
    task when the points are not a number in [0, 1000] or the interval is inverted."""
    name = rec["task"]["name"]
    val = rec["points"]["value"]
    if not isinstance(val, int | float) or not 0 <= val <= 1000:  # NaN fails both comparisons
        raise ValueError(
            f"result of task {name!r} has points {val!r}; expected a number in [0, 1000]: "
            "re-score the predictions with this version of the evaluator"
        )
    lo, hi = rec["points"].get("ci95", [None, None])
    if lo is None or hi is None:
        return float(val), 0.0
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(
            f"result of task {name!r} has points interval [{lo}, {hi}]; expected lo <= hi, both "
            "finite: re-score the predictions with this version of the evaluator"
        )
    return float(val), (hi - lo) / 3.92


def decathlon_score(
    results: list[dict[str, Any]],
    n_boot: int = 1000,
    seed: int = 0,
    events: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Sum of event points for one model over every registered event.

    ``events`` maps each event to its task names (default: every registered event,
    :func:`registered_events`). A task without a result counts 0 points and so does an event
    without any; ``complete`` is then false and ``missing_tasks`` / ``missing_events`` say
    what is missing (``missing``: whole events, plus the missing tasks of events that ran in
    part). ``max`` is always ``1000 x`` the number of events, so totals from machines
    with different downloads are comparable. The interval is approximate: per-task points are
    resampled independently from a normal approximation fitted to each task's bootstrap
    interval ((hi - lo) / 3.92 as standard deviation), clipped to [0, 1000], summed over events.

    Examples
    --------
    >>> rec = {"task": {"name": "a/x-forecast"}, "points": {"value": 500.0, "ci95": [400, 600]}}
    >>> s = decathlon_score([rec], events={"a/x": ["a/x-forecast"], "b/y": ["b/y-graph"]})
    >>> s["total"], s["max"], s["complete"], s["missing_events"]
    (500.0, 2000, False, ['b/y'])
    """
    check_score_inputs(results)
    by_task = {r["task"]["name"]: r for r in results if "points" in r}
    events = registered_events() if events is None else events
    rng = np.random.default_rng(seed)
    draws = np.zeros(n_boot)
    per_event: dict[str, float] = {}
    missing_events: list[str] = []
    missing: list[str] = []  # whole events, and the tasks of events that ran in part
    for ev, names in sorted(events.items()):
        ev_draw, vals = np.zeros(n_boot), []
        for name in names:
            rec = by_task.get(name)
            if rec is None:
                vals.append(0.0)
                continue
            val, sd = _checked(rec)
            ev_draw += np.clip(rng.normal(val, sd, n_boot), 0, 1000)
            vals.append(val)
        if all(n not in by_task for n in names):
            missing_events.append(ev)
            missing.append(ev)
        else:
            missing += [n for n in names if n not in by_task]
        per_event[ev] = float(np.mean(vals)) if vals else 0.0
        draws += ev_draw / max(len(names), 1)
    lo, hi = np.percentile(draws, [2.5, 97.5]) if events and n_boot else (0.0, 0.0)
    return {
        "total": float(sum(per_event.values())),
        "ci95": [float(lo), float(hi)],
        "events": per_event,
        "max": 1000 * len(events),
        "complete": not missing,
        "missing_events": missing_events,
        "missing_tasks": [n for ns in events.values() for n in ns if n not in by_task],
        "missing": missing,
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
