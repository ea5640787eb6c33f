"""Store and scale benchmarks of ``decathlon bench``: reading a split, building a tier on Dask.

:func:`store_read` builds one part of a simulated dataset (the chunks of that part only) into a
temporary folder three ways: the present store layout (:mod:`.stores`), the layout of store
format 1 (zarr's default chunks and compressor), and one ``.npy`` file per variable (the same
bytes). It then reads each back, in turns, ``repeats`` times from the page cache and reports the
medians side by side: format 1 as it was read (``xarray.open_zarr(...).load()``, Dask), the
present layout through xarray and zarr, the same through :func:`.stores.load` (what
``open_part`` uses), and ``np.load``. The compressors considered for the layout are measured
too (size on disk, read time through zarr).

:func:`build_throughput` builds a tier with its training part cut to its first ``n`` chunks
(the same bytes as the head of the whole part: chunks are seeded by (seed, part, chunk)) serially
and on local Dask clusters of 1, 2, ... worker processes, in turns, and reports simulations per
second, the ``data_sha256`` of every build (one value), and each worker's peak resident memory.
:func:`run_scale_benchmarks` runs the ones asked for and adds them to the results file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import stores
from .data import DATASETS, materialize
from .lazy import xr

__all__ = ["store_read", "build_throughput", "run_scale_benchmarks", "COMPRESSORS"]


def _compressors() -> dict[str, Any]:
    from numcodecs import Blosc, Zstd

    return {
        "none": None,
        "blosc-lz4-shuffle": Blosc("lz4", 5, Blosc.SHUFFLE),
        "blosc-lz4-bitshuffle": Blosc("lz4", 5, Blosc.BITSHUFFLE),
        "zstd-1": Zstd(1),
    }


#: Compressors measured for the store layout (the layout uses ``none``).
COMPRESSORS = ("none", "blosc-lz4-shuffle", "blosc-lz4-bitshuffle", "zstd-1")


def _medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall milliseconds of each function; one warm-up call each, then in turns."""
    for f in fns.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _write_layouts(pieces: list[xr.Dataset], d: Path, chunk_size: int | None) -> dict[str, Path]:
    """The part as the store layout writes it, as store format 1 did, and with each candidate
    compressor; ``.npy`` files of every sample variable under ``d/npy``."""
    new = d / "new.zarr"
    s = stores.sample_chunk(pieces[0], pieces[0].sizes["sample"], chunk_size)
    stores.write_first(pieces[0], new, s)
    for p in pieces[1:]:
        stores.append(p, new)
    ds = xr.concat(pieces, "sample")
    paths = {"new": new, "format 1": d / "format1.zarr"}
    ds.to_zarr(paths["format 1"], mode="w", consolidated=True, zarr_format=2)
    for name, comp in _compressors().items():
        enc = stores.encoding(ds, s)
        for e in enc.values():
            e.update(stores.compressor(comp))
        paths[name] = d / f"{name}.zarr"
        ds.to_zarr(paths[name], mode="w", consolidated=True, encoding=enc, zarr_format=2)
    (d / "npy").mkdir()
    for v in stores.sample_variables(ds):
        np.save(d / "npy" / f"{v}.npy", ds[v].values)
    return paths


def _open_lazy(p: Path) -> xr.Dataset:
    return xr.open_zarr(p, consolidated=True, chunks=None)


def _load_lazy(p: Path) -> xr.Dataset:
    return _open_lazy(p).load()


def store_read(
    dataset: str = "nri-springs", tier: str = "full", part: str = "test", repeats: int = 7
) -> dict[str, Any]:
    """Read one part from its store against ``np.load`` of the same bytes (module docstring)."""
    spec = DATASETS.get(dataset)
    build = spec.chunk_builder()
    pieces = [build(spec, tier, c) for c in spec.chunks(tier) if c.part == part]
    with tempfile.TemporaryDirectory(prefix="decathlon-bench-") as tmp:
        d = Path(tmp)
        paths = _write_layouts(pieces, d, spec.chunk_size)
        npy = sorted((d / "npy").glob("*.npy"))
        lazy = _open_lazy
        fns: dict[str, Callable[[], object]] = {
            "format 1 (xarray, dask)": lambda: xr.open_zarr(paths["format 1"]).load(),
            "store (xarray + zarr)": lambda: lazy(paths["new"]).load(),
            "store (decathlon load)": lambda: stores.load(lazy(paths["new"]), paths["new"]),
            "np.load": lambda: [np.load(f) for f in npy],
        }
        for name in COMPRESSORS[1:]:
            fns[f"compressor {name}"] = partial(_load_lazy, paths[name])
        ms = _medians(fns, repeats)
        sizes = {k: _size_mb(p) for k, p in paths.items()}
        zarray = json.loads((paths["new"] / "pos" / ".zarray").read_text())
        return {
            "name": "store read",
            "dataset": dataset,
            "tier": tier,
            "part": part,
            "mb": sum(f.stat().st_size for f in npy) / 1e6,
            "chunks": zarray["chunks"],
            "ms": ms,
            "disk_mb": sizes,
            "speed_vs_np_load": ms["np.load"] / ms["store (decathlon load)"],
            "repeats": repeats,
            # issue 9, measured at commit 1095a22 on the 2-core development machine (the
            # springs full test split from its old zarr layout); shown beside, not re-measured
            "before": {"commit": "1095a22", "ms": 155.0, "np_load_ms": 19.0}
            if (dataset, tier, part) == ("nri-springs", "full", "test")
            else None,
        }


