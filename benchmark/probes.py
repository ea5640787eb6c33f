"""Temporal probes: the same model on inputs whose time axis is transformed.

Only the model's *input* window is transformed; targets are never permuted (PROTOCOLS §10.2).

``reversal``
    The context played backwards, ``x'_t = x_{T-1-t}``; feature columns of the task's
    ``velocity`` variables are negated, so that for time-reversible physics the reversed window
    is itself a valid trajectory.
``shuffle``
    The context frames permuted by K fixed permutations, one per seed in ``task.shuffle_seeds``
    (``numpy.random.default_rng(seed).permutation(context)``), the same for every window; the
    probe's score is the mean over the K draws.
``freeze``
    The last context frame repeated ``context`` times: no temporal information at all, the
    time-agnostic reference of the order-sensitivity ``TS``.

For a probe ``p`` with error ``E_p`` (lower is better; for higher-is-better metrics the same
formula holds with scores), the evaluator reports ``E_p``, the gap ``E_p - E`` and the
order-sensitivity ``TS_p = (E_p - E) / (E_freeze - E)``: 0 when the model ignores the
transformation, 1 when it drops to the time-agnostic level (PROTOCOLS §10.2, definition 1).
"""

from __future__ import annotations

import numpy as np

from .tasks import TaskSpec, Windows

__all__ = ["PROBES", "probe_variants", "transform", "velocity_columns"]

PROBES = ("reversal", "shuffle", "freeze")


def velocity_columns(task: TaskSpec, features: list[str]) -> list[int]:
    """Indices of the input features that belong to the task's velocity variables."""
    out = []
    for i, f in enumerate(features):
        for v in task.velocity:
            if f == v or f.startswith(v + "_"):
                out.append(i)
    return out


def probe_variants(task: TaskSpec) -> list[str]:
    """Names of the input variants a task's probes need, e.g. ``shuffle3`` for the 4th draw."""
    out = []
    for p in task.probes:
        if p == "shuffle":
            out += [f"shuffle{k}" for k in range(len(task.shuffle_seeds))]
        elif p in PROBES:
            out.append(p)
        else:
            raise ValueError(f"task {task.name!r}: unknown probe {p!r}; valid: {PROBES}")
    return out


def _time_index(task: TaskSpec, variant: str, context: int) -> np.ndarray:
    if variant == "reversal":
        return np.arange(context)[::-1].copy()
    if variant == "freeze":
        return np.full(context, context - 1)
    if variant.startswith("shuffle"):
        seed = task.shuffle_seeds[int(variant[len("shuffle"):])]
        return np.random.default_rng(seed).permutation(context)
    raise ValueError(f"unknown probe variant {variant!r}")


def transform(task: TaskSpec, w: Windows, variant: str) -> dict[str, np.ndarray]:
    """The model inputs of probe ``variant`` (``x`` and ``mask`` transformed, rest unchanged).

    Examples
    --------
    The reversal of a 3-frame context with a velocity column negated (see the module text).
    """
    if variant == "plain":
        return {"x": w.x, "mask": w.mask_x}
    t = _time_index(task, variant, w.x.shape[1])
    x = w.x[:, t]
    if variant == "reversal":
        cols = velocity_columns(task, w.features)
        if cols:
            x = x.copy()
            x[..., cols] *= -1
    mask = None if w.mask_x is None else w.mask_x[:, t]
    return {"x": np.ascontiguousarray(x), "mask": mask}
