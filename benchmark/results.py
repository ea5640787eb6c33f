"""Result records: construction, the published JSON schema, saving and the decathlon score.

The schema ships in the package (``decathlon/benchmark/result.schema.json``); every record the
evaluator writes validates against it, and so must every submission.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["make_result", "result_schema", "validate_result", "save_result", "load_result", "decathlon_score"]

SCHEMA_VERSION = 1


@lru_cache(maxsize=1)
def result_schema() -> dict[str, Any]:
    """The result JSON schema (draft 2020-12)."""
    return json.loads(resources.files("decathlon.benchmark").joinpath("result.schema.json").read_text())


def validate_result(result: dict[str, Any]) -> dict[str, Any]:
    """Validate ``result`` against the schema; ``ValueError`` naming every violation."""
    import jsonschema

    v = jsonschema.Draft202012Validator(result_schema())
    errors = sorted(v.iter_errors(result), key=lambda e: list(e.path))
    if errors:
        lines = "\n  - ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:200]}" for e in errors[:20])
        raise ValueError(f"result record breaks the result schema:\n  - {lines}")
    return result


def make_result(*, model, task, scored, seeds, hardware, wall_clock_s, predictions_sha256, tier) -> dict[str, Any]:
    """Assemble and validate a result record."""
    from decathlon import __version__

    from .evaluate import EVALUATOR_VERSION

    rec = {
        "schema_version": SCHEMA_VERSION,
        "evaluator_version": EVALUATOR_VERSION,
        "decathlon_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model,
        "task": task,
        "n_windows": scored["n_windows"],
        "metrics": scored["metrics"],
        "probes": scored["probes"],
        "seeds": seeds,
        "hardware": hardware,
        "wall_clock_s": None if wall_clock_s is None else round(float(wall_clock_s), 4),
        "predictions_sha256": predictions_sha256,
        "verification": tier,
    }
    if "curve" in scored:
        rec["curve"] = scored["curve"]
    if "points" in scored:
        rec["points"] = scored["points"]
    if "metric_variant" in scored:
        rec["metric_variant"] = scored["metric_variant"]
    if "equivariance" in scored:
        rec["equivariance"] = scored["equivariance"]
    return validate_result(rec)


def result_filename(result: dict[str, Any]) -> str:
    """``<model>__<task with / as ->__<tier>.json``, safe on every file system."""
    raw = f"{result['model']['name']}__{result['task']['name']}__{result['task']['tier']}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw.replace("/", "-")) + ".json"


def save_result(result: dict[str, Any], directory: str | Path) -> Path:
    """Validate and write ``result`` atomically into ``directory``; returns the path."""
    validate_result(result)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / result_filename(result)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".result-")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, path)
    return path


def load_result(path: str | Path, max_bytes: int = 5 << 20) -> dict[str, Any]:
    """Read and validate a result JSON file (refusing files over ``max_bytes``)."""
    p = Path(path)
    if p.stat().st_size > max_bytes:
        raise ValueError(f"{p} is {p.stat().st_size} bytes; result files are at most {max_bytes} bytes")
    try:
        rec = json.loads(p.read_text())
    except ValueError as e:
        raise ValueError(f"{p} is not valid JSON ({e})") from None
    return validate_result(rec)


def decathlon_score(results: list[dict[str, Any]], n_boot: int = 1000, seed: int = 0,
                    events: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Sum of event points for one model; an event's points are the mean over its tasks.

    ``events`` maps each event to its task names; a task without a result counts 0 points, so
    a model that skips a task of an event is not rewarded for it (default: the events and tasks
    present in ``results``). The interval is approximate: per-task points are resampled
    independently from a normal approximation fitted to each task's bootstrap interval
    ((hi - lo) / 3.92 as standard deviation), clipped to [0, 1000], summed over events.
    """
    by_task = {r["task"]["name"]: r for r in results if "points" in r}
    if events is None:
        events = {}
        for r in by_task.values():
            events.setdefault(r["task"].get("event") or r["task"]["name"], []).append(r["task"]["name"])
    rng = np.random.default_rng(seed)
    total = 0.0
    draws = np.zeros(n_boot)
    per_event = {}
    for ev, names in sorted(events.items()):
        ev_draw = np.zeros(n_boot)
        vals = []
        for name in names:
            r = by_task.get(name)
            if r is None:
                vals.append(0.0)
                continue
            lo, hi = r["points"]["ci95"]
            sd = 0.0 if lo is None or hi is None else (hi - lo) / 3.92
            ev_draw += np.clip(rng.normal(r["points"]["value"], sd, n_boot), 0, 1000)
            vals.append(r["points"]["value"])
        per_event[ev] = float(np.mean(vals))
        total += per_event[ev]
        draws += ev_draw / len(names)
    lo, hi = np.percentile(draws, [2.5, 97.5]) if events else (0.0, 0.0)
    return {"total": total, "ci95": [float(lo), float(hi)], "events": per_event, "max": 1000 * len(events)}
