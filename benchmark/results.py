"""Result records: construction, the published JSON schema, saving and loading.

The schema ships in the package (``decathlon/benchmark/result.schema.json``); every record the
evaluator writes validates against it, and so must every submission.
"""

from __future__ import annotations

import json
import math
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
    "check_result",
    "check_provenance",
    "parse_json",
    "Verification",
]

SCHEMA_VERSION = 1

#: Result files larger than this are refused before they are read (bytes).
MAX_RESULT_BYTES = 5 << 20
#: Objects and arrays nest at most this deep in a record (the schema needs 5).
MAX_JSON_DEPTH = 16
#: Tolerance of "points follow from the metrics" (points are rounded by nobody, so this is
#: float round-off only).
POINTS_TOLERANCE = 1e-6

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")

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
    """Validate ``result``: the schema, then what a schema cannot say (:func:`check_result`).

    Raises
    ------
    ValueError
        Naming every schema violation, or the first inconsistency (an unknown task, a metric out
        of its range, an inverted interval, points that do not follow from the metrics, ...).
    """
    import jsonschema

    _check_tree(result, "result")
    v = jsonschema.Draft202012Validator(result_schema())
    errors = sorted(v.iter_errors(result), key=lambda e: list(e.path))
    if errors:
        lines = "\n  - ".join(
            f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:200]}" for e in errors[:20]
        )
        raise ValueError(f"result record breaks the result schema:\n  - {lines}")
    check_result(result)
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
    if "bootstrap" in scored:
        rec["bootstrap"] = scored["bootstrap"]
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
    try:
        return write_atomic(
            path, json.dumps(result, indent=1), prefix=".result-", replace=overwrite
        )
    except FileExistsError:  # written by another process in the meantime
        raise _exists(path, result) from None


def _exists(path: Path, result: dict[str, Any]) -> FileExistsError:
    return FileExistsError(
        f"result file {path} already exists; pass overwrite=True (command line: --overwrite) "
        f"to replace it, or name the model differently (now {result['model']['name']!r}: the "
        "model's `name` attribute, or `decathlon score --name`)"
    )


def load_result(
    path: str | Path,
    max_bytes: int = MAX_RESULT_BYTES,
    *,
    tiers: tuple[str, ...] = ("self-reported",),
    provenance: bool = True,
) -> dict[str, Any]:
    """Read and validate an untrusted result JSON file.

    On top of :func:`validate_result`: files over ``max_bytes`` are refused before they are read,
    nesting deeper than :data:`MAX_JSON_DEPTH`, duplicate keys and ``NaN``/``Infinity`` literals
    before they are parsed; a verification tier outside ``tiers`` is refused (only the
    leaderboard, after re-scoring, grants ``re-scored``); and when the task's data are in the
    cache, the data and split hashes must be those of the stored data (unless ``provenance`` is
    False: the leaderboard's verification checks them itself, after building the data).

    Raises
    ------
    ValueError
        Each message names the file, the bad value, what was expected and the fix.
    """
    p = Path(path)
    if p.stat().st_size > max_bytes:
        raise ValueError(
            f"{p} is {p.stat().st_size} bytes; result files are at most {max_bytes} bytes"
        )
    rec = parse_json(p.read_bytes(), str(p))
    if not isinstance(rec, dict):
        raise ValueError(f"{p}: a result record is a JSON object, got {type(rec).__name__}")
    try:
        validate_result(rec)
        if rec["verification"] not in tiers:
            raise ValueError(
                f"verification {rec['verification']!r} is claimed by the file, accepted here: "
                f"{list(tiers)}; only the leaderboard grants 're-scored' after re-scoring the "
                "predictions (`decathlon leaderboard verify`): set it to 'self-reported'"
            )
        if provenance:  # the leaderboard's verification checks it after building the data
            check_provenance(rec)
    except ValueError as e:
        raise ValueError(f"{p}: {e}") from None
    return rec


