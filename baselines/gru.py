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
each window's context is permuted by ``default_rng([seed, window id])``
(:func:`~decathlon.baselines.shuffled.permute_frames`, the permutation of every ``-shuffled``
baseline), so it is the same permutation whichever batch the window comes in. The GRU shuffles
its own training sequences because their frames are also its targets; the other baselines are
made order-agnostic from outside (:mod:`decathlon.baselines.shuffled`).

Scale: where the task gives its inputs in raw units (``normalize=None``, e.g. CMU mocap in
metres) the network standardises them itself with the training split's mean and standard
deviation per column, also reads each frame's change from the one before, and predicts the
change to the next frame in units of the training changes' root mean square (the loss is
measured in those units too). Without this the
48-step CMU rollout diverged (ADE 6.2 m against 0.27 m for ``static``; docs/baselines.md §6).
Tasks whose inputs the suite already normalises keep the identity scaling, so their numbers
are unchanged. ``standardize=True``/``False`` forces it on or off.
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
from .shuffled import permute_frames

#: The GRU's input orders.
ORDERS = ("time", "shuffled")


@dataclass
class GRUConfig:
    """Architecture of the GRU forecaster."""

    hidden: int = 128
    layers: int = 1
    #: standardise inputs and increments with training statistics; None: where the task's
    #: inputs are raw units (``normalize=None``)
    standardize: bool | None = None
    #: ``"time"``: frames in their order; ``"shuffled"``: context frames shuffled in training and
    #: prediction (the order-agnostic reference of the temporal necessity).
    order: str = "time"

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"GRU order {self.order!r} is not one of {ORDERS}; pick one of them")


class _Net(nn.Module):
    mean: torch.Tensor
    scale: torch.Tensor
    step: torch.Tensor

    def __init__(
        self, n_in: int, cfg: GRUConfig, stats: np.ndarray | None = None, shuffled: int = 0
    ) -> None:
        super().__init__()
        self.shuffled = shuffled  # frames shuffled at the start of each training sequence
        self.increments = stats is not None  # standardised: the GRU also reads the changes
        self.gru = nn.GRU(
            n_in * (2 if self.increments else 1), cfg.hidden, cfg.layers, batch_first=True
        )
        self.head = nn.Linear(cfg.hidden, n_in)
        # rows: input mean, input scale, increment scale (identity unless ``stats`` is given)
        st = torch.as_tensor(stats if stats is not None else [[0.0], [1.0], [1.0]])
        st = st.to(torch.float32).expand(3, n_in).clone()
        self.register_buffer("mean", st[0])
        self.register_buffer("scale", st[1])
        self.register_buffer("step", st[2])

    def forward(self, seq: torch.Tensor, state: tuple | None = None) -> tuple[torch.Tensor, tuple]:
        """Frames (B, T, C) and the state after the frames before -> the predicted next frame
        at every step and the state after ``seq``."""
        h, prev = (None, None) if state is None else state
        z = (seq - self.mean) / self.scale
        if self.increments:
            before = torch.cat([seq[:, :1] if prev is None else prev, seq[:, :-1]], 1)
            z = torch.cat([z, (seq - before) / self.step], -1)
        out, h = self.gru(z, h)
        return seq + self.head(out) * self.step, (h, seq[:, -1:])

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = batch["x"].flatten(2)  # (B, T, N*F)
        m = self.shuffled
        if m:  # a fresh permutation of the first m frames per sequence; predict the rest
            perm = torch.argsort(torch.rand(x.shape[0], m, device=x.device), dim=1)
            ctx = torch.gather(x[:, :m], 1, perm[..., None].expand(-1, -1, x.shape[2]))
            x = torch.cat([ctx, x[:, m:]], 1)
        pred, _ = self(x[:, :-1])
        start = max(m - 1, 0)
        return torch.mean(((pred[:, start:] - x[:, start + 1 :]) / self.step) ** 2)


def scaling_stats(x: np.ndarray) -> np.ndarray:
    """Per column of the flattened frames of ``x`` (window, time, entity, feature): the mean,
    the standard deviation and the root mean square of the frame-to-frame change, as rows of a
    (3, entity * feature) array; scales below 1e-6 of their row's largest become 1.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(1, 3, 2, 2)  # columns rise by 4 per frame
    >>> scaling_stats(x).round(3)
    array([[4.   , 5.   , 6.   , 7.   ],
           [3.266, 3.266, 3.266, 3.266],
           [4.   , 4.   , 4.   , 4.   ]])
    """
    flat = x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
    step = np.diff(flat, axis=1).reshape(-1, flat.shape[-1])
    rows = [flat.reshape(-1, flat.shape[-1]).mean(0), flat.reshape(-1, flat.shape[-1]).std(0)]
    rows.append(np.sqrt((step**2).mean(0)) if len(step) else np.ones(flat.shape[-1]))
    for r in rows[1:]:
        r[r <= 1e-6 * max(r.max(), 1e-30)] = 1.0
    return np.stack(rows)


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
        on = self.config.standardize
        if on is None:
            on = self.task.normalize is None
        stats = scaling_stats(train.x) if on else None
        return _Net(train.x.shape[2] * train.x.shape[3], self.config, stats, shuffled)

    def _inputs(self, batch: dict[str, Any]) -> np.ndarray:
        """The context as the model reads it: in time order, or each window's own seeded
        permutation of its frames (``order="shuffled"``)."""
        x = np.asarray(batch["x"])
        if self.config.order != "shuffled":
            return x
        return permute_frames(x, batch["ids"], self.seed)

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
