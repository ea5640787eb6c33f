"""``order-params``: hand-crafted order parameters over time, then ridge regression.

The classical summaries of collective motion, computed per frame in physical units (the task's
[-1, 1] scaling undone with the train statistics):

* polarization ``|sum_i v_i| / sum_i |v_i|`` (Vicsek et al. 1995): 1 for a flock, about
  ``1/sqrt(N)`` for random headings;
* milling ``|sum_i (x_i - X) x v_i| / sum_i |x_i - X| |v_i|``, the normalised angular momentum
  about the centre of mass ``X`` (D'Orsogna et al. 2006; Couzin et al. 2002's milling order);
* speed from the velocities (mean and spread over particles) and from the displacements between
  frames (median ``|x_{t+1} - x_t| / dt``: the Vicsek speed ``c``, whose velocities are unit
  headings);
* nearest-neighbour distance (mean and spread over particles) and radius of gyration.

Each series over the window is summarised by its mean, its standard deviation, and its means
over the first and the last tenth of the frames; the features are those 32 numbers and their
logarithms. The regression is ridge in closed form on standardized features,
``beta = (X'X + alpha n I)^{-1} X'(y - ybar)``, fitted on the train split for each ``alpha`` in
``10^-4 .. 10^2`` and kept where the validation R^2 (the task's primary metric) is best.
Rotations, translations and relabelling leave every feature unchanged, so the model is exactly
invariant, as the parameters are. Distances are Euclidean (the periodic box of Vicsek is not
known to the model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline
from decathlon.benchmark.data import Tier
from decathlon.benchmark.normalization import Ranges, from_unit
from decathlon.benchmark.regression import r2
from decathlon.benchmark.windows import Windows, make_windows

from .base import Baseline, model_settings

SERIES = ("polarization", "milling", "speed", "speed_sd", "step_speed", "nn", "nn_sd", "gyration")
SUMMARIES = ("mean", "sd", "first", "last")


@dataclass(frozen=True)
class OrderParamsConfig:
    """Ridge strengths tried (relative to the number of train windows) and the windows per
    block of the pairwise-distance computation (memory: block x N^2 float64 per frame)."""

    alphas: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
    block: int = 64


def _vectors(batch: dict[str, Any], ranges: Ranges | None) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities (window, time, entity, 3) in physical units."""
    feats = list(batch["features"])
    x = np.asarray(batch["x"], dtype=np.float64)
    if ranges is not None:
        x = from_unit(x, ranges[0], ranges[1])
    cols = {
        v: [feats.index(f"{v}_{a}") for a in "xyz" if f"{v}_{a}" in feats] for v in ("pos", "vel")
    }
    return x[..., cols["pos"]], x[..., cols["vel"]]


def _nearest(pos: np.ndarray, block: int) -> np.ndarray:
    """Nearest-neighbour distance of every particle, (window, time, entity)."""
    out = np.empty(pos.shape[:3])
    n = pos.shape[2]
    for s in range(0, len(pos), block):
        p = pos[s : s + block]
        sq = np.sum(p * p, -1)
        d2 = sq[..., :, None] + sq[..., None, :] - 2 * np.matmul(p, np.swapaxes(p, -1, -2))
        d2[..., np.arange(n), np.arange(n)] = np.inf
        out[s : s + block] = np.sqrt(np.maximum(d2.min(-1), 0.0))
    return out


def series(pos: np.ndarray, vel: np.ndarray, dt: float, block: int = 64) -> np.ndarray:
    """The per-frame order parameters (window, time, series) named by :data:`SERIES`.

    Examples
    --------
    >>> v = np.tile([1.0, 0.0, 0.0], (1, 3, 4, 1)); p = np.random.default_rng(0).random(v.shape)
    >>> float(series(p, v, 0.1)[0, 0, 0])  # aligned headings: polarization 1
    1.0
    """
    speed = np.linalg.norm(vel, axis=-1)
    pol = np.linalg.norm(vel.sum(2), axis=-1) / np.maximum(speed.sum(2), 1e-12)
    rel = pos - pos.mean(2, keepdims=True)
    ang = np.linalg.norm(np.cross(rel, vel).sum(2), axis=-1)
    mill = ang / np.maximum((np.linalg.norm(rel, axis=-1) * speed).sum(2), 1e-12)
    step = np.median(np.linalg.norm(np.diff(pos, axis=1), axis=-1), axis=2) / max(dt, 1e-12)
    step = np.concatenate([step[:, :1], step], axis=1)  # one value per frame
    nn = _nearest(pos, block)
    gyr = np.sqrt(np.mean(np.sum(rel * rel, -1), axis=2))
    cols = [pol, mill, speed.mean(2), speed.std(2), step, nn.mean(2), nn.std(2), gyr]
    return np.stack(cols, axis=-1)


