"""``nri``: Neural Relational Inference (Kipf, Fetaya, Wang, Welling, Zemel; ICML 2018).

Written from the paper (section 3: encoder eqs. 5-8, decoder eqs. 9-12, the ELBO of eq. 3) and
the architecture of its reference code ``ethanfetaya/NRI`` (``modules.py`` ``MLPEncoder``,
``MLPDecoder``; ``train.py``): a variational autoencoder whose latent code is the interaction
graph.

* **Encoder** (MLP): each entity's whole input window flattened, node -> edge -> node -> edge
  message passing over every ordered pair ``i -> j`` with a skip connection, and ``K`` logits
  per pair (the edge types).
* **Encoder** (CNN, ``encoder="cnn"``; ``modules.py`` ``CNNEncoder``, the paper's encoder for
  Kuramoto): per ordered pair a temporal convolution over the two entities' series, then
  edge -> node -> edge with a skip connection.
* **Sampling**: a Gumbel-softmax relaxation of the edge types (temperature ``tau`` 0.5) while
  training; the softmax of the logits otherwise.
* **Decoder** (MLP, Markovian): per step, a message MLP per edge type on
  ``[x_i, x_j]``, weighted by the pair's type probabilities (type 0 sends nothing with
  ``skip_first``), summed over senders, and an output MLP predicting the change of ``x_j``.
  Trained with teacher forcing every ``pred_steps`` (10) frames, as the paper.
* **Loss**: Gaussian negative log-likelihood with variance 5e-5 plus the KL divergence to a
  uniform prior over the edge types, both per entity (``train.py`` ``nll_gaussian``,
  ``kl_categorical_uniform``).

Graph tasks: the score of ``i -> j`` is the probability of an edge type; which type means
"edge" is not known to an unsupervised model, so it is chosen on the *validation* split (the
type whose probability agrees best with the true edges there), never on test
(docs/protocols.md §1.3). Forecast tasks: the encoder reads the context, the decoder rolls out
from the last context frame.

Deviations (ours): the decoder's last layer starts at zero, so that the untrained decoder
predicts "no change" and the first 10-step rollouts do not blow up; the ``cpu`` budget uses 64
hidden units instead of the paper's 256. Why NRI did not learn here before (issue 14): the
encoder had LayerNorm and torch's default initialisation instead of the reference's BatchNorm,
Xavier-normal weights and biases of 0.1, and the randomly initialised decoder's rollout error
dominated the first epochs' loss; with both, the springs graph is learned at the ``cpu`` budget
(docs/baselines.md §5-6). Kuramoto and charged particles get settings of their own
(:data:`TASK_SETTINGS`, measured in docs/baselines.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import Windows, train_sequences

from .learned import Learned, make_learned, select_outputs

__all__ = ["NRIConfig", "NRI", "NRI_TASKS", "TASK_SETTINGS"]

#: The tasks NRI serves: the NRI particle systems' graphs and forecasts, and Kuramoto's graph.
NRI_TASKS = (
    "particles/springs-graph",
    "particles/charged-graph",
    "particles/kuramoto-graph",
    "particles/springs-forecast",
    "particles/charged-forecast",
)

#: Settings per task over the budget's (a caller's settings override both); ours, not the
#: reference's (``train.py`` uses its defaults for every system). Kuramoto: the CNN
#: encoder (the paper's choice for Kuramoto, NRI section 7.1), one-step teacher forcing, and
#: the NLL on ``dphi/dt`` only: the decoder is given ``sin phi`` but not ``cos phi``, so the
#: next ``sin phi`` is not a function of its input, and that error swamped the coupling's
#: signal (ours; docs/baselines.md §5, measured: valid AUROC 0.59 -> 0.78 after 10 epochs).
TASK_SETTINGS: dict[str, dict[str, Any]] = {
    "particles/kuramoto-graph": {
        "encoder": "cnn",
        "pred_steps": 1,
        "loss_features": ["state_dphi_dt"],
    },
    # one-step teacher forcing: valid AUROC 0.51 -> 0.60 after 12 epochs (docs/baselines.md §5)
    "particles/charged-graph": {"pred_steps": 1},
}


@dataclass
class NRIConfig:
    """Architecture and ELBO settings (``ethanfetaya/NRI`` ``train.py`` defaults but hidden).

    ``encoder``: ``"mlp"`` (the reference's ``MLPEncoder``) or ``"cnn"`` (its ``CNNEncoder``,
    which the paper uses for Kuramoto: a temporal convolution over each pair's two series).
    ``loss_features``: the input features the decoder's NLL scores (empty: all, as the
    reference); the decoder still predicts and rolls out every feature.
    """

    hidden: int = 64
    edge_types: int = 2
    tau: float = 0.5
    prior_var: float = 5e-5
    pred_steps: int = 10
    skip_first: bool = True
    encoder: str = "mlp"
    loss_features: list[str] = field(default_factory=list)


class _MLP(nn.Module):
    """Linear-ELU-Linear-ELU, then BatchNorm over every node or edge of the batch
    (``modules.py`` ``MLP``)."""

    def __init__(self, n_in: int, hidden: int, n_out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, hidden), nn.ELU(), nn.Linear(hidden, n_out), nn.ELU()
        )
        self.norm = nn.BatchNorm1d(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(x)
        return self.norm(h.reshape(-1, h.shape[-1])).reshape(h.shape)


def _reference_init(module: nn.Module) -> None:
    """The encoder's initialisation in ``modules.py`` (``init_weights``): Xavier-normal weights
    and biases of 0.1. With torch's default initialisation instead the encoder learns the
    springs graph far more slowly (docs/baselines.md §5)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            nn.init.constant_(m.bias, 0.1)


