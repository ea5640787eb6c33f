"""``cell-age``: a cell's probability of dividing soon grows with the time since its birth."""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from .base import Baseline

#: Age (s) at which the score reaches 1/2: about one HeLa cell cycle (~20 h at 30 min/frame;
#: the 92 frames of a CTC HeLa sequence hold a few generations), a scale only: AUROC and
#: average precision depend on the ranking of the scores, which any increasing map keeps.
HALF_AGE_S = 20 * 3600.0


class CellAge(Baseline):
    """Score ``age / (age + HALF_AGE_S)`` from the input feature ``state_age`` (seconds since the
    cell's track began, a lower bound for cells already there in the first frame) at the last
    context frame: older cells are closer to mitosis (a cell-cycle clock, no learning).
    """

    name = "cell-age"
    version = "1"

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        feats = list(batch["features"])
        if "state_age" not in feats:
            raise ValueError(
                f"cell-age needs an input feature 'state_age'; task {self.task.name!r} gives "
                f"{feats}: use it on cells/ctc-hela-division"
            )
        age = np.maximum(batch["x"][:, -1, :, feats.index("state_age")].astype(np.float64), 0.0)
        return age / (age + HALF_AGE_S)


register_baseline(
    BaselineSpec(
        "cell-age",
        CellAge,
        kinds=("classify",),
        description="division probability rising with the time since the cell's birth",
        tasks=("cells/ctc-hela-division",),  # needs the state_age input
    )
)
