"""Dask: the cluster a command runs on, a store built chunk by chunk on its workers, and the
suite's (task, baseline) evaluations spread over them.

Nothing here runs unless a command asks for Dask (``--dask``, ``--workers N`` or
``--scheduler ADDRESS``); without it every build and evaluation runs serially in the calling
process, exactly as before. :func:`dask_client` gives a ``distributed.Client``: on the scheduler
at ``ADDRESS``, else on the one the Dask configuration names (``scheduler-address``, e.g.
``DASK_SCHEDULER_ADDRESS``), else on a ``LocalCluster`` of single-threaded worker processes, one
per CPU unless ``workers`` says how many.

A store (:func:`build_parts`, called by :func:`.data.materialize`): per part, a task builds chunk
0, validates it, creates the part's zarr arrays with their final shapes (template) and writes its
region; the part's other chunks are tasks that start once it is done, each building, validating
and writing its own region (chunks never share a store chunk, :func:`.stores.sample_chunk`).
Then, per (part, variable), a task reads the array back in sample order and hashes it, which
gives the serial build's sha256 (:mod:`.stores`); value ranges come back with each chunk and
are folded on the client. Each finished chunk leaves a marker, and a stopped build resumes from
the chunks it finished (:mod:`.partial`). Workers write where the client says: on several
machines the cache must be a shared filesystem (``docs/architecture.md``, "Scale").
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import stores
from .partial import build_summary, done_chunks, mark_done
from .stores import RangeTracker

if TYPE_CHECKING:
    from .context import EvalConfig
    from .data import Chunk, DatasetSpec, PartDigests

__all__ = [
    "dask_client",
    "build_parts",
    "run_pairs",
    "worker_peak_mib",
    "worker_cpu_seconds",
    "machine_workers",
]

log = logging.getLogger("decathlon")


#: Dask settings of the local clusters. Dask starts worker processes with MALLOC_TRIM_THRESHOLD_
#: set, which turns off glibc's adaptive mmap threshold: every temporary array of a simulation
#: step is then mapped and unmapped again, and the simulators run three times slower. The
#: statistical profiler takes the GIL every 10 ms from a task made of many small numpy calls
#: (up to 1.5x slower). Set both on the workers of a cluster given by address too.
LOCAL_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


def machine_workers() -> int:
    """Workers of a machine-sized local cluster: one per CPU this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def dask_client(
    workers: int | None = None, scheduler: str | None = None, processes: bool = True
) -> Iterator[Any]:
    """A ``distributed.Client``, closed (with its local cluster) on exit.

    ``scheduler``: connect to that address. Else, without ``workers``, the Dask configuration's
    ``scheduler-address`` if set. Else a ``LocalCluster`` of ``workers`` (default: one per CPU)
    single-threaded workers, processes unless ``processes=False`` (threads in this process).
    """
    import dask
    from distributed import Client, LocalCluster

    if not log.isEnabledFor(logging.DEBUG):  # the scheduler's and nannies' chatter: with -v only
        logging.getLogger("distributed").setLevel(logging.WARNING)
    address = scheduler or (None if workers else dask.config.get("scheduler-address", None))
    if address:
        with Client(address) as client:
            yield client
        return
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    n = workers or machine_workers()
    with dask.config.set(LOCAL_CONFIG):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=None
        )
    with cluster, Client(cluster) as client:
        yield client


# -- building a store -----------------------------------------------------------------------


def _piece(spec: DatasetSpec, tier: str, chunk: Chunk) -> Any:
    from .contract import validate

    piece = spec.chunk_builder()(spec, tier, chunk)
    validate(piece)
    if piece.sizes.get("sample") != chunk.size:
        raise ValueError(
            f"dataset {spec.name!r}: chunk {chunk.index} of part {chunk.part!r} has "
            f"{piece.sizes.get('sample')} samples, expected {chunk.size}"
        )
    return piece


def _first_chunk(
    spec: DatasetSpec, tier: str, chunk: Chunk, path: Path, n: int
) -> tuple[list[str], RangeTracker, float]:
    """Build chunk 0 of a part, create the part's store for ``n`` samples, write the chunk and
    its marker (:func:`.partial.mark_done`)."""
    t0 = time.perf_counter()
    piece = _piece(spec, tier, chunk)
    s = stores.sample_chunk(piece, piece.sizes["sample"], spec.chunk_size)
    stores.write_template(piece, path, n, s)
    stores.write_region(piece, path, chunk.start)
    ranges = RangeTracker()
    ranges.update(piece)
    names = sorted(map(str, piece.variables))
    seconds = time.perf_counter() - t0
    mark_done(path.parent, chunk, names, ranges, seconds)
    return names, ranges, seconds


def _next_chunk(
    spec: DatasetSpec, tier: str, chunk: Chunk, path: Path, first: object
) -> tuple[list[str], RangeTracker, float]:
    """Build a later chunk, write its region and its marker (``first``: the part's first task,
    done, or None when an earlier build finished it)."""
    t0 = time.perf_counter()
    piece = _piece(spec, tier, chunk)
    stores.write_region(piece, path, chunk.start)
    ranges = RangeTracker()
    ranges.update(piece)
    seconds = time.perf_counter() - t0
    mark_done(path.parent, chunk, [], ranges, seconds)
    return [], ranges, seconds


