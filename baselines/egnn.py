"""``egnn``: the E(n)-equivariant graph network of Satorras, Hoogeboom and Welling (ICML 2021).

Written from the paper (section 3 and the velocity variant of section 3.2, equations 3-7) and
the architecture of its reference implementation ``vgsatorras/egnn``
(``n_body_system/model.py`` ``EGNN_vel``, ``main_nbody.py``): node features ``h`` start from
the speed ``|v_i|``; each layer computes messages on the fully connected graph
``m_ij = phi_e(h_i, h_j, |x_i - x_j|^2, a_ij)`` with edge attributes ``a_ij`` (the product of
the charges ``q_i q_j`` where the task gives charges, and the initial squared distance), moves
the positions ``x_i += mean_j (x_i - x_j) phi_x(m_ij) + phi_v(h_i) v_i`` and updates
``h_i += phi_h(h_i, sum_j m_ij)``. Four layers of 64 features, SiLU, Adam with learning rate
5e-4 and weight decay 1e-12, batches of 100, no gradient clipping (``main_nbody.py``'s
defaults). Every operation acts on differences of positions, on velocities through scalar
factors, and on rotation-invariant scalars, so the model is exactly equivariant to rotations,
reflections, translations and permutations of the particles: its equivariance probes measure
only float round-off (a test checks it).

Tasks:

* ``particles/nbody-forecast`` (EGNN's own): positions at frame 30 in, positions 1000
  integration steps later out, in original units; published test MSE 0.0071 (EGNN Table 2;
  linear 0.0819).
* ``particles/springs-forecast`` and ``particles/charged-forecast``: one step at a time from the
  last context frame (positions and velocities out: a second equivariant vector from the last
  layer, ``v_i + phi_u(h_i) v_i + mean_j (x_i - x_j) psi(m_ij)``), rolled out over the 20
  steps.
  The inputs are scaled to [-1, 1] by the task; the network undoes the scaling (one shift and
  scale per variable) to act on physical vectors and scales its outputs back, so rotations
  stay rotations. The box walls of these systems break translation and rotation symmetry: the
  network is equivariant, the physics is not quite. The network cannot see the walls, and a
  rolled-out particle that misses one flies on: each rolled-out coordinate is kept within 1.5
  times the largest magnitude of its column in the training split (a symmetric box, so quarter
  turns, reflections and relabellings still commute with it; without it one springs test window
  in 500 overflowed to NaN after training at the ``cpu`` budget).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import Windows

from .learned import Learned, make_learned, select_outputs

__all__ = ["EGNNConfig", "EGNN", "EGNNForecaster", "EGNN_TASKS"]

#: The tasks EGNN serves (positions and velocities of particles).
EGNN_TASKS = (
    "particles/nbody-forecast",
    "particles/springs-forecast",
    "particles/charged-forecast",
)


@dataclass
class EGNNConfig:
    """Architecture of the EGNN (``vgsatorras/egnn`` ``main_nbody.py`` defaults)."""

    hidden: int = 64
    layers: int = 4
    #: frames between training windows of a sequence (0: 4 for N-body, 12 for the one-step
    #: windows of springs and charged, which have 12x as many frames to start from)
    stride: int = 1


def _mlp(n_in: int, hidden: int, n_out: int, last_act: bool = False) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out)]
    return nn.Sequential(*mods, nn.SiLU()) if last_act else nn.Sequential(*mods)


def _small(mlp: nn.Sequential) -> None:
    last = mlp[-1]
    if isinstance(last, nn.Linear):
        nn.init.xavier_uniform_(last.weight, gain=0.001)


class _Layer(nn.Module):
    """One equivariant layer (EGNN eqs. 3-7, velocity variant)."""

    def __init__(self, hidden: int, n_edge: int) -> None:
        super().__init__()
        self.phi_e = _mlp(2 * hidden + 1 + n_edge, hidden, hidden, last_act=True)
        self.phi_h = _mlp(2 * hidden, hidden, hidden)
        self.phi_v = _mlp(hidden, hidden, 1)
        self.phi_x = _mlp(hidden, hidden, 1)
        _small(self.phi_x)  # small initial moves, as the reference (xavier, gain 0.001)

    def forward(
        self, h: torch.Tensor, x: torch.Tensor, v: torch.Tensor, edge: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = h.shape[1]
        diff = x[:, :, None] - x[:, None]  # (B, N, N, d): x_i - x_j
        radial = (diff**2).sum(-1, keepdim=True)
        hi = h[:, :, None].expand(-1, -1, n, -1)
        hj = h[:, None].expand(-1, n, -1, -1)
        off = 1.0 - torch.eye(n, device=h.device, dtype=h.dtype)[None, :, :, None]
        m = self.phi_e(torch.cat([hi, hj, radial, edge], -1)) * off  # no self-messages
        move = (diff * self.phi_x(m)).clamp(-100, 100).sum(2) / max(n - 1, 1)
        x = x + move + self.phi_v(h) * v
        h = h + self.phi_h(torch.cat([h, m.sum(2)], -1))
        return h, x, m


class EGNN(nn.Module):
    """EGNN on (B, N, d) positions and velocities; returns new positions (and velocities when
    ``velocities=True``), each (B, N, d)."""

    def __init__(self, cfg: EGNNConfig, n_edge: int, velocities: bool) -> None:
        super().__init__()
        self.embed = nn.Linear(1, cfg.hidden)
        self.layers = nn.ModuleList(_Layer(cfg.hidden, n_edge) for _ in range(cfg.layers))
        self.velocities = velocities
        if velocities:  # a change of velocity, near zero at the start (stable rollouts)
            self.u_node = _mlp(cfg.hidden, cfg.hidden, 1)
            self.u_edge = _mlp(cfg.hidden, cfg.hidden, 1)
            for mlp in (self.u_node, self.u_edge):
                _small(mlp)

    def forward(
        self, x: torch.Tensor, v: torch.Tensor, charges: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        n = x.shape[1]
        d2 = ((x[:, :, None] - x[:, None]) ** 2).sum(-1, keepdim=True)
        if charges is not None:
            qq = (charges[:, :, None] * charges[:, None])[..., None]
            d2 = torch.cat([qq, d2], -1)
        edge = d2
        h = self.embed(v.norm(dim=-1, keepdim=True))
        x0 = x
        m = None
        for layer in self.layers:
            h, x, m = layer(h, x, v, edge)
        if not self.velocities or m is None:
            return x, None
        diff = x0[:, :, None] - x0[:, None]
        u = v + self.u_node(h) * v + (diff * self.u_edge(m)).sum(2) / max(n - 1, 1)
        return x, u


class _Net(nn.Module):
    """EGNN between the task's (scaled) feature columns and physical vectors."""

    lo: torch.Tensor
    hi: torch.Tensor
    bound: torch.Tensor

    def __init__(
        self, cfg: EGNNConfig, cols: dict[str, Any], n_feat: int, lo: Any, hi: Any
    ) -> None:
        super().__init__()
        self.pos, self.vel = cols["pos"], cols["vel"]
        self.egnn = EGNN(cfg, n_edge=1 + int(cols["charge"] != []), velocities=cols["out_vel"])
        self.charge = cols["charge"]
        self.n_feat = n_feat
        self.scaled = lo is not None
        self.register_buffer("lo", torch.as_tensor(-1.0 if lo is None else lo, dtype=torch.float32))
        self.register_buffer("hi", torch.as_tensor(1.0 if hi is None else hi, dtype=torch.float32))
        self.register_buffer("bound", 1.5 * torch.maximum(self.lo.abs(), self.hi.abs()))

    def step(self, frame: torch.Tensor, consts: torch.Tensor | None) -> torch.Tensor:
        """(B, N, F) scaled features -> the next frame (B, N, F): positions (and velocities)
        predicted, other columns kept."""
        phys = (frame + 1) / 2 * (self.hi - self.lo) + self.lo if self.scaled else frame
        q = None if consts is None or not self.charge else consts[..., self.charge[0]]
        x, u = self.egnn(phys[..., self.pos], phys[..., self.vel], q)
        out = phys.clone()
        out[..., self.pos] = x
        if u is not None:
            out[..., self.vel] = u
        if self.scaled:  # rollouts: stay within 1.5x the training range (see the module text)
            out = torch.maximum(torch.minimum(out, self.bound), -self.bound)
        return 2 * (out - self.lo) / (self.hi - self.lo) - 1 if self.scaled else out

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pred = self.step(batch["x"][:, -1], batch.get("constants"))
        cols = self.pos if batch["y"].shape[-1] != self.n_feat else list(range(self.n_feat))
        return ((pred[..., cols] - batch["y"][:, 0]) ** 2).mean()