def parse_json(data: bytes | str, where: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON: nesting at most ``max_depth`` deep (checked before parsing, so a
    100 000-deep file is refused instead of raising ``RecursionError``), no duplicate keys, no
    ``NaN``/``Infinity`` literals and no number that overflows to infinity.

    Examples
    --------
    >>> parse_json('{"a": [1, 2.5]}', "x")
    {'a': [1, 2.5]}
    >>> parse_json('{"a": NaN}', "x")
    Traceback (most recent call last):
    ...
    ValueError: x: NaN is not allowed in JSON records (non-finite numbers are written as null)
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    depth = json_depth(text)
    if depth > max_depth:
        raise ValueError(
            f"{where}: JSON nested {depth} levels deep; records are at most {max_depth} deep"
        )
    try:
        return json.loads(
            text,
            parse_constant=lambda c: _refuse_number(c, where),
            parse_float=lambda t: _finite_float(t, where),
            object_pairs_hook=lambda pairs: _unique_keys(pairs, where),
        )
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is not valid JSON ({e})") from None


def json_depth(text: str) -> int:
    """How deep objects and arrays nest in JSON ``text`` (strings ignored), without parsing it.

    Examples
    --------
    >>> json_depth('{"a": [[1], "]]]"]}')
    3
    """
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _refuse_number(literal: str, where: str) -> float:
    raise ValueError(
        f"{where}: {literal} is not allowed in JSON records "
        "(non-finite numbers are written as null)"
    )


def _finite_float(text: str, where: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(
            f"{where}: number {text[:40]} overflows a float; records hold finite numbers"
        )
    return x


def _unique_keys(pairs: list[tuple[str, Any]], where: str) -> dict[str, Any]:
    seen: set[str] = set()
    for k, _ in pairs:
        if k in seen:
            raise ValueError(f"{where}: key {k[:64]!r} appears twice in one JSON object; keep one")
        seen.add(k)
    return dict(pairs)


def _check_tree(obj: Any, where: str, depth: int = 0) -> None:
    """Every number finite and nesting bounded, in an in-memory record (JSON files are checked
    as they are parsed); ``NaN`` would pass a schema's ``number``."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{where}: nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"{where} is {obj}; records hold finite numbers (null when undefined)")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_tree(v, f"{where}/{k}", depth + 1)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_tree(v, f"{where}/{i}", depth + 1)


def check_result(rec: dict[str, Any]) -> None:
    """What the schema cannot say about a (schema-valid) record; ``ValueError`` at the first
    problem: the task must be registered and the record's task fields its own; the tier one of
    its dataset's tiers; metric, probe and symmetry names the task's; every metric value on the
    attainable side of its perfect value (no negative MSE, no AUROC above 1); every interval
    ordered (low <= high); and the points those that the primary metric and the trivial
    baseline's value give."""
    spec = _known_task(rec["task"])
    for block, names in (
        ("metrics", spec.metrics),
        # causal discovery also scores the reversal against the transposed graph (probes.py)
        (
            "probes",
            (
                *spec.probes,
                *(("reversal_transposed",) if spec.extra.get("reversal_transposed") else ()),
            ),
        ),
        ("equivariance", spec.equivariance),
    ):
        unknown = sorted(set(rec.get(block, {})) - set(names))
        if unknown:
            raise ValueError(
                f"{block} {unknown} are not reported by task {spec.name!r}; valid: {list(names)}"
            )
    if spec.primary not in rec["metrics"]:
        raise ValueError(f"metrics lack the primary metric {spec.primary!r} of {spec.name!r}")
    for name, m in rec["metrics"].items():
        for x in [m["value"], *m["ci95"]]:
            _in_range(name, x)
    _check_intervals(rec, "")
    _check_bootstrap(rec, spec)
    if "points" in rec:
        _check_points(rec, spec)


def _check_bootstrap(rec: dict[str, Any], spec: Any) -> None:
    """The ``bootstrap`` block (evaluator 1.3 on) resamples the task's declared unit, and no
    more units than windows (every window one unit if the unit is the window)."""
    b = rec.get("bootstrap")
    if b is None:
        return
    n = rec["n_windows"]
    if (
        b["unit"] != spec.bootstrap_unit
        or b["n_units"] > n
        or (b["unit"] == "window" and b["n_units"] != n)
    ):
        raise ValueError(
            f"bootstrap {b} does not fit task {spec.name!r} (resamples {spec.bootstrap_unit}s) "
            f"with {n} windows: re-score the predictions with this version of the evaluator"
        )


def _known_task(t: dict[str, Any]) -> Any:
    """The registered task a record's ``task`` block names, its fields checked against it."""
    from .data import DATASETS
    from .registry import shorten
    from .tasks import CHALLENGE_SPLIT, TASKS, supports_challenge

    if t["name"] not in TASKS:
        raise ValueError(
            f"task {shorten(t['name'])} is not a registered task; valid: {', '.join(TASKS.names())}"
        )
    spec = TASKS.get(t["name"])
    want = {
        "dataset": spec.dataset,
        "primary": spec.primary,
        "event": spec.event,
        "kind": spec.kind,
        "higher_is_better": spec.higher_is_better,
    }
    for key, value in want.items():
        if key in t and t[key] != value:
            raise ValueError(
                f"task/{key} is {shorten(t[key])} but task {spec.name!r} has {value!r}"
            )
    challenge = t["split"] == CHALLENGE_SPLIT and supports_challenge(spec)
    if t["split"] not in spec.splits and not challenge:
        raise ValueError(
            f"task/split {shorten(t['split'])} is not a split of {spec.name!r}; valid: "
            f"{', '.join(spec.splits)}"
            + (f" ({CHALLENGE_SPLIT!r} for a simulated task)" if supports_challenge(spec) else "")
        )
    tiers = DATASETS.get(spec.dataset).tiers
    if t["tier"] not in tiers:
        raise ValueError(
            f"task/tier {shorten(t['tier'])} is not a tier of dataset {spec.dataset!r}; valid: "
            f"{', '.join(tiers)}"
        )
    return spec


def _in_range(name: str, x: float | None) -> None:
    """``x`` on the attainable side of metric ``name``'s perfect value (graph metrics other
    than SHD are proportions, so also >= 0)."""
    from .metrics import get_metric

    if x is None:
        return
    row, _ = get_metric(name)
    lo, hi = (0.0 if row.kind == "graph" else -math.inf, row.perfect)
    if not row.higher_is_better:
        lo, hi = row.perfect, math.inf
    if not lo <= x <= hi:
        raise ValueError(
            f"metrics/{name} = {x} is impossible: {name} lies in [{lo}, {hi}]; the record was "
            "edited or computed wrongly"
        )


def _check_intervals(obj: Any, where: str) -> None:
    """Every ``*ci95`` pair in ``obj`` has low <= high (``null`` ends are undefined, allowed)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("ci95") and isinstance(v, list) and None not in v and v[0] > v[1]:
                raise ValueError(
                    f"{where}{k} = {v} is inverted (low > high); an interval is [low, high]"
                )
            _check_intervals(v, f"{where}{k}/")


def _check_points(rec: dict[str, Any], spec: Any) -> None:
    """The points block follows from the primary metric and the trivial value under the task's
    anchors and :func:`decathlon.benchmark.points.points` (rule, target and perfect value must be
    those in force)."""
    from .points import POINTS_RULE, points

    pts = rec["points"]
    anchors = (pts.get("rule"), pts["trivial_baseline"], pts.get("target_value"))
    want_anchors = (POINTS_RULE, spec.trivial, spec.target)
    if anchors != want_anchors or pts.get("perfect_value") != spec.perfect:
        raise ValueError(
            f"points of {spec.name!r} use rule / trivial baseline / target {anchors}, the ones in "
            f"force are {want_anchors}: score the predictions again with this version"
        )
    value = rec["metrics"][spec.primary]["value"]
    trivial = pts.get("trivial_value")
    nan = float("nan")
    want = float(
        points(
            nan if value is None else value,
            nan if trivial is None else trivial,
            spec.target,
            spec.perfect,
            spec.higher_is_better,
        )
    )
    if abs(want - pts["value"]) > POINTS_TOLERANCE * 1000:
        raise ValueError(
            f"points/value of {spec.name!r} is {pts['value']}, but {spec.primary} = {value} "
            f"against the trivial value {trivial} gives {want:.6g} points"
        )


def check_provenance(rec: dict[str, Any]) -> None:
    """When the record's data are in the cache: its ``data_sha256`` and ``split_sha256`` must
    be those of the stored data (a made-up hash is refused). Not in the cache: nothing to check
    against (the leaderboard's verification builds the data and always checks). A record of the
    challenge split has the public data's ``data_sha256`` (its normalization comes from there);
    its ``split_sha256`` names the secret part, checked only by the maintainer's verification."""
    from .context import split_hash
    from .data import is_prepared, store_meta
    from .tasks import CHALLENGE_SPLIT, get_task

    t = rec["task"]
    spec = get_task(t["name"])
    if not is_prepared(spec.dataset, t["tier"]):
        return
    meta = store_meta(spec.dataset, t["tier"])
    want = {"data_sha256": meta["data_sha256"], "split_sha256": split_hash(spec, t["tier"], meta)}
    if t["split"] == CHALLENGE_SPLIT:
        del want["split_sha256"]
    for key, value in want.items():
        if t[key] != value:
            raise ValueError(
                f"task/{key} is {t[key]}, but {spec.dataset} ({t['tier']}) has {value}: "
                "the record was not computed on this data"
            )
