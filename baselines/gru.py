"""``gru``: a small GRU forecaster over all entities jointly, trained with the shared ``fit()``.

The state of every entity at a frame is flattened into one vector (entity x feature); a GRU
reads the sequence and predicts the change to the next frame. Training is one-step-ahead with
teacher forcing on the train split's sequences; prediction rolls out ``horizon`` steps feeding
back its own outputs. Needs a fixed number of entities (not for tasks where they come and go).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import train_sequences

from .base import Baseline
from .fit import FitConfig, fit, pick_device


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


class GRUForecaster(Baseline):
    """GRU baseline; call :meth:`fit` before :meth:`predict`."""

    name = "gru"
    version = "1"

    def __init__(
        self, task: Any, config: GRUConfig | None = None, fit_config: FitConfig | None = None
    ) -> None:
        self.task = task
        self.config = config or GRUConfig()
        self.fit_config = fit_config or FitConfig()
        self.net: _Net | None = None
        self.history: dict[str, Any] = {}
        self.device = pick_device(self.fit_config.device)
        self.seed = self.fit_config.seed

    @property
    def n_parameters(self) -> int:
        return 0 if self.net is None else sum(p.numel() for p in self.net.parameters())

    def config_dict(self) -> dict[str, Any]:
        return {
            "model": asdict(self.config),
            "fit": self.fit_config.to_dict(),
            "best_epoch": self.history.get("best_epoch"),
        }

    def fit(self, tier: Tier = "mini") -> dict[str, Any]:
        """Train on the task's train split (early stopping on its valid split)."""
        train = train_sequences(self.task, "train", tier)
        valid = train_sequences(self.task, "valid", tier)
        if train.mask_x is not None and not train.mask_x.all():
            raise ValueError(
                f"the gru baseline needs a fixed set of entities; task {self.task.name!r} has "
                "entities that come and go"
            )
        n_in = train.x.shape[2] * train.x.shape[3]
        torch.manual_seed(self.fit_config.seed)
        self.net = _Net(n_in, self.config)
        self.history = fit(self.net, train, valid, self.fit_config)
        self.device = torch.device(self.history["device"])
        return self.history

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("call fit() before predict()")
        self.net.train(False)  # inference mode
        x = torch.as_tensor(batch["x"], dtype=torch.float32, device=self.device)
        b, _, n, f = x.shape
        pred, h = self.net(x.flatten(2))
        cur = pred[:, -1:]
        outs = [cur]
        for _ in range(self.task.horizon - 1):
            cur, h = self.net(cur, h)
            outs.append(cur)
        y = torch.cat(outs, 1).reshape(b, self.task.horizon, n, f)[
            :, [k - 1 for k in self.task.steps]
        ]
        cols = [batch["features"].index(c) for c in batch["target_features"]]
        return y[..., cols].cpu().numpy()


def _make(task: Any, **config: Any) -> GRUForecaster:
    fit_keys = set(FitConfig.__dataclass_fields__)
    # large batches: a CPU GRU's backward pass is sequential in time, so fewer, bigger steps
    fit_cfg = {"batch_size": 512, "lr": 3e-3, **{k: v for k, v in config.items() if k in fit_keys}}
    return GRUForecaster(
        task,
        GRUConfig(**{k: v for k, v in config.items() if k not in fit_keys}),
        FitConfig(**fit_cfg),
    )