def _columns(features: list[str], constants: list[str], direct: bool) -> dict[str, Any]:
    """Where positions, velocities and charges are, by name (``pos_*``, ``vel_*``, ``*charge``)."""
    cols: dict[str, Any] = {
        "pos": [i for i, f in enumerate(features) if f.startswith("pos_")],
        "vel": [i for i, f in enumerate(features) if f.startswith("vel_")],
        "charge": [i for i, f in enumerate(constants) if f.endswith("charge")],
        "out_vel": not direct,
    }
    if not cols["pos"] or len(cols["pos"]) != len(cols["vel"]):
        raise ValueError(
            f"the egnn baseline needs position and velocity columns (pos_*, vel_*) of the same "
            f"dimension; got features {features}"
        )
    return cols


class EGNNForecaster(Learned):
    """EGNN baseline; call :meth:`fit` before :meth:`predict`."""

    name = "egnn"
    version = "1"
    budgets = {
        # mini tier: 500 N-body systems, 2000 springs/charged simulations on two cores
        "cpu": {"epochs": 20, "batch_size": 100, "lr": 5e-4, "grad_clip": 0.0, "stride": 0},
        # EGNN main_nbody.py: lr 5e-4, weight decay 1e-12, batches of 100, up to 10000 epochs
        # with early stopping on the validation loss (here: patience 50)
        "paper": {
            "epochs": 10000,
            "batch_size": 100,
            "lr": 5e-4,
            "weight_decay": 1e-12,
            "grad_clip": 0.0,
            "patience": 50,
            "stride": 1,
        },
    }

    @property
    def direct(self) -> bool:
        """One prediction of the task's single step (N-body), else one-step rollouts."""
        return len(self.task.steps) == 1

    def training_windows(self, tier: Tier, split: str) -> Windows:
        data = self.task.train_data(tier, split)
        stride = self.config.stride or (4 if self.direct else 12)
        if self.direct:  # EGNN's protocol: one frame in, the frame ``steps[0]`` later out
            return data.windows(stride=stride, context=1)
        data = replace(data, target_features=data.features)
        return data.windows(stride=stride, context=1, horizon=1)

    def build_net(self, train: Windows) -> nn.Module:
        cols = _columns(train.features, train.constant_features, self.direct)
        lo, hi = (None, None) if train.ranges is None else train.ranges
        return _Net(self.config, cols, len(train.features), lo, hi)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        net = cast(_Net, self._inference())
        x = torch.as_tensor(batch["x"], dtype=torch.float32, device=self.device)[:, -1]
        consts = batch.get("constants")
        c = (
            None
            if consts is None
            else torch.as_tensor(consts, dtype=torch.float32, device=self.device)
        )
        if self.direct:
            return select_outputs(net.step(x, c)[:, None][..., net.pos], self.task, batch, False)
        outs = []
        for _ in range(self.task.horizon):
            x = net.step(x, c)
            outs.append(x)
        return select_outputs(torch.stack(outs, 1), self.task, batch, rolled=True)


def _make(task: Any, **config: Any) -> Learned:
    return make_learned(EGNNForecaster, EGNNConfig, task, **config)
