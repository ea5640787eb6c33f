"""``context-mean``: forecast every step with the mean of the context frames, blind to their order.

The order-free counterpart of ``static`` (which repeats the *last* frame): the prediction for
every horizon step is each entity's mean over the context frames in which it is present, a
symmetric function of the frames, so permuting them cannot change it. It is an order-agnostic
reference of the temporal necessity ``N`` for forecasts (``docs/probes.md`` §2), like
``train-mean`` for the swarm parameters and ``chance`` for the arrow of time: a floor that an
order-agnostic model must beat, needing no training. On moving entities it lags by half the
context; on a sensor network it is a smoothed persistence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline


def context_mean(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Mean of ``x`` (window, time, entity, feature) over time, counting only the frames where
    ``mask`` (window, time, entity) is true; an entity never present gets the mean of all its
    frames (whatever they hold: its score is masked), still a symmetric function of the frames.

    Examples
    --------
    >>> x = np.arange(6.0).reshape(1, 3, 1, 2)  # frames (0, 1), (2, 3), (4, 5)
    >>> context_mean(x, None)[0, 0].tolist()
    [2.0, 3.0]
    >>> context_mean(x, np.array([[[True], [False], [True]]]))[0, 0].tolist()
    [2.0, 3.0]
    >>> context_mean(x[:, ::-1], None)[0, 0].tolist()  # any order of the frames
    [2.0, 3.0]
    """
    x = np.asarray(x, dtype=np.float64)
    if mask is None:
        return x.mean(axis=1)
    m = np.asarray(mask, dtype=bool)[..., None]
    count = m.sum(axis=1)
    total = np.where(m, x, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), x.mean(axis=1))


class ContextMean(Baseline):
    """``y_hat[w, h] = mean_t x[w, t, :, targets]`` for every step ``h`` (no training)."""

    name = "context-mean"
    version = "1"

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        cols = [batch["features"].index(f) for f in batch["target_features"]]
        mean = context_mean(batch["x"][..., cols], batch.get("mask"))
        return np.repeat(mean[:, None], len(self.task.steps), axis=1)


register_baseline(
    BaselineSpec(
        "context-mean",
        ContextMean,
        kinds=("forecast",),
        description="the mean of the context frames for every step: blind to frame order",
    )
)
