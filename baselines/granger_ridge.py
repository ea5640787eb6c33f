"""``granger-ridge``: linear Granger causality from a ridge VAR(1), in closed form.

For each dataset (window) the standardized series is regressed one step ahead,
``z(t) = z(t - 1) B + e`` with ``B = (Z'Z + lambda I)^-1 Z'Y`` and
``lambda = ridge * trace(Z'Z) / p`` (at least 1e-9); the score of ``i -> j`` is ``|B_ij|``
(the weight of ``z_i(t - 1)`` in the equation of ``z_j(t)``), scaled per dataset by
:func:`~decathlon.baselines.xcorr.edge_scores`. It is the linear Granger test of Tank et al.
(2021) without the group penalty, and is already strong on Lorenz-96 with F = 10
(``docs/protocols.md`` §8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline
from .xcorr import edge_scores, standardized

__all__ = ["GrangerRidge", "RidgeConfig"]


@dataclass(frozen=True)
class RidgeConfig:
    """``ridge``: the penalty relative to the mean diagonal of ``Z'Z`` (0 is least squares)."""

    ridge: float = 1e-2


class GrangerRidge(Baseline):
    """Ridge VAR(1) coefficient magnitudes per dataset (no training across datasets)."""

    name = "granger-ridge"
    version = "1"

    def __init__(self, task: Any, ridge: float = RidgeConfig.ridge, **_: Any) -> None:
        super().__init__(task)
        if not ridge >= 0:
            raise ValueError(f"granger-ridge: ridge={ridge!r} must be >= 0 (e.g. 1e-2)")
        self.config = RidgeConfig(ridge)

    def coefficients(self, x: np.ndarray) -> np.ndarray:
        """``B`` (window, p, p) of the standardized series ``x`` (window, time, p)."""
        z = standardized(x)
        a, b = z[:, :-1], z[:, 1:]
        gram = np.einsum("wti,wtj->wij", a, a)
        p = gram.shape[-1]
        lam = self.config.ridge * np.trace(gram, axis1=1, axis2=2) / p
        lam = np.maximum(lam, 1e-9)  # a constant series (the freeze probe): B = 0
        gram = gram + lam[:, None, None] * np.eye(p)
        return np.linalg.solve(gram, np.einsum("wti,wtj->wij", a, b))

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        return edge_scores(self.coefficients(batch["x"][..., 0]))


register_baseline(
    BaselineSpec(
        "granger-ridge",
        GrangerRidge,
        kinds=("graph",),
        families=("causal_series",),
        description="ridge VAR(1) per series, |coefficient| of x_i(t-1) in x_j(t)",
    )
)
