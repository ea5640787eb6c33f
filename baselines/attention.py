"""``attention`` and ``attention-nopos``: a small Transformer encoder over time, per entity.

Each entity's frames are tokens: the entity's features at a frame, the mean over the entities
present at that frame and the entity's constants (charges ...), embedded linearly. A
Transformer encoder (Vaswani et al. 2017, pre-norm layers) attends over the frames of each
entity; its outputs are averaged over the frames present and a linear head predicts the next
``chunk`` frames of every feature, added to the entity's mean over the frames. Longer horizons
are rolled out: the predicted frames are appended to the context and the model is applied again.

The two variants differ only in the **positional encoding** (sinusoidal, of the number of frames
before the forecast origin) and what follows from it: with positions the model reads the last
frames of the context up to the length it was trained on (a longer test context would meet
encodings it never saw; on springs, trained on 29 frames and tested on 49, reading all 49 with
the older positions clamped made its error 5x that of the order-blind variant,
docs/baselines.md), a sliding window during rollouts; without positions it reads every frame, a
set. Without it (``attention-nopos``) self-attention is equivariant to any permutation of the
frames and the mean over frames is invariant, so the forecast is a
function of the *set* of context frames: blind to their order. Its shuffle probe must then
show no change at all (up to float round-off), and its reversal probe only the change that
negating velocities makes (docs/probes.md §1). This is the decathlon's question made concrete:
``attention`` and ``attention-nopos`` have the same architecture and data, one can use time's
order and the other cannot (docs/baselines.md).

Training windows are cut from the task's training sequences (``task.train_data``): the task's
context and horizon where the sequences are long enough, else a shorter context (at least half
the sequence) and a shorter chunk that is rolled out (NRI's 49-frame training simulations for
a 49 + 20 frame test window, Kipf et al. 2018 section 5; the 50-frame CMU windows for 50 + 48).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import Windows

from .learned import Learned, make_learned, select_outputs

__all__ = ["AttentionConfig", "AttentionForecaster", "AttentionNoPos", "geometry", "sinusoid"]


@dataclass
class AttentionConfig:
    """Architecture of the attention forecaster (``chunk=0``: chosen from the data)."""

    d_model: int = 32
    heads: int = 4
    layers: int = 2
    ff: int = 64
    dropout: float = 0.0
    positional: bool = True
    chunk: int = 0


def geometry(context: int, horizon: int, n_frames: int, chunk: int = 0) -> tuple[int, int]:
    """(training context, frames predicted per application) for sequences of ``n_frames``.

    The task's ``context`` and the whole ``horizon`` when they fit in a sequence; otherwise a
    context of at least half the sequence and the rest of it as the chunk (rolled out).

    Examples
    --------
    >>> geometry(49, 20, 49)  # NRI springs: train on 29 frames, predict 20
    (29, 20)
    >>> geometry(50, 48, 50)  # CMU walking: 25 frames, 25 at a time (two applications)
    (25, 25)
    >>> geometry(1, 10, 49), geometry(8, 12, 20)  # EGNN N-body; ETH/UCY
    ((1, 10), (8, 12))
    """
    if chunk > 0:
        return min(context, n_frames - chunk), min(chunk, horizon)
    if context + horizon <= n_frames:
        return context, horizon
    c = min(context, max(n_frames - horizon, n_frames // 2))
    return c, min(horizon, n_frames - c)


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal encodings (Vaswani et al. 2017, section 3.5) of ``positions``: (..., dim)."""
    half = torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
    freq = torch.exp(-math.log(10000.0) * half / dim)
    ang = positions.float()[..., None] * freq
    out = torch.zeros((*positions.shape, dim), device=positions.device)
    out[..., 0::2] = torch.sin(ang)
    out[..., 1::2] = torch.cos(ang[..., : dim // 2])
    return out


class _Net(nn.Module):
    max_back: torch.Tensor

    def __init__(
        self, n_feat: int, n_const: int, chunk: int, max_back: int, cfg: AttentionConfig
    ) -> None:
        super().__init__()
        self.cfg, self.chunk, self.n_feat = cfg, chunk, n_feat
        self.embed = nn.Linear(2 * n_feat + n_const, cfg.d_model)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model, cfg.heads, cfg.ff, cfg.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, chunk * n_feat)
        # the longest context seen in training (the positional variant reads no more)
        self.register_buffer("max_back", torch.tensor(max_back))

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, constants: torch.Tensor | None
    ) -> torch.Tensor:
        """x (B, T, N, F) -> the next ``chunk`` frames (B, chunk, N, F)."""
        b, t, n, f = x.shape
        pres = torch.ones(b, t, n, device=x.device) if mask is None else mask.to(x.dtype)
        crowd = (x * pres[..., None]).sum(2) / pres.sum(2).clamp_min(1)[..., None]
        parts = [x, crowd[:, :, None].expand(b, t, n, f)]
        if constants is not None:
            parts.append(constants[:, None].expand(b, t, n, constants.shape[-1]))
        tok = self.embed(torch.cat(parts, -1)).permute(0, 2, 1, 3).reshape(b * n, t, -1)
        if self.cfg.positional:
            back = torch.arange(t - 1, -1, -1, device=x.device)  # frames before the origin
            tok = tok + sinusoid(back, self.cfg.d_model)
        p = pres.permute(0, 2, 1).reshape(b * n, t)
        p = torch.where(p.sum(1, keepdim=True) > 0, p, torch.ones_like(p))  # absent throughout
        enc = self.norm(self.encoder(tok, src_key_padding_mask=p == 0))
        pooled = (enc * p[..., None]).sum(1) / p.sum(1, keepdim=True)
        xs = x.permute(0, 2, 1, 3).reshape(b * n, t, f)
        base = (xs * p[..., None]).sum(1) / p.sum(1, keepdim=True)
        out = base[:, None] + self.head(pooled).reshape(b * n, self.chunk, f)
        return out.reshape(b, n, self.chunk, f).permute(0, 2, 1, 3)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pred = self(batch["x"], batch.get("mask"), batch.get("constants"))
        err = (pred.float() - batch["y"]) ** 2
        if "mask_y" not in batch:
            return err.mean()
        m = batch["mask_y"][..., None].to(err.dtype)
        return (err * m).sum() / (m.sum() * err.shape[-1]).clamp_min(1)


