"""The results cache of ``decathlon run``: reuse a stored result when nothing it depends on changed.

A (task, baseline) evaluation is reused only when its **key** is the one stored beside its result:

* the model: baseline name, version and configuration (before training: ``epochs`` and the
  training settings are part of it);
* the task: name, version, split and tier;
* the data: dataset name and version, and the ``data_sha256`` of the store as built
  (``COMPLETE.json``), so a rebuilt or changed store is never matched by an old result;
* the evaluator: ``EVALUATOR_VERSION``, the package version, the sha256 of the result schema
  and the evaluation settings (``n_boot``, seed, probes, batch size).

Beside each result file ``<out>/<result>.json`` the suite writes ``<out>/.decathlon-run/<model>__
<task>__<tier>.json`` holding the key, the result file's name and its sha256, and the seconds
the evaluation took (training included). A cache hit is verified, not assumed: the key must be
equal, the result file must have the recorded sha256 and must validate against the result schema.
A sidecar or result file that cannot be read is reported with a warning and the pair is computed
again; nothing here ever raises for a damaged cache.

The recorded seconds also feed the estimate ``decathlon run`` prints before it starts
(:func:`pair_seconds`); pairs never run here use :data:`DEFAULT_SECONDS`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .cache import write_atomic

__all__ = [
    "DEFAULT_BUILD_SECONDS",
    "DEFAULT_SECONDS",
    "SIDECAR_DIR",
    "cached_result",
    "machine_load",
    "estimate",
    "pair_key",
    "pair_seconds",
    "record_pair",
]

log = logging.getLogger("decathlon")

#: Folder (inside the results folder) holding one key file per (model, task, tier).
SIDECAR_DIR = ".decathlon-run"
#: Version of the key's layout; a new layout never matches an old key.
KEY_VERSION = 1

#: Seconds one (task, baseline) evaluation takes at the ``mini`` tier on an idle 2-vCPU machine
#: (training included; 1000 bootstrap resamples, 20 GRU epochs), by baseline, then by task.
#: The rule-based baselines: one `decathlon run` on this project's 2-vCPU machine (their single-
#: threaded numpy work was barely slowed by the other jobs there). The GRU: the issue-11
#: measurement of the whole demo on the idle machine (53 s, 47 % of it GRU training: 25 s),
#: split over its three tasks in the proportions that run measured (charged 57 %, springs 30 %,
#: n-body 12 %). A run here replaces them by the seconds it recorded (see the changelog).
DEFAULT_SECONDS: dict[str, dict[str, float]] = {
    "static": {"*": 0.3, "particles/nbody-forecast": 0.1},
    "constant-velocity": {"*": 0.4, "particles/nbody-forecast": 0.1},
    "linear-fit": {"*": 0.6, "particles/nbody-forecast": 0.1},
    "chance": {"*": 0.4},
    "proximity": {"*": 0.5, "particles/charged-graph": 3.8, "particles/kuramoto-graph": 1.1},
    "gru": {
        "*": 8.0,
        "particles/charged-forecast": 14.3,
        "particles/springs-forecast": 7.5,
        "particles/nbody-forecast": 3.1,
    },
    # issue 14: one `decathlon run --baselines attention,attention-nopos,egnn` on the busy
    # 2-vCPU machine, each pair's seconds over its recorded busy factor (1.8-2.6); nri: one
    # evaluation of springs-graph, over a busy factor of 2
    "attention": {
        "*": 45.0,
        "particles/charged-forecast": 51.1,
        "particles/springs-forecast": 37.1,
        "particles/nbody-forecast": 13.1,
    },
    "attention-nopos": {
        "*": 55.0,
        "particles/charged-forecast": 60.0,
        "particles/springs-forecast": 47.6,
        "particles/nbody-forecast": 10.9,
    },
    "egnn": {
        "*": 60.0,
        "particles/charged-forecast": 66.0,
        "particles/springs-forecast": 49.8,
        "particles/nbody-forecast": 16.8,
    },
    "nri": {"*": 65.0, "particles/kuramoto-graph": 260.0, "particles/charged-graph": 100.0},
    # issue 13 (swarms): one evaluation each on the busy 2-vCPU machine (mini, 100 resamples)
    "train-mean": {"*": 1.0},
    "order-params": {"*": 3.0},
    # issue 13 (causal, arrow of time): closed-form fits, a few seconds at mini
    "xcorr": {"*": 1.0},
    "granger-ridge": {"*": 1.0},
    "arrow-features": {"*": 8.0},
}
#: Seconds to build a dataset's ``mini`` tier (simulators) before its first evaluation
#: (``build_seconds`` of the stores that run built).
DEFAULT_BUILD_SECONDS: dict[str, float] = {
    "*": 5.0,
    "kuramoto-5": 8.2,
    "nri-charged": 5.6,
    "nri-springs": 2.8,
    "nbody-charged-3d": 2.6,
    "swarms-vicsek": 10.0,  # 200 simulations of 50 particles (issue 13, busy machine)
    "swarms-dorsogna": 8.2,  # float32 since data version 3 (was 20 s in float64)
}


def pair_key(
    model: Any,
    baseline: str,
    task: Any,
    tier: str,
    meta: dict[str, Any],
    dataset_version: str,
    eval_config: Any,
) -> dict[str, Any]:
    """The cache key of evaluating ``model`` (baseline ``baseline``, not trained yet) on ``task``.

    ``meta`` is the store's ``COMPLETE.json`` (:func:`~.data.store_meta`); ``eval_config`` the
    :class:`~.context.EvalConfig` (its ``progress`` flag is left out: it changes nothing
    measured).
    """
    from decathlon import __version__

    from .evaluate import EVALUATOR_VERSION

    settings = {k: v for k, v in asdict(eval_config).items() if k != "progress"}
    config: dict[str, Any] = getattr(model, "config_dict", lambda: {})()
    return json.loads(  # a JSON round trip: the key compares equal to one read back from disk
        json.dumps(
            {
                "key_version": KEY_VERSION,
                "model": {
                    "name": baseline,
                    "version": str(getattr(model, "version", "0")),
                    "config": config,
                },
                "task": {"name": task.name, "version": task.version, "split": "test", "tier": tier},
                "data": {
                    "dataset": task.dataset,
                    "version": dataset_version,
                    "tier": meta.get("tier"),
                    "data_sha256": meta.get("data_sha256"),
                },
                "evaluator": {
                    "evaluator_version": EVALUATOR_VERSION,
                    "decathlon_version": __version__,
                    "result_schema_sha256": _schema_digest(),
                    **settings,
                },
            },
            sort_keys=True,
            default=str,
        )
    )


def _schema_digest() -> str:
    """sha256 of the result schema: a record made under another schema is never reused."""
    from .results import result_schema

    return hashlib.sha256(json.dumps(result_schema(), sort_keys=True).encode()).hexdigest()


def _sidecar(out: str | Path, baseline: str, task: str, tier: str) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{baseline}__{task.replace('/', '-')}__{tier}")
    return Path(out) / SIDECAR_DIR / f"{stem}.json"


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar at ``path``; None if absent; None with a warning if it cannot be read."""
    if not path.is_file():
        return None
    try:
        side = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(side, dict) or not isinstance(side.get("key"), dict):
            raise ValueError("not a JSON object with a 'key'")
        return side
    except (OSError, ValueError) as e:
        log.warning("cache entry %s is unreadable (%s); computing that pair again", path, e)
        return None


