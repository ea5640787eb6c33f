"""``static``: repeat the last context frame (persistence), the trivial forecaster."""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline


class Static(Baseline):
    """Predict the last observed frame of every target feature for every horizon step.

    ``y_hat[w, h] = x[w, -1, :, targets]`` for all ``h``. For masked inputs the last frame in
    which each entity was present is used.
    """

    name = "static"
    version = "1"

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        cols = [batch["features"].index(f) for f in batch["target_features"]]
        last = _last_present(batch["x"], batch.get("mask"))[..., cols]
        return np.repeat(last[:, None], len(self.task.steps), axis=1)


def _last_present(x: np.ndarray, mask: np.ndarray | None, back: int = 0) -> np.ndarray:
    """Frame ``-1 - back`` of each entity, or its last present one when a mask is given."""
    if mask is None:
        return x[:, -1 - back]
    t = x.shape[1]
    idx = np.where(mask, np.arange(t)[None, :, None], -1).max(axis=1) - back  # (B, N)
    idx = np.clip(idx, 0, t - 1)
    return np.take_along_axis(x, idx[:, None, :, None], axis=1)[:, 0]


register_baseline(
    BaselineSpec("static", Static, kinds=("forecast",), description="repeat the last context frame")
)
