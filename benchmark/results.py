"""Result records: construction, the published JSON schema, saving and loading.

The schema ships in the package (``decathlon/benchmark/result.schema.json``); every record the
evaluator writes validates against it, and so must every submission.
"""

from __future__ import annotations

import json
import re
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .cache import write_atomic

__all__ = [
    "make_result",
    "result_schema",
    "validate_result",
    "save_result",
    "load_result",
    "Verification",
]

SCHEMA_VERSION = 1

#: How far a result is trusted: as reported by its author, re-scored from its predictions by the
#: leaderboard, or re-run from its code.
Verification = Literal["self-reported", "re-scored", "re-run"]


@lru_cache(maxsize=1)
def result_schema() -> dict[str, Any]:
    """The result JSON schema (draft 2020-12)."""
    return json.loads(
        resources.files("decathlon.benchmark").joinpath("result.schema.json").read_text()
    )


def validate_result(result: dict[str, Any]) -> dict[str, Any]:
    """Validate ``result`` against the schema; ``ValueError`` naming every violation."""
    import jsonschema

    v = jsonschema.Draft202012Validator(result_schema())
    errors = sorted(v.iter_errors(result), key=lambda e: list(e.path))
    if errors:
        lines = "\n  - ".join(
            f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:200]}" for e in errors[:20]
        )
        raise ValueError(f"result record breaks the result schema:\n  - {lines}")
    return result


def make_result(
    *,
    model: dict[str, Any],
    task: dict[str, Any],
    scored: dict[str, Any],
    seeds: dict[str, Any],
    hardware: dict[str, Any],
    wall_clock_s: float | None,
    predictions_sha256: str,
    verification: Verification,
    evaluation: dict[str, Any] | None = None,
) -> dict[str, Any]:
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
        "verification": verification,
    }
    if "curve" in scored:
        rec["curve"] = scored["curve"]
    if "points" in scored:
        rec["points"] = scored["points"]
    if "metric_variant" in scored:
        rec["metric_variant"] = scored["metric_variant"]
    if "equivariance" in scored:
        rec["equivariance"] = scored["equivariance"]
    if evaluation is not None:
        rec["evaluation"] = evaluation
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
    # written with the user's umask (not mkstemp's 0600), renamed into place when complete
    return write_atomic(path, json.dumps(result, indent=1), prefix=".result-")


def load_result(path: str | Path, max_bytes: int = 5 << 20) -> dict[str, Any]:
    """Read and validate a result JSON file (refusing files over ``max_bytes``)."""
    p = Path(path)
    if p.stat().st_size > max_bytes:
        raise ValueError(
            f"{p} is {p.stat().st_size} bytes; result files are at most {max_bytes} bytes"
        )
    try:
        rec = json.loads(p.read_text())
    except ValueError as e:
        raise ValueError(f"{p} is not valid JSON ({e})") from None
    return validate_result(rec)
