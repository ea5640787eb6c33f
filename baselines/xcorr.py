"""``xcorr`` and ``corr``: absolute cross-correlations, model-free causal-discovery baselines.

For each dataset (window) the score of ``i -> j`` is ``|corr(x_i(t - 1), x_j(t))|`` over the
whole series, scaled by the largest off-diagonal value of that dataset (:func:`edge_scores`), so
the threshold 0.5 keeps the pairs at least half as strongly coupled as the strongest
(``docs/protocols.md`` §8). ``corr`` is the same at lag 0: the order-free reference of the
temporal necessity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline

__all__ = ["XCorr", "Correlation", "edge_scores", "standardized"]


def standardized(x: np.ndarray) -> np.ndarray:
    """Each variable of ``x`` (window, time, variable) scaled to mean 0 and sd 1 over time (a
    constant variable stays 0)."""
    x = np.asarray(x, dtype=np.float64)
    z = x - x.mean(1, keepdims=True)
    sd = z.std(1, keepdims=True)
    return z / np.where(sd > 0, sd, 1.0)


def edge_scores(strength: np.ndarray) -> np.ndarray:
    """Scores in [0, 1] from edge strengths (window, n, n): ``|s| / max_{i != j} |s|`` per window,
    diagonal 0.

    Examples
    --------
    >>> edge_scores(np.array([[[5.0, -2.0], [1.0, 9.0]]])).tolist()
    [[[0.0, 1.0], [0.5, 0.0]]]
    """
    a = np.abs(np.asarray(strength, dtype=np.float64))
    n = a.shape[-1]
    a = np.where(np.eye(n, dtype=bool), 0.0, a)
    top = a.reshape(len(a), -1).max(1)[:, None, None]
    return a / np.where(top > 0, top, 1.0)


class XCorr(Baseline):
    """Absolute cross-correlation at lag :attr:`lag` (1) of every ordered pair (no training)."""

    name = "xcorr"
    version = "1"
    #: frames between cause and effect
    lag = 1

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        z = standardized(batch["x"][..., 0])
        n, k = z.shape[1], self.lag
        c = np.einsum("wti,wtj->wij", z[:, : n - k], z[:, k:]) / max(n - k, 1)
        return edge_scores(c)


class Correlation(XCorr):
    """``corr``: absolute contemporaneous correlation ``|corr(x_i(t), x_j(t))|`` (lag 0).

    Symmetric, and blind to the order of the frames by construction (a permutation of the
    frames leaves every correlation unchanged): the order-free reference of the causal tasks'
    temporal necessity (``docs/probes.md`` §2). Coupled variables co-vary, so it is above chance
    without knowing which way an edge points.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(1, 50, 3, 1))
    >>> x[0, :, 1, 0] += x[0, :, 0, 0]  # variables 0 and 1 share a component
    >>> s = Correlation(None).predict({"x": x})[0]
    >>> bool(s[0, 1] == s[1, 0] == 1.0), bool(s[0, 2] < 1.0)
    (True, True)
    """

    name = "corr"
    lag = 0


register_baseline(
    BaselineSpec(
        "xcorr",
        XCorr,
        kinds=("graph",),
        families=("causal_series",),
        description="|cross-correlation| of x_i(t-1) and x_j(t)",
    )
)
register_baseline(
    BaselineSpec(
        "corr",
        Correlation,
        kinds=("graph",),
        families=("causal_series",),
        description="|correlation| of x_i(t) and x_j(t): symmetric, blind to frame order",
    )
)