def build_parts(
    spec: DatasetSpec, tier: str, tmp: Path, client: Any, progress: bool
) -> tuple[PartDigests, dict[str, RangeTracker], dict[str, Any]]:
    """Build every chunk of ``spec`` at ``tier`` on ``client``'s workers into
    ``tmp/<part>.zarr``, except those an earlier build into the partial folder ``tmp`` finished
    (:mod:`.partial`); per part, its hashes and value ranges (as the serial build's), and the
    build's :func:`.partial.build_summary`."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    todo = spec.chunks(tier)
    sizes = {p: sum(c.size for c in todo if c.part == p) for p in spec.parts}
    missing = [p for p, n in sizes.items() if not n]
    if missing:
        raise ValueError(f"dataset {spec.name!r} built no data for parts {missing}")
    path = {p: tmp / f"{p}.zarr" for p in spec.parts}
    done = done_chunks(tmp)  # a part's first chunk (re)creates its arrays: the rest needs it
    done = {(p, i): v for (p, i), v in done.items() if (p, 0) in done}
    ranges = {p: RangeTracker() for p in spec.parts}
    names = {p: done[(p, 0)][0] for p in spec.parts if (p, 0) in done}
    first: dict[str, Any] = {}
    chunk_of = {}
    seconds: list[float | None] = []  # per chunk, over every run
    for c in sorted(todo, key=lambda c: c.index > 0):  # every part's first chunk first
        if (c.part, c.index) in done:
            ranges[c.part].merge(done[(c.part, c.index)][1])
            seconds.append(done[(c.part, c.index)][2])
        elif c.index == 0:
            f = first[c.part] = client.submit(
                _first_chunk, spec, tier, c, path[c.part], sizes[c.part], pure=False
            )
            chunk_of[f.key] = (f, c)
        else:
            dep = first.get(c.part)
            f = client.submit(_next_chunk, spec, tier, c, path[c.part], dep, pure=False)
            chunk_of[f.key] = (f, c)
    built = sum(c.size for c in todo if (c.part, c.index) in done)
    desc = f"simulate {spec.name} ({tier}) on {len(client.scheduler_info()['workers'])} workers"
    try:
        with tqdm(
            total=sum(sizes.values()), initial=built, desc=desc, unit="sim", disable=not progress
        ) as bar:
            for f in as_completed([f for f, _ in chunk_of.values()]):
                c = chunk_of[f.key][1]
                _, chunk_ranges, chunk_seconds = f.result()
                ranges[c.part].merge(chunk_ranges)
                seconds.append(chunk_seconds)
                bar.update(c.size)
        names |= {p: f.result()[0] for p, f in first.items()}
        digests = _hash_parts(spec, client, path, names)
    except BaseException:
        client.cancel([f for f, _ in chunk_of.values()])
        raise
    return digests, ranges, build_summary(len(todo), len(todo) - len(chunk_of), seconds)


def _hash_parts(
    spec: DatasetSpec, client: Any, path: dict[str, Path], names: dict[str, list[str]]
) -> PartDigests:
    """Per part, hash every variable on the workers (one task per variable) and combine."""
    jobs = {
        (p, name): client.submit(stores.hash_variable, path[p], name, pure=False)
        for p in spec.parts
        for name in names[p]
    }
    entries = dict(zip(jobs, client.gather(list(jobs.values())), strict=True))
    return {
        p: stores.combine_digests({n: e for (q, n), e in entries.items() if q == p})
        for p in spec.parts
    }


# -- the suite ------------------------------------------------------------------------------


def _run_pair(
    baseline: str, task: str, tier: str, training: Any, config: EvalConfig, root: str
) -> tuple[bool, Any]:
    """On a worker: ``(True, record)``, or ``(False, reason)`` if the baseline cannot train."""
    os.environ["DECATHLON_DATA_DIR"] = root  # the client's cache (a shared filesystem)
    from .suite import CannotTrain, run_baseline

    try:
        epochs, budget = training
        return True, run_baseline(
            baseline,
            task,
            "test",
            tier,  # type: ignore[arg-type]
            epochs=epochs,
            config=config,
            budget=budget,
        )
    except CannotTrain as e:
        return False, str(e)


def run_pairs(
    client: Any, pairs: list[tuple[str, str]], tier: str, training: Any, config: EvalConfig
) -> list[tuple[bool, Any]]:
    """``run_baseline`` of every (task, baseline) pair as a task on ``client``'s workers; the
    outcomes in the order of ``pairs`` (as :func:`_run_pair`). ``training``: (epochs or None,
    budget) of the learned baselines."""
    from distributed import as_completed

    from .data import data_root

    cfg = dataclasses.replace(config, progress=False)
    root = str(data_root())
    futures = [
        client.submit(_run_pair, b, t, tier, training, cfg, root, pure=False) for t, b in pairs
    ]
    where = {f.key: pair for f, pair in zip(futures, pairs, strict=True)}
    try:
        for k, f in enumerate(as_completed(futures), 1):
            f.result()
            log.info("[%d/%d] %s x %s done on a worker", k, len(futures), *where[f.key])
    except BaseException:
        client.cancel(futures)
        raise
    return list(client.gather(futures))


def _peak_mib() -> float:
    """Peak resident memory of this process image: ``VmHWM`` on Linux (``ru_maxrss`` would carry
    the peak of the process a worker was forked from across its ``exec``)."""
    import resource
    import sys

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def _cpu_seconds() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def worker_cpu_seconds(client: Any) -> dict[str, float]:
    """CPU seconds (user + system) every worker process has used so far, by worker address."""
    return dict(client.run(_cpu_seconds))


def worker_peak_mib(client: Any) -> dict[str, float]:
    """Peak resident memory (MiB) of every worker process so far, by worker address."""
    return dict(client.run(_peak_mib))
