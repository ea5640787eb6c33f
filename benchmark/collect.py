"""Predictions reduced to per-window statistics as they arrive.

The evaluator never keeps every variant's predictions: each batch of a variant (plain input,
reversed, shuffled, frozen, transformed by a symmetry) is checked, hashed, reduced to the
per-window statistics the metrics need (:func:`decathlon.benchmark.metrics.forecast_stats`,
:func:`~decathlon.benchmark.metrics.graph_stats`), to its per-window distance from the plain
prediction (for the label-free sensitivity) and, for symmetries, to its per-window equivariance
error, and then dropped. Only the plain predictions are kept, as the reference of those
comparisons. Statistics are per window, so reducing batch by batch gives exactly the numbers of
reducing everything at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import metrics
from .symmetries import equivariance_target
from .tasks import TaskSpec
from .windows import Windows

__all__ = ["Collected", "collect", "window_stats", "rms_distance"]

#: ``predict(variant, window_slice)`` -> the checked prediction for those windows, in id order.
PredictFn = Callable[[str, slice], np.ndarray]


@dataclass
class Collected:
    """What scoring needs from the predictions of every variant.

    ``stats`` per variant: per-window metric statistics. ``plain``: the plain predictions
    (float64, in window order). ``distance`` per probe variant: per-window RMS difference from
    the plain prediction. ``equivariance`` per ``equiv_<g>`` variant: per-window mean squared
    difference between ``f(g x)`` and ``g f(x)``. ``sha256``: hash of the window ids and every
    variant's predictions (float32 bytes, variants in sorted order).
    """

    plain: np.ndarray
    sha256: str
    stats: dict[str, metrics.Stats] = field(default_factory=dict)
    distance: dict[str, np.ndarray] = field(default_factory=dict)
    equivariance: dict[str, np.ndarray] = field(default_factory=dict)


def window_stats(
    task: TaskSpec, w: Windows, pred: np.ndarray, variant: str = "plain"
) -> metrics.Stats:
    """Per-window metric statistics of ``pred`` against the targets of windows ``w``.

    Raises
    ------
    ValueError
        A forecast error overflows float64 (finite but absurd predictions, e.g. 1e308): the
        metric would not be finite, so the prediction is refused instead of scored.
    """
    if task.kind == "classify":
        st = metrics.entity_stats(pred, w.y, w.mask_y)
        if w.group is not None:  # per-group metrics (``auroc@<group>``) read it
            st["group"] = np.asarray(w.group).astype(str)
        return st
    if task.kind == "regress":
        return metrics.regress_stats(pred, w.y)
    if task.kind != "forecast":
        return metrics.graph_stats(pred, w.y)
    with np.errstate(over="ignore", invalid="ignore"):
        st = metrics.forecast_stats(pred, w.y, w.mask_y, task.error)
    if not np.isfinite(st["sum"]).all():
        bad = w.ids[np.flatnonzero(~np.isfinite(st["sum"]).all(1))[:5]].tolist()
        raise ValueError(
            f"prediction ({variant} input) for task {task.name!r}: its errors overflow float64 "
            f"(windows {bad} ...); predictions must be of the size of the targets, in the "
            "input's units (see `decathlon describe`)"
        )
    return st


def rms_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-window root-mean-square difference of two predictions (every output element)."""
    n = len(a)
    return np.sqrt(((a.reshape(n, -1) - b.reshape(n, -1)) ** 2).mean(1))


def _slices(n: int, batch_size: int) -> list[slice]:
    return [slice(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]


def collect(
    task: TaskSpec,
    w: Windows,
    variants: list[str],
    predict: PredictFn,
    batch_size: int = 512,
    progress: bool = False,
) -> Collected:
    """Run ``predict`` over the plain input and every variant, batch by batch, and reduce.

    The plain input runs first (its predictions are the reference); the other variants follow
    in sorted order, so the hash is fed in the order it is defined in.
    """
    from tqdm.auto import tqdm

    slices = _slices(len(w), batch_size)
    names = sorted({"plain", *variants})
    with tqdm(
        total=len(slices) * len(names),
        desc=f"evaluate {task.name}",
        unit="batch",
        disable=not progress,
        leave=False,
    ) as bar:
        plain = np.concatenate([_step(bar, predict("plain", sl)) for sl in slices])
        h = hashlib.sha256(np.ascontiguousarray(w.ids, dtype=np.int64).tobytes())
        out = Collected(plain=plain, sha256="")
        for v in names:
            h.update(v.encode())
            if v == "plain":
                out.stats[v] = window_stats(task, w, plain, v)
                h.update(_f32_bytes(plain))
                continue
            _reduce_variant(task, w, v, slices, predict, h, out, bar)
    out.sha256 = h.hexdigest()
    return out


def _f32_bytes(a: np.ndarray) -> bytes:
    """The float32 bytes that define the predictions hash (values beyond float32 become inf)."""
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(a, dtype=np.float32).tobytes()


def _step(bar: Any, x: np.ndarray) -> np.ndarray:
    bar.update(1)
    return x


def _reduce_variant(
    task: TaskSpec,
    w: Windows,
    v: str,
    slices: list[slice],
    predict: PredictFn,
    h: Any,
    out: Collected,
    bar: Any,
) -> None:
    """Stream one variant's batches into ``out`` (statistics, distances, equivariance error)."""
    stats, dist, equiv = [], [], []
    for sl in slices:
        p = _step(bar, predict(v, sl))
        sub = w.subset(sl)
        stats.append(window_stats(task, sub, p, v))
        h.update(_f32_bytes(p))
        dist.append(rms_distance(out.plain[sl], p))
        if v.startswith("equiv_"):
            diff = p - equivariance_target(task, sub, out.plain[sl], v)
            equiv.append((diff.reshape(len(p), -1) ** 2).mean(1))
    out.stats[v] = metrics.concat_stats(stats)
    out.distance[v] = np.concatenate(dist)
    if equiv:
        out.equivariance[v] = np.concatenate(equiv)
