"""Per-window statistics of edge predictions: the graph tasks' part of :mod:`.metrics`.

Edge scores ``(window, n, n)`` against true graphs; self-loops are excluded everywhere (the
primary metrics of the causal tasks say so in their records). :mod:`.metrics` builds its graph
metrics (accuracy, SHD, precision/recall/F1, AUROC, AP) from these statistics.
"""

from __future__ import annotations

import numpy as np

__all__ = ["edge_accuracy", "shd", "graph_stats", "transposed_stats"]


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


def graph_stats(
    scores: np.ndarray, truth: np.ndarray, threshold: float = 0.5
) -> dict[str, np.ndarray]:
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


def transposed_stats(st: dict[str, np.ndarray], truth: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`graph_stats` of the same edge scores against the transposed graphs ``truth``
    (window, n, n) swapped ``i <-> j``: how a reversed-input prediction scores against the
    graph whose edges are flipped (time reversal flips Granger edges)."""
    n = truth.shape[-1]
    scores = np.zeros(truth.shape)
    scores[:, _offdiag(n)] = st["scores"]
    return graph_stats(scores, np.swapaxes(truth, 1, 2))
