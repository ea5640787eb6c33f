"""``var``: a vector autoregression over every sensor, fitted on the train split.

``z_t = c + sum_{l=1..p} A_l z_{t-l}`` on the standardized speeds ``z = (v - mu) / sigma``
(``mu``, ``sigma`` of the train split, DCRNN's ``StandardScaler``, zeros included), fitted by
ordinary least squares on the train sequence and rolled forward over the horizon from the last
``p`` inputs. DCRNN's Table 2 "VAR" row (Li et al., ICLR 2018) is statsmodels' VAR on the same
kind of standardized series (``scripts/eval_baseline_methods.py``, 3 lags); missing readings
(0) are kept as values, as there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline
from decathlon.benchmark.data import Tier

from .base import Baseline, model_settings


@dataclass(frozen=True)
class VARConfig:
    """Lags ``p`` and a ridge term (relative to the mean diagonal of X'X; 0 is plain OLS)."""

    lags: int = 3
    ridge: float = 1e-6


class VAR(Baseline):
    """Least-squares VAR(p) over all sensors; call :meth:`fit` first."""

    name = "var"
    version = "1"

    def __init__(self, task: Any, **config: Any) -> None:
        self.task = task
        self.config = VARConfig(**model_settings(config))  # the suite's budget/progress dropped
        self.coef: np.ndarray | None = None  # (1 + p N, N)
        self.mu, self.sigma = 0.0, 1.0

    @property
    def n_parameters(self) -> int:
        return 0 if self.coef is None else int(self.coef.size)

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def _design(self, z: np.ndarray) -> np.ndarray:
        """Rows ``[1, z_{t-1}, ..., z_{t-p}]`` for t = p .. T-1 of a (T, N) series."""
        p, n_t = self.config.lags, len(z)
        lagged = [z[p - lag : n_t - lag] for lag in range(1, p + 1)]
        return np.concatenate([np.ones((n_t - p, 1)), *lagged], axis=1)

    def fit(self, tier: Tier = "mini") -> dict[str, Any]:
        """Standardize with the train statistics, then solve the least-squares VAR."""
        data = self.task.train_data(tier)
        col = list(data.features).index(data.target_features[0])
        v = data.x[..., col].reshape(-1, data.x.shape[2]).astype(np.float64)  # (T, N)
        self.mu, self.sigma = float(v.mean()), float(v.std()) or 1.0
        z = (v - self.mu) / self.sigma
        x = self._design(z)
        xtx = x.T @ x
        xtx[np.diag_indices_from(xtx)] += self.config.ridge * np.trace(xtx) / len(xtx)
        self.coef = np.linalg.solve(xtx, x.T @ z[self.config.lags :])
        resid = z[self.config.lags :] - x @ self.coef
        return {"train_rmse_standardized": float(np.sqrt((resid**2).mean())), "rows": len(x)}

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("call fit() before predict()")
        col = batch["features"].index(batch["target_features"][0])
        p = self.config.lags
        hist = (batch["x"][:, -p:, :, col].astype(np.float64) - self.mu) / self.sigma  # (B,p,N)
        outs = []
        for _ in range(max(self.task.steps)):
            row = np.concatenate(
                [np.ones((len(hist), 1)), *[hist[:, -lag] for lag in range(1, p + 1)]], 1
            )
            nxt = row @ self.coef
            outs.append(nxt)
            hist = np.concatenate([hist[:, 1:], nxt[:, None]], axis=1)
        y = np.stack(outs, axis=1)[:, np.asarray(self.task.steps) - 1]
        return (y * self.sigma + self.mu)[..., None].astype(np.float32)


register_baseline(
    BaselineSpec(
        "var",
        VAR,
        kinds=("forecast",),
        learned=True,
        description="vector autoregression (3 lags) over all sensors, least squares on train",
        families=("sensor_network",),
    )
)
