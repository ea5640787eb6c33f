"""``describe``: what a model receives and must return for a task, with names, dims and shapes."""

from __future__ import annotations

from typing import Any

from .data import DATASETS, StoreError, Tier, is_prepared, open_part, store_dir, store_meta
from .symmetries import SYMMETRIES
from .tasks import TaskSpec, get_task
from .windows import constant_names, feature_names

__all__ = ["describe", "probe_applicability", "ONE_FRAME"]

#: Why a one-frame context has no temporal probe (the table's and the figure's ``n/a`` marker).
ONE_FRAME = "one-frame context"

#: The temporal probes in display order (:data:`decathlon.benchmark.probes.PROBES`).
_TEMPORAL = ("reversal", "shuffle", "freeze")


def probe_applicability(task: TaskSpec | str) -> dict[str, str | None]:
    """Every temporal and symmetry probe of the suite: ``None`` where it applies to ``task``,
    else the reason it does not (``docs/probes.md`` §1 and §3).

    A one-frame context has nothing to reverse, shuffle or freeze, so no temporal probe applies
    (the N-body forecast); its symmetry probes still do.

    Examples
    --------
    >>> a = probe_applicability("particles/nbody-forecast")
    >>> a["reversal"]
    'one-frame context: nothing to reverse, shuffle or freeze'
    >>> a["rotate"] is None
    True
    """
    task = get_task(task)
    out: dict[str, str | None] = {}
    for p in _TEMPORAL:
        if p in task.probes:
            out[p] = None
        elif task.context <= 1:
            out[p] = f"{ONE_FRAME}: nothing to reverse, shuffle or freeze"
        else:
            out[p] = "not declared in the task record"
    for g in SYMMETRIES:
        out[g] = (
            None
            if g in task.equivariance
            else "not a symmetry probed here: docs/probes.md §3 gives each physics' symmetries"
        )
    return out


def _output(task: TaskSpec, n_ent: Any, tfeats: list[str]) -> dict[str, Any]:
    if task.kind != "forecast":
        return {
            "dims": ["window", "entity", "entity_"],
            "shape": ["W", n_ent, n_ent],
            "meaning": "score in [0, 1] that edge i -> j exists; the diagonal is ignored",
        }
    steps = task.steps
    what = (
        f"the {task.horizon} frames after the context"
        if len(steps) == task.horizon
        else f"the frames {list(steps)} steps after the last context frame"
    )
    k = task.best_of
    return {
        "dims": ["window", "horizon", "entity", "target_feature"],
        "shape": ["W", len(steps), n_ent, len(tfeats)],
        "features": tfeats,
        "meaning": f"{what}, in the input's units"
        + (f"; or (W, K <= {k}, ...) stochastic samples scored best-of-K" if k > 1 else ""),
    }


def _inputs(
    task: TaskSpec, n_ent: Any, feats: list[str], cfeats: list[str] | None
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "ids": {"dims": ["window"], "shape": ["W"], "dtype": "int64"},
        "x": {
            "dims": ["window", "time", "entity", "feature"],
            "shape": ["W", task.context, n_ent, len(feats)],
            "dtype": "float32",
            "features": feats,
        },
    }
    if task.constants:
        inputs["constants"] = {
            "dims": ["window", "entity", "constant_feature"],
            "shape": ["W", n_ent, "K" if cfeats is None else len(cfeats)],
            "dtype": "float32",
            "features": list(task.constants) if cfeats is None else cfeats,
        }
    padded = "; P = entities of the busiest window, padded slots are masked out"
    inputs["mask"] = {
        "dims": ["window", "time", "entity"],
        "dtype": "bool",
        "note": "present only for datasets where entities come and go"
        + (padded if n_ent == "P" else ""),
    }
    return inputs


def describe(task: TaskSpec | str, tier: Tier = "mini") -> dict[str, Any]:
    """What the model receives and must return, with names, dims and shapes.

    Shapes are given with ``W`` for the number of windows; entity and feature counts are read
    from the prepared dataset when available, else left symbolic.

    Examples
    --------
    >>> d = describe("particles/springs-forecast")
    >>> d["output"]["dims"]
    ['window', 'horizon', 'entity', 'target_feature']
    """
    task = get_task(task)
    spec = DATASETS.get(task.dataset)
    n_ent: Any = "N"
    feats: list[str] = list(task.inputs)
    tfeats: list[str] = list(task.targets)
    cfeats: list[str] | None = None
    prepared = is_prepared(task.dataset, tier)
    if prepared:  # a store that exists but cannot be read is corrupt, not "not prepared"
        meta = store_meta(task.dataset, tier)
        # verified: a damaged store (a deleted chunk too) is reported here, with the fix
        ds = open_part(task.dataset, tier, task.splits["test"].part, verify=True, meta=meta)
        try:
            n_ent = ds.sizes.get("entity", "N") if task.window_fn is None else "P"
            feats = [f for v in task.inputs for f in feature_names(ds, v)]
            tfeats = [f for v in task.targets for f in feature_names(ds, v)]
            cfeats = [f for v in task.constants for f in constant_names(ds, v)]
        except (KeyError, ValueError, OSError) as e:
            d = store_dir(DATASETS.get(task.dataset), tier)
            raise StoreError(
                f"store {d} is corrupted ({type(e).__name__}: {str(e)[:200]}); delete {d} and "
                f"run `decathlon prepare {task.dataset} --tier {tier}` again"
            ) from None
    return {
        "task": task.name,
        "version": task.version,
        "event": task.event,
        "kind": task.kind,
        "dataset": task.dataset,
        "domain": spec.domain,
        "tier": tier,
        "prepared": prepared,
        "context": task.context,
        "horizon": task.horizon,
        "normalization": task.normalize or "none (original units)",
        "inputs": _inputs(task, n_ent, feats, cfeats),
        "output": _output(task, n_ent, tfeats),
        "metrics": list(task.metrics),
        "primary": task.primary,
        "direction": "higher is better" if task.higher_is_better else "lower is better",
        "probes": list(task.probes),
        "equivariance": list(task.equivariance),
        "probes_not_applied": {
            k: why for k, why in probe_applicability(task).items() if why is not None
        },
        "time_reversible_physics": task.reversible,
        "trivial_baseline": task.trivial,
        "description": task.description,
    }
