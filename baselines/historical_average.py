"""``historical-average``: the mean train speed of each sensor at each time of the week.

For every sensor and every 5-minute slot of the week (2016 slots), the mean of the speeds
recorded in that slot over the train split (missing readings excluded); the forecast for a
target step is the table's value at that step's slot, whatever the inputs. A slot never seen
in training falls back to the sensor's mean (then to the mean of all sensors). This is the
seasonal baseline of DCRNN's Table 2 ("HA": a weekly period; Li et al., ICLR 2018), fitted
once on the train split instead of on the weeks before each test point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline
from decathlon.benchmark.data import Tier

from .base import Baseline

WEEK_S = 7 * 86400.0


def week_slot(batch_x: np.ndarray, features: list[str], dt: float) -> np.ndarray:
    """Slot of the week (0 .. slots-1) of every frame, from the ``covariates_time_of_day`` and
    ``covariates_day_of_week`` input features; shape ``batch_x.shape[:2]``."""
    per_day = round(86400.0 / dt)
    tod = batch_x[:, :, 0, features.index("covariates_time_of_day")].astype(np.float64)
    dow = batch_x[:, :, 0, features.index("covariates_day_of_week")].astype(np.float64)
    return (np.rint(tod * per_day).astype(np.int64) % per_day) + per_day * dow.astype(np.int64)


class HistoricalAverage(Baseline):
    """Time-of-week mean per sensor from the train split; call :meth:`fit` first."""

    name = "historical-average"
    version = "1"

    def __init__(self, task: Any, **_: Any) -> None:
        self.task = task
        self.table: np.ndarray | None = None  # (slot, node, target_feature)

    @property
    def n_parameters(self) -> int:
        return 0 if self.table is None else int(self.table.size)

    def fit(self, tier: Tier = "mini") -> dict[str, Any]:
        """The table of means from ``task.train_data(tier)`` (one continuous sequence)."""
        data = self.task.train_data(tier)
        feats = list(data.features)
        cols = [feats.index(f) for f in data.target_features]
        dt = float(data.dt or 300.0)
        n_slots = round(WEEK_S / dt)
        x = data.x.reshape(-1, *data.x.shape[2:])  # (time, node, feature)
        slot = week_slot(x[None], feats, dt)[0]
        m = np.ones(x.shape[:2], bool) if data.mask is None else data.mask.reshape(x.shape[:2])
        vals = np.where(m[..., None], x[..., cols], 0.0).astype(np.float64)
        sums = np.zeros((n_slots, *vals.shape[1:]))
        counts = np.zeros((n_slots, vals.shape[1], 1))
        np.add.at(sums, slot, vals)
        np.add.at(counts, slot, m[..., None].astype(np.float64))
        node_mean = sums.sum(0) / np.maximum(counts.sum(0), 1)
        if not counts.sum(0).all():  # a sensor never present: the mean of all sensors
            node_mean = np.where(counts.sum(0) > 0, node_mean, sums.sum() / max(counts.sum(), 1))
        self.table = np.where(counts > 0, sums / np.maximum(counts, 1), node_mean[None])
        return {"slots_seen": int((counts.sum((1, 2)) > 0).sum()), "slots": n_slots}

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        if self.table is None:
            raise RuntimeError("call fit() before predict()")
        dt = float(batch["dt"] or 300.0)
        last = week_slot(batch["x"][:, -1:], batch["features"], dt)[:, 0]  # (B,)
        steps = np.asarray(self.task.steps)
        slots = (last[:, None] + steps[None]) % len(self.table)  # (B, H)
        return self.table[slots].astype(np.float32)


register_baseline(
    BaselineSpec(
        "historical-average",
        HistoricalAverage,
        kinds=("forecast",),
        learned=True,
        description="mean train value per sensor and time of week",
        families=("sensor_network",),
    )
)
