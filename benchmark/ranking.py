"""Ranking metrics over pooled scores: AUROC and average precision, with bootstrap weights.

Both are computed from the positives and negatives in each *tie group* of the pooled scores
(:class:`TieCounts`), so a weighting of the windows (a bootstrap resample) costs one sparse
product instead of a new sort, and every count is a sum of integers. Used by the graph tasks
(edge scores) and the per-entity probability tasks (``classify``: e.g. cell division).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "TieCounts",
    "auroc",
    "average_precision",
    "weighted_auroc",
    "row_auroc",
    "row_average_precision",
]


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
    neg_g = np.add.reduceat(np.where(lab, 0.0, w), starts, axis=1)  # negatives per tie group
    pos_g = np.add.reduceat(np.where(lab, w, 0.0), starts, axis=1)
    return _auroc_from_groups(pos_g, neg_g)


def _auroc_from_groups(pos_g: np.ndarray, neg_g: np.ndarray) -> np.ndarray:
    """AUROC from (weighted) positive and negative counts per tie group, groups by ascending
    score: each positive beats the negatives of lower groups and ties half of its own."""
    neg_below = np.cumsum(neg_g, axis=1) - neg_g
    num = np.sum(pos_g * (neg_below + 0.5 * neg_g), axis=1)
    den = pos_g.sum(1) * neg_g.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


@dataclass(frozen=True)
class TieCounts:
    """Positives and negatives of each window in each tie group of the pooled scores.

    ``pos`` and ``neg`` are sparse (window, group) count matrices, groups ordered by ascending
    score. A weighting ``w`` (b, window) of the windows gives the group counts ``w @ pos``
    exactly (sums of integers), so every bootstrap replicate of the pooled AUROC costs one
    sparse product and a cumulative sum over groups, instead of re-sorting the weighted items.
    """

    pos: Any
    neg: Any

    @classmethod
    def of(
        cls, scores: np.ndarray, labels: np.ndarray, valid: np.ndarray | None = None
    ) -> TieCounts:
        """Count matrices for ``scores`` and ``labels`` of shape (window, item); items where
        ``valid`` (same shape) is False are left out (padded entities)."""
        from scipy.sparse import csr_matrix

        n_win, n_pairs = scores.shape
        _, group = np.unique(scores.ravel(), return_inverse=True)
        n_groups = int(group.max()) + 1 if group.size else 0
        rows = np.repeat(np.arange(n_win), n_pairs)
        lab = np.asarray(labels, dtype=bool).ravel()
        keep = np.ones_like(lab) if valid is None else np.asarray(valid, dtype=bool).ravel()

        def counts(sel: np.ndarray) -> Any:
            ones = np.ones(int(sel.sum()))
            return csr_matrix((ones, (rows[sel], group.ravel()[sel])), shape=(n_win, n_groups))

        return cls(counts(lab & keep), counts(~lab & keep))

    def auroc(self, w: np.ndarray, max_cells: int = 2_000_000) -> np.ndarray:
        """Pooled AUROC for each row of window weights ``w`` (b, window), in row blocks that
        keep the dense (rows, groups) temporaries under ``max_cells`` elements."""
        return self._per_rows(w, _auroc_from_groups, max_cells)

    def average_precision(self, w: np.ndarray, max_cells: int = 2_000_000) -> np.ndarray:
        """Pooled average precision for each row of window weights ``w`` (b, window), in row
        blocks like :meth:`auroc` (:func:`_ap_from_groups`)."""
        return self._per_rows(w, _ap_from_groups, max_cells)

    def _per_rows(self, w: np.ndarray, from_groups: Any, max_cells: int) -> np.ndarray:
        """``from_groups(pos_g, neg_g)`` of the weighted per-group counts, block by block."""
        n_groups = self.pos.shape[1]
        step = max(1, max_cells // max(n_groups, 1))
        out = []
        for i in range(0, len(w), step):
            wi = np.asarray(w[i : i + step], dtype=np.float64)
            pos_g = np.asarray((self.pos.T @ wi.T).T)
            neg_g = np.asarray((self.neg.T @ wi.T).T)
            out.append(from_groups(pos_g, neg_g))
        return np.concatenate(out) if out else np.zeros(0)


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


def _ap_from_groups(pos_g: np.ndarray, neg_g: np.ndarray) -> np.ndarray:
    """Average precision from (weighted) positive and negative counts per tie group, groups by
    ascending score: thresholds run from the highest group down, a tie group is one threshold,
    and ``AP = sum_g (pos_g / P) * precision_g`` with ``precision_g`` the precision of
    predicting every item in groups ``>= g`` positive (``sklearn.metrics.
    average_precision_score``'s definition, no interpolation). NaN without positives."""
    tp = np.cumsum(pos_g[:, ::-1], axis=1)
    fp = np.cumsum(neg_g[:, ::-1], axis=1)
    total = pos_g.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        ap = np.sum(pos_g[:, ::-1] * prec, axis=1) / total
    return np.where(total > 0, ap, np.nan)


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision of ``scores`` against binary ``labels`` (pooled; tied scores are one
    threshold): ``AP = sum_k (R_k - R_{k-1}) P_k`` over thresholds from high to low, with
    recall ``R_k`` and precision ``P_k`` [Manning, Raghavan, Schütze, Introduction to
    Information Retrieval, 2008, §8.4; the definition of ``sklearn.metrics.
    average_precision_score``]. NaN without positives. Chance level is the positive rate.

    Examples
    --------
    >>> average_precision(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.8333333333333333
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel() > 0.5
    return float(TieCounts.of(s[None], y[None]).average_precision(np.ones((1, 1)))[0])


def row_auroc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``scores`` (rows, items) against binary ``labels``: one value per
    window (per dataset), the Mann-Whitney statistic from average ranks (ties count one half).
    NaN for a row without positives or negatives.

    Examples
    --------
    >>> row_auroc(np.array([[0.1, 0.4, 0.35, 0.8], [1, 1, 1, 1]]), np.array([[0, 0, 1, 1]] * 2))
    array([0.75, 0.5 ])
    """
    from scipy.stats import rankdata

    y = np.asarray(labels) > 0.5
    ranks = rankdata(np.asarray(scores, dtype=np.float64), axis=1)
    n_pos = y.sum(1).astype(np.float64)
    n_neg = y.shape[1] - n_pos
    u = np.where(y, ranks, 0.0).sum(1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def row_average_precision(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Average precision of each row of ``scores`` (rows, items), as :func:`average_precision`
    (tied scores one threshold) row by row, vectorized. NaN for a row without positives.

    Examples
    --------
    >>> row_average_precision(np.array([[0.1, 0.4, 0.35, 0.8]]), np.array([[0, 0, 1, 1]]))
    array([0.83333333])
    """
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, axis=1, kind="stable")
    s = np.take_along_axis(s, order, axis=1)
    y = np.take_along_axis(np.asarray(labels) > 0.5, order, axis=1)
    tp, fp = np.cumsum(y, axis=1), np.cumsum(~y, axis=1)
    n = s.shape[1]
    last = np.ones_like(y)
    last[:, :-1] = s[:, :-1] != s[:, 1:]  # the last item of each tie group
    end = np.where(last, np.arange(n), n)
    end = np.minimum.accumulate(end[:, ::-1], axis=1)[:, ::-1]  # each item's group end
    prec = np.take_along_axis(tp / np.maximum(tp + fp, 1), end, axis=1)
    n_pos = y.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, np.where(y, prec, 0.0).sum(1) / n_pos, np.nan)
