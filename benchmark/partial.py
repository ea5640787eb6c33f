"""Resumable cluster builds: a store built chunk by chunk keeps the chunks it has finished.

A full tier can take hours (the D'Orsogna swarms: about 3 CPU hours). A build on a Dask cluster
(``decathlon prepare NAME --tier full --workers N``, :func:`.cluster.build_parts`) writes into
the folder ``.<tier>.partial`` beside the store instead of a throw-away temporary folder, and
each chunk, once its region of every array is written, leaves a marker
``.chunks/<part>.<index>.json`` (its variables and value ranges, written atomically after the
data). A build that is stopped (Ctrl-C, a lost machine, the end of a batch job) leaves the
folder; the next cluster build of the same store checks the folder's fingerprint
(:func:`fingerprint`: dataset, version, tier, seed, parameters, chunk list, store format and
package version) and builds only the chunks without a marker. A chunk stopped halfway has no
marker and is built and written again whole. Whatever the interruptions, the finished store is
hashed from its arrays as always and its files are those of an uninterrupted build: the
bookkeeping is removed before the folder is swapped in (tested). A partial folder of other
settings is removed; a serial build removes any partial folder of its store.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .cache import write_atomic
from .stores import STORE_FORMAT, RangeTracker

if TYPE_CHECKING:
    from .data import Chunk, DatasetSpec

__all__ = [
    "partial_dir",
    "fingerprint",
    "open_partial",
    "drop_partial",
    "mark_done",
    "done_chunks",
    "finish_partial",
    "resume_hint",
    "build_summary",
]

log = logging.getLogger("decathlon")

PARTIAL_FILE = "PARTIAL.json"
#: A finished chunk: its variable names (a part's first chunk; else empty), its value ranges,
#: and the seconds its worker took (None in a marker from before they were recorded).
Done = tuple[list[str], RangeTracker, float | None]
CHUNKS_DIR = ".chunks"


def partial_dir(final: Path) -> Path:
    """Where a cluster build of the store ``final`` keeps its finished chunks."""
    return final.parent / f".{final.name}.partial"


def fingerprint(spec: DatasetSpec, tier: str) -> dict[str, Any]:
    """What must not change for finished chunks to be reused (as JSON values)."""
    from decathlon import __version__

    fp = {
        "dataset": spec.name,
        "version": spec.version,
        "tier": tier,
        "seed": spec.seed,
        "params": dict(spec.params),
        "store_format": STORE_FORMAT,
        "package": __version__,
        "chunks": [[c.part, c.index, c.start, c.size] for c in spec.chunks(tier)],
    }
    out: dict[str, Any] = json.loads(json.dumps(fp, default=str))
    return out


def open_partial(final: Path, spec: DatasetSpec, tier: str) -> Path:
    """The partial folder of ``final``: reused when its fingerprint is this build's, else made
    anew (a folder of other settings, or one whose fingerprint cannot be read, is removed)."""
    d = partial_dir(final)
    want = fingerprint(spec, tier)
    if d.exists():
        try:
            have = json.loads((d / PARTIAL_FILE).read_text())
        except (OSError, ValueError):
            have = None
        if have == want:
            n = len(done_chunks(d))
            log.info("resuming the build of %s (%s): %d chunks already built", spec.name, tier, n)
            return d
        log.info("removing %s: a partial build of other settings", d)
        shutil.rmtree(d)
    (d / CHUNKS_DIR).mkdir(parents=True)
    write_atomic(d / PARTIAL_FILE, json.dumps(want, indent=1))
    return d


def drop_partial(final: Path) -> None:
    """Remove the partial folder of ``final`` if there is one (a serial build has no use for it,
    and a complete store makes it stale)."""
    d = partial_dir(final)
    if d.exists():
        log.info("removing %s, a partial cluster build", d)
        shutil.rmtree(d, ignore_errors=True)


def mark_done(
    d: Path, chunk: Chunk, names: list[str], ranges: RangeTracker, seconds: float | None = None
) -> None:
    """Record that ``chunk`` is written in the partial folder ``d`` (after its data), with the
    ``seconds`` its worker took to build and write it."""
    rec = {
        "part": chunk.part,
        "index": chunk.index,
        "names": names,
        "ranges": ranges.as_json(),
        "spatial": sorted(ranges.spatial),
        "seconds": None if seconds is None else round(seconds, 3),
    }
    write_atomic(d / CHUNKS_DIR / f"{chunk.part}.{chunk.index}.json", json.dumps(rec))


def done_chunks(d: Path) -> dict[tuple[str, int], Done]:
    """The chunks finished in ``d``: (part, index) -> (variable names, value ranges, seconds
    or None). A marker that cannot be read counts as not finished (the chunk is built again)."""
    out = {}
    for f in sorted((d / CHUNKS_DIR).glob("*.json")):
        try:
            rec = json.loads(f.read_text())
            ranges = RangeTracker()
            ranges.spatial = set(rec["spatial"])
            for name, r in rec["ranges"].items():
                ranges.lo[name] = np.asarray(r["min"], dtype=np.float64)
                ranges.hi[name] = np.asarray(r["max"], dtype=np.float64)
            sec = rec.get("seconds")
            out[(str(rec["part"]), int(rec["index"]))] = (
                list(rec["names"]),
                ranges,
                None if sec is None else float(sec),
            )
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring the unreadable chunk marker %s: its chunk is built again", f)
    return out


def finish_partial(d: Path) -> None:
    """Remove the bookkeeping from a finished partial folder before it becomes the store."""
    (d / PARTIAL_FILE).unlink()
    shutil.rmtree(d / CHUNKS_DIR)


def resume_hint(final: Path, spec: DatasetSpec, tier: str) -> str | None:
    """What a stopped cluster build of ``final`` kept and how to go on, or None when it kept
    nothing (no partial folder, or one without a finished chunk)."""
    d = partial_dir(final)
    if not d.is_dir():
        return None
    n, total = len(done_chunks(d)), len(spec.chunks(tier))
    if not n:
        return None
    return (
        f"the build of {spec.name} ({tier}) stopped with {n} of {total} chunks finished; they "
        f"are kept in {d}: run the same command again (with --workers, --dask or --scheduler) "
        "to build only the rest"
    )


def build_summary(todo: int, reused: int, seconds: list[float | None]) -> dict[str, Any]:
    """``COMPLETE.json``'s ``cluster_build``: how many chunks, how many an earlier (stopped)
    run had finished, and the seconds the workers spent on all of them over every run (None
    when a marker did not record them), for ``build_seconds`` counts the last run only.

    Examples
    --------
    >>> build_summary(100, 94, [60.0] * 100)
    {'chunks': 100, 'chunks_from_earlier_runs': 94, 'chunk_seconds': 6000.0}
    """
    known = None if any(s is None for s in seconds) else sum(s for s in seconds if s is not None)
    return {
        "chunks": todo,
        "chunks_from_earlier_runs": reused,
        "chunk_seconds": None if known is None else round(known, 3),
    }
