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

Equivariance probes (``task.equivariance``) apply a symmetry ``g`` of the physics to the input
and compare ``f(g x)`` with ``g f(x)``; the error (mean squared difference in the task's units) is
0 for an exactly equivariant model. ``g`` acts in physical units (normalized inputs are scaled
back, transformed and scaled again with the same train statistics) on every vector variable
(features ``<var>_x``, ``<var>_y`` [, ``<var>_z``]): ``rot90`` (a quarter turn about the
origin, in the x-y plane), ``reflect`` (x -> -x), ``rotate`` (a random rotation, seeded),
``translate`` (a seeded offset added to positions only), ``permute`` (entities reordered, with
their masks and per-entity constants; for graph outputs ``g s = P s P^T``). For systems in a box
centred at the origin only ``rot90``, ``reflect`` and ``permute`` are symmetries; walls break
arbitrary rotations and translations.

For a probe ``p`` with error ``E_p`` (lower is better; for higher-is-better metrics the same
formula holds with scores), the evaluator reports ``E_p``, the gap ``E_p - E`` and the
order-sensitivity ``TS_p = (E_p - E) / (E_freeze - E)``: 0 when the model ignores the
transformation, 1 when it drops to the time-agnostic level (PROTOCOLS §10.2, definition 1).
When the inputs carry the full state (positions and velocities), one frozen frame still holds
everything a Markovian model needs and ``E_freeze`` can be close to ``E``; ``ts_trivial`` uses the
task's trivial baseline (static forecast, chance graph) as the time-agnostic reference instead,
``(E_p - E) / (E_trivial - E)``, as PROTOCOLS §10.2 proposes for forecasters. Each probe also
reports the label-free ``sensitivity`` of the predictions themselves (PROTOCOLS §10.2,
definition 2): RMS change of the output under the probe over its RMS spread between windows.
"""

from __future__ import annotations

import numpy as np

from .tasks import TaskSpec, Windows, from_unit, to_unit

__all__ = ["PROBES", "probe_variants", "transform", "velocity_columns"]

PROBES = ("reversal", "shuffle", "freeze")
SYMMETRIES = ("rot90", "reflect", "rotate", "translate", "permute")


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
    for g in task.equivariance:
        if g not in SYMMETRIES:
            raise ValueError(f"task {task.name!r}: unknown symmetry {g!r}; valid: {SYMMETRIES}")
        out.append(f"equiv_{g}")
    return out


def _vector_groups(features: list[str]) -> dict[str, list[int]]:
    """``{"pos": [i_x, i_y(, i_z)], ...}`` for features named ``<var>_x``, ``<var>_y`` ..."""
    groups: dict[str, list[int]] = {}
    for axis in ("x", "y", "z"):
        for i, f in enumerate(features):
            if f.endswith("_" + axis):
                groups.setdefault(f[: -2], []).append(i)
    return {k: v for k, v in groups.items() if len(v) in (2, 3) and all(features[j][-1] == "xyz"[n] for n, j in enumerate(v))}


def symmetry(task: TaskSpec, g: str, dim: int, n_entities: int) -> dict[str, np.ndarray]:
    """The fixed instance of symmetry ``g`` for a task (seeded by ``task.shuffle_seeds[0]``)."""
    rng = np.random.default_rng([task.shuffle_seeds[0] if task.shuffle_seeds else 0, SYMMETRIES.index(g)])
    rot = np.eye(dim)
    shift = np.zeros(dim)
    perm = np.arange(n_entities)
    if g == "rot90":
        rot[:2, :2] = [[0.0, -1.0], [1.0, 0.0]]
    elif g == "reflect":
        rot[0, 0] = -1.0
    elif g == "rotate":
        if dim == 2:
            a = rng.uniform(0, 2 * np.pi)
            rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        else:
            q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
            rot = q * np.sign(np.diag(r))
            if np.linalg.det(rot) < 0:
                rot[:, 0] *= -1
    elif g == "translate":
        shift = rng.normal(0.0, 1.0, dim)
    elif g == "permute":
        while n_entities > 1 and (perm == np.arange(n_entities)).all():
            perm = rng.permutation(n_entities)
    return {"rot": rot, "shift": shift, "perm": perm}


def apply_symmetry(arr: np.ndarray, features: list[str], norm: tuple[np.ndarray, np.ndarray] | None,
                   g: dict[str, np.ndarray], entity_axis: int = -2) -> np.ndarray:
    """Apply a symmetry instance to an array whose last axis holds ``features``.

    Vector groups are rotated (``rot``), the ``pos`` group shifted (``shift``), in physical
    units when ``norm`` (per-column lo, hi of a [-1, 1] scaling) is given; entities are reordered
    along ``entity_axis`` by ``perm``.
    """
    out = np.array(arr, dtype=np.float64)
    if norm is not None:
        out = from_unit(out, *norm)
    for var, cols in _vector_groups(features).items():
        v = out[..., cols] @ g["rot"][: len(cols), : len(cols)].T
        if var == "pos":
            v = v + g["shift"][: len(cols)]
        out[..., cols] = v
    if norm is not None:
        out = to_unit(out, *norm)
    return np.take(out, g["perm"], axis=entity_axis)


def equivariance_target(task: TaskSpec, w: Windows, pred: np.ndarray, variant: str) -> np.ndarray:
    """``g f(x)``: the symmetry of ``variant`` applied to the plain prediction ``f(x)``."""
    g = symmetry(task, variant[len("equiv_"):], _space_dim(w.features), w.x.shape[2])
    if task.kind == "graph":
        p = g["perm"]
        return pred[:, p][:, :, p]
    cols = [w.features.index(f) for f in w.target_features]
    norm = None if w.norm is None else (w.norm[0][cols], w.norm[1][cols])
    return apply_symmetry(pred, w.target_features, norm, g, entity_axis=-2)


def _space_dim(features: list[str]) -> int:
    return 3 if any(f.endswith("_z") for f in features) else 2


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
    if variant.startswith("equiv_"):
        g = symmetry(task, variant[len("equiv_"):], _space_dim(w.features), w.x.shape[2])
        p = g["perm"]
        return {"x": apply_symmetry(w.x, w.features, w.norm, g).astype(np.float32),
                "mask": None if w.mask_x is None else w.mask_x[:, :, p],
                "static": None if w.static is None else w.static[:, p]}
    t = _time_index(task, variant, w.x.shape[1])
    x = w.x[:, t]
    if variant == "reversal":
        cols = velocity_columns(task, w.features)
        if cols:  # negate velocities in physical units (normalized ranges need not be symmetric)
            x = x.astype(np.float64)
            if w.norm is None:
                x[..., cols] *= -1
            else:
                lo, hi = w.norm[0][cols], w.norm[1][cols]
                x[..., cols] = to_unit(-from_unit(x[..., cols], lo, hi), lo, hi)
            x = x.astype(np.float32)
    mask = None if w.mask_x is None else w.mask_x[:, t]
    return {"x": np.ascontiguousarray(x), "mask": mask}