class AttentionForecaster(Learned):
    """The attention forecaster; call :meth:`fit` before :meth:`predict`."""

    name = "attention"
    version = "1"
    budgets = {
        "cpu": {"epochs": 20, "batch_size": 128, "lr": 2e-3},
        "paper": {
            "epochs": 200,
            "lr": 5e-4,
            "patience": 15,
            "d_model": 128,
            "ff": 256,
            "layers": 3,
        },
    }

    def build_net(self, train: Windows) -> nn.Module:
        n_const = 0 if train.constants is None else train.constants.shape[-1]
        c, chunk = train.x.shape[1], train.y.shape[1]
        return _Net(train.x.shape[-1], n_const, chunk, c - 1, self.config)

    def training_windows(self, tier: Tier, split: str) -> Windows:
        """(context, chunk) windows of every input feature (:func:`geometry`)."""
        data = self.task.train_data(tier, split)
        data = replace(data, target_features=data.features)  # predict every feature: roll out
        c, chunk = geometry(
            self.task.context, max(self.task.steps), data.x.shape[1], self.config.chunk
        )
        if c < 1 or chunk < 1:
            raise ValueError(
                f"the {self.name} baseline needs training sequences longer than one frame; task "
                f"{self.task.name!r} has {data.x.shape[1]}"
            )
        return data.windows(context=c, horizon=chunk)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        net = cast(_Net, self._inference())
        dev = self.device
        x = torch.as_tensor(batch["x"], dtype=torch.float32, device=dev)
        mask = None if batch.get("mask") is None else torch.as_tensor(batch["mask"], device=dev)
        consts = batch.get("constants")
        c = None if consts is None else torch.as_tensor(consts, dtype=torch.float32, device=dev)
        keep = int(net.max_back) + 1 if self.config.positional else None
        outs: list[torch.Tensor] = []
        while sum(o.shape[1] for o in outs) < max(self.task.steps):
            y = net(x if keep is None else x[:, -keep:], _last(mask, keep), c)
            outs.append(y)
            x = torch.cat([x, y], 1)
            if mask is not None:
                mask = torch.cat([mask, mask[:, -1:].expand(-1, y.shape[1], -1)], 1)
        return select_outputs(torch.cat(outs, 1), self.task, batch, rolled=True)


def _last(mask: torch.Tensor | None, keep: int | None) -> torch.Tensor | None:
    return mask if mask is None or keep is None else mask[:, -keep:]


def _make(task: Any, **config: Any) -> Learned:
    return make_learned(AttentionForecaster, AttentionConfig, task, **config)


class AttentionNoPos(AttentionForecaster):
    """The attention forecaster without positional encoding: blind to the order of frames."""

    name = "attention-nopos"
    budgets = {k: {**v, "positional": False} for k, v in AttentionForecaster.budgets.items()}


def _make_nopos(task: Any, **config: Any) -> Learned:
    return make_learned(AttentionNoPos, AttentionConfig, task, **config)
