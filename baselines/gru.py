"""``gru``: a small GRU forecaster over all entities jointly, trained with the shared ``fit()``.

The state of every entity at a frame is flattened into one vector (entity x feature); a GRU
reads the sequence and predicts the change to the next frame. Training is one-step-ahead with
teacher forcing on the train split's sequences; prediction rolls out ``horizon`` steps feeding
back its own outputs. Needs a fixed number of entities (not for tasks where they come and go).

``gru-shuffled`` is the same network with ``order="shuffled"``: the order-agnostic reference of
the temporal necessity ``N`` (``docs/probes.md`` §2, after Sevilla-Lara et al., WACV 2021). It
is trained *and* tested on inputs whose context frames are shuffled: in training, the first
``L - min(horizon, L - 1)`` frames of each sequence of ``L`` are permuted by a fresh random
permutation per sequence and batch (torch's generator, seeded by ``fit``), and only the frames
after them are predicted (teacher-forced in order, as the rollout sees them); in prediction,
each window's context is permuted by ``default_rng([seed, window id])``, so it is the same
permutation whichever batch the window comes in.
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

#: The GRU's input orders.
ORDERS = ("time", "shuffled")


@dataclass
class GRUConfig:
    """Architecture of the GRU forecaster."""

    hidden: int = 128
    layers: int = 1
    #: ``"time"``: frames in their order; ``"shuffled"``: context frames shuffled in training and
    #: prediction (the order-agnostic reference of the temporal necessity).
    order: str = "time"

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"GRU order {self.order!r} is not one of {ORDERS}; pick one of them")


class _Net(nn.Module):
    def __init__(self, n_in: int, cfg: GRUConfig, shuffled: int = 0) -> None:
        super().__init__()
        self.gru = nn.GRU(n_in, cfg.hidden, cfg.layers, batch_first=True)
        self.head = nn.Linear(cfg.hidden, n_in)
        self.shuffled = shuffled  # frames shuffled at the start of each training sequence

    def forward(self, seq: torch.Tensor, h: torch.Tensor | None = None):
        out, h = self.gru(seq, h)
        return seq + self.head(out), h  # predicted next frame at every step

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = batch["x"].flatten(2)  # (B, T, N*F)
        m = self.shuffled
        if m:  # a fresh permutation of the first m frames per sequence; predict the rest
            perm = torch.argsort(torch.rand(x.shape[0], m, device=x.device), dim=1)
            ctx = torch.gather(x[:, :m], 1, perm[..., None].expand(-1, -1, x.shape[2]))
            x = torch.cat([ctx, x[:, m:]], 1)
            pred, _ = self(x[:, :-1])
            return torch.mean((pred[:, m - 1 :] - x[:, m:]) ** 2)
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
        length = train.x.shape[1]
        shuffled = 0
        if self.config.order == "shuffled":
            if length < 2:
                raise ValueError(
                    f"gru-shuffled needs training sequences of at least 2 frames; task "
                    f"{self.task.name!r} has {length}: use the gru baseline"
                )
            shuffled = length - min(self.task.horizon, length - 1)
        return _Net(train.x.shape[2] * train.x.shape[3], self.config, shuffled)

    def _inputs(self, batch: dict[str, Any]) -> np.ndarray:
        """The context as the model reads it: in time order, or each window's own seeded
        permutation of its frames (``order="shuffled"``)."""
        x = np.asarray(batch["x"])
        if self.config.order != "shuffled":
            return x
        c = x.shape[1]
        idx = np.stack(
            [np.random.default_rng([self.seed, int(i)]).permutation(c) for i in batch["ids"]]
        )
        return np.take_along_axis(x, idx.reshape(*idx.shape, *([1] * (x.ndim - 2))), axis=1)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        net = self._inference()
        x = torch.as_tensor(self._inputs(batch), dtype=torch.float32, device=self.device)
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


class ShuffledGRUForecaster(GRUForecaster):
    """The GRU trained and tested on shuffled context frames (``order="shuffled"``)."""

    name = "gru-shuffled"


def _make_shuffled(task: Any, **config: Any) -> Learned:
    return make_learned(ShuffledGRUForecaster, GRUConfig, task, **{**config, "order": "shuffled"})
