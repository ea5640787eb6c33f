"""Temporal necessity ``N``: how much a task rewards knowing the order of its frames.

``N = E(best order-agnostic model) - E(best order-aware model)`` (``docs/probes.md`` §2,
definition 3; after Sevilla-Lara et al., *Only Time Can Tell*, WACV 2021, who keep only the
classes that cannot be recognised once temporal order is destroyed). ``E`` is the distance of
the task's primary metric to its perfect value (the error; ``1 - AUROC`` for AUROC), so ``N > 0``
means order helps and ``N`` is in the primary metric's units.

Each kind of task has a set of order-aware reference baselines and a set of order-agnostic ones
(:data:`REFERENCES`, by task kind and data family): the order-agnostic set holds the aware
models trained *and* tested on shuffled input frames (``<name>-shuffled``,
:mod:`decathlon.baselines.shuffled`; ``gru-shuffled`` for the forecasts) and models blind to
frame order by construction (``proximity``, ``corr``, ``train-mean``, ``chance``). Every model
of both sets is made and trained by the suite's one :func:`~.suite.trained_baseline` with the
same budget on the same tier and scored on the same test windows; the best of each set (the
smallest error on those windows) gives ``N``, and its 95 % interval is a paired bootstrap of
the difference between those two models that resamples the task's own unit
(:func:`~.bootstrap.task_bootstrap`: windows, or whole simulations on the arrow of time). A
task with ``N`` near 0 cannot test temporal modelling.

The values are computed by maintainers (``decathlon necessity``) and committed in
``necessity.json`` beside this module, with the command, package version and date that made
them; ``decathlon describe TASK`` shows them.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .baselines import BASELINES
from .bootstrap import PairedBootstrap, ci, finite, task_bootstrap
from .cache import write_atomic
from .collect import collect
from .context import prepare
from .data import DATASETS, Tier
from .evaluate import model_predictor, use_tier
from .tasks import ONE_FRAME, TaskSpec, get_task, list_tasks
from .windows import Windows

__all__ = [
    "NECESSITY_FILE",
    "References",
    "REFERENCES",
    "references",
    "temporal_necessity",
    "compute_necessity",
    "read_necessity",
]

#: The committed values (written by ``decathlon necessity``; beside the source file, also in an
#: editable install, whose package folder holds links).
NECESSITY_FILE = Path(__file__).resolve().with_name("necessity.json")
#: Version of the file's layout (2: sets of reference models per task).
FORMAT = 2


@dataclass(frozen=True)
class References:
    """The reference baselines of ``N`` for one kind of task: order-aware and order-agnostic
    (each set in the order they are trained; the best of each counts)."""

    aware: tuple[str, ...]
    agnostic: tuple[str, ...]


#: Reference sets by (task kind, data family). Particle graphs: NRI against the order-free
#: mean distance and NRI on shuffled frames; causal graphs: the lagged linear tests against
#: themselves on shuffled series and the contemporaneous correlation; swarm parameters: the
#: order parameters against themselves on shuffled frames and the train mean; the arrow of time:
#: the CNN and the physics trends against the CNN on shuffled frames (what is left is per-frame
#: evidence) and chance; forecasts: the GRU and the attention forecaster with positional
#: encoding against the GRU on shuffled context frames and the attention forecaster without
#: positional encoding (blind to frame order by construction; it also serves the pedestrians,
#: whose entities come and go, which the GRU refuses); constant velocity (no training, reads the
#: last two frames) and the context mean (no training, a symmetric function of the frames) keep
#: both sides honest where the learned models are weak (at the cpu budget on the pedestrians).
#: Sensor-network forecasts: the VAR and persistence against the context mean (no learned
#: order-free forecaster serves them yet: the GRU refuses a sensor series, and the VAR reads
#: one continuous training sequence, which the shuffling wrapper cannot permute).
REFERENCES: dict[tuple[str, str], References] = {
    ("forecast", "trajectories"): References(
        ("gru", "attention", "constant-velocity"),
        ("gru-shuffled", "attention-nopos", "context-mean"),
    ),
    ("forecast", "sensor_network"): References(("var", "static"), ("context-mean",)),
    ("graph", "trajectories"): References(("nri",), ("proximity", "chance", "nri-shuffled")),
    ("graph", "causal_series"): References(
        ("granger-ridge", "xcorr"), ("corr", "chance", "granger-ridge-shuffled", "xcorr-shuffled")
    ),
    ("regress", "trajectories"): References(
        ("order-params",), ("train-mean", "order-params-shuffled")
    ),
    ("classify", "trajectories"): References(
        ("arrow-cnn", "arrow-features"), ("chance", "arrow-cnn-shuffled")
    ),
}


#: Tasks left without a reference set on purpose, and why (their ``not_computed`` reason).
NO_REFERENCES = {
    "cells/ctc-hela-division": (
        "no reference set: every frame carries the cell's age (state_age), a clock, so an "
        "order-free model finds the latest frame as the one of largest age; the order-aware "
        "cell-age and its order-free twin (the largest age over the frames) score the same, N = 0 "
        "by construction. An informative N needs references that do not read the clock"
    ),
}


def references(task: TaskSpec) -> tuple[References, str | None]:
    """The reference sets of ``task``, less the baselines that do not serve it, and why ``N``
    cannot be computed from them (None when both sets keep a model).

    Examples
    --------
    >>> refs, why = references(get_task("causal/var-lag3"))
    >>> refs.aware, why
    (('granger-ridge', 'xcorr'), None)
    >>> references(get_task("cells/ctc-hela-division"))[1][:40]
    'no reference set: every frame carries th'
    """
    if task.name in NO_REFERENCES:
        return References((), ()), NO_REFERENCES[task.name]
    family = DATASETS.get(task.dataset).family
    refs = REFERENCES.get((task.kind, family))
    if refs is None:
        return References((), ()), (
            f"no reference baselines for {task.kind} tasks on {task.dataset!r} ({family} data)"
        )
    keep = References(
        tuple(b for b in refs.aware if BASELINES.get(b).serves(task)),
        tuple(b for b in refs.agnostic if BASELINES.get(b).serves(task)),
    )
    for side, want, have in (
        ("aware", refs.aware, keep.aware),
        ("agnostic", refs.agnostic, keep.agnostic),
    ):
        if not have:
            return keep, f"no order-{side} reference ({', '.join(want)}) serves {task.name!r}"
    return keep, None


def _error(e: float) -> float:
    """An error to rank by: NaN (no value) ranks last."""
    return float(e) if np.isfinite(e) else np.inf


def _error_sign(task: TaskSpec) -> float:
    """+1 when the primary metric is an error, -1 when higher is better (``E = perfect - v``)."""
    return -1.0 if task.higher_is_better else 1.0


def _trained_stats(
    task: TaskSpec, names: tuple[str, ...], tier: Tier, training: tuple[int | None, str]
) -> tuple[dict[str, Any], dict[str, str], Windows]:
    """Per-window statistics of every model in ``names`` on the test windows (made and trained
    by :func:`~.suite.trained_baseline`), the models that refused to train and why, and the
    test windows."""
    from .suite import CannotTrain, trained_baseline

    w = prepare(task, "test", tier).windows
    stats: dict[str, Any] = {}
    refused: dict[str, str] = {}
    for name in names:
        try:
            model = use_tier(trained_baseline(name, task, tier, training), tier)
        except CannotTrain as e:
            refused[name] = str(e)
            continue
        stats[name] = collect(task, w, [], model_predictor(model, task, w)).stats["plain"]
    return stats, refused, w


def temporal_necessity(
    task: TaskSpec | str,
    tier: Tier = "mini",
    budget: str = "cpu",
    epochs: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the reference baselines of ``task`` (:func:`references`) and return ``N``, its
    interval and every model's value.

    Raises ``ValueError`` when no reference set serves the task (or the baselines' own
    ``ValueError``), and :class:`~.suite.CannotTrain` when every model of a set refuses to
    train. A one-frame context needs no training: shuffling it changes nothing, ``N = 0`` by
    construction.
    """
    from .suite import CannotTrain

    task = get_task(task)
    refs, why = references(task)
    rec: dict[str, Any] = {"task": task.name, "tier": tier, "budget": budget, "epochs": epochs}
    rec |= {"metric": task.primary, "aware": list(refs.aware), "agnostic": list(refs.agnostic)}
    if task.context <= 1:
        note = f"{ONE_FRAME}: shuffling it changes nothing, so N = 0 by construction"
        return rec | {"N": 0.0, "ci95": [0.0, 0.0], "note": note}
    if why is not None:
        raise ValueError(f"temporal necessity of {task.name!r}: {why}")
    stats, refused, w = _trained_stats(task, refs.aware + refs.agnostic, tier, (epochs, budget))
    n = len(w)
    sign = _error_sign(task)
    point = PairedBootstrap(stats, n, 0, seed)
    values = {m: point(task.primary, m)[0] for m in stats}
    best = []
    for side in (refs.aware, refs.agnostic):
        have = [m for m in side if m in stats]
        if not have:
            raise CannotTrain("; ".join(f"{m}: {refused[m]}" for m in side))
        best.append(min(have, key=lambda m: _error(sign * values[m])))
    (ba, bg) = best
    boot = task_bootstrap(task, w, {m: stats[m] for m in best}, n_boot, seed)  # task's unit
    (va, ra), (vg, rg) = boot(task.primary, ba), boot(task.primary, bg)
    out = rec | {
        "values": {m: finite(v) for m, v in values.items()},
        "best_aware": ba,
        "best_agnostic": bg,
        "aware_value": finite(va),
        "agnostic_value": finite(vg),
        "N": finite(sign * (vg - va)),
        "ci95": ci(sign * (np.asarray(rg) - np.asarray(ra))),
        "n_windows": n,
        "n_boot": n_boot,
        "bootstrap": boot.record(),  # the unit resampled (blocks in time on the recordings)
    }
    return out | ({"refused": refused} if refused else {})


