"""``train-mean``: the mean of the training targets, the trivial baseline of ``regress`` tasks.

Predicts, for every window, the mean over the train split of each generating parameter. Its
R^2 on the test split is about 0 (exactly 0 when the test mean equals the train mean, slightly
negative otherwise): the anchor of the decathlon points of parameter regression
(``docs/probes.md`` §4), like chance for graphs and the static forecast for forecasts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline
from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import make_windows

from .base import Baseline


class TrainMean(Baseline):
    """The train split's mean parameter vector for every window. Not trained: the evaluator
    hands it the tier it evaluates (:meth:`use_tier`, ``evaluate.use_tier``) and it reads that
    tier's train split."""

    name = "train-mean"
    version = "1"

    def __init__(self, task: Any, **_: Any) -> None:
        self.task = task
        self.mean: np.ndarray | None = None

    @property
    def n_parameters(self) -> int:
        return 0 if self.mean is None else int(self.mean.size)

    def config_dict(self) -> dict[str, Any]:
        return {"mean": None if self.mean is None else self.mean.tolist()}

    def use_tier(self, tier: Tier = "mini") -> dict[str, Any]:
        """Read the mean of the train split's targets (original units) at ``tier``."""
        w = make_windows(self.task, "train", tier)
        self.mean = np.asarray(w.y, dtype=np.float64).mean(0)
        return {"mean": self.mean.tolist(), "train_windows": len(w)}

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        if self.mean is None:
            raise RuntimeError("call use_tier(tier) before predict() (evaluate() does)")
        return np.broadcast_to(self.mean, (len(batch["x"]), len(self.mean))).copy()


register_baseline(
    BaselineSpec(
        "train-mean",
        TrainMean,
        kinds=("regress",),
        description="the train split's mean of each target parameter (R^2 ~ 0)",
    )
)