def features(s: np.ndarray) -> np.ndarray:
    """Summaries over time of :func:`series` and their logarithms, (window, 64)."""
    k = max(1, s.shape[1] // 10)
    summ = np.concatenate([s.mean(1), s.std(1), s[:, :k].mean(1), s[:, -k:].mean(1)], axis=1)
    return np.concatenate([summ, np.log(np.abs(summ) + 1e-6)], axis=1)


class OrderParams(Baseline):
    """Order-parameter features and ridge regression; call :meth:`fit` first."""

    name = "order-params"
    version = "1"

    def __init__(self, task: Any, **config: Any) -> None:
        self.task = task
        self.config = OrderParamsConfig(**model_settings(config))  # no training settings
        self.ranges: Ranges | None = None
        self.coef: np.ndarray | None = None  # (features + 1, params): standardized, intercept
        self.mu = self.sd = np.zeros(0)
        self.alpha: float | None = None

    @property
    def n_parameters(self) -> int:
        return 0 if self.coef is None else int(self.coef.size)

    def config_dict(self) -> dict[str, Any]:
        cfg = asdict(self.config)
        return {**cfg, "alphas": list(cfg["alphas"]), "alpha": self.alpha}

    def _features(self, batch: dict[str, Any], windows: int = 256) -> np.ndarray:
        """:func:`features` of ``batch``, ``windows`` windows at a time: the float64 vectors
        and the series' temporaries of a whole full-tier split (8000 swarms of 200 particles
        and 100 frames: 7.7 GB as float64) would not fit in memory; each window's features
        are the same either way."""
        dt = float(batch["dt"] or 1.0)
        out = []
        for s in range(0, len(batch["x"]), windows):
            part = {"x": batch["x"][s : s + windows], "features": batch["features"]}
            pos, vel = _vectors(part, self.ranges)
            out.append(features(series(pos, vel, dt, self.config.block)))
        return np.concatenate(out) if out else np.zeros((0, 8 * len(SERIES)))

    def training_windows(self, tier: Tier, split: str) -> Windows:
        """The task's windows of ``split`` (what ``fit`` reads; the ``-shuffled`` wrapper of
        :mod:`decathlon.baselines.shuffled` permutes their frames)."""
        return make_windows(self.task, split, tier)

    def _batch(self, split: str, tier: Tier) -> tuple[np.ndarray, np.ndarray]:
        w = self.training_windows(tier, split)
        self.ranges = w.ranges
        return self._features({"x": w.x, "features": w.features, "dt": w.dt}), w.y

    def fit(self, tier: Tier = "mini") -> dict[str, Any]:
        """Features of the train and valid splits; ridge on train for every ``alpha``, the one
        with the best validation R^2 kept."""
        xt, yt = self._batch("train", tier)
        xv, yv = self._batch("valid", tier)
        self.mu, self.sd = xt.mean(0), np.where(xt.std(0) > 0, xt.std(0), 1.0)
        z = (xt - self.mu) / self.sd
        scores = {}
        for a in self.config.alphas:
            coef = _ridge(z, yt, a)
            scores[a] = float(r2(self._apply(coef, xv), yv).mean())
        self.alpha = max(scores, key=lambda a: scores[a])
        self.coef = _ridge(z, yt, self.alpha)
        return {"alpha": self.alpha, "valid_r2": scores, "train_windows": len(xt)}

    def _apply(self, coef: np.ndarray, x: np.ndarray) -> np.ndarray:
        z = (x - self.mu) / self.sd
        return z @ coef[:-1] + coef[-1]

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("call fit() before predict()")
        return self._apply(self.coef, self._features(batch))


def _ridge(z: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge coefficients on standardized ``z`` with an unpenalized intercept (last row)."""
    ym = y.mean(0)
    zc = z - z.mean(0)
    a = zc.T @ zc + alpha * len(z) * np.eye(z.shape[1])
    beta = np.linalg.solve(a, zc.T @ (y - ym))
    return np.vstack([beta, ym - z.mean(0) @ beta])


register_baseline(
    BaselineSpec(
        "order-params",
        OrderParams,
        kinds=("regress",),
        learned=True,
        description="order parameters over time (polarization, milling, speed, NN distance), ridge",
    )
)
