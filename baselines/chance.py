"""``chance``: the same score for every edge, the trivial graph baseline (AUROC 0.5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline


class Chance(Baseline):
    """Score 0.5 for every ordered pair: no information, AUROC exactly 0.5, no edge predicted."""

    name = "chance"
    version = "1"

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        b, _, n, _ = batch["x"].shape
        return np.full((b, n, n), 0.5)


register_baseline(
    BaselineSpec("chance", Chance, kinds=("graph",), description="constant edge score 0.5")
)
