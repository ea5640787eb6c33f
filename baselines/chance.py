"""``chance``: the same score for every edge or entity, the trivial graph and classify baseline
(AUROC 0.5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline


class Chance(Baseline):
    """Score 0.5 for every ordered pair (graph tasks) or every entity (classify tasks): no
    information, AUROC exactly 0.5, nothing predicted positive."""

    name = "chance"
    version = "1"

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        b, _, n, _ = batch["x"].shape
        if self.task.kind == "classify":  # one label per window or one per entity
            return np.full((b, 1 if self.task.extra.get("per_window") else n), 0.5)
        return np.full((b, n, n), 0.5)


register_baseline(
    BaselineSpec("chance", Chance, kinds=("graph", "classify"), description="constant score 0.5")
)
