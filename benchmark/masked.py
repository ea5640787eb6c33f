"""DCRNN's masked traffic errors: per-window statistics and the metric columns built on them.

Used by :mod:`decathlon.benchmark.metrics` for tasks with ``error="masked"`` (the ``mae``,
``rmse`` and ``mape`` rows of its table); ``docs/protocols.md`` §5.3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["masked_stats", "masked_columns", "step_mean"]

Stats = dict[str, Any]
Columns = tuple[np.ndarray, ...]


def masked_stats(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-window, per-step sums of DCRNN's masked errors (zeros in the target are missing).

    The mask is ``m = 1[y != 0]`` (and the presence ``mask`` where given), over every target
    feature; with ``d = pred - target`` averaged over features, ``sum`` = sum_n m |d|,
    ``sq_sum`` = sum_n m d^2, ``ape_sum`` = sum_n m |d| / |y| and ``count`` = sum_n m, shape
    (window, horizon). Masked MAE/RMSE/MAPE at a step are then ``sum / count``,
    ``sqrt(sq_sum / count)`` and ``ape_sum / count``: DCRNN's ``masked_mae_np`` etc.
    (``lib/metrics.py``: the mask divided by its mean equals the mean over non-zero targets),
    with null value 0 (Li et al. 2018; ``docs/protocols.md`` §5).

    Examples
    --------
    >>> y = np.array([[[[60.0], [0.0]]]]); p = np.array([[[[57.0], [40.0]]]])
    >>> st = masked_stats(p, y)
    >>> st["sum"].tolist(), st["count"].tolist(), st["ape_sum"].tolist()
    ([[3.0]], [[1.0]], [[0.05]])
    """
    t = target.astype(np.float64)
    d = pred.astype(np.float64) - t
    m = (t != 0).all(-1)
    if mask is not None:
        m &= mask.astype(bool)
    absd, sq = np.abs(d).mean(-1), (d * d).mean(-1)
    ape = np.abs(d / np.where(t != 0, t, 1.0)).mean(-1)
    return {
        "sum": np.where(m, absd, 0.0).sum(-1),
        "sq_sum": np.where(m, sq, 0.0).sum(-1),
        "ape_sum": np.where(m, ape, 0.0).sum(-1),
        "count": m.sum(-1).astype(np.float64),
    }


def masked_columns(key: str) -> Callable[[Stats, int | None], Columns]:
    """Columns of a masked traffic metric (``key`` = ``sum``, ``sq_sum`` or ``ape_sum``): at
    one step, or every step's (numerator, count) pair for the mean over steps."""

    def columns(st: Stats, step: int | None) -> Columns:
        steps = range(st[key].shape[1]) if step is None else [step]
        return tuple(c for k in steps for c in (st[key][:, k], st["count"][:, k]))

    return columns


def step_mean(root: bool, scale: float) -> Callable[[list[np.ndarray]], np.ndarray]:
    """Mean over steps of ``scale * ratio`` (``sqrt`` of it for RMSE): Graph WaveNet's average
    of the per-horizon metrics (``test.py``)."""

    def combine(sums: list[np.ndarray]) -> np.ndarray:
        per = [sums[i] / np.maximum(sums[i + 1], 1e-300) for i in range(0, len(sums), 2)]
        vals = [np.sqrt(v) if root else v for v in per]
        return scale * np.mean(vals, axis=0)

    return combine
