"""``arrow-features``: logistic regression on physics trends, for the arrow of time.

Four quantities are computed at every frame of a clip (over the entities present):

* kinetic energy ``K = mean_i |v_i|^2 / 2`` (unit masses);
* polarization ``P = |mean_i v_i| / mean_i |v_i|``, the alignment of the velocities (Vicsek
  et al. 1995's order parameter);
* spread ``R = sqrt(mean_i |x_i - mean_j x_j|^2)``;
* mean nearest-neighbour distance ``D = mean_i min_{j != i} |x_i - x_j|``.

The features are their least-squares slopes over the clip's frames (per frame). Every slope
changes sign when the clip is played backwards (the quantities are even in the velocities), so
the model can find an arrow only where the physics has one: friction drains the kinetic energy,
an aligning swarm orders itself. ``P(forward) = sigmoid(b + w . z)`` with ``z`` the slopes
standardized by their train-split spread, fitted on the train split by Newton's method
(iteratively reweighted least squares) with a small ridge penalty ``lambda |w|^2 / 2``
(Hastie, Tibshirani, Friedman, *The Elements of Statistical Learning*, 2nd ed., §4.4.1).
Serves ``arrow/forward-backward``, ``arrow/forward-backward-positions`` and
``arrow/pedestrians`` (``docs/protocols.md`` §9; a task may restrict the trends to those its
physics gives an arrow, ``extra["arrow_features"]``: the pedestrian task keeps the
kinetic-energy trend alone, §9.7). A positions-only clip gets its velocities inside the clip by
central differences (per frame), a rule symmetric in time, so reversing the positions negates
them exactly as a stored velocity is negated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BaselineSpec, register_baseline
from decathlon.benchmark.data import Tier
from decathlon.benchmark.kinematics import clip_velocities
from decathlon.benchmark.windows import make_windows

from .base import Baseline

__all__ = ["ArrowFeatures", "FEATURES", "trend_features", "fit_logistic"]

FEATURES = ("kinetic_energy", "polarization", "spread", "nn_distance")
#: Ridge penalty on the standardized weights and the number of Newton steps.
RIDGE, NEWTON_STEPS = 1e-3, 25
#: Clips whose frame quantities are computed at once (memory: about 1 kB per clip and frame).
CHUNK = 4096


def _frame_quantities(x: np.ndarray, feats: list[str], mask: np.ndarray | None) -> np.ndarray:
    """(clip, time, 4): K, P, R, D at every frame (entities outside ``mask`` left out)."""
    pc = [i for i, f in enumerate(feats) if f.startswith("pos")]
    vc = [i for i, f in enumerate(feats) if f.startswith("vel")]
    p = x[..., pc].astype(np.float64)
    m = np.ones(x.shape[:3]) if mask is None else mask.astype(np.float64)
    # positions only: velocities per frame by the time-symmetric central differences
    v = x[..., vc].astype(np.float64) if vc else clip_velocities(p, m > 0)[0]
    n = np.maximum(m.sum(-1), 1.0)
    mean = lambda a: (a * m).sum(-1) / n  # noqa: E731
    speed = np.linalg.norm(v, axis=-1)
    ke = mean(0.5 * speed**2)
    vbar = (v * m[..., None]).sum(-2) / n[..., None]
    pol = np.linalg.norm(vbar, axis=-1) / np.maximum(mean(speed), 1e-12)
    cen = (p * m[..., None]).sum(-2, keepdims=True) / n[..., None, None]
    spread = np.sqrt(mean(((p - cen) ** 2).sum(-1)))
    d = np.linalg.norm(p[..., :, None, :] - p[..., None, :, :], axis=-1)
    absent = (m[..., :, None] * m[..., None, :]) == 0
    d = np.where(absent | np.eye(d.shape[-1], dtype=bool), np.inf, d)
    near = d.min(-1)
    nn = mean(np.where(np.isfinite(near), near, 0.0))
    return np.stack([ke, pol, spread, nn], axis=-1)


def trend_features(x: np.ndarray, feats: list[str], mask: np.ndarray | None = None) -> np.ndarray:
    """Least-squares slope (per frame) of each of :data:`FEATURES` over every clip.

    ``x`` (clip, time, entity, feature) with ``pos_*`` and ``vel_*`` columns named by
    ``feats``; without ``vel_*`` columns the velocities are derived inside each clip from the
    positions, per frame, by central differences
    (:func:`~decathlon.benchmark.kinematics.clip_velocities`, symmetric in time). Returns
    (clip, 4). Playing a clip backwards (velocities negated) negates every slope.

    Examples
    --------
    >>> t = np.arange(3.0)[None, :, None, None]
    >>> x = np.concatenate([np.zeros((1, 3, 2, 1)), (1 + t) * np.ones((1, 3, 2, 1))], -1)
    >>> trend_features(x, ["pos_x", "vel_x"]).round(3).tolist()  # K = (1 + t)^2 / 2
    [[2.0, 0.0, 0.0, 0.0]]
    """
    t = np.arange(x.shape[1], dtype=np.float64)
    t -= t.mean()
    out = np.empty((len(x), len(FEATURES)))
    for a in range(0, len(x), CHUNK):  # bounded temporaries (pairwise distances)
        m = None if mask is None else mask[a : a + CHUNK]
        q = _frame_quantities(x[a : a + CHUNK], feats, m)
        out[a : a + CHUNK] = (q * t[None, :, None]).sum(1) / max(float((t**2).sum()), 1e-12)
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def fit_logistic(z: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Ridge-penalized logistic regression by Newton's method: weights (intercept first).

    ``z`` (n, k) features, ``y`` (n,) in {0, 1}; the intercept is not penalized.

    Examples
    --------
    >>> z = np.array([[-2.0], [-1.0], [1.0], [2.0], [0.5], [-0.5]])
    >>> y = np.array([0, 0, 1, 1, 0, 1])
    >>> bool(fit_logistic(z, y)[1] > 0)
    True
    """
    a = np.column_stack([np.ones(len(z)), z])
    w = np.zeros(a.shape[1])
    pen = np.full(a.shape[1], ridge * len(z))
    pen[0] = 0.0
    for _ in range(NEWTON_STEPS):
        p = _sigmoid(a @ w)
        grad = a.T @ (p - y) + pen * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(pen) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