class _PairCNN(nn.Module):
    """The reference's ``CNN``: per ordered pair, the sender's and receiver's series as
    ``2F`` channels, conv(5)-ReLU-BatchNorm, max-pool(2), conv(5)-ReLU-BatchNorm, then an
    attention over time (softmax of a 1x1 convolution) averaging a 1x1 convolution's output."""

    def __init__(self, n_in: int, hidden: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv1d(n_in, hidden, 5), nn.BatchNorm1d(hidden)
        self.conv2, self.bn2 = nn.Conv1d(hidden, hidden, 5), nn.BatchNorm1d(hidden)
        self.pred, self.attend = nn.Conv1d(hidden, hidden, 1), nn.Conv1d(hidden, 1, 1)
        for conv in (self.conv1, self.conv2, self.pred, self.attend):
            # modules.py CNN.init_weights: normal(0, sqrt(2 / (kernel * out_channels)))
            nn.init.normal_(
                conv.weight, 0.0, float(np.sqrt(2.0 / (conv.kernel_size[0] * conv.out_channels)))
            )
            nn.init.constant_(cast(torch.Tensor, conv.bias), 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(pairs, 2F, T) -> (pairs, hidden)."""
        h = F.max_pool1d(self.bn1(F.relu(self.conv1(x))), 2)
        h = self.bn2(F.relu(self.conv2(h)))
        return (self.pred(h) * torch.softmax(self.attend(h), -1)).mean(-1)


class _Graph(nn.Module):
    """Senders and receivers of every ordered pair ``i -> j``, ``i != j``."""

    send: torch.Tensor
    recv: torch.Tensor

    def __init__(self, n: int) -> None:
        super().__init__()
        send, recv = np.nonzero(~np.eye(n, dtype=bool))
        self.n = n
        self.register_buffer("send", torch.as_tensor(send))
        self.register_buffer("recv", torch.as_tensor(recv))

    def node2edge(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cat([h[:, self.send], h[:, self.recv]], -1)

    def edge2node(self, e: torch.Tensor) -> torch.Tensor:
        out = e.new_zeros(e.shape[0], self.n, e.shape[-1])
        return out.index_add(1, self.recv, e) / self.n


class _Net(nn.Module):
    def __init__(
        self, n: int, t: int, f: int, cfg: NRIConfig, loss_cols: list[int] | None = None
    ) -> None:
        super().__init__()
        h, k = cfg.hidden, cfg.edge_types
        self.cfg, self.graph, self.loss_cols = cfg, _Graph(n), loss_cols
        if cfg.encoder not in ("mlp", "cnn"):
            raise ValueError(f"NRI encoder {cfg.encoder!r} is unknown; use 'mlp' or 'cnn'")
        self.cnn: _PairCNN | None = None
        if cfg.encoder == "cnn":  # modules.py CNNEncoder: pair CNN, mlp1, edge->node->edge
            self.cnn = _PairCNN(2 * f, h)
            self.mlp1, self.mlp2, self.mlp3 = _MLP(h, h, h), _MLP(h, h, h), _MLP(3 * h, h, h)
            self.mlp4: _MLP | None = None
        else:  # modules.py MLPEncoder
            self.mlp1, self.mlp2 = _MLP(t * f, h, h), _MLP(2 * h, h, h)
            self.mlp3, self.mlp4 = _MLP(h, h, h), _MLP(3 * h, h, h)
        self.logits_out = nn.Linear(h, k)
        for part in (self.mlp1, self.mlp2, self.mlp3, self.mlp4, self.logits_out):
            if part is not None:
                _reference_init(part)
        self.msg = nn.ModuleList(_mlp2(2 * f, h) for _ in range(k))
        first, mid, last = nn.Linear(f + h, h), nn.Linear(h, h), nn.Linear(h, f)
        # the decoder starts as "no change" (ours): see the module docstring
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.out = nn.Sequential(first, nn.ReLU(), mid, nn.ReLU(), last)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder: x (B, T, N, F) -> edge-type logits (B, E, K) of the ordered pairs."""
        g = self.graph
        if self.cnn is not None:
            pairs = g.node2edge(x.permute(0, 2, 1, 3))  # (B, E, T, 2F): sender, receiver
            b, n_e = pairs.shape[:2]
            e = self.mlp1(self.cnn(pairs.flatten(0, 1).transpose(1, 2)).reshape(b, n_e, -1))
            h = self.mlp2(g.edge2node(e))
            return self.logits_out(self.mlp3(torch.cat([g.node2edge(h), e], -1)))
        h = self.mlp1(x.permute(0, 2, 1, 3).flatten(2))
        e = self.mlp2(g.node2edge(h))
        h = self.mlp3(g.edge2node(e))
        return self.logits_out(cast(_MLP, self.mlp4)(torch.cat([g.node2edge(h), e], -1)))

    def step(self, x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        """Decoder: one frame (B, N, F) and edge-type weights (B, E, K) -> the next frame."""
        pre = self.graph.node2edge(x)
        first = 1 if self.cfg.skip_first else 0
        msgs = sum(
            self.msg[k](pre) * edges[..., k : k + 1] for k in range(first, self.cfg.edge_types)
        )
        agg = self.graph.edge2node(cast(torch.Tensor, msgs)) * self.graph.n  # sum over senders
        return x + self.out(torch.cat([x, agg], -1))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = batch["x"]
        logits = self.logits(x)
        if self.training:
            edges = F.gumbel_softmax(logits, tau=self.cfg.tau, hard=False)
        else:
            edges = torch.softmax(logits / self.cfg.tau, -1)
        preds, cur = [], x[:, 0]
        for t in range(x.shape[1] - 1):  # teacher forcing every pred_steps frames
            cur = self.step(x[:, t] if t % self.cfg.pred_steps == 0 else cur, edges)
            preds.append(cur)
        b, n = x.shape[0], x.shape[2]
        err = torch.stack(preds, 1) - x[:, 1:]
        if self.loss_cols is not None:
            err = err[..., self.loss_cols]
        nll = (err**2).sum() / (2 * self.cfg.prior_var * b * n)
        prob = torch.softmax(logits, -1)
        kl = (prob * (torch.log(prob + 1e-16) + np.log(self.cfg.edge_types))).sum() / (b * n)
        return nll + kl


def _mlp2(n_in: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())


class NRI(Learned):
    """NRI baseline; call :meth:`fit` before :meth:`predict`."""

    name = "nri"
    version = "1"
    budgets = {
        "cpu": {"epochs": 20, "batch_size": 128, "lr": 5e-4, "grad_clip": 0.0},
        # NRI train.py: 500 epochs, batch 128, lr 5e-4 halved every 200 epochs (--lr-decay 200,
        # --gamma 0.5), 256 hidden units
        "paper": {
            "epochs": 500,
            "batch_size": 128,
            "lr": 5e-4,
            "lr_decay": 200,
            "lr_gamma": 0.5,
            "grad_clip": 0.0,
            "hidden": 256,
            "patience": 50,
        },
    }
    #: which edge type means "edge" (chosen on the valid split for graph tasks)
    edge_type = 1

    def training_windows(self, tier: Tier, split: str) -> Windows:
        return train_sequences(self.task, split, tier)

    def build_net(self, train: Windows) -> nn.Module:
        _, t, n, f = train.x.shape
        cols = None
        if self.config.loss_features:
            unknown = [c for c in self.config.loss_features if c not in train.features]
            if unknown:
                raise ValueError(
                    f"NRI loss_features {unknown} are not inputs of {self.task.name!r}; "
                    f"choose among {train.features}"
                )
            cols = [train.features.index(c) for c in self.config.loss_features]
        return _Net(n, t, f, self.config, cols)

    def fit(self, tier: Tier = "mini") -> dict[str, Any]:
        hist = super().fit(tier)
        if self.task.kind == "graph":
            valid = self.training_windows(tier, "valid")
            probs = self._probs(valid.x)  # (B, N, N, K)
            off = ~np.eye(probs.shape[1], dtype=bool)
            truth = valid.y[:, off] > 0.5
            acc = [((probs[:, off, k] > 0.5) == truth).mean() for k in range(probs.shape[-1])]
            self.edge_type = int(np.argmax(acc))
            hist["edge_type"], hist["valid_edge_accuracy"] = self.edge_type, float(max(acc))
        return hist

    @torch.no_grad()
    def _probs(self, x: np.ndarray) -> np.ndarray:
        """Edge-type probabilities (B, N, N, K) of the windows ``x`` (zero on the diagonal)."""
        net = cast(_Net, self._inference())
        xt = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        prob = torch.softmax(net.logits(xt), -1)
        n = x.shape[2]
        out = torch.zeros(x.shape[0], n, n, prob.shape[-1], device=self.device)
        out[:, net.graph.send, net.graph.recv] = prob
        return out.cpu().numpy()

    @torch.no_grad()
    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        if self.task.kind == "graph":
            return self._probs(batch["x"])[..., self.edge_type]
        net = cast(_Net, self._inference())
        x = torch.as_tensor(batch["x"], dtype=torch.float32, device=self.device)
        edges = torch.softmax(net.logits(x) / self.config.tau, -1)
        cur, outs = x[:, -1], []
        for _ in range(self.task.horizon):
            cur = net.step(cur, edges)
            outs.append(cur)
        return select_outputs(torch.stack(outs, 1), self.task, batch, rolled=True)


def _make(task: Any, **config: Any) -> Learned:
    return make_learned(NRI, NRIConfig, task, **{**TASK_SETTINGS.get(task.name, {}), **config})
