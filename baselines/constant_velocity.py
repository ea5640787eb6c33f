"""``constant-velocity``: extrapolate each position with its last observed displacement."""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline
from .static import _last_present


class ConstantVelocity(Baseline):
    """Constant-velocity extrapolation from the last two observed frames.

    Position features (``pos_*``): ``p_hat[h] = p_T + h (p_T - p_{T-1})`` for ``h = 1..H``,
    which is exact under any affine normalization of positions. Other target features
    (velocities) keep their last value. With a one-frame context the displacement per frame is
    taken from the velocity features: ``v_T * batch["dt"]`` (seconds between frames, from the
    dataset's ``dt``; original units only).
    """

    name = "constant-velocity"
    version = "1"

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        feats, tf = batch["features"], batch["target_features"]
        x, mask = batch["x"], batch.get("mask")
        last = _last_present(x, mask)
        h = np.asarray(self.task.steps, dtype=np.float64)[None, :, None, None]
        if x.shape[1] >= 2:
            step = last - _last_present(x, mask, back=1)
        else:
            step = np.zeros_like(last)
            dt = batch.get("dt")
            for i, f in enumerate(feats):
                if f.startswith("pos_") and ("vel_" + f[4:]) in feats and dt is not None:
                    step[..., i] = last[..., feats.index("vel_" + f[4:])] * dt
        out = np.repeat(last[:, None], len(self.task.steps), axis=1).astype(np.float64)
        pos_cols = [feats.index(f) for f in feats if f.startswith("pos_")]
        out[..., pos_cols] += h * step[:, None][..., pos_cols]
        return out[..., [feats.index(f) for f in tf]]


register_baseline(
    BaselineSpec(
        "constant-velocity",
        ConstantVelocity,
        kinds=("forecast",),
        description="extrapolate positions with the last displacement",
    )
)