def cached_result(
    out: str | Path, baseline: str, task: str, tier: str, key: dict[str, Any]
) -> tuple[dict[str, Any], Path] | None:
    """The stored result of this pair and its path when ``key`` matches and the file is intact.

    None when there is nothing stored, the key differs (something changed), or the stored files
    are damaged (then with a WARNING saying so); never raises for a damaged cache.
    """
    from .results import load_result

    side = _read_sidecar(_sidecar(out, baseline, task, tier))
    if side is None or side["key"] != key or "refused" in side:
        return None
    path = Path(out) / str(side.get("result_file", ""))
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != side.get("result_sha256"):
            raise ValueError("its sha256 differs from the one recorded when it was written")
        rec = load_result(path)
    except (OSError, ValueError) as e:
        log.warning("cached result %s is damaged (%s); computing it again", path, e)
        return None
    return rec, path


def record_pair(
    out: str | Path,
    baseline: str,
    task: str,
    tier: str,
    key: dict[str, Any],
    path: Path,
    seconds: float | None,
) -> Path:
    """Write the sidecar of the result just saved at ``path`` (key, file name, sha256, time)."""
    side = _sidecar(out, baseline, task, tier)
    side.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "key": key,
        "result_file": path.name,
        "result_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "seconds": None if seconds is None else round(float(seconds), 3),
        "busy": busy_factor()[0],  # how loaded the machine was: the estimate divides it out
    }
    return write_atomic(side, json.dumps(doc, indent=1, sort_keys=True), prefix=".key-")


def record_refusal(
    out: str | Path, baseline: str, task: str, tier: str, key: dict[str, Any], reason: str
) -> Path:
    """Remember that ``baseline`` refused ``task`` under ``key`` (e.g. a learned baseline on
    entities that come and go), so the next run says so again without trying, and its estimate
    does not count the pair as work."""
    side = _sidecar(out, baseline, task, tier)
    side.parent.mkdir(parents=True, exist_ok=True)
    doc = {"key": key, "refused": reason, "seconds": 0.0, "busy": 1.0}
    return write_atomic(side, json.dumps(doc, indent=1, sort_keys=True), prefix=".key-")


def cached_refusal(
    out: str | Path, baseline: str, task: str, tier: str, key: dict[str, Any]
) -> str | None:
    """The reason recorded by :func:`record_refusal` when ``key`` still matches, else None."""
    side = _read_sidecar(_sidecar(out, baseline, task, tier))
    if side is None or side["key"] != key or not isinstance(side.get("refused"), str):
        return None
    return str(side["refused"])