@contextlib.contextmanager
def _data_dir(path: Path) -> Iterator[None]:
    old = os.environ.get("DECATHLON_DATA_DIR")
    os.environ["DECATHLON_DATA_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DECATHLON_DATA_DIR", None)
        else:
            os.environ["DECATHLON_DATA_DIR"] = old


def _one_build(name: str, tier: str, workers: int) -> dict[str, Any]:
    """Build ``name`` at ``tier`` into a fresh cache, here (``workers=0``) or on a local
    cluster; seconds, data hash and peak memory of each worker."""
    from .cluster import _cpu_seconds, dask_client, worker_cpu_seconds, worker_peak_mib

    with tempfile.TemporaryDirectory(prefix="decathlon-bench-") as tmp, _data_dir(Path(tmp)):
        with contextlib.ExitStack() as stack:
            client = stack.enter_context(dask_client(workers)) if workers else None
            cpu0 = sum(worker_cpu_seconds(client).values()) if client else _cpu_seconds()
            t0 = time.perf_counter()
            path = materialize(name, tier, client=client)  # type: ignore[arg-type]
            seconds = time.perf_counter() - t0
            cpu = (sum(worker_cpu_seconds(client).values()) if client else _cpu_seconds()) - cpu0
            peaks = sorted(worker_peak_mib(client).values()) if client else []
        meta = json.loads((path / "COMPLETE.json").read_text())
        return {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "data_sha256": meta["data_sha256"],
            "peak_mib": peaks,
        }


def build_throughput(
    dataset: str = "nri-springs",
    tier: str = "large",
    workers: Sequence[int] = (1, 2),
    n_chunks: int = 8,
    repeats: int = 1,
) -> list[dict[str, Any]]:
    """Simulations per second building ``tier`` with its training part cut to the first
    ``n_chunks`` chunks (valid and test whole): serially (``workers`` 0) and on each local
    cluster size, in turns; medians of ``repeats``."""
    spec = DATASETS.get(dataset)
    head = [c for c in spec.chunks(tier) if c.part == "train"][:n_chunks]
    sizes = {**spec.tiers[tier], "train": sum(c.size for c in head)}
    n = sum(int(v) for v in sizes.values())
    sub = dataclasses.replace(spec, name=f"{spec.name}-bench", tiers={tier: sizes})
    runs: dict[int, list[dict[str, Any]]] = {w: [] for w in (0, *workers)}
    with DATASETS.override(sub.name, sub):
        for _ in range(repeats):
            for w in runs:
                runs[w].append(_one_build(sub.name, tier, w))
    rows = []
    for w, rs in runs.items():
        sec = statistics.median(r["seconds"] for r in rs)
        rows.append(
            {
                "name": "build",
                "dataset": dataset,
                "tier": tier,
                "chunks": len(sub.chunks(tier)),
                "sizes": sizes,
                "sims": n,
                "workers": w,
                "seconds": sec,
                "sims_per_s": n / sec,
                "runs_s": [round(r["seconds"], 2) for r in rs],
                "sims_per_cpu_s": n / statistics.median(r["cpu_seconds"] for r in rs),
                "peak_mib": max((p for r in rs for p in r["peak_mib"]), default=None),
                "data_sha256": sorted({r["data_sha256"] for r in rs}),
            }
        )
    return rows


def run_scale_benchmarks(
    out: str | None,
    *,
    stores_tier: str | None = "full",
    build_tier: str | None = None,
    build_workers: Sequence[int] = (1, 2),
    build_chunks: int = 8,
    build_repeats: int = 1,
    repeats: int = 7,
    append: bool = False,
) -> dict[str, Any]:
    """The store-read row (unless ``stores_tier`` is None) and the build rows (if
    ``build_tier``), added under ``stores`` and ``build`` to the JSON at ``out`` (to the file
    written just before if ``append``, else to a new one)."""
    res: dict[str, Any] = {}
    if stores_tier:
        res["stores"] = store_read(tier=stores_tier, repeats=repeats)
    if build_tier:
        res["build"] = build_throughput(
            tier=build_tier, workers=build_workers, n_chunks=build_chunks, repeats=build_repeats
        )
    if out:
        p = Path(out)
        doc = json.loads(p.read_text()) if append and p.is_file() else {"meta": _machine()}
        doc.update(res)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, p)
    return res


def _machine() -> dict[str, Any]:
    return {
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
