"""The reference builds: the ``data_sha256`` of each dataset's store as the maintainers built it.

A simulated store is a pure function of its code, version, seed and tier, and the simulators
are written to give the same bits on every machine (``docs/adding-an-event.md``, "Same bits on
every machine"; ``tests/test_portability.py``). A store is still worth checking against a
known build: a participant whose machine builds other bits computes results that the
leaderboard's verification will refuse ("the record was not computed on this data"), and is
better told so by ``decathlon prepare`` than after a day of training.

``reference_builds.json`` (beside this module) holds, for a dataset, version and tier, the
``data_sha256`` of the maintainers' build and the machine that made it. ``decathlon prepare``
compares every store it builds or finds with it (:func:`compare`); the maintainers write an
entry with ``decathlon pin-hashes NAME --tier TIER --write`` (:func:`pin`) after building the
store. A tier without an entry is not checked. ``tests/test_reference_builds.py`` builds every
pinned mini store and requires its recorded hash.

Examples
--------
>>> compare({"dataset": "nobody", "version": "1", "tier": "mini", "data_sha256": "ab"})[0]
'unpinned'
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from decathlon.benchmark.cache import write_atomic
from decathlon.benchmark.data import DATASETS, store_meta

__all__ = ["REFERENCE_FILE", "compare", "pin", "reference", "read_references"]

#: The pinned reference builds (JSON, part of the package; through an editable install's links,
#: the repository's file, which is where ``pin`` must write).
REFERENCE_FILE = Path(__file__).resolve().with_name("reference_builds.json")

Verdict = Literal["same", "differs", "unpinned"]


def read_references(path: Path | None = None) -> dict[str, Any]:
    """The reference file's ``builds``: ``{dataset: {version: {tier: entry}}}`` (``{}`` when the
    file does not exist); :class:`ValueError` naming the file when it is not such an object."""
    path = path or REFERENCE_FILE
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        builds = doc["builds"]
        ok = isinstance(builds, dict) and all(
            isinstance(e, dict) and isinstance(e.get("data_sha256"), str)
            for versions in builds.values()
            for tiers in versions.values()
            for e in tiers.values()
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path} is not a reference-builds file ({e}); restore it from git") from e
    if not ok:
        raise ValueError(
            f"{path}: 'builds' must map dataset -> version -> tier -> an object with a "
            "'data_sha256' string; restore it from git"
        )
    return builds


def reference(
    name: str, version: str, tier: str, path: Path | None = None
) -> dict[str, Any] | None:
    """The pinned entry of ``name`` at data ``version`` and ``tier``, or None (entries are
    checked to be objects by :func:`read_references`)."""
    return read_references(path).get(name, {}).get(str(version), {}).get(tier)


def compare(meta: dict[str, Any], path: Path | None = None) -> tuple[Verdict, str]:
    """Compare a store's ``COMPLETE.json`` contents with the reference build.

    Returns ``(verdict, sentence)``: ``"same"``, ``"differs"`` (the sentence says what it means
    and what to do) or ``"unpinned"`` (no reference for this dataset, version and tier)."""
    name, version, tier = meta["dataset"], str(meta["version"]), meta["tier"]
    got = meta["data_sha256"]
    ref = reference(name, version, tier, path)
    if ref is None:
        return "unpinned", f"data_sha256 {got[:12]}… (no reference build pinned for this tier)"
    if ref["data_sha256"] == got:
        return "same", f"data_sha256 {got[:12]}…, the same as the reference build"
    return "differs", (
        f"{name} version {version} ({tier}) was built with data_sha256 {got[:12]}…, but the "
        f"reference build ({ref.get('machine', {}).get('processor', 'unknown machine')}, "
        f"{ref.get('date', 'undated')}) has {ref['data_sha256'][:12]}…. Results computed on "
        "this store will be refused by the leaderboard's verification. Rebuild it with "
        f"`decathlon prepare {name} --tier {tier} --force`; if it differs again, this "
        "machine computes other bits: please report it (an issue with the output of "
        "`python -c 'import numpy; numpy.show_config()'`)"
    )


def pin(name: str, tier: str, path: Path | None = None) -> dict[str, Any]:
    """Record the prepared store of ``name`` at ``tier`` as its reference build (written
    atomically into ``path``, the package's file by default); returns the entry.

    Raises :class:`~decathlon.benchmark.data.StoreError` when the store is not prepared."""
    from decathlon.datasets.speed import machine_info

    spec = DATASETS.get(name)
    tier = spec.resolve_tier(tier)
    meta = store_meta(name, tier)
    path = path or REFERENCE_FILE
    builds = read_references(path)
    entry = {
        "data_sha256": meta["data_sha256"],
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": machine_info(),
    }
    builds.setdefault(name, {}).setdefault(str(spec.version), {})[tier] = entry
    doc = {
        "about": "data_sha256 of the maintainers' builds; see decathlon.datasets.reference_builds",
        "builds": {k: builds[k] for k in sorted(builds)},
    }
    write_atomic(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return entry
