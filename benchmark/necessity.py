"""Temporal necessity ``N``: how much a task rewards knowing the order of its frames.

``N = E(best order-agnostic model) - E(best order-aware model)`` (``docs/probes.md`` §2,
definition 3; after Sevilla-Lara et al., *Only Time Can Tell*, WACV 2021, who keep only the
classes that cannot be recognised once temporal order is destroyed). ``E`` is the distance of
the task's primary metric to its perfect value (the error; ``1 - AUROC`` for AUROC), so ``N > 0``
means order helps and ``N`` is in the primary metric's units. The order-aware model is the
``gru`` baseline, the order-agnostic one the same network trained and tested on shuffled
context frames (``gru-shuffled``, :mod:`decathlon.baselines.gru`); both are trained with the
same budget on the same tier and scored on the same test windows, and the 95 % interval of
``N`` is a paired bootstrap over those windows. A task with ``N`` near 0 cannot test temporal
modelling.

The values are computed by maintainers (``decathlon necessity``) and committed in
``necessity.json`` beside this module, with the command, package version and date that made
them; ``decathlon describe TASK`` shows them.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np

from .baselines import BASELINES
from .bootstrap import ci, finite, task_bootstrap
from .cache import write_atomic
from .collect import collect
from .context import prepare
from .data import Tier
from .evaluate import model_predictor
from .tasks import ONE_FRAME, TaskSpec, get_task, list_tasks

__all__ = [
    "NECESSITY_FILE",
    "temporal_necessity",
    "compute_necessity",
    "read_necessity",
    "AWARE",
    "AGNOSTIC",
]

#: The committed values (written by ``decathlon necessity``; beside the source file, also in an
#: editable install, whose package folder holds links).
NECESSITY_FILE = Path(__file__).resolve().with_name("necessity.json")
#: The order-aware and the order-agnostic reference baselines.
AWARE, AGNOSTIC = "gru", "gru-shuffled"
#: Version of the file's layout.
FORMAT = 1


def _error_sign(task: TaskSpec) -> float:
    """+1 when the primary metric is an error, -1 when higher is better (``E = perfect - v``)."""
    return -1.0 if task.higher_is_better else 1.0


def temporal_necessity(
    task: TaskSpec | str,
    tier: Tier = "mini",
    budget: str = "cpu",
    epochs: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Train :data:`AWARE` and :data:`AGNOSTIC` on ``task`` and return ``N`` with its interval.

    Raises the baselines' ``ValueError`` when they cannot serve or train on the task; a
    one-frame context needs no training: shuffling it changes nothing, ``N = 0`` by
    construction.
    """
    from .suite import _trained  # the suite's one way to make and fit a baseline

    task = get_task(task)
    rec: dict[str, Any] = {"task": task.name, "tier": tier, "budget": budget, "epochs": epochs}
    rec |= {"metric": task.primary, "aware": AWARE, "agnostic": AGNOSTIC}
    if task.context <= 1:
        note = f"{ONE_FRAME}: shuffling it changes nothing, so N = 0 by construction"
        return rec | {"N": 0.0, "ci95": [0.0, 0.0], "note": note}
    prepared = prepare(task, "test", tier)
    w = prepared.windows
    stats: dict[str, Any] = {}
    for name in (AWARE, AGNOSTIC):
        model = _trained(name, task, tier, (epochs, budget), False)
        stats[name] = collect(task, w, [], model_predictor(model, task, w)).stats["plain"]
    boot = task_bootstrap(task, w, stats, n_boot, seed)
    values = {name: boot(task.primary, name) for name in (AWARE, AGNOSTIC)}
    sign = _error_sign(task)
    (va, ra), (vg, rg) = values[AWARE], values[AGNOSTIC]
    return rec | {
        "aware_value": finite(va),
        "agnostic_value": finite(vg),
        "N": finite(sign * (vg - va)),
        "ci95": ci(sign * (np.asarray(rg) - np.asarray(ra))),
        "n_windows": len(w),
        "n_boot": n_boot,
    }


def _not_served(task: TaskSpec, tier: Tier) -> str | None:
    """Why the reference baselines cannot give ``N`` here without training, or None."""
    from .suite import _skip_reason

    for name in (AWARE, AGNOSTIC):
        if not BASELINES.get(name).serves(task):
            return f"the {name} baseline does not serve {task.kind} tasks on {task.dataset!r}"
    if task.context > 1:
        return _skip_reason(task.name, tier)
    return None


def compute_necessity(
    tasks: list[str] | None = None,
    tier: Tier = "mini",
    budget: str = "cpu",
    epochs: int | None = None,
    n_boot: int = 1000,
    command: str = "decathlon necessity",
    path: str | Path | None = NECESSITY_FILE,
) -> dict[str, Any]:
    """``N`` of every forecast task (or ``tasks``), written to ``path`` (default: the committed
    :data:`NECESSITY_FILE`; ``None``: not written). A task the reference baselines cannot serve
    or train on, or whose data are not here, is listed under ``not_computed`` with the reason.
    """
    from decathlon import __version__

    from .suite import CannotTrain

    names = tasks or [n for n in list_tasks() if get_task(n).kind == "forecast"]
    out: dict[str, Any] = {
        "format": FORMAT,
        "definition": "N = E(gru-shuffled) - E(gru), E = distance of the primary metric to its "
        "perfect value; N > 0: order helps (docs/probes.md section 2)",
        "decathlon_version": __version__,
        "date": datetime.date.today().isoformat(),
        "command": command,
        "tasks": {},
        "not_computed": {},
    }
    for name in names:
        task = get_task(name)
        why = _not_served(task, tier)
        if why is None:
            try:
                out["tasks"][name] = temporal_necessity(task, tier, budget, epochs, n_boot)
                continue
            except CannotTrain as e:
                why = f"the gru refuses it: {e}"
        out["not_computed"][name] = why
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
