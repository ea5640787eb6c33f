"""Parameter regression (``regress`` tasks): per-window statistics and the R^2 and SMAPE rows.

A ``regress`` model returns one vector of ``P`` numbers per window (the generating parameters
of a simulation, in original units). Both metrics are computed per parameter and then averaged
over the parameters, as Neural Persistence Dynamics reports them (Zeng et al. 2024,
``notebooks/Evaluation.ipynb``; ``docs/protocols.md`` §7.3):

* ``r2``: the coefficient of determination of parameter ``p`` over the scored windows,
  ``R^2_p = 1 - sum_w (yhat_wp - y_wp)^2 / sum_w (y_wp - ybar_p)^2`` with ``ybar_p`` the mean of
  the targets (``sklearn.metrics.r2_score``; a constant target gives 1 for a perfect prediction
  and 0 otherwise, sklearn's ``force_finite``); perfect 1, 0 for predicting the test mean,
  negative for worse.
* ``smape``: ``SMAPE_p = mean_w |yhat_wp - y_wp| / (|y_wp| + |yhat_wp|)`` (a term ``0/0`` counts
  0), in [0, 1], perfect 0: the definition of ``permetrics``
  ``RegressionMetric.symmetric_mean_absolute_percentage_error`` (Thieu, permetrics 2.x, no
  factor 2, no percent), which NPD's notebook calls.

Both are functions of window-weighted sums (the sum of squared errors, of ``y`` and ``y^2``,
of the SMAPE terms, and the window count), so the paired bootstrap weights them like every
other linear metric (:mod:`decathlon.benchmark.metrics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["regress_stats", "r2_columns", "r2_combine", "smape_columns", "smape_combine", "r2"]

Stats = dict[str, Any]
Columns = tuple[np.ndarray, ...]


def regress_stats(pred: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Per-window, per-parameter statistics of a ``regress`` prediction.

    ``pred``, ``target`` (window, param). Returns ``se`` = squared error, ``y``, ``y2`` =
    target and its square, ``ape`` = the SMAPE term (all (window, param), float64) and
    ``windows`` = ones (window,).

    Examples
    --------
    >>> st = regress_stats(np.array([[1.0, 3.0]]), np.array([[2.0, 3.0]]))
    >>> st["se"].tolist(), st["ape"].tolist()
    ([[1.0, 0.0]], [[0.3333333333333333, 0.0]])
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {pred.shape} != target shape {target.shape}")
    p = np.asarray(pred, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    d = np.abs(p - y)
    den = np.abs(y) + np.abs(p)
    return {
        "se": d * d,
        "y": y,
        "y2": y * y,
        "ape": np.where(den > 0, d / np.where(den > 0, den, 1.0), 0.0),
        "windows": np.ones(len(y)),
    }


def r2_columns(st: Stats, step: int | None = None) -> Columns:
    """The per-window columns of R^2: for each parameter ``se``, ``y``, ``y2``; then the count."""
    n_par = st["se"].shape[1]
    cols = [st[k][:, j] for j in range(n_par) for k in ("se", "y", "y2")]
    return (*cols, st["windows"])


def r2_combine(sums: list[np.ndarray]) -> np.ndarray:
    """Mean over parameters of ``R^2_p`` from the weighted sums of :func:`r2_columns`."""
    n = sums[-1]
    out = []
    for j in range(0, len(sums) - 1, 3):
        sse, s1, s2 = sums[j], sums[j + 1], sums[j + 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            sst = s2 - s1 * s1 / n
            r = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), 0.0)
        out.append(np.where((sst <= 0) & (sse <= 0), 1.0, r))
    return np.mean(out, axis=0)


def smape_columns(st: Stats, step: int | None = None) -> Columns:
    """The per-window columns of SMAPE: the SMAPE term of each parameter, then the count."""
    return (*(st["ape"][:, j] for j in range(st["ape"].shape[1])), st["windows"])


def smape_combine(sums: list[np.ndarray]) -> np.ndarray:
    """Mean over parameters of the weighted mean SMAPE term."""
    return np.mean([s / sums[-1] for s in sums[:-1]], axis=0)


def r2(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """R^2 of each parameter (column) of ``pred`` against ``target``, shape (param,).

    Equal to ``sklearn.metrics.r2_score(target, pred, multioutput="raw_values")``.

    Examples
    --------
    >>> y = np.array([[1.0], [2.0], [3.0]])
    >>> r2(y + 0.5, y).tolist(), r2(np.full_like(y, 2.0), y).tolist()
    ([0.625], [0.0])
    """
    st = regress_stats(pred, target)
    sums = [c.sum(keepdims=True) for c in r2_columns(st)]
    per_param = [sums[j : j + 3] + sums[-1:] for j in range(0, len(sums) - 1, 3)]
    return np.array([float(r2_combine(s)[0]) for s in per_param])
