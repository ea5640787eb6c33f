"""Verification: every number of a submission recomputed from its predictions.

:func:`verify_bundle` opens a bundle (:mod:`.bundle`), and for every task of its manifest: loads
the result record (:func:`~decathlon.benchmark.results.load_result`: schema, bounds, the task
registry, metric ranges, intervals, points), checks the task and evaluator versions in force,
the predictions file's sha256, the data and split hashes against the data it builds or finds in
the cache, reads the predictions through the safe reader
(:func:`~decathlon.benchmark.offline.load_predictions`: missing or duplicated windows, NaN,
wrong shapes are refused there), re-scores them with
:func:`~decathlon.benchmark.offline.score` and compares every reported number with the
recomputed one (:func:`compare`). A bundle with any problem is rejected, every problem named;
an accepted one gets the tier ``re-scored`` and its published numbers are the recomputed ones.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.evaluate import EVALUATOR_VERSION
from decathlon.benchmark.offline import load_predictions, score
from decathlon.benchmark.results import (
    MAX_RESULT_BYTES,
    SCHEMA_VERSION,
    check_provenance,
    load_result,
    validate_result,
)
from decathlon.benchmark.tasks import get_task

from .bundle import MANIFEST, file_sha256, member, open_bundle, predictions_member, read_manifest

__all__ = [
    "Verdict",
    "verify_bundle",
    "check_bundle",
    "compare",
    "RTOL",
    "ATOL",
    "VERIFIED",
]

#: Relative and absolute tolerance of "a reported number equals the recomputed one": float
#: round-off of the same computation on another machine, nothing more.
RTOL, ATOL = 1e-6, 1e-9
#: The verifier's record in an accepted entry's folder.
VERIFIED = "verified.json"

_PROBE_NUMBERS = ("value", "gap", "ts", "ts_trivial", "sensitivity")


@dataclass
class Verdict:
    """What verification found: the manifest, the re-scored records and every problem."""

    manifest: dict[str, Any]
    manifest_sha256: str
    results: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    entry: Path | None = None

    @property
    def accepted(self) -> bool:
        return not self.problems

    def message(self) -> str:
        """One line per problem, after a summary line."""
        head = f"bundle of {self.manifest['model']['name']!r} rejected: "
        lines = "\n  - ".join(self.problems[:50])
        return f"{head}{len(self.problems)} problem(s):\n  - {lines}"


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)


def compare(reported: dict[str, Any], redo: dict[str, Any]) -> list[str]:
    """Every number of ``reported`` that differs from ``redo`` (recomputed) beyond float
    tolerance, as ``"<where> reported <a>, re-scored <b>"``.

    Compared: the predictions hash, ``n_windows``, every metric value, the rollout curve, every
    probe's value, gap, TS and sensitivity, every symmetry error and the points. Intervals are
    not compared (the leaderboard publishes its own).
    """
    out: list[str] = []

    def diff(where: str, a: Any, b: Any) -> None:
        same = a == b if isinstance(a, str) or isinstance(b, str) else _close(a, b)
        if not same:
            out.append(f"{where} reported {a}, re-scored {b}")

    diff("predictions_sha256", reported["predictions_sha256"], redo["predictions_sha256"])
    diff("n_windows", reported["n_windows"], redo["n_windows"])
    for name in sorted(set(reported["metrics"]) | set(redo["metrics"])):
        values = [r["metrics"].get(name, {}).get("value") for r in (reported, redo)]
        diff(f"metrics/{name}", *values)
    a, b = reported.get("curve", {}).get("per_step"), redo.get("curve", {}).get("per_step")
    if a != b and (a is None or b is None or len(a) != len(b) or not all(map(_close, a, b))):
        out.append(f"curve/per_step reported {_cut(a)}, re-scored {_cut(b)}")
    for block, keys in (("probes", _PROBE_NUMBERS), ("equivariance", ("error", "relative"))):
        for name in sorted(set(reported.get(block, {})) | set(redo.get(block, {}))):
            ra, rb = reported.get(block, {}).get(name, {}), redo.get(block, {}).get(name, {})
            for k in keys:
                diff(f"{block}/{name}/{k}", ra.get(k), rb.get(k))
    if "points" in reported or "points" in redo:
        diff("points", reported.get("points", {}).get("value"), redo["points"]["value"])
    return out


def _cut(values: list[float] | None) -> str:
    return "none" if values is None else f"[{', '.join(f'{v:.6g}' for v in values[:5])} ...]"


def _check_entry(rec: dict[str, Any], entry: dict[str, Any], model: str) -> None:
    """The result record is the one the manifest lists, for versions in force."""
    spec = get_task(entry["name"])
    for key in ("name", "version", "split"):
        if rec["task"][key] != entry[key]:
            raise ValueError(f"result task/{key} is {rec['task'][key]!r}, manifest {entry[key]!r}")
    if rec["model"]["name"] != model:
        raise ValueError(f"result model {rec['model']['name']!r} is not the manifest's {model!r}")
    if entry["version"] != spec.version:
        raise ValueError(
            f"task version {entry['version']!r} is not the one in force ({spec.version!r}); "
            "re-run the task with the current decathlon and submit again"
        )
    if rec["evaluator_version"] != EVALUATOR_VERSION:
        raise ValueError(
            f"evaluator version {rec['evaluator_version']!r} is not the one in force "
            f"({EVALUATOR_VERSION!r}); re-run with the current decathlon"
        )


def _verify_task(
    root: Path, manifest: dict[str, Any], entry: dict[str, Any], n_boot: int
) -> dict[str, Any]:
    """One task: checks, re-score, comparison; the re-scored record (``ValueError`` if any
    problem, naming both values)."""
    rec = load_result(member(root, entry["result"], MAX_RESULT_BYTES), provenance=False)
    _check_entry(rec, entry, manifest["model"]["name"])
    path = predictions_member(root, entry)
    prepared = prepare(entry["name"], entry["split"], entry["tier"])
    try:
        _check_data(rec)
    except ValueError as e:
        raise ValueError(f"{entry['result']}: {e}") from None
    seed = rec["seeds"].get("bootstrap")
    cfg = EvalConfig(n_boot=n_boot, seed=seed if isinstance(seed, int) else 0)
    redo = score(prepared, load_predictions(path, prepared), cfg, model_name=rec["model"]["name"])
    diffs = compare(rec, redo)
    if diffs:
        raise ValueError("; ".join(diffs))
    for key in ("model", "seeds", "hardware", "wall_clock_s", "created"):
        redo[key] = rec[key]
    redo["verification"] = "re-scored"
    return validate_result(redo)


def _check_data(rec: dict[str, Any]) -> None:
    """:func:`check_provenance`, and when the data hashes differ, which side has the
    maintainers' reference build (:mod:`decathlon.datasets.reference_builds`): a submitter
    whose machine built other data is told so, and so is a verifier."""
    try:
        check_provenance(rec)
    except ValueError as e:
        from decathlon.benchmark.data import DATASETS
        from decathlon.datasets.reference_builds import reference

        t = rec["task"]
        ds = get_task(t["name"]).dataset
        ref = reference(ds, DATASETS.get(ds).version, t["tier"])
        if ref is None or not str(e).startswith("task/data_sha256"):
            raise
        who = "this verifier's" if t["data_sha256"] == ref["data_sha256"] else "the submitter's"
        raise ValueError(
            f"{e}; the reference build of {ds} ({t['tier']}) has {ref['data_sha256'][:12]}…, so "
            f"{who} machine built other data (`decathlon prepare {ds} --tier {t['tier']}` says "
            "whether a store has the reference bits)"
        ) from None


def _check_versions(manifest: dict[str, Any]) -> list[str]:
    v = manifest["versions"]
    out = []
    if v["evaluator"] != EVALUATOR_VERSION:
        out.append(f"evaluator version {v['evaluator']!r} is not the one in force")
    if v["result_schema"] != SCHEMA_VERSION:
        out.append(f"result schema {v['result_schema']} is not the one in force")
    names = [t["name"] for t in manifest["tasks"]]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        out.append(f"tasks {dup} are listed more than once; one result per task")
    return out


def verify_bundle(
    path: str | Path, *, n_boot: int = 1000, accept_into: str | Path | None = None
) -> Verdict:
    """Verify the bundle at ``path`` (folder or archive); see the module text.

    ``accept_into``: when accepted, copy the bundle into a new folder of this entries folder
    with the verifier's record (``verified.json``: the re-scored records, tier ``re-scored``).
    Problems of the manifest itself raise ``ValueError`` (a challenge bundle among them: only
    its maintainer can verify it, :mod:`.challenge_verify`); per-task problems are collected in
    :attr:`Verdict.problems` (the caller decides how to report them).
    """

    def check(root: Path, manifest: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        return _verify_task(root, manifest, entry, n_boot)

    return check_bundle(path, check, accept_into=accept_into)


#: ``check(root, manifest, task entry)`` -> the task's re-scored record (``ValueError`` if not).
TaskCheck = Callable[[Path, dict[str, Any], dict[str, Any]], dict[str, Any]]


def check_bundle(
    path: str | Path,
    check: TaskCheck,
    *,
    challenge: Callable[[dict[str, Any]], None] | None = None,
    accept_into: str | Path | None = None,
) -> Verdict:
    """Open the bundle, validate its manifest and versions, run ``check`` on every task and
    accept it into ``accept_into`` when nothing was found: the one sequence of
    :func:`verify_bundle` and of a challenge's verification, which passes ``challenge`` (run on
    the manifest's ``challenge`` block first; ``ValueError`` when the bundle cannot be verified
    at all). A bundle of the other kind is refused with the command that verifies it."""
    with open_bundle(path) as root:
        manifest = read_manifest(root)
        name = manifest["model"]["name"]
        if challenge is None and "challenge" in manifest:
            raise ValueError(
                f"bundle of {name!r} is a submission to challenge "
                f"{manifest['challenge']['name']!r}: its targets are secret, so only the "
                "maintainer verifies it (`decathlon leaderboard challenge verify BUNDLE`)"
            )
        if challenge is not None:
            if "challenge" not in manifest:
                raise ValueError(
                    f"bundle of {name!r} is not a challenge submission; verify it with "
                    "`decathlon leaderboard verify BUNDLE`"
                )
            challenge(manifest["challenge"])
        verdict = Verdict(manifest, file_sha256(member(root, MANIFEST)))
        verdict.problems += _check_versions(manifest)
        for entry in manifest["tasks"]:
            try:
                verdict.results.append(check(root, manifest, entry))
            except (ValueError, KeyError, TypeError, FileNotFoundError) as e:
                msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
                verdict.problems.append(f"task {entry['name']}: {msg}")
        if verdict.accepted and accept_into is not None:
            verdict.entry = _accept(root, verdict, Path(accept_into))
    return verdict


def _accept(root: Path, verdict: Verdict, entries: Path) -> Path:
    """Copy the listed files of an accepted bundle and the verifier's record into a new entry
    folder (written under a temporary name, renamed when complete)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", verdict.manifest["model"]["name"])[:64].strip("-.")
    dest = entries / f"{name or 'model'}-{verdict.manifest_sha256[:8]}"
    if dest.exists():
        raise ValueError(f"entry {dest} exists already (the same submission was accepted)")
    tmp = entries / f".{dest.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    files = [MANIFEST] + [
        t[k] for t in verdict.manifest["tasks"] for k in ("result", "predictions") if t[k]
    ]  # a challenge bundle has no result files: its records are the verifier's
    for f in files:
        (tmp / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(member(root, f), tmp / f)
    record = {
        "verification": "re-scored",
        "verified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "evaluator_version": EVALUATOR_VERSION,
        "manifest_sha256": verdict.manifest_sha256,
        "results": verdict.results,
    }
    (tmp / VERIFIED).write_text(json.dumps(record, indent=1))
    tmp.rename(dest)
    return dest