def _not_served(task: TaskSpec, tier: Tier) -> str | None:
    """Why the reference baselines cannot give ``N`` here without training, or None."""
    from .suite import skip_reason

    why = references(task)[1]
    if why is None and task.context > 1:
        return skip_reason(task.name, tier)
    return why


def compute_necessity(
    tasks: list[str] | None = None,
    tier: Tier = "mini",
    budget: str = "cpu",
    epochs: int | None = None,
    n_boot: int = 1000,
    command: str = "decathlon necessity",
    path: str | Path | None = NECESSITY_FILE,
) -> dict[str, Any]:
    """``N`` of every registered task (or of ``tasks``), written to ``path`` (default: the
    committed :data:`NECESSITY_FILE`; ``None``: not written). A task the reference baselines
    cannot serve or train on, or whose data are not here, is listed under ``not_computed`` with
    the reason. With ``tasks``, the other tasks' entries already in ``path`` are kept (the file
    is updated, not replaced).
    """
    from decathlon import __version__

    from .suite import CannotTrain

    names = tasks or list_tasks()
    new: dict[str, Any] = {"tasks": {}, "not_computed": {}}
    for name in names:
        task = get_task(name)
        why = _not_served(task, tier)
        if why is None:
            try:
                rec = temporal_necessity(task, tier, budget, epochs, n_boot)
                new["tasks"][task.name] = rec | {"command": command}
                continue
            except CannotTrain as e:
                why = f"the reference baselines refuse it: {e}"
        new["not_computed"][task.name] = why
    out: dict[str, Any] = {"tasks": {}, "not_computed": {}}
    if tasks and path is not None and Path(path).is_file():
        # read when writing, not when starting: another update may have landed meanwhile
        old = json.loads(Path(path).read_text())
        if old.get("format") == FORMAT:
            out = {k: old.get(k, {}) for k in ("tasks", "not_computed")}
    for part in ("tasks", "not_computed"):
        for name in new["tasks"] | new["not_computed"]:
            out[part].pop(name, None)
        out[part] |= new[part]
    head = {
        "format": FORMAT,
        "definition": "N = E(best order-agnostic reference) - E(best order-aware reference), "
        "E = distance of the primary metric to its perfect value; N > 0: order helps "
        "(docs/probes.md section 2)",
        "decathlon_version": __version__,
        "date": datetime.date.today().isoformat(),
        "command": "see each record's command" if tasks else command,
    }
    out = head | {k: dict(sorted(out[k].items())) for k in ("tasks", "not_computed")}
    if path is not None:
        write_atomic(path, json.dumps(out, indent=1) + "\n")
    return out


def read_necessity(task: TaskSpec | str, path: str | Path = NECESSITY_FILE) -> dict[str, Any]:
    """The committed ``N`` of ``task`` (``{"status": "computed", ...}``), or ``{"status": "not
    computed", "reason": ...}`` when it is absent from the file or the file is absent.

    Examples
    --------
    >>> read_necessity("particles/nbody-forecast")["N"]
    0.0
    """
    name = get_task(task).name
    p = Path(path)
    if not p.is_file():
        return {"status": "not computed", "reason": f"no {p.name} (run `decathlon necessity`)"}
    data = json.loads(p.read_text())
    if name in data.get("tasks", {}):
        rec = data["tasks"][name]
        return {"status": "computed", **rec, "decathlon_version": data.get("decathlon_version")}
    reason = data.get("not_computed", {}).get(name, "not in the committed necessity.json")
    return {"status": "not computed", "reason": reason}
