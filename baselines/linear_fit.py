"""``linear-fit``: constant velocity with one gain per horizon step fitted on the train split.

``y_hat[h] = p_T + a_h * d_h``, where ``d_h`` is the constant-velocity displacement of
:mod:`constant_velocity` for step ``h`` and ``a_h`` is fitted by least squares on the train
windows: ``a_h = sum d_h . (y_h - p_T) / sum d_h . d_h``. With a one-frame context and velocity
inputs this is EGNN's "Linear" baseline ``x + t v`` with ``t`` learned (Satorras et al. 2021,
Table 2); with longer contexts it learns how much of the last displacement persists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline
from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import Windows, make_windows, train_sequences

from .base import Baseline
from .constant_velocity import ConstantVelocity
from .static import Static


class LinearFit(Baseline):
    """Fitted-gain constant velocity; call :meth:`fit` first."""

    name = "linear-fit"
    version = "1"

    def __init__(self, task: Any, **_: Any) -> None:
        self.task = task
        self.gain: np.ndarray | None = None
        self._cv, self._static = ConstantVelocity(task), Static(task)

    @property
    def n_parameters(self) -> int:
        return 0 if self.gain is None else int(self.gain.size)

    def config_dict(self) -> dict[str, Any]:
        return {"gain": None if self.gain is None else self.gain.tolist()}

    def _parts(self, batch: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        base = self._static.predict(batch).astype(np.float64)
        return base, self._cv.predict(batch).astype(np.float64) - base

    def fit(self, tier: Tier = "mini") -> dict[str, Any]:
        """Least-squares gains on the train split's windows (closed form)."""
        w = self._train_windows(tier)
        batch = {
            "ids": w.ids,
            "x": w.x,
            "mask": w.mask_x,
            "constants": w.constants,
            "features": w.features,
            "target_features": w.target_features,
            "dt": w.dt,
        }
        base, d = self._parts(batch)
        r = w.y - base
        m = np.ones(w.y.shape[:3], bool) if w.mask_y is None else w.mask_y
        num = np.einsum("whnf,whnf,whn->h", d, r, m)
        den = np.einsum("whnf,whnf,whn->h", d, d, m)
        self.gain = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
        return {"gain": self.gain.tolist(), "train_windows": len(w)}

    def _train_windows(self, tier: Tier) -> Windows:
        """The task's windows on the train split; if its sequences are too short for the task's
        context (NRI trains on 49 frames, tests 49 + 20), the longest context that fits."""
        try:
            return make_windows(self.task, "train", tier)
        except ValueError:
            seq = train_sequences(self.task, "train", tier)
            c = seq.x.shape[1] - max(self.task.steps)
            if c < 2:
                raise ValueError(
                    f"linear-fit: train sequences of task {self.task.name!r} are too short"
                ) from None
            cols = [seq.features.index(f) for f in self.task.targets_features(seq.features)]
            steps = c + np.asarray(self.task.steps) - 1
            mask = None if seq.mask_x is None else seq.mask_x[:, :c]
            return Windows(
                seq.ids,
                seq.x[:, :c],
                seq.x[:, steps][..., cols],
                seq.sample,
                seq.start,
                seq.features,
                [seq.features[i] for i in cols],
                mask,
                None if seq.mask_x is None else seq.mask_x[:, steps],
                seq.constants,
                dt=seq.dt,
            )

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        if self.gain is None:
            raise RuntimeError("call fit() before predict()")
        base, d = self._parts(batch)
        return base + self.gain[None, :, None, None] * d


register_baseline(
    BaselineSpec(
        "linear-fit",
        LinearFit,
        kinds=("forecast",),
        learned=True,
        description="constant velocity with per-step gains fitted on train",
    )
)
