"""``arrow-cnn``: a small 1-D convolutional network over time, for the arrow of time.

Each entity's sequence of features (positions and velocities, scaled per clip) is read by two
1-D convolutions over time shared by all entities (kernel 5, ReLU), averaged over time and over
the entities present, and mapped to the logit of "this clip plays forward". Averaging over the
entities makes it blind to their order and lets it take any number of them; the convolutions
see the order of the frames, so it can learn trends (and, on reversible physics, nothing: see
the ``auroc_bias`` metrics). Trained with the binary cross-entropy through the one shared
``fit()`` (:mod:`decathlon.baselines.fit`) on the task's train windows, selected on its valid
windows. Serves ``arrow/forward-backward``, ``arrow/forward-backward-positions`` (positions
only: the convolutions take differences of frames themselves) and ``arrow/pedestrians``
(``docs/protocols.md`` §9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import Windows, make_windows

from .learned import Learned, make_learned


@dataclass
class ArrowCNNConfig:
    """Architecture of the arrow-of-time CNN."""

    hidden: int = 64
    kernel: int = 5


class _Net(nn.Module):
    def __init__(self, n_feat: int, cfg: ArrowCNNConfig) -> None:
        super().__init__()
        pad = cfg.kernel // 2
        self.conv = nn.Sequential(
            nn.Conv1d(n_feat, cfg.hidden, cfg.kernel, padding=pad),
            nn.ReLU(),
            nn.Conv1d(cfg.hidden, cfg.hidden, cfg.kernel, padding=pad),
            nn.ReLU(),
        )
        self.head = nn.Linear(cfg.hidden, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, 1) of clips ``x`` (B, T, E, F); ``mask`` (B, T, E) present entities."""
        b, t, e, f = x.shape
        h = self.conv(x.permute(0, 2, 3, 1).reshape(b * e, f, t)).mean(-1).reshape(b, e, -1)
        if mask is None:
            pooled = h.mean(1)
        else:
            m = mask.any(1).to(h.dtype)[..., None]  # (B, E, 1)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logit = self(batch["x"], batch.get("mask"))
        return nn.functional.binary_cross_entropy_with_logits(logit.float(), batch["y"])


class ArrowCNN(Learned):
    """1-D CNN classifier of the direction of time; call :meth:`fit` before :meth:`predict`."""

    name = "arrow-cnn"
    version = "1"
    budgets = {
        "cpu": {"epochs": 8, "batch_size": 256, "lr": 3e-3, "patience": 3},
        "paper": {"epochs": 60, "batch_size": 256, "lr": 1e-3, "patience": 8},
    }

    def training_windows(self, tier: Tier, split: str) -> Windows:
        """The task's own windows (both directions of every clip, labelled)."""
        return make_windows(self.task, split, tier)

    def build_net(self, train: Windows) -> nn.Module:
        return _Net(train.x.shape[-1], self.config)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        net = self._inference()
        x = torch.as_tensor(batch["x"], dtype=torch.float32, device=self.device)
        mask = batch.get("mask")
        m = None if mask is None else torch.as_tensor(mask, device=self.device)
        return torch.sigmoid(net(x, m)).float().cpu().numpy()


def _make(task: Any, **config: Any) -> Learned:
    return make_learned(ArrowCNN, ArrowCNNConfig, task, **config)
