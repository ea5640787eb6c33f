"""``gru``: a small GRU forecaster over all entities jointly, trained with the shared ``fit()``.

The state of every entity at a frame is flattened into one vector (entity x feature); a GRU
reads the sequence and predicts the change to the next frame. Training is one-step-ahead with
teacher forcing on the train split's sequences; prediction rolls out ``horizon`` steps feeding
back its own outputs. Needs a fixed number of entities (not for tasks where they come and go).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import Windows, train_sequences

from .learned import Learned, make_learned, select_outputs


@dataclass
class GRUConfig:
    """Architecture of the GRU forecaster."""

    hidden: int = 128
    layers: int = 1


class _Net(nn.Module):
    def __init__(self, n_in: int, cfg: GRUConfig) -> None:
        super().__init__()
        self.gru = nn.GRU(n_in, cfg.hidden, cfg.layers, batch_first=True)
        self.head = nn.Linear(cfg.hidden, n_in)

    def forward(self, seq: torch.Tensor, h: torch.Tensor | None = None):
        out, h = self.gru(seq, h)
        return seq + self.head(out), h  # predicted next frame at every step

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = batch["x"].flatten(2)  # (B, T, N*F)
        pred, _ = self(x[:, :-1])
        return torch.mean((pred - x[:, 1:]) ** 2)


class GRUForecaster(Learned):
    """GRU baseline; call :meth:`fit` before :meth:`predict`."""

    name = "gru"
    version = "1"
    # large batches: a CPU GRU's backward pass is sequential in time, so fewer, bigger steps
    budgets = {
        "cpu": {"epochs": 20, "batch_size": 512, "lr": 3e-3},
        "paper": {"epochs": 200, "batch_size": 512, "lr": 1e-3, "patience": 10},
    }

    def training_windows(self, tier: Tier, split: str) -> Windows:
        """Whole training sequences (one-step teacher forcing along each)."""
        w = train_sequences(self.task, split, tier)
        if w.mask_x is not None and not w.mask_x.all():
            raise ValueError(
                f"the gru baseline needs a fixed set of entities; task {self.task.name!r} has "
                "entities that come and go"
            )
        return w

    def build_net(self, train: Windows) -> nn.Module:
        return _Net(train.x.shape[2] * train.x.shape[3], self.config)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        net = self._inference()
        x = torch.as_tensor(batch["x"], dtype=torch.float32, device=self.device)
        b, _, n, f = x.shape
        pred, h = net(x.flatten(2))
        cur = pred[:, -1:]
        outs = [cur]
        for _ in range(self.task.horizon - 1):
            cur, h = net(cur, h)
            outs.append(cur)
        y = torch.cat(outs, 1).reshape(b, self.task.horizon, n, f)
        return select_outputs(y, self.task, batch, rolled=True)


def _make(task: Any, **config: Any) -> Learned:
    return make_learned(GRUForecaster, GRUConfig, task, **config)
