"""Equivariance probes: does the model commute with the symmetries of the physics?

A symmetry ``g`` (``task.equivariance``) is applied to the input and ``f(g x)`` is compared
with ``g f(x)``; the error (mean squared difference in the task's units) is 0 for an exactly
equivariant model (``docs/probes.md`` §3). ``g`` acts in physical units (normalized inputs are
scaled back, transformed and scaled again with the same train statistics) on every vector
variable (features ``<var>_x``, ``<var>_y`` [, ``<var>_z``]): ``rot90`` (a quarter turn about
the origin, in the x-y plane), ``reflect`` (x -> -x), ``rotate`` (a random rotation, seeded),
``translate`` (a seeded offset added to positions only), ``permute`` (entities reordered, with
their masks and per-entity constants; for graph outputs ``g s = P s P^T``). For systems in a box
centred at the origin only ``rot90``, ``reflect`` and ``permute`` are symmetries; walls break
arbitrary rotations and translations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bootstrap import ci, finite
from .normalization import Ranges, half_range
from .tasks import TaskSpec
from .windows import Windows

__all__ = ["SYMMETRIES", "symmetry", "apply_symmetry", "symmetric_inputs", "score_equivariance"]

SYMMETRIES = ("rot90", "reflect", "rotate", "translate", "permute")


def _vector_groups(features: list[str]) -> dict[str, list[int]]:
    """``{"pos": [i_x, i_y(, i_z)], ...}`` for features named ``<var>_x``, ``<var>_y`` ..."""
    groups: dict[str, list[int]] = {}
    for axis in ("x", "y", "z"):
        for i, f in enumerate(features):
            if f.endswith("_" + axis):
                groups.setdefault(f[:-2], []).append(i)
    return {
        k: v
        for k, v in groups.items()
        if len(v) in (2, 3) and all(features[j][-1] == "xyz"[n] for n, j in enumerate(v))
    }


def _rotation(g: str, dim: int, rng: np.random.Generator) -> np.ndarray:
    rot = np.eye(dim)
    if g == "rot90":
        rot[:2, :2] = [[0.0, -1.0], [1.0, 0.0]]
    elif g == "reflect":
        rot[0, 0] = -1.0
    elif g == "rotate" and dim == 2:
        a = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    elif g == "rotate":
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        rot = q * np.sign(np.diag(r))
        if np.linalg.det(rot) < 0:
            rot[:, 0] *= -1
    return rot


def symmetry(task: TaskSpec, g: str, dim: int, n_entities: int) -> dict[str, np.ndarray]:
    """The fixed instance of symmetry ``g`` for a task (seeded by ``task.shuffle_seeds[0]``)."""
    seed = task.shuffle_seeds[0] if task.shuffle_seeds else 0
    rng = np.random.default_rng([seed, SYMMETRIES.index(g)])
    rot = _rotation(g, dim, rng)
    shift = rng.normal(0.0, 1.0, dim) if g == "translate" else np.zeros(dim)
    perm = np.arange(n_entities)
    if g == "permute":
        while n_entities > 1 and (perm == np.arange(n_entities)).all():
            perm = rng.permutation(n_entities)
    return {"rot": rot, "shift": shift, "perm": perm}


def apply_symmetry(
    arr: np.ndarray,
    features: list[str],
    ranges: Ranges | None,
    g: dict[str, np.ndarray],
    entity_axis: int = -2,
) -> np.ndarray:
    """Apply a symmetry instance to an array whose last axis holds ``features``.

    Vector groups are rotated (``rot``), the ``pos`` group shifted (``shift``), in physical
    units when ``ranges`` (per-column lo, hi of a [-1, 1] scaling) is given; entities are
    reordered along ``entity_axis`` by ``perm``.
    """
    out = np.array(arr, dtype=np.float64)
    half = np.ones(1) if ranges is None else half_range(*ranges)
    if ranges is not None:  # from_unit, in place: (x + 1) * half + lo
        out += 1.0
        out *= half
        out += ranges[0]
    for var, cols in _vector_groups(features).items():
        v = out[..., cols] @ g["rot"][: len(cols), : len(cols)].T
        if var == "pos":
            v = v + g["shift"][: len(cols)]
        out[..., cols] = v
    if ranges is not None:  # to_unit, in place: (v - lo) / half - 1
        out -= ranges[0]
        out /= half
        out -= 1.0
    return np.take(out, g["perm"], axis=entity_axis)


def _space_dim(features: list[str]) -> int:
    return 3 if any(f.endswith("_z") for f in features) else 2


def _instance(task: TaskSpec, w: Windows, variant: str) -> dict[str, np.ndarray]:
    return symmetry(task, variant[len("equiv_") :], _space_dim(w.features), w.x.shape[2])


def symmetric_inputs(task: TaskSpec, w: Windows, variant: str) -> dict[str, Any]:
    """The model inputs of ``equiv_<g>``: ``x``, ``mask`` and ``constants`` transformed by g."""
    g = _instance(task, w, variant)
    p = g["perm"]
    return {
        "x": apply_symmetry(w.x, w.features, w.ranges, g).astype(np.float32),
        "mask": None if w.mask_x is None else w.mask_x[:, :, p],
        "constants": None if w.constants is None else w.constants[:, p],
    }


def equivariance_target(task: TaskSpec, w: Windows, pred: np.ndarray, variant: str) -> np.ndarray:
    """``g f(x)``: the symmetry of ``variant`` applied to the plain prediction ``f(x)``."""
    if task.kind == "regress":  # parameters are invariant: g f(x) = f(x)
        return pred
    g = _instance(task, w, variant)
    if task.kind == "graph":
        p = g["perm"]
        return pred[:, p][:, :, p]
    cols = [w.features.index(f) for f in w.target_features]
    ranges = None if w.ranges is None else (w.ranges[0][cols], w.ranges[1][cols])
    return apply_symmetry(pred, w.target_features, ranges, g, entity_axis=-2)


def score_equivariance(
    task: TaskSpec, errors: dict[str, tuple[float, np.ndarray]], scale: float
) -> dict[str, Any]:
    """Per symmetry: the error ``mean_w ||f(g x) - g f(x)||^2`` with its interval and its size
    relative to ``scale``, the mean square of the plain prediction; ``missing`` without
    predictions.

    ``errors[f"equiv_{g}"]`` holds the mean over windows of the per-window mean squared
    difference and its bootstrap replicates (collected as the predictions arrive).
    """
    out: dict[str, Any] = {}
    for g in task.equivariance:
        v = f"equiv_{g}"
        if v not in errors:
            out[g] = {"status": "missing", "note": "no predictions for this symmetry's inputs"}
            continue
        mean, reps = errors[v]
        out[g] = {
            "error": finite(mean),
            "ci95": ci(reps),
            "relative": finite(mean / scale) if scale > 0 else None,
        }
    return out
