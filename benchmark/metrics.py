"""Metrics: pure functions over arrays, each stating its formula, NaN policy and reference.

The evaluator first reduces predictions to *per-window statistics* (:func:`forecast_stats`,
:func:`graph_stats`), then every metric is a function of those statistics over a set of window
indices (:func:`metric_value`). The same code therefore gives the point estimate (all windows)
and the paired bootstrap replicates (resampled windows) for probes and confidence intervals.

NaN policy: predictions are checked to be finite before they reach these functions (the
evaluator rejects NaN/inf with a clear error); targets are finite by the data contract, and
absent entities are excluded through masks, never through NaN arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph_metrics import edge_accuracy, graph_stats, shd, transposed_stats
from .masked import masked_columns, masked_stats, step_mean
from .ranking import (
    TieCounts,
    auroc,
    average_precision,
    row_auroc,
    row_average_precision,
    weighted_auroc,
)
from .regression import r2_columns, r2_combine, regress_stats, smape_columns, smape_combine

__all__ = [
    "forecast_stats",
    "masked_stats",
    "graph_stats",
    "metric_value",
    "metric_curve",
    "auroc",
    "average_precision",
    "entity_stats",
    "regress_stats",
    "shd",
    "edge_accuracy",
    "rollout_error",
    "weighted_auroc",
    "METRICS",
    "Metric",
    "get_metric",
    "metric_family",
    "TieCounts",
    "finalize_stats",
    "concat_stats",
    "transposed_stats",
]


# ----------------------------------------------------------------------------------- forecast
def forecast_stats(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None, error: str = "se"
) -> dict[str, np.ndarray]:
    """Per-window, per-step error sums and entity counts of a forecast.

    Parameters
    ----------
    pred, target
        Arrays (window, horizon, entity, feature).
    mask
        Optional bool (window, horizon, entity): entities present in the target frame.
    error
        ``"se"``: e_{w,h,n} = mean_f (pred - target)^2 (NRI's MSE over the feature vector);
        ``"l2"``: e_{w,h,n} = ||pred - target||_2 over the features (Euclidean displacement);
        ``"masked"``: :func:`masked_stats` (DCRNN's masked MAE, RMSE and MAPE).

    A prediction with one more axis (window, sample, horizon, entity, feature) is a set of K
    stochastic samples: for each entity the sample with the lowest mean error over the horizon
    is scored (minADE_K with the minimum per agent, as Trajectron++; Social-GAN's scene-level
    minimum gives higher numbers), and ``fde_sum``/``fde_count`` hold the per-agent minimum
    final error (minFDE_K).

    Returns
    -------
    dict
        ``sum`` (window, horizon) = sum over present entities of e; ``count`` (window, horizon)
        = number of present entities. Any metric is a ratio of sums of these.
    """
    stochastic = pred.ndim == target.ndim + 1
    if (pred.shape[:1] + pred.shape[2:] if stochastic else pred.shape) != target.shape:
        raise ValueError(f"prediction shape {pred.shape} != target shape {target.shape}")
    if error == "masked" and not stochastic:
        return masked_stats(pred, target, mask)
    tgt = target[:, None] if stochastic else target
    d = pred.astype(np.float64) - tgt.astype(np.float64)
    if error == "se":
        e = np.mean(d * d, axis=-1)
    elif error == "l2":
        e = np.sqrt(np.sum(d * d, axis=-1))
    else:
        raise ValueError(f"unknown forecast error {error!r}; expected 'se' or 'l2'")
    m = np.ones(target.shape[:3], bool) if mask is None else mask.astype(bool)
    out = {}
    if stochastic:
        # best-of-K, minimum per entity (Trajectron++ convention): the sample with the lowest
        # mean error over the horizon gives the ADE and the curve; FDE takes its own minimum.
        best = e.mean(2).argmin(1)  # (W, N)
        fde = e[:, :, -1].min(1)  # (W, N)
        e = np.take_along_axis(e, best[:, None, None, :], axis=1)[:, 0]
        out["fde_sum"] = np.where(m[:, -1], fde, 0.0).sum(-1)
        out["fde_count"] = m[:, -1].sum(-1).astype(np.float64)
    out["sum"] = np.where(m, e, 0.0).sum(-1)
    out["count"] = m.sum(-1).astype(np.float64)
    return out


def rollout_error(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None, error: str = "se"
) -> np.ndarray:
    """Error per horizon step, averaged over windows and present entities: shape (horizon,).

    ``curve[h] = sum_{w,n} m_{w,h,n} e_{w,h,n} / sum_{w,n} m_{w,h,n}`` with ``e`` as in
    :func:`forecast_stats`. With ``error="se"`` and no mask this is NRI's MSE(k) for k = h + 1
    (``train.test`` in ethanfetaya/NRI: mean over sims, atoms and features).

    Examples
    --------
    >>> p = np.zeros((1, 2, 1, 2)); t = np.array([[[[1.0, 1.0]], [[2.0, 0.0]]]])
    >>> rollout_error(p, t).tolist()
    [1.0, 2.0]
    >>> rollout_error(p, t, error="l2").tolist()
    [1.4142135623730951, 2.0]
    """
    s = forecast_stats(pred, target, mask, error)
    return s["sum"].sum(0) / np.maximum(s["count"].sum(0), 1e-300)


# --------------------------------------------------------------------------- entity events
def entity_stats(
    scores: np.ndarray, labels: np.ndarray, valid: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-window statistics of per-entity probabilities (``classify`` tasks, e.g. "this cell
    divides within k frames") against binary ``labels``.

    ``scores``, ``labels``, ``valid`` (window, entity); items where ``valid`` is False (padded
    entities) are left out of every metric. Returns ``scores``, ``labels`` and ``valid``
    (pooled AUROC and average precision read them) and the per-window ``positives`` and
    ``items`` counts.
    """
    if scores.shape != labels.shape:
        raise ValueError(f"score shape {scores.shape} != label shape {labels.shape}")
    v = np.ones(labels.shape, bool) if valid is None else np.asarray(valid, dtype=bool)
    t = (np.asarray(labels) > 0.5) & v
    return {
        "scores": np.asarray(scores, dtype=np.float64),
        "labels": t,
        "valid": v,
        "positives": t.sum(-1).astype(np.float64),
        "items": v.sum(-1).astype(np.float64),
    }


# ------------------------------------------------------------------------ metrics from stats
# Every metric but AUROC is a function of window-weighted sums of per-window statistics: its
# ``columns`` are those per-window arrays and ``combine`` turns their weighted sums into the
# value, so one definition gives the point value (every window once) and the bootstrap
# replicates (resampled windows; :class:`~decathlon.benchmark.bootstrap.PairedBootstrap` stacks
# the columns of every metric and variant and weights them in one matrix product).
# ``step`` is the 0-based horizon step of ``name@k`` metrics.
Stats = dict[str, Any]
Columns = tuple[np.ndarray, ...]


def _ratio(sums: list[np.ndarray]) -> np.ndarray:
    return sums[0] / np.maximum(sums[1], 1e-300)


def _mean_error(st: Stats, step: int | None) -> Columns:
    return st["sum"].sum(1), st["count"].sum(1)


def _step_error(st: Stats, step: int | None) -> Columns:
    return st["sum"][:, step], st["count"][:, step]


def _final_error(st: Stats, step: int | None) -> Columns:
    if "fde_sum" in st:  # best-of-K: the per-entity minimum final error
        return st["fde_sum"], st["fde_count"]
    return st["sum"][:, -1], st["count"][:, -1]


def _masked_row(key: str, root: bool, scale: float, per_step: bool, what: str) -> Metric:
    return Metric(
        False,
        0.0,
        "forecast",
        columns=masked_columns(key),
        combine=step_mean(root, scale),
        per_step=per_step,
        description=what,
    )


def _edge_accuracy(st: Stats, step: int | None) -> Columns:
    return st["correct"], st["pairs"]


def _quotient(sums: list[np.ndarray]) -> np.ndarray:
    return sums[0] / sums[1]


def _shd(st: Stats, step: int | None) -> Columns:
    return st["shd"], np.ones(len(st["shd"]))  # the weighted count of windows


def _counts(st: Stats, step: int | None) -> Columns:
    return st["tp"], st["fp"], st["fn"]


def _pooled(sums: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    tp, fp, fn = sums
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        rec = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
    return prec, rec


def _precision(sums: list[np.ndarray]) -> np.ndarray:
    return _pooled(sums)[0]


def _recall(sums: list[np.ndarray]) -> np.ndarray:
    return _pooled(sums)[1]


def _f1(sums: list[np.ndarray]) -> np.ndarray:
    prec, rec = _pooled(sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)


def _per_window(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Any:
    """Columns of the mean over windows of ``fn(scores, labels)`` per window (NaN windows, e.g.
    without positives, left out): ``(value, 1)`` where defined, ``(0, 0)`` elsewhere."""

    def columns(st: Stats, step: int | None) -> Columns:
        v = fn(st["scores"], st["labels"])
        ok = np.isfinite(v)
        return np.where(ok, v, 0.0), ok.astype(np.float64)

    return columns


def _ties(st: Stats) -> TieCounts:
    ties = st.get("ties")
    if ties is None:  # statistics not finalized by the evaluator: count the tie groups now
        ties = TieCounts.of(st["scores"], st["labels"], st.get("valid"))
    return ties


def _auroc(st: Stats, w: np.ndarray, step: int | None) -> np.ndarray:
    return _ties(st).auroc(w)


def _average_precision(st: Stats, w: np.ndarray, step: int | None) -> np.ndarray:
    return _ties(st).average_precision(w)


def _auroc_bias(st: Stats, w: np.ndarray, step: int | None) -> np.ndarray:
    return np.abs(_ties(st).auroc(w) - 0.5)


@dataclass(frozen=True)
class Metric:
    """One row of :data:`METRICS`.

    A metric is either *linear*: ``columns(stats, step)`` gives per-window arrays and
    ``combine(sums)`` the value from their window-weighted sums (one entry per weighting), or
    computed ``direct``-ly by ``direct(stats, weights, step)`` (AUROC, whose pooled ranks do not
    decompose). ``higher_is_better`` gives the ranking direction, ``perfect`` the best
    attainable value, ``kind`` the task kind whose statistics it reads (``also``: other kinds
    whose statistics have the same keys). ``per_step`` metrics are named ``<family>@k`` with
    ``k`` a 1-based horizon step.
    """

    higher_is_better: bool
    perfect: float
    kind: str
    columns: Callable[[Stats, int | None], Columns] | None = None
    combine: Callable[[list[np.ndarray]], np.ndarray] = _ratio
    direct: Callable[[Stats, np.ndarray, int | None], np.ndarray] | None = None
    per_step: bool = False
    description: str = ""
    also: tuple[str, ...] = ()


def _row(columns: Any, combine: Any, better: bool, perfect: float, kind: str, **kw: Any) -> Metric:
    return Metric(better, perfect, kind, columns=columns, combine=combine, **kw)


#: The one metric table: name -> (function, direction, perfect value). ``mse@k``/``l2@k`` stand
#: for every horizon step ``k``.
METRICS: dict[str, Metric] = {
    "mse": _row(_mean_error, _ratio, False, 0.0, "forecast", description="mean error over steps"),
    "ade": _row(_mean_error, _ratio, False, 0.0, "forecast", description="average displacement"),
    "fde": _row(_final_error, _ratio, False, 0.0, "forecast", description="final displacement"),
    "mse@k": _row(
        _step_error, _ratio, False, 0.0, "forecast", per_step=True, description="at step k"
    ),
    "l2@k": _row(
        _step_error, _ratio, False, 0.0, "forecast", per_step=True, description="at step k"
    ),
    "edge_accuracy": _row(
        _edge_accuracy, _quotient, True, 1.0, "graph", description="per-pair accuracy"
    ),
    "shd": _row(_shd, _quotient, False, 0.0, "graph", description="structural Hamming distance"),
    "precision": _row(_counts, _precision, True, 1.0, "graph", description="pooled precision"),
    "recall": _row(_counts, _recall, True, 1.0, "graph", description="pooled recall"),
    "f1": _row(_counts, _f1, True, 1.0, "graph", description="pooled F1"),
    "auroc": Metric(
        True, 1.0, "graph", direct=_auroc, description="pooled AUROC", also=("classify",)
    ),
    "average_precision": Metric(
        True,
        1.0,
        "graph",
        direct=_average_precision,
        description="pooled average precision",
        also=("classify",),
    ),
    # per-dataset scores (causal discovery: every window an independent dataset), averaged
    # over windows as Neural-GC and CUTS average over datasets
    "auroc_mean": _row(
        _per_window(row_auroc), _quotient, True, 1.0, "graph", description="mean per-window AUROC"
    ),
    "ap_mean": _row(
        _per_window(row_average_precision),
        _quotient,
        True,
        1.0,
        "graph",
        description="mean per-window average precision",
    ),
    # |AUROC - 1/2|: a score's distance from chance where the truth is that there is nothing to
    # find (the arrow of time of reversible physics, docs/protocols.md §9)
    "auroc_bias": Metric(
        False,
        0.0,
        "graph",
        direct=_auroc_bias,
        description="|AUROC - 1/2|, distance from chance",
        also=("classify",),
    ),
    # parameter regression (``regress`` tasks), per parameter then averaged: regression.py
    "r2": _row(r2_columns, r2_combine, True, 1.0, "regress", description="mean R^2 over params"),
    "smape": _row(
        smape_columns, smape_combine, False, 0.0, "regress", description="mean SMAPE over params"
    ),
}
# DCRNN's masked traffic metrics (zeros in the target excluded; ``error="masked"``): at step k,
# and averaged over the horizon steps; MAPE in percent.
for _k, _root, _scale, _what in (
    ("sum", False, 1.0, "masked MAE"),
    ("sq_sum", True, 1.0, "masked RMSE"),
    ("ape_sum", False, 100.0, "masked MAPE (%)"),
):
    _name = {"sum": "mae", "sq_sum": "rmse", "ape_sum": "mape"}[_k]
    METRICS[_name] = _masked_row(_k, _root, _scale, False, _what + ", mean over steps")
    METRICS[_name + "@k"] = _masked_row(_k, _root, _scale, True, _what + " at step k")


def get_metric(name: str) -> tuple[Metric, int | None]:
    """The table row of metric ``name`` and its 0-based step (``mse@10`` -> step 9).

    ``name@g1+g2`` (a suffix that is not a number) is metric ``name`` on the windows of group
    ``g1`` (:attr:`~decathlon.benchmark.windows.Windows.group`), averaged over the listed groups
    with equal weight (:func:`decathlon.benchmark.metric_groups.grouped`).

    Examples
    --------
    >>> m, step = get_metric("mse@10")
    >>> m.higher_is_better, m.perfect, step
    (False, 0.0, 9)
    >>> get_metric("auroc")[0].higher_is_better
    True
    >>> get_metric("auroc_bias@springs+nbody")[0].description
    '|AUROC - 1/2|, distance from chance; mean over the groups springs, nbody'
    """
    family, at, k = name.partition("@") if isinstance(name, str) else ("", "", "")
    if at and k and not k.isdigit():
        from .metric_groups import group_names, grouped

        base, groups = METRICS.get(family), group_names(k)
        if base is not None and not base.per_step and groups:
            return grouped(base, groups), None
    key = f"{family}@k" if at else family
    row = METRICS.get(key) if (not at or k.isdigit()) else None
    if row is None or (at and int(k) < 1):
        raise KeyError(
            f"unknown metric {name!r}; valid: mse, mse@k, ade, fde, l2@k, edge_accuracy, shd, "
            "precision, recall, f1, auroc, average_precision, auroc_mean, ap_mean, auroc_bias, "
            "mae, mae@k, rmse, rmse@k, mape, mape@k, r2, smape, and any of the plain ones as "
            "name@group or name@group1+group2 (mean over window groups)"
        )
    return row, (int(k) - 1 if at else None)


def metric_family(name: str) -> str:
    """The metric table row a name reads: ``auroc@damped-springs`` -> ``auroc``.

    Examples
    --------
    >>> metric_family("auroc@springs+charged"), metric_family("mse@10"), metric_family("ade")
    ('auroc', 'mse@k', 'ade')
    """
    family, at, k = name.partition("@")
    return f"{family}@k" if at and k.isdigit() else family


def metric_value(name: str, stats: Stats, weights: np.ndarray | None = None) -> np.ndarray:
    """Metric ``name`` from per-window ``stats``, for one or many window weightings.

    ``weights`` (b, W) are window multiplicities (bootstrap); ``None`` means every window once.
    Returns shape (b,) (``(1,)`` without weights).

    Forecast metrics (``stats`` from :func:`forecast_stats`): ``mse`` / ``ade`` = error averaged
    over windows, steps and entities; ``mse@k`` / ``l2@k`` = at horizon step k (1-based);
    ``fde`` = at the last step. Graph metrics: ``edge_accuracy``, ``shd`` (mean per window),
    ``precision``, ``recall``, ``f1`` (pooled counts), ``auroc`` (pooled pairs).
    """
    row, step = get_metric(name)
    n_win = len(next(iter(stats.values())))
    w = np.ones((1, n_win)) if weights is None else np.atleast_2d(np.asarray(weights, np.float64))
    if row.columns is None:
        return row.direct(stats, w, step)  # type: ignore[misc]
    return row.combine([w @ c for c in row.columns(stats, step)])


def metric_curve(stats: Stats) -> list[float]:
    """Error per horizon step over all windows (the rollout-error curve)."""
    return (stats["sum"].sum(0) / np.maximum(stats["count"].sum(0), 1e-300)).tolist()


def concat_stats(parts: list[Stats]) -> Stats:
    """Per-window statistics of consecutive batches of windows, joined along the window axis."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def finalize_stats(st: Stats) -> Stats:
    """Prepare statistics for many weightings: graph statistics get their :class:`TieCounts`."""
    if "scores" in st and "ties" not in st:
        st["ties"] = TieCounts.of(st["scores"], st["labels"], st.get("valid"))
    return st