class ArrowFeatures(Baseline):
    """Logistic regression on the trends of :data:`FEATURES`; call :meth:`fit` first."""

    name = "arrow-features"
    version = "1"

    def __init__(self, task: Any, **_: Any) -> None:
        self.task = task
        self.w: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    @property
    def n_parameters(self) -> int:
        return 0 if self.w is None else int(self.w.size)

    def config_dict(self) -> dict[str, Any]:
        return {
            "features": [FEATURES[i] for i in self.columns],
            "ridge": RIDGE,
            "weights": None if self.w is None else np.round(self.w, 6).tolist(),
        }

    @property
    def columns(self) -> list[int]:
        """The :data:`FEATURES` this task's model uses: ``task.extra["arrow_features"]`` (a
        task whose physics gives only some of the trends an arrow), else all of them."""
        names = tuple(getattr(self.task, "extra", {}).get("arrow_features", FEATURES))
        bad = [n for n in names if n not in FEATURES]
        if bad or not names:
            raise ValueError(
                f"task {self.task.name!r} asks arrow-features for {list(names)}; expected a "
                f"non-empty subset of {list(FEATURES)}: fix the task's extra['arrow_features']"
            )
        return [FEATURES.index(n) for n in names]

    def fit(self, tier: Tier = "mini") -> dict[str, Any]:
        """Fit on the task's train windows (closed-form Newton steps, seconds)."""
        w = make_windows(self.task, "train", tier)
        f = trend_features(w.x, w.features, w.mask_x)[:, self.columns]
        self.scale = np.maximum(f.std(0), 1e-12)
        self.w = fit_logistic(f / self.scale, (w.y[:, 0] > 0.5).astype(np.float64))
        return {"train_windows": len(w), "weights": self.w.tolist()}

    def predict(self, batch: dict[str, Any]) -> np.ndarray:
        if self.w is None or self.scale is None:
            raise RuntimeError("call fit() before predict()")
        f = trend_features(batch["x"], list(batch["features"]), batch.get("mask"))[:, self.columns]
        return _sigmoid(self.w[0] + (f / self.scale) @ self.w[1:])[:, None]


register_baseline(
    BaselineSpec(
        "arrow-features",
        ArrowFeatures,
        kinds=("classify",),
        learned=True,
        description="logistic regression on trends of kinetic energy, alignment, spread, NN dist",
        tasks=("arrow/forward-backward", "arrow/forward-backward-positions", "arrow/pedestrians"),
    )
)
