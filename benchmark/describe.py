"""``describe``: what a model receives and must return for a task, with names, dims and shapes."""

from __future__ import annotations

from typing import Any

from .bootstrap import unit_text
from .data import (
    DATASETS,
    Chunk,
    StoreError,
    Tier,
    is_prepared,
    open_part,
    store_dir,
    store_meta,
)
from .necessity import read_necessity
from .probes import PROBES, not_applicable
from .symmetries import SYMMETRIES
from .tasks import ONE_FRAME, TaskSpec, get_task
from .windows import constant_names, feature_names

__all__ = ["describe", "probe_applicability", "ONE_FRAME"]


def probe_applicability(task: TaskSpec | str) -> dict[str, str | None]:
    """Every temporal and symmetry probe of the suite: ``None`` where it applies to ``task``,
    else the reason it does not (``docs/probes.md`` §1 and §3).

    A one-frame context has nothing to reverse, shuffle or freeze, so no temporal probe applies
    (the N-body forecast); its symmetry probes still do. A ``local-b`` probe needs a context of
    at least two blocks (``2 b`` frames).

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
    for p in PROBES:
        why = not_applicable(p, task.context)
        if why is None and p not in task.probes:
            notes = task.extra.get("probe_notes", {})  # the task says why it does not apply
            why = str(notes[p]) if p in notes else "not declared in the task record"
        out[p] = why
    for g in SYMMETRIES:
        out[g] = (
            None
            if g in task.equivariance
            else "not a symmetry probed here: docs/probes.md §3 gives each physics' symmetries"
        )
    return out


def _count(feats: list[str] | str) -> Any:
    """The number of features, or ``F`` when the names are not known yet (a string says why)."""
    return "F" if isinstance(feats, str) else len(feats)


def _output(task: TaskSpec, n_ent: Any, tfeats: list[str] | str) -> dict[str, Any]:
    if task.kind == "classify":  # ``extra["per_window"]``: one label per window (a clip)
        return {
            "dims": ["window", "entity"],
            "shape": ["W", 1 if task.extra.get("per_window") else n_ent],
            "meaning": str(task.extra.get("output", "probability of the event for each entity")),
        }
    if task.kind == "regress":
        return {
            "dims": ["window", "param"],
            "shape": ["W", len(task.extra.get("params", ())) or "P"],
            "features": list(task.extra.get("params", ())),
            "meaning": str(task.extra.get("output", "the generating parameters, original units")),
        }
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
        "shape": ["W", len(steps), n_ent, _count(tfeats)],
        "features": tfeats,
        "meaning": f"{what}, in the input's units"
        + (f"; or (W, K <= {k}, ...) stochastic samples scored best-of-K" if k > 1 else ""),
    }


def _inputs(
    task: TaskSpec, n_ent: Any, feats: list[str] | str, cfeats: list[str] | None
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "ids": {"dims": ["window"], "shape": ["W"], "dtype": "int64"},
        "x": {
            "dims": ["window", "time", "entity", "feature"],
            "shape": ["W", task.context, n_ent, _count(feats)],
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


def _sample_of(task: TaskSpec, tier: Tier, prepared: bool) -> tuple[Any, str]:
    """A dataset to read entity and feature names from, and where it came from.

    The built store when prepared; else, for a simulator, one simulated sample of the test part
    (a fraction of a second: the names and counts are those of the store); else None (a download:
    the names are known once the files are parsed).
    """
    spec = DATASETS.get(task.dataset)
    part = task.splits["test"].part
    if prepared:  # a store that exists but cannot be read is corrupt, not "not prepared"
        meta = store_meta(task.dataset, tier)
        # verified: a damaged store (a deleted chunk too) is reported here, with the fix
        return open_part(task.dataset, tier, part, verify=True, meta=meta), "store"
    if spec.build_chunk is not None and spec.chunk_size:
        one = Chunk(part, 0, 0, 1)
        return spec.build_chunk(spec, spec.resolve_tier(tier), one), "one simulated sample"
    return None, f"known after `decathlon prepare {task.dataset}`"


def _names(task: TaskSpec, tier: Tier, ds: Any, from_store: bool) -> tuple[Any, Any, Any, Any]:
    """Entity count and input, target and constant feature names read from ``ds``; a store
    they cannot be read from is reported as corrupted, with the fix."""
    try:
        n_ent = ds.sizes.get("entity", "N") if task.window_fn is None else "P"
        feats = list(task.extra.get("features", ())) or [  # derived by the window_fn
            f for v in task.inputs for f in feature_names(ds, v)
        ]
        tfeats = [f for v in task.targets for f in feature_names(ds, v)]
        cfeats = [f for v in task.constants for f in constant_names(ds, v)]
    except (KeyError, ValueError, OSError) as e:
        if not from_store:
            raise
        d = store_dir(DATASETS.get(task.dataset), tier)
        raise StoreError(
            f"store {d} is corrupted ({type(e).__name__}: {str(e)[:200]}); delete {d} and "
            f"run `decathlon prepare {task.dataset} --tier {tier}` again"
        ) from None
    return n_ent, feats, tfeats, cfeats


def describe(task: TaskSpec | str, tier: Tier = "mini") -> dict[str, Any]:
    """What the model receives and must return, with names, dims and shapes.

    Shapes are given with ``W`` for the number of windows. Entity and feature counts come from
    the prepared dataset; before ``prepare``, from one simulated sample for a simulator
    (``shapes_from`` says which), symbolic (``N``, ``F``) for a download, with ``features``
    saying they are known after ``decathlon prepare``. Downloaded datasets also list their
    pinned upstream files (sha256 in the package) and their trust-on-first-use ones.

    Examples
    --------
    >>> d = describe("particles/springs-forecast")
    >>> d["output"]["dims"], d["output"]["shape"]
    (['window', 'horizon', 'entity', 'target_feature'], ['W', 20, 5, 4])
    >>> d["output"]["features"]
    ['pos_x', 'pos_y', 'vel_x', 'vel_y']
    """
    task = get_task(task)
    spec = DATASETS.get(task.dataset)
    prepared = is_prepared(task.dataset, tier)
    ds, source = _sample_of(task, tier, prepared)
    if ds is None:
        n_ent, feats, tfeats, cfeats = "N", source, source, None
    else:
        n_ent, feats, tfeats, cfeats = _names(task, tier, ds, from_store=source == "store")
    out = {
        "task": task.name,
        "version": task.version,
        "event": task.event,
        "kind": task.kind,
        "dataset": task.dataset,
        "domain": spec.domain,
        "tier": tier,
        "prepared": prepared,
        "shapes_from": source,
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
        "intervals": {"unit": task.bootstrap_unit, "resamples": unit_text(task)},
        "trivial_baseline": task.trivial,
        "temporal_necessity": read_necessity(task),
        "description": task.description,
    }
    if spec.files:
        out["upstream_files"] = {
            "pinned": [f.name for f in spec.files if f.sha256],
            "trust_on_first_use": [f.name for f in spec.files if not f.sha256],
        }
    return out
