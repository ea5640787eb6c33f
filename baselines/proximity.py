"""``proximity``: connected entities stay close; score edges by mean distance over the context."""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline


class Proximity(Baseline):
    """Score ``i -> j`` by how close ``i`` and ``j`` stay over the context window.

    ``d_ij = mean_t ||p_i(t) - p_j(t)||`` over the position features; within each window the
    off-diagonal pairs are ranked (tied pairs, such as ``(i, j)`` and ``(j, i)``, share their
    average rank), and ``score_ij = 1 - rank(d_ij) / (P - 1)`` (closest pair 1,
    farthest 0), so about half the pairs score above 0.5. It is symmetric and blind to temporal
    order by construction: its reversal and shuffle gaps are exactly 0, a reference for what
    "ignores time" looks like.
    """

    name = "proximity"
    version = "1"

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        from scipy.stats import rankdata  # imported on use: scipy.stats is slow to import

        feats = batch["features"]
        cols = [i for i, f in enumerate(feats) if f.startswith("pos_")] or list(range(len(feats)))
        p = batch["x"][..., cols].astype(np.float64)  # (B, T, N, D)
        d = np.sqrt(((p[:, :, :, None] - p[:, :, None, :]) ** 2).sum(-1)).mean(1)  # (B, N, N)
        b, n, _ = d.shape
        od = ~np.eye(n, dtype=bool)
        flat = d[:, od]
        ranks = rankdata(flat, method="average", axis=1) - 1.0  # ties (d_ij = d_ji) share a rank
        out = np.zeros((b, n, n))
        out[:, od] = 1.0 - ranks / max(flat.shape[1] - 1, 1)
        return out


register_baseline(
    BaselineSpec(
        "proximity",
        Proximity,
        kinds=("graph",),
        families=("trajectories",),  # distances between entities in space: particles, not series
        description="rank pairs by mean distance over the context",
    )
)
