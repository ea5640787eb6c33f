"""Temporal probes: the same model on inputs whose time axis is transformed, and their scores.

Only the model's *input* window is transformed; targets are never permuted
(``docs/probes.md`` §1).

``reversal``
    The context played backwards, ``x'_t = x_{T-1-t}``; feature columns of the task's
    ``velocity`` variables are negated, so that for time-reversible physics the reversed window
    is itself a valid trajectory.
``shuffle``
    The context frames permuted by K fixed permutations, one per seed in ``task.shuffle_seeds``
    (``numpy.random.default_rng(seed).permutation(context)``), the same for every window; the
    probe's score is the mean over the K draws.
``half``
    The two halves of the context exchanged, ``[x_h .. x_{T-1}, x_0 .. x_{h-1}]`` with
    ``h = T // 2`` (Zeng et al., AAAI 2023): the order inside each half is kept, the coarse
    order is broken.
``local-2``, ``local-4``
    Frames permuted only inside consecutive blocks of ``b`` frames, counted back from the last
    frame (``[T-b, T)``, ``[T-2b, T-b)``, ..., the first block possibly shorter, so the most
    recent frames always take part), one seeded permutation per seed in
    ``task.local_seeds``, the same for every window; the probe's score is the mean over the
    draws. Fine-grained order is broken, the coarse order kept. Not applicable when the context
    is shorter than two blocks (``2 b`` frames).
``freeze``
    The last context frame repeated ``context`` times: no temporal information at all, the
    time-agnostic reference of the order-sensitivity ``TS``.

For a probe ``p`` with error ``E_p`` (lower is better; for higher-is-better metrics the same
formula holds with scores), the evaluator reports ``E_p``, the gap ``E_p - E`` and the
order-sensitivity ``TS_p = (E_p - E) / (E_freeze - E)``: 0 when the model ignores the
transformation, 1 when it drops to the time-agnostic level (``docs/probes.md`` §2, definition
1). When the inputs carry the full state (positions and velocities), one frozen frame still
holds everything a Markovian model needs and ``E_freeze`` can be close to ``E``; ``ts_trivial``
uses the task's trivial baseline (static forecast, chance graph) as the time-agnostic reference
instead, ``(E_p - E) / (E_trivial - E)``. Each probe also reports the label-free
``sensitivity`` of the predictions themselves (``docs/probes.md`` §2, definition 2): RMS change
of the output under the probe over its RMS spread between windows. Symmetry probes live in
:mod:`decathlon.benchmark.symmetries`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from .bootstrap import ci, finite
from .collect import Collected, rms_distance
from .normalization import from_unit, to_unit
from .symmetries import SYMMETRIES, symmetric_inputs
from .tasks import DEFAULT_PROBES, ONE_FRAME, TaskSpec
from .windows import Windows

__all__ = [
    "PROBES",
    "not_applicable",
    "probe_variants",
    "probe_seeds",
    "probe_of",
    "ADDED_IN_1_2",
    "time_index",
    "transform",
    "velocity_columns",
    "score_probes",
    "relative_gap",
    "Scores",
    "TRANSPOSED",
    "reversal_transposed",
]


class Scores(Protocol):
    """Point value and paired replicates of a metric per variant (:class:`PairedBootstrap`,
    or the streaming accumulators of :mod:`decathlon.benchmark.stream`)."""

    def __call__(self, name: str, variant: str) -> tuple[float, np.ndarray]: ...

    def __contains__(self, variant: str) -> bool: ...


PROBES = DEFAULT_PROBES
#: The probes evaluator 1.2 added: their replicates are computed in a pass of their own, so the
#: numbers of the earlier probes stay bit-identical (``evaluate.score_predictions``).
ADDED_IN_1_2 = ("half", "local-2", "local-4")
#: Probes drawn several times from seeds (their variants are ``<prefix><k>``) -> the prefix.
_DRAWN = {"shuffle": "shuffle", "local-2": "local2_", "local-4": "local4_"}


def _block(probe: str) -> int:
    """The block length ``b`` of a ``local-b`` probe (0 for the other probes)."""
    return int(probe[len("local-") :]) if probe.startswith("local-") else 0


def not_applicable(probe: str, context: int) -> str | None:
    """Why temporal probe ``probe`` cannot run on a context of ``context`` frames, or None.

    Examples
    --------
    >>> not_applicable("local-4", 5)
    'context of 5 frames is shorter than two blocks of 4: nothing to permute within blocks'
    >>> not_applicable("half", 8) is None
    True
    """
    if context <= 1:
        return f"{ONE_FRAME}: nothing to reverse, shuffle or freeze"
    b = _block(probe)
    if b and context < 2 * b:
        return (
            f"context of {context} frames is shorter than two blocks of {b}: "
            "nothing to permute within blocks"
        )
    return None


def _seeds(task: TaskSpec, probe: str) -> tuple[int, ...]:
    return task.shuffle_seeds if probe == "shuffle" else task.local_seeds


def probe_seeds(task: TaskSpec) -> dict[str, list[int]]:
    """The seeds of the drawn probes as a result records them (``seeds`` block)."""
    return {"shuffle": list(task.shuffle_seeds), "local": list(task.local_seeds)}


def probe_of(variant: str) -> tuple[str, int]:
    """The probe of a variant name and its draw (``local4_2`` -> ``("local-4", 2)``)."""
    for probe, prefix in _DRAWN.items():
        rest = variant[len(prefix) :]
        if variant.startswith(prefix) and rest.isdigit():
            return probe, int(rest)
    return variant, -1


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
        if p not in PROBES:
            raise ValueError(f"task {task.name!r}: unknown probe {p!r}; valid: {PROBES}")
        if not_applicable(p, task.context) is not None:
            continue  # reported n/a with the reason (decathlon.benchmark.describe)
        if p in _DRAWN:
            out += [f"{_DRAWN[p]}{k}" for k in range(len(_seeds(task, p)))]
        else:
            out.append(p)
    for g in task.equivariance:
        if g not in SYMMETRIES:
            raise ValueError(f"task {task.name!r}: unknown symmetry {g!r}; valid: {SYMMETRIES}")
        out.append(f"equiv_{g}")
    return out


def _local_permutation(context: int, b: int, seed: int) -> np.ndarray:
    """Frames permuted within consecutive blocks of ``b`` counted back from the last frame (the
    first block possibly shorter): one ``default_rng(seed)`` permutation per block, in block
    order; drawn again (same generator) in the rare case that every block came out unchanged."""
    starts = sorted({0, *range(context % b, context, b)})
    ends = [*starts[1:], context]
    rng = np.random.default_rng(seed)
    while True:
        idx = np.concatenate(
            [s + rng.permutation(e - s) for s, e in zip(starts, ends, strict=True)]
        )
        if context < 2 or not np.array_equal(idx, np.arange(context)):
            return idx


def time_index(task: TaskSpec, variant: str, context: int) -> np.ndarray:
    """The frame order of a temporal probe variant: input frame ``t`` of the probed window is
    frame ``time_index(...)[t]`` of the plain one (``docs/probes.md`` §1).

    Examples
    --------
    >>> from decathlon.benchmark.tasks import get_task
    >>> time_index(get_task("particles/springs-forecast"), "half", 6).tolist()
    [3, 4, 5, 0, 1, 2]
    """
    if variant == "reversal":
        return np.arange(context)[::-1].copy()
    if variant == "freeze":
        return np.full(context, context - 1)
    if variant == "half":
        return np.roll(np.arange(context), -(context // 2))
    probe, k = probe_of(variant)
    if k >= 0:
        seed = _seeds(task, probe)[k]
        if probe == "shuffle":
            return np.random.default_rng(seed).permutation(context)
        return _local_permutation(context, _block(probe), seed)
    raise ValueError(f"unknown probe variant {variant!r}")


def transform(task: TaskSpec, w: Windows, variant: str) -> dict[str, Any]:
    """The model inputs of probe ``variant`` (``x`` and ``mask`` transformed, rest unchanged)."""
    if variant == "plain":
        return {"x": w.x, "mask": w.mask_x}
    if variant.startswith("equiv_"):
        return symmetric_inputs(task, w, variant)
    t = time_index(task, variant, w.x.shape[1])
    x = w.x[:, t]
    if variant == "reversal":
        cols = velocity_columns(task, w.features)
        if cols:  # negate velocities in physical units (normalized ranges need not be symmetric)
            v = x[..., cols].astype(np.float64)  # x is already a copy (fancy indexing)
            if w.ranges is None:
                v *= -1
            else:
                lo, hi = w.ranges[0][cols], w.ranges[1][cols]
                v = to_unit(-from_unit(v, lo, hi), lo, hi)
            x = x.astype(np.float32, copy=False)
            x[..., cols] = v
    mask = None if w.mask_x is None else w.mask_x[:, t]
    return {"x": np.ascontiguousarray(x), "mask": mask}


def sensitivity(plain: np.ndarray, probed: list[np.ndarray], seed: int) -> float | None:
    """Prediction-level sensitivity ``S = E_w D(f(x_w), f(pi x_w)) / E_w D(f(x_w), f(x_w'))``.

    ``D`` is the root-mean-square difference of two predictions (every output element), and
    ``w'`` another window (a fixed, seeded derangement), so the denominator is the spread of
    predictions between inputs. Needs no labels; 0 when the output ignores the transformation,
    about 1 when it changes as much as between unrelated inputs (``docs/probes.md`` §2,
    definition 2).
    """
    return sensitivity_from_distances(plain, [rms_distance(plain, q) for q in probed], seed)


def sensitivity_from_distances(
    plain: np.ndarray, distances: list[np.ndarray], seed: int
) -> float | None:
    """:func:`sensitivity` from the per-window RMS distances ``D(f(x_w), f(pi x_w))`` of each
    probed variant (what the evaluator keeps instead of the probed predictions)."""
    n = len(plain)
    if n < 2:
        return None
    perm = np.random.default_rng(seed).permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[perm] = np.roll(perm, -1)  # one cycle through all windows: partner[w] != w
    den = rms_distance(plain, plain[partner]).mean()
    num = np.mean([d.mean() for d in distances])
    return finite(num / den) if den > 0 else None


def _variants_of(task: TaskSpec, probe: str, boot: Scores) -> list[str]:
    return [v for v in probe_variants(task) if v in boot and probe_of(v)[0] == probe]


def _ratio_entry(
    key: str,
    gap: float,
    gap_reps: np.ndarray,
    ref: tuple[float, np.ndarray],
    base: tuple[float, np.ndarray],
) -> dict[str, Any]:
    """``key = gap / (E_ref - E)`` with its interval, or ``{}`` when the reference does not
    move the score."""
    (rv, rreps), (bv, breps) = ref, base
    den = rv - bv
    if abs(den) <= (1e-9 * max(abs(bv), abs(rv), 1e-12)):
        return {}
    with np.errstate(invalid="ignore", divide="ignore"):
        return {key: finite(gap / den), f"{key}_ci95": ci(gap_reps / (rreps - breps))}


#: ``sensitivity(variants)``: the label-free sensitivity of the predictions to those variants.
SensitivityFn = Callable[[list[str]], "float | None"]


def collected_sensitivity(col: Collected, seed: int) -> SensitivityFn:
    """The sensitivity of :func:`sensitivity_from_distances` over collected predictions."""
    return lambda vs: sensitivity_from_distances(col.plain, [col.distance[v] for v in vs], seed)


def _probe_entry(
    task: TaskSpec, probe: str, vs: list[str], boot: Scores, sens_of: SensitivityFn
) -> dict[str, Any]:
    prim = task.primary
    base_val, base_reps = boot(prim, "plain")
    vals = float(np.mean([boot(prim, v)[0] for v in vs]))
    reps = np.mean([boot(prim, v)[1] for v in vs], axis=0)
    if abs(vals - base_val) <= 1e-12 * max(1.0, abs(base_val)):  # averaging round-off, not a gap
        vals = base_val
    same = np.abs(reps - base_reps) <= 1e-12 * np.maximum(1.0, np.abs(base_reps))
    reps = np.where(same, base_reps, reps)
    gap_reps = reps - base_reps
    gap = vals - base_val
    entry: dict[str, Any] = {
        "metric": prim,
        "value": finite(vals),
        "gap": finite(gap),
        "gap_ci95": ci(gap_reps),
    }
    if probe in _DRAWN:
        entry["per_draw"] = [finite(boot(prim, v)[0]) for v in vs]
    sens = sens_of(vs)
    if sens is not None:
        entry["sensitivity"] = sens
    if "freeze" in boot and probe != "freeze":
        ts = _ratio_entry("ts", gap, gap_reps, boot(prim, "freeze"), (base_val, base_reps))
        entry.update(
            ts or {"ts": None, "ts_note": "undefined: the freeze probe does not change the score"}
        )
    if "trivial" in boot:  # the time-agnostic reference of a forecaster is its trivial baseline
        entry.update(
            _ratio_entry("ts_trivial", gap, gap_reps, boot(prim, "trivial"), (base_val, base_reps))
        )
    return entry


def score_probes(task: TaskSpec, boot: Scores, sens_of: SensitivityFn) -> dict[str, Any]:
    """Every temporal probe of ``task``: value, gap, TS, ``ts_trivial``, sensitivity, intervals.

    ``boot`` gives the value and paired replicates of a metric on every variant (``plain``, the
    probe variants that were predicted and, when available, ``trivial``); ``sens_of`` the
    label-free sensitivity to a list of variants. A probe without predictions is reported
    ``missing``; one that cannot run on the task's context (:func:`not_applicable`) has no
    entry (the table and the figure show ``n/a`` with the reason).
    """
    out: dict[str, Any] = {}
    for p in task.probes:
        if not_applicable(p, task.context) is not None:
            continue
        vs = _variants_of(task, p, boot)
        if not vs or (p in _DRAWN and len(vs) != len(_seeds(task, p))):
            out[p] = {"status": "missing", "note": "no predictions for this probe's inputs"}
            continue
        out[p] = _probe_entry(task, p, vs, boot, sens_of)
    return out


def relative_gap(entry: dict[str, Any], plain: float | None, perfect: float) -> float | None:
    """The probe gap relative to the plain error, ``(E_p - E) / (E - E_perfect)``.

    This is the quantity the table and the figure show (``docs/probes.md`` §2, "What the table
    and the figure show"): the change of the distance to a perfect score, positive when the probe
    makes the model worse, for either metric direction (for AUROC the error is ``1 - AUROC``). It
    is at least -1 (a probe cannot take the error below zero). ``None`` when the probe has no gap
    (missing, not applicable) or the plain score is already perfect.

    Examples
    --------
    >>> relative_gap({"gap": 0.5}, plain=2.0, perfect=0.0)  # error 2.0 -> 2.5: 25 % worse
    0.25
    >>> relative_gap({"gap": -0.25}, plain=0.75, perfect=1.0)  # AUROC 0.75 -> 0.5: error x2
    1.0
    """
    gap = entry.get("gap")
    if gap is None or plain is None:
        return None
    den = plain - perfect
    if not np.isfinite(den) or abs(den) <= 1e-12 * max(1.0, abs(perfect)):
        return None
    return finite(gap / den)


#: The variant of reversed-input predictions scored against the transposed graphs.
TRANSPOSED = "reversal_transposed"


def reversal_transposed(task: TaskSpec, boot: Scores) -> dict[str, Any]:
    """``{"reversal_transposed": entry}``: the primary metric of the reversed-input predictions
    against the **transposed** graph, for causal-discovery tasks (``task.extra
    ["reversal_transposed"]``), where playing a series backwards should flip the direction of
    Granger edges (``docs/protocols.md`` §8); ``probes.reversal`` scores the same predictions
    against the original graph. ``{}`` when the task does not ask for it or nothing was run."""
    if not task.extra.get("reversal_transposed") or TRANSPOSED not in boot:
        return {}
    prim = task.primary
    base, base_reps = boot(prim, "plain")
    val, reps = boot(prim, TRANSPOSED)
    return {
        TRANSPOSED: {
            "metric": prim,
            "value": finite(val),
            "gap": finite(val - base),
            "gap_ci95": ci(reps - base_reps),
            "note": "reversed-input predictions scored against the transposed graph (edges "
            "i -> j read as j -> i); probes.reversal scores them against the original graph",
        }
    }
