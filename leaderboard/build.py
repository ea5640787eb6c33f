"""``decathlon leaderboard build``: ``leaderboard.json`` and the static site from entries.

An entries folder holds one folder per accepted submission (what ``decathlon leaderboard verify
BUNDLE --accept ENTRIES`` writes: the bundle's files plus the verifier's ``verified.json``).
An entry with a ``verified.json`` that belongs to its manifest is shown ``re-scored`` with the
recomputed numbers; any other entry is shown ``self-reported`` with its own (still validated)
numbers. Every entry is read as untrusted input, like a bundle (:mod:`.bundle`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from decathlon.benchmark.evaluate import EVALUATOR_VERSION
from decathlon.benchmark.points import decathlon_score
from decathlon.benchmark.results import (
    MAX_RESULT_BYTES,
    load_result,
    parse_json,
    validate_result,
)
from decathlon.benchmark.tasks import get_task, list_tasks

from .bundle import MANIFEST, file_sha256, member, open_bundle, read_manifest
from .verify import VERIFIED

__all__ = ["load_entry", "leaderboard_data", "build_site", "registered_events"]

log = logging.getLogger("decathlon")

#: ``verified.json`` holds one record per task: at most 100 of at most MAX_RESULT_BYTES.
MAX_VERIFIED_BYTES = 100 * MAX_RESULT_BYTES


def registered_events() -> dict[str, list[str]]:
    """Every registered event and its tasks: the total is over all of them (a missing task
    counts 0)."""
    events: dict[str, list[str]] = {}
    for name in list_tasks():
        events.setdefault(get_task(name).event, []).append(name)
    return events


def _verified(root: Path, manifest: dict[str, Any], sha: str) -> list[dict[str, Any]] | None:
    """The verifier's re-scored records when ``verified.json`` is there and is this manifest's."""
    if not (root / VERIFIED).exists():
        return None
    rec = parse_json(member(root, VERIFIED, MAX_VERIFIED_BYTES).read_bytes(), VERIFIED)
    if not isinstance(rec, dict) or rec.get("manifest_sha256") != sha:
        raise ValueError(f"{VERIFIED} does not belong to this {MANIFEST} (edited after verify?)")
    results = rec.get("results")
    want = sorted(t["name"] for t in manifest["tasks"])
    if not isinstance(results, list) or len(results) != len(want):
        raise ValueError(f"{VERIFIED} must hold one re-scored record per task of the manifest")
    for r in results:
        validate_result(r)
        if r["verification"] != "re-scored" or r["model"]["name"] != manifest["model"]["name"]:
            raise ValueError(f"{VERIFIED}: a record is not this model's re-scored record")
    if sorted(r["task"]["name"] for r in results) != want:
        raise ValueError(f"{VERIFIED}: its tasks are not the manifest's {want}")
    return results


def load_entry(path: str | Path) -> dict[str, Any]:
    """One entry (a folder or archive): manifest, verification tier and result records."""
    with open_bundle(path) as root:
        manifest = read_manifest(root)
        sha = file_sha256(member(root, MANIFEST))
        results = _verified(root, manifest, sha)
        tier = "re-scored"
        if results is None and "challenge" in manifest:
            raise ValueError(
                f"a challenge entry has no self-reported numbers: it is published only with "
                f"the maintainer's {VERIFIED} (`decathlon leaderboard challenge verify --accept`)"
            )
        if results is None:
            tier = "self-reported"
            results = [
                load_result(member(root, t["result"], MAX_RESULT_BYTES)) for t in manifest["tasks"]
            ]
    return {
        "id": Path(path).name,
        "model": manifest["model"],
        "versions": manifest["versions"],
        "verification": tier,
        "results": results,
    }


def _task_block(r: dict[str, Any]) -> dict[str, Any]:
    keep = ("metrics", "probes", "equivariance", "points", "curve", "n_windows")
    t = r["task"]
    return {
        "version": t["version"],
        "tier": t["tier"],
        "split": t["split"],
        "primary": t["primary"],
        "higher_is_better": t.get("higher_is_better"),
        "data_sha256": t["data_sha256"],
        "predictions_sha256": r["predictions_sha256"],
        "evaluator_version": r["evaluator_version"],
        **{k: r[k] for k in keep if k in r},
    }


def leaderboard_data(entries_dir: str | Path) -> dict[str, Any]:
    """``leaderboard.json``: every entry of ``entries_dir`` (sorted by total points), with its
    per-task metrics and intervals, probes, points, the total with its bootstrap interval over
    every registered event, the verification tier and the versions."""
    entries_dir = Path(entries_dir)
    if not entries_dir.is_dir():
        raise ValueError(f"{entries_dir} is not a folder of leaderboard entries")
    events = registered_events()
    rows = []
    for p in sorted(entries_dir.iterdir()):
        if p.name.startswith("."):
            continue
        try:
            e = load_entry(p)
        except (ValueError, KeyError, TypeError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            raise ValueError(f"entry {p.name}: {msg}") from None
        rows.append(
            {
                "id": e["id"],
                "model": e["model"],
                "verification": e["verification"],
                "versions": e["versions"],
                "score": decathlon_score(e["results"], events=events),
                "tasks": {r["task"]["name"]: _task_block(r) for r in e["results"]},
            }
        )
    rows.sort(key=lambda r: (-r["score"]["total"], r["model"]["name"]))
    from decathlon import __version__

    return {
        "format": "decathlon-leaderboard",
        "format_version": 1,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "decathlon_version": __version__,
        "evaluator_version": EVALUATOR_VERSION,
        "events": events,
        "entries": rows,
    }


def build_site(entries_dir: str | Path, out: str | Path) -> Path:
    """Write ``leaderboard.json``, ``index.html`` and ``plots/*.png`` into ``out``; returns the
    page's path. Files are written to temporary names and renamed when complete."""
    from .plots import write_plots
    from .site import render_page

    data = leaderboard_data(entries_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "leaderboard.json", json.dumps(data, indent=1))
    plots = write_plots(data, out / "plots")
    page = _write(out / "index.html", render_page(data, plots))
    log.info("leaderboard: %d entries -> %s", len(data["entries"]), page)
    return page


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
