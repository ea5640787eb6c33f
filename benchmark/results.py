"""Result records: construction, the published JSON schema, saving and loading.

The schema ships in the package (``decathlon/benchmark/result.schema.json``); every record the
evaluator writes validates against it, and so must every submission.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

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


def save_result(result: dict[str, Any], directory: str | Path, *, overwrite: bool = False) -> Path:
    """Validate ``result`` and write it into ``directory`` as ``<model>__<task>__<tier>.json``.

    The file is named after the model (``result["model"]["name"]``: the model's ``name``
    attribute, else its class name; ``decathlon score --name``), the task and the tier, so the
    results of different models sit side by side. It is written to a temporary file and moved
    into place when complete, with the permissions of any new file (the user's umask).

    Parameters
    ----------
    result
        A record from :func:`~decathlon.benchmark.evaluate.evaluate` or
        :func:`~decathlon.benchmark.offline.score`.
    directory
        The folder to write into (created if missing).
    overwrite
        Replace an existing file of the same name. By default an existing file is never
        replaced silently: :class:`FileExistsError`, naming the file.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    After ``result = evaluate(Persistence(), prepare("particles/springs-forecast"))``::

        save_result(result, "results")  # results/Persistence__particles-springs-forecast__mini.json
        save_result(result, "results")  # FileExistsError: ... pass overwrite=True ...
        save_result(result, "results", overwrite=True)  # replaced
    """
    validate_result(result)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / result_filename(result)
    if path.exists() and not overwrite:
        raise _exists(path, result)
    tmp = str(d / f".result-{secrets.token_hex(8)}.tmp")
    # os.open with 0o666 leaves the mode to the user's umask (mkstemp would make it 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path, result)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _link_new(tmp: str, path: Path, result: dict[str, Any]) -> None:
    """Move ``tmp`` to ``path`` only if ``path`` does not exist (a hard link fails if it does,
    so two writers cannot both win); file systems without hard links fall back to a rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists(path, result) from None
    except OSError:  # no hard links here (some network or FAT file systems)
        if path.exists():
            raise _exists(path, result) from None
        os.replace(tmp, path)


def _exists(path: Path, result: dict[str, Any]) -> FileExistsError:
    return FileExistsError(
        f"result file {path} already exists; pass overwrite=True (command line: --overwrite) "
        f"to replace it, or name the model differently (now {result['model']['name']!r}: the "
        "model's `name` attribute, or `decathlon score --name`)"
    )


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