def pair_seconds(out: str | Path, baseline: str, task: str, tier: str) -> tuple[float, bool]:
    """Expected seconds of one evaluation, and whether they were recorded by an earlier run.

    The seconds the last run here took for this (baseline, task, tier), whatever its key,
    divided by how busy the machine was then (:func:`busy_factor`); else
    :data:`DEFAULT_SECONDS` (``mini`` timings of an idle machine).
    """
    path = _sidecar(out, baseline, task, tier)
    if path.is_file():
        try:
            side = json.loads(path.read_text(encoding="utf-8"))
            secs, busy = side.get("seconds"), side.get("busy", 1.0)
            if isinstance(secs, (int, float)) and secs >= 0:
                ok = isinstance(busy, (int, float)) and busy >= 1
                return float(secs) / (float(busy) if ok else 1.0), True
        except (OSError, ValueError, AttributeError):
            pass
    table = DEFAULT_SECONDS.get(baseline, {})
    return float(table.get(task, table.get("*", 1.0))), False


def _tier_factor(dataset: str, tier: str) -> float:
    """How many times the ``mini`` tier's samples ``tier`` has (1 for single-tier datasets)."""
    from .data import DATASETS

    tiers = DATASETS.get(dataset).tiers
    try:
        mini = sum(int(v) for v in tiers["mini"].values())
        other = sum(int(v) for v in tiers[tier].values())
    except (KeyError, TypeError, ValueError):
        return 1.0
    return other / mini if mini > 0 and other > 0 else 1.0


def busy_factor(cores: int | None = None, load: float | None = None) -> tuple[float, int, float]:
    """How much slower than on an idle machine work runs here now: ``(factor, cores, load)``.

    ``factor = max(1, (load + 1) / cores)``: the 1-minute load average of the other processes
    plus this one, shared over the CPUs this process may use (1 where the OS reports no load).

    Examples
    --------
    >>> busy_factor(2, 0.3)[0], busy_factor(2, 4.0)[0]
    (1.0, 2.5)
    """
    if cores is None or load is None:
        here_cores, here_load = machine_load()
        cores = here_cores if cores is None else cores
        load = here_load if load is None else load
    if load is None:
        return 1.0, cores, math.nan
    return max(1.0, (load + 1.0) / max(1, cores)), cores, load


def machine_load() -> tuple[int, float | None]:
    """The CPUs this process may use and the 1-minute load average (None where the OS reports
    none): what :func:`busy_factor` and the torch thread cap of the learned baselines read."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        return cores, os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores, None


def estimate(
    pairs: Sequence[Any], tier: str, out: str | Path, skipped: Mapping[str, str]
) -> dict[str, Any]:
    """What a suite run will do and about how long it will take, before it starts.

    ``pairs`` are the planned :class:`~.suite.Pair` s (``hit`` set where a stored result will be
    reused). Each pair to compute costs the seconds the last run here recorded for it, else
    :data:`DEFAULT_SECONDS` times the tier's size over ``mini``'s; each dataset not built yet
    adds :data:`DEFAULT_BUILD_SECONDS` (times the same ratio); the sum is multiplied by
    :func:`busy_factor`.

    Returns
    -------
    dict
        ``pairs``, ``tasks``, ``cached``, ``to_compute``, ``builds`` (datasets to build),
        ``seconds`` (the estimate), ``by_part`` (``{"gru": seconds, ..., "building the data":
        seconds}`` before the busy factor), ``recorded`` (pairs to compute with timings of an
        earlier run), ``busy``, ``cores``, ``load`` and ``skipped`` (number of tasks).
    """
    from .data import is_prepared
    from .tasks import get_task

    by_part: dict[str, float] = {}
    builds: list[str] = []
    recorded = 0
    todo = [p for p in pairs if p.hit is None and getattr(p, "refused", None) is None]
    for p in todo:
        dataset = get_task(p.task).dataset
        secs, was_recorded = pair_seconds(out, p.baseline, p.task, tier)
        recorded += was_recorded
        factor = 1.0 if was_recorded else _tier_factor(dataset, tier)
        by_part[p.baseline] = by_part.get(p.baseline, 0.0) + secs * factor
    for dataset in dict.fromkeys(get_task(p.task).dataset for p in pairs):
        if not is_prepared(dataset, tier):
            builds.append(dataset)
            secs = DEFAULT_BUILD_SECONDS.get(dataset, DEFAULT_BUILD_SECONDS["*"])
            by_part["building the data"] = by_part.get("building the data", 0.0) + secs * (
                _tier_factor(dataset, tier)
            )
    busy, cores, load = busy_factor()
    return {
        "pairs": len(pairs),
        "tasks": len({p.task for p in pairs}),
        "cached": len(pairs) - len(todo),
        "to_compute": len(todo),
        "builds": builds,
        "seconds": round(sum(by_part.values()) * busy, 1),
        "by_part": {k: round(v, 1) for k, v in sorted(by_part.items(), key=lambda kv: -kv[1])},
        "recorded": recorded,
        "busy": round(busy, 2),
        "cores": cores,
        "load": None if math.isnan(load) else round(load, 2),
        "skipped": len(skipped),
    }
