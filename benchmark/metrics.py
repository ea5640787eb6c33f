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

import re

import numpy as np

__all__ = [
    "forecast_stats",
    "graph_stats",
    "metric_value",
    "metric_curve",
    "auroc",
    "shd",
    "edge_accuracy",
    "rollout_error",
    "weighted_auroc",
    "PERFECT",
]

#: The best attainable value of each metric family (for decathlon points).
PERFECT = {"mse": 0.0, "ade": 0.0, "fde": 0.0, "l2": 0.0, "auroc": 1.0, "edge_accuracy": 1.0,
           "shd": 0.0, "f1": 1.0, "precision": 1.0, "recall": 1.0}
HIGHER_IS_BETTER = {"auroc", "edge_accuracy", "f1", "precision", "recall"}


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
        ``"l2"``: e_{w,h,n} = ||pred - target||_2 over the features (Euclidean displacement).

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


def rollout_error(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None, error: str = "se") -> np.ndarray:
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


# -------------------------------------------------------------------------------------- graph
def _offdiag(n: int) -> np.ndarray:
    return ~np.eye(n, dtype=bool)


def edge_accuracy(scores: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Per-window edge accuracy over ordered off-diagonal pairs.

    ``acc_w = 1/(n(n-1)) sum_{i != j} 1[(s_wij > threshold) == (A_wij > 0.5)]``; NRI's
    ``utils.edge_accuracy`` with the edge type fixed (score = P(edge), so no label permutation).

    Examples
    --------
    >>> A = np.array([[[0, 1], [0, 0]]]); S = np.array([[[0.0, 0.9], [0.8, 0.0]]])
    >>> edge_accuracy(S, A).tolist()
    [0.5]
    """
    n = truth.shape[-1]
    od = _offdiag(n)
    hit = (scores > threshold) == (truth > 0.5)
    return hit[:, od].mean(-1)


def shd(scores: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Per-window structural Hamming distance between directed graphs.

    Predicted graph: edge ``i -> j`` iff ``s_ij > threshold``. Convention (stated): self-loops
    are excluded; each unordered pair ``{i, j}`` whose pair of directed entries
    ``(A_ij, A_ji)`` differs from the prediction's costs 1. So a missing edge costs 1, an extra
    edge costs 1, and a **reversed edge costs 1** (not 2) -- the convention of ENCO and of the
    CDT ``SHD(double_for_anticausal=False)``. For symmetric (undirected) truth, predicting only
    one of the two directions costs 1.

    Examples
    --------
    >>> A = np.array([[[0, 1, 0], [0, 0, 0], [0, 0, 0]]])       # 0 -> 1
    >>> rev = np.array([[[0, 0, 0], [1, 0, 0], [0, 0, 0]]])     # 1 -> 0: reversed
    >>> shd(rev, A).tolist()
    [1.0]
    >>> extra = np.array([[[0, 1, 1], [0, 0, 0], [0, 0, 0]]])   # plus 0 -> 2
    >>> shd(extra, A).tolist()
    [1.0]
    >>> shd(np.zeros((1, 3, 3)), A).tolist()                      # missing 0 -> 1
    [1.0]
    """
    p = scores > threshold
    t = truth > 0.5
    n = t.shape[-1]
    iu = np.triu_indices(n, 1)
    diff = (p[:, iu[0], iu[1]] != t[:, iu[0], iu[1]]) | (p[:, iu[1], iu[0]] != t[:, iu[1], iu[0]])
    return diff.sum(-1).astype(np.float64)


def weighted_auroc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC with per-item weights, for a batch of weightings at once.

    ``scores``, ``labels`` (n,); ``weights`` (b, n) non-negative (bootstrap multiplicities).
    ``AUC = sum_{p in pos} sum_{q in neg} w_p w_q (1[s_p > s_q] + 1/2 1[s_p = s_q]) /
    (sum_pos w)(sum_neg w)`` (the Mann-Whitney statistic; ties count one half). NaN where a
    weighting has no positive or no negative item.
    """
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    lab = labels[order].astype(bool)
    w = np.atleast_2d(weights)[:, order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    wn = np.where(lab, 0.0, w)
    wp = np.where(lab, w, 0.0)
    neg_g = np.add.reduceat(wn, starts, axis=1)  # negatives per tie group
    pos_g = np.add.reduceat(wp, starts, axis=1)
    neg_below = np.cumsum(neg_g, axis=1) - neg_g
    num = np.sum(pos_g * (neg_below + 0.5 * neg_g), axis=1)
    den = pos_g.sum(1) * neg_g.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` against binary ``labels`` (pooled, ties = 1/2).

    Equal to ``sklearn.metrics.roc_auc_score``; NaN if only one class is present. For graphs,
    pass the off-diagonal pairs of every window (ACD's ``calc_auroc`` pools them the same way).

    Examples
    --------
    >>> auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.75
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel() > 0.5
    return float(weighted_auroc(s, y, np.ones((1, s.size)))[0])


def graph_stats(scores: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Per-window statistics of edge predictions ``scores`` against the true graph ``truth``.

    Both (window, n, n); self-loops excluded. Returns per-window ``correct``, ``pairs``, ``shd``,
    ``tp``, ``fp``, ``fn`` and the off-diagonal ``scores``/``labels`` (window, n(n-1)) for AUROC.
    """
    if scores.shape != truth.shape:
        raise ValueError(f"edge score shape {scores.shape} != graph shape {truth.shape}")
    n = truth.shape[-1]
    od = _offdiag(n)
    p = scores[:, od] > threshold
    t = truth[:, od] > 0.5
    return {
        "correct": (p == t).sum(-1).astype(np.float64),
        "pairs": np.full(len(t), od.sum(), dtype=np.float64),
        "shd": shd(scores, truth, threshold),
        "tp": (p & t).sum(-1).astype(np.float64),
        "fp": (p & ~t).sum(-1).astype(np.float64),
        "fn": (~p & t).sum(-1).astype(np.float64),
        "scores": scores[:, od].astype(np.float64),
        "labels": t,
    }


# ------------------------------------------------------------------------ metrics from stats
_STEP = re.compile(r"^(mse|l2)@(\d+)$")


def metric_family(name: str) -> str:
    """``mse@10`` -> ``mse``; ``auroc`` -> ``auroc``."""
    return name.split("@")[0]


def metric_value(name: str, stats: dict[str, np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
    """Metric ``name`` from per-window ``stats``, for one or many window weightings.

    ``weights`` (b, W) are window multiplicities (bootstrap); ``None`` means every window once.
    Returns shape (b,) (``(1,)`` without weights).

    Forecast metrics (``stats`` from :func:`forecast_stats`): ``mse`` / ``ade`` = error averaged
    over windows, steps and entities; ``mse@k`` / ``l2@k`` = at horizon step k (1-based);
    ``fde`` = at the last step. Graph metrics: ``edge_accuracy``, ``shd`` (mean per window),
    ``precision``, ``recall``, ``f1`` (pooled counts), ``auroc`` (pooled pairs).
    """
    n_win = len(next(iter(stats.values())))
    w = np.ones((1, n_win)) if weights is None else np.atleast_2d(weights).astype(np.float64)
    m = _STEP.match(name)
    if name in ("mse", "ade") or m or name == "fde":
        s, c = stats["sum"], stats["count"]
        if m:
            k = int(m.group(2)) - 1
            s, c = s[:, k], c[:, k]
        elif name == "fde":
            s, c = (stats["fde_sum"], stats["fde_count"]) if "fde_sum" in stats else (s[:, -1], c[:, -1])
        else:
            s, c = s.sum(1), c.sum(1)
        return (w @ s) / np.maximum(w @ c, 1e-300)
    if name == "edge_accuracy":
        return (w @ stats["correct"]) / (w @ stats["pairs"])
    if name == "shd":
        return (w @ stats["shd"]) / w.sum(1)
    if name in ("precision", "recall", "f1"):
        tp, fp, fn = w @ stats["tp"], w @ stats["fp"], w @ stats["fn"]
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            rec = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
        return {"precision": prec, "recall": rec, "f1": f1}[name]
    if name == "auroc":
        sc, lab = stats["scores"], stats["labels"]
        per_item = np.repeat(w, sc.shape[1], axis=1)
        return weighted_auroc(sc.ravel(), lab.ravel(), per_item)
    raise KeyError(
        f"unknown metric {name!r}; valid: mse, mse@k, ade, fde, l2@k, edge_accuracy, shd, "
        "precision, recall, f1, auroc"
    )


def metric_curve(stats: dict[str, np.ndarray]) -> list[float]:
    """Error per horizon step over all windows (the rollout-error curve)."""
    return (stats["sum"].sum(0) / np.maximum(stats["count"].sum(0), 1e-300)).tolist()


def higher_is_better(name: str) -> bool:
    """Whether larger values of metric ``name`` are better."""
    return metric_family(name) in HIGHER_IS_BETTER


def perfect_value(name: str) -> float:
    """The best attainable value of metric ``name``."""
    return PERFECT[metric_family(name) if metric_family(name) in PERFECT else name]
