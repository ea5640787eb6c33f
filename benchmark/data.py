"""Dataset records, the dataset registry, and materialization to zarr in the cache.

A :class:`DatasetSpec` says where a dataset comes from (files with URLs and sha256, or a
simulator with parameters and a seed) and how to build it. :func:`materialize` builds a dataset once
per tier (download + parse, or simulate), validates every piece against the data contract and
streams it into zarr stores under ``<cache>/stores/<name>/v<version>/<tier>/``. (The facade's
``decathlon.prepare`` builds a whole evaluation context on top of it.) The stores are
written into a temporary directory that is renamed into place only after the last byte and a
``COMPLETE.json`` (with a sha256 of every array) are written, so an interrupted build never
leaves anything that is later read as valid. :func:`open_part` opens a store lazily.

The cache root is ``$DECATHLON_DATA_DIR`` if set, else the OS cache directory
(``~/.cache/spacetime-decathlon`` on Linux).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import xarray as xr

from .contract import validate
from .registry import Registry

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "FileSpec",
    "data_root",
    "open_part",
    "materialize",
    "is_prepared",
    "register_dataset",
    "store_dir",
    "StoreError",
    "Tier",
    "TIERS",
    "store_meta",
    "verify_digest",
]

#: Data-size tier: ``mini`` (CPU-sized) or ``full`` (the paper's sizes). The one definition.
Tier = Literal["mini", "full"]
TIERS: tuple[str, ...] = get_args(Tier)

log = logging.getLogger("decathlon")

#: Version of the on-disk store layout; bump to invalidate every cached store.
STORE_FORMAT = 1


class StoreError(ValueError):
    """A cached store is missing, incomplete or corrupted; the message says how to fix it."""


@dataclass(frozen=True)
class FileSpec:
    """One upstream file: its path inside the dataset's raw folder, URL and sha256.

    ``sha256=None`` marks a file whose hash is not yet pinned: the fetcher records the hash at
    first download in a lock file and verifies it afterwards (see ``decathlon.datasets.fetch``).
    """

    name: str
    url: str
    sha256: str | None


Builder = Callable[["DatasetSpec", str, bool], Iterator[tuple[str, xr.Dataset]]]


@dataclass(frozen=True, eq=False)
class DatasetSpec:
    """Where a dataset comes from and how it is built (``docs/contract.md``, "Dataset record").

    Parameters
    ----------
    name, version
        Registry key and data version; a new version gets a new cache folder.
    domain, family
        Scientific domain (``particles``, ``mocap`` ...) and data-contract family.
    build
        ``build(spec, tier, progress)`` yields ``(part, dataset)`` pieces; pieces of one part are
        concatenated along ``sample`` (so a simulator can stream chunks).
    parts
        Names of the stores the dataset is made of (``train``/``valid``/``test`` for simulators
        that draw separate splits, ``all`` for a recording split by sample).
    tiers
        Tier name -> tier settings (e.g. simulation counts). Datasets with a single tier serve it
        for every requested tier.
    files
        Upstream files (downloaded datasets); empty for simulators.
    params, seed
        Simulator parameters and seed, recorded in the card and in the result provenance.
    license, citation, card, source
        Provenance; ``card`` is the data card's file name in ``decathlon/datasets/cards``.
    fake
        For downloaded datasets: ``fake(dir, seed) -> {file name: path}`` writes small files in
        the upstream format, enough for every task on the dataset (the contract test uses it).
    """

    name: str
    version: str
    domain: str
    family: str
    build: Builder
    parts: tuple[str, ...]
    tiers: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {"full": {}})
    files: tuple[FileSpec, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    license: str = ""
    citation: str = ""
    card: str = ""
    source: str = ""
    fake: Callable[[Path, int], dict[str, Path]] | None = None

    def resolve_tier(self, tier: str) -> str:
        """The tier actually built for a requested ``tier``.

        A dataset with a single tier (a real recording) serves it for every request.
        """
        if tier in self.tiers:
            return tier
        if len(self.tiers) == 1:
            return next(iter(self.tiers))
        raise KeyError(
            f"dataset {self.name!r} has no tier {tier!r}; valid tiers: {', '.join(self.tiers)}"
        )


DATASETS: Registry[DatasetSpec] = Registry("dataset", plugins=("decathlon.datasets",))


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Register ``spec`` under ``spec.name`` (duplicates refused)."""
    return DATASETS.register(spec.name, spec)


def data_root() -> Path:
    """Cache root: ``$DECATHLON_DATA_DIR`` or the OS cache directory. Nothing is created here."""
    env = os.environ.get("DECATHLON_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import pooch  # light import, only when a path is needed

    return Path(pooch.os_cache("spacetime-decathlon"))


def store_dir(spec: DatasetSpec, tier: str) -> Path:
    """Folder of the materialized stores of ``spec`` at ``tier``."""
    return data_root() / "stores" / spec.name / f"v{spec.version}" / spec.resolve_tier(tier)


def _complete_file(d: Path) -> Path:
    return d / "COMPLETE.json"


def is_prepared(name: str, tier: str) -> bool:
    """Whether :func:`materialize` has completed for this dataset and tier."""
    return _complete_file(store_dir(DATASETS.get(name), tier)).is_file()


class _ArrayHasher:
    """sha256 of every variable, fed chunk by chunk along the first axis (C order)."""

    def __init__(self) -> None:
        self._h: dict[str, Any] = {}
        self._meta: dict[str, tuple[str, list[int]]] = {}

    def update(self, ds: xr.Dataset) -> None:
        for name in sorted(map(str, ds.variables)):
            da = ds[name]
            arr = np.ascontiguousarray(np.asarray(da.values))
            if arr.dtype.kind in "OUS":
                arr = np.asarray(arr.astype(str), dtype="U")
            chunked = da.dims[:1] == ("sample",)
            if name not in self._h:
                self._h[name] = hashlib.sha256()
                self._meta[name] = (str(arr.dtype), list(arr.shape))
                self._h[name].update(arr.tobytes())
            elif chunked:
                self._h[name].update(arr.tobytes())
                self._meta[name][1][0] += arr.shape[0]

    def digest(self) -> tuple[str, dict[str, str]]:
        per_var = {k: h.hexdigest() for k, h in sorted(self._h.items())}
        lines = "".join(
            f"{k}:{self._meta[k][0]}:{self._meta[k][1]}:{v}\n" for k, v in per_var.items()
        )
        return hashlib.sha256(lines.encode()).hexdigest(), per_var


class _RangeTracker:
    """Per-column minimum and maximum of every float (sample, time, entity[, k]) variable,
    over present entities only where the dataset has a matching ``mask``; fed piece by piece.

    Stored in ``COMPLETE.json`` so that normalization statistics of a whole part never need the
    part to be loaded again (:func:`decathlon.benchmark.normalization.task_stats`).
    """

    def __init__(self) -> None:
        self.lo: dict[str, np.ndarray] = {}
        self.hi: dict[str, np.ndarray] = {}
        self.spatial: set[str] = set()  # variables whose trailing dim is ``space``

    def update(self, ds: xr.Dataset) -> None:
        mask = np.asarray(ds["mask"].values) if "mask" in ds.data_vars else None
        for name in map(str, ds.data_vars):
            da = ds[name]
            if da.dims[:3] != ("sample", "time", "entity") or da.dtype.kind != "f":
                continue
            if da.dims[-1] == "space":
                self.spatial.add(name)
            a = np.asarray(da.values)
            if mask is not None and ds["mask"].dims == da.dims[:3]:
                a = a[mask]
            a = a.reshape(-1, da.shape[3] if da.ndim == 4 else 1)
            if not len(a):
                continue
            with warnings.catch_warnings():  # an all-NaN column stays NaN, as nanmin says
                warnings.simplefilter("ignore", RuntimeWarning)
                lo, hi = np.nanmin(a, 0).astype(np.float64), np.nanmax(a, 0).astype(np.float64)
            self.lo[name] = np.fmin(self.lo[name], lo) if name in self.lo else lo
            self.hi[name] = np.fmax(self.hi[name], hi) if name in self.hi else hi

    def as_json(self) -> dict[str, dict[str, list[float]]]:
        return {
            k: {"min": self.lo[k].tolist(), "max": self.hi[k].tolist()} for k in sorted(self.lo)
        }


def hash_dataset(ds: xr.Dataset) -> str:
    """The sha256 :func:`materialize` records for a whole part (used by ``verify``)."""
    h = _ArrayHasher()
    h.update(ds)
    return h.digest()[0]


def materialize(
    name: str, tier: Tier = "mini", progress: bool = False, force: bool = False
) -> Path:
    """Build dataset ``name`` at ``tier`` into the cache (once) and return its folder.

    Parameters
    ----------
    name
        A registered dataset name (see ``decathlon list``).
    tier
        ``mini`` (CPU-sized) or ``full`` (the paper's sizes) for simulators; real recordings have
        one tier.
    progress
        Show progress bars (downloads and simulation).
    force
        Rebuild even if a complete store exists.

    Raises
    ------
    KeyError
        Unknown dataset or tier.
    ValueError
        A piece breaks the data contract, or a download fails its checksum.
    """
    spec = DATASETS.get(name)
    final = store_dir(spec, tier)
    if _complete_file(final).is_file() and not force:
        return final
    real_tier = spec.resolve_tier(tier)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:12]}"
    t0 = time.perf_counter()
    try:
        tmp.mkdir()
        hashers, ranges = _write_parts(spec, real_tier, tmp, progress)
        meta = _marker(spec, real_tier, hashers, ranges, time.perf_counter() - t0)
        _complete_file(tmp).write_text(json.dumps(meta, indent=1, default=str))
        if final.exists():  # stale or forced: move aside, then swap in the new one
            trash = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:12]}"
            os.replace(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("prepared %s (%s) in %.1fs at %s", name, real_tier, time.perf_counter() - t0, final)
    return final


def _write_parts(
    spec: DatasetSpec, tier: str, tmp: Path, progress: bool
) -> tuple[dict[str, _ArrayHasher], dict[str, _RangeTracker]]:
    """Stream every validated piece the builder yields into ``tmp/<part>.zarr``; per part, the
    array hashes and the value ranges."""
    name = spec.name
    hashers: dict[str, _ArrayHasher] = {}
    ranges: dict[str, _RangeTracker] = {}
    for part, piece in spec.build(spec, tier, progress):
        if part not in spec.parts:
            raise ValueError(
                f"dataset {name!r} built a piece for part {part!r}; declared parts: "
                f"{list(spec.parts)}"
            )
        validate(piece)
        path = tmp / f"{part}.zarr"
        if part in hashers:
            if "sample" not in piece.dims:
                raise ValueError(f"dataset {name!r}: only pieces with a 'sample' dim can stream")
            piece.drop_vars([v for v in piece.variables if "sample" not in piece[v].dims]).to_zarr(
                path, mode="a", append_dim="sample", consolidated=True, zarr_format=2
            )
        else:
            hashers[part], ranges[part] = _ArrayHasher(), _RangeTracker()
            piece.to_zarr(path, mode="w", consolidated=True, zarr_format=2)
        hashers[part].update(piece)
        ranges[part].update(piece)
    missing = [p for p in spec.parts if p not in hashers]
    if missing:
        raise ValueError(f"dataset {name!r} built no data for parts {missing}")
    return hashers, ranges


def _marker(
    spec: DatasetSpec,
    tier: str,
    hashers: Mapping[str, _ArrayHasher],
    ranges: Mapping[str, _RangeTracker],
    seconds: float,
) -> dict[str, Any]:
    """The contents of ``COMPLETE.json``: provenance, the sha256 of every array and part, and
    the per-column value ranges of every part (the normalization statistics' source)."""
    parts_meta = {}
    for part, h in hashers.items():
        digest, per_var = h.digest()
        parts_meta[part] = {
            "sha256": digest,
            "variables": per_var,
            "ranges": ranges[part].as_json(),
        }
    spatial = sorted({v for r in ranges.values() for v in r.spatial})
    data_sha = hashlib.sha256(
        "".join(f"{p}:{m['sha256']}\n" for p, m in sorted(parts_meta.items())).encode()
    ).hexdigest()
    return {
        "dataset": spec.name,
        "version": spec.version,
        "tier": tier,
        "store_format": STORE_FORMAT,
        "data_sha256": data_sha,
        "parts": parts_meta,
        "spatial": spatial,
        "seed": spec.seed,
        "params": dict(spec.params),
        "build_seconds": round(seconds, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def store_meta(name: str, tier: str) -> dict[str, Any]:
    """Contents of the store's ``COMPLETE.json``; :class:`StoreError` if not prepared."""
    spec = DATASETS.get(name)
    d = store_dir(spec, tier)
    f = _complete_file(d)
    if not f.is_file():
        raise StoreError(
            f"dataset {name!r} (tier {spec.resolve_tier(tier)!r}) is not prepared in {d}; run "
            f"`decathlon prepare {name} --tier {tier}` first (data cache: $DECATHLON_DATA_DIR)"
        )
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise StoreError(
            f"the store marker {f} is unreadable ({e}); delete {d} and run "
            f"`decathlon prepare {name} --tier {tier}` again"
        ) from None


_VERIFIED: set[tuple[str, str]] = set()  # (store path, sha256) verified in this process


def open_part(
    name: str, tier: Tier, part: str, verify: bool = False, meta: Mapping[str, Any] | None = None
) -> xr.Dataset:
    """Open one part of a prepared dataset.

    ``meta`` is the store's ``COMPLETE.json`` (:func:`store_meta`) when the caller has read it
    already. Lazy by default (``xarray.open_zarr``). With ``verify=True`` the part is loaded into
    memory
    and its sha256 checked against the one recorded when it was written, so silent corruption of
    the cache is caught; the loaded dataset is returned. A part is hashed once per process; later
    opens of the same store only load it.

    Raises
    ------
    StoreError
        Not prepared, or the store is corrupted; the message names the folder to delete and the
        command to run.
    """
    spec = DATASETS.get(name)
    meta = store_meta(name, tier) if meta is None else meta
    if part not in meta["parts"]:
        raise KeyError(f"dataset {name!r} has no part {part!r}; parts: {', '.join(meta['parts'])}")
    d = store_dir(spec, tier)
    fix = f"delete {d} and run `decathlon prepare {name} --tier {tier}` again"
    try:
        ds = xr.open_zarr(d / f"{part}.zarr", consolidated=True)
    except Exception as e:  # zarr raises many kinds; all mean the same to the user
        raise StoreError(
            f"store {d / (part + '.zarr')} is corrupted or incomplete and cannot be opened "
            f"({type(e).__name__}: {e}); {fix}"
        ) from None
    if verify:
        try:
            ds = ds.load()
        except Exception as e:
            raise StoreError(
                f"store {d / (part + '.zarr')} is corrupted ({type(e).__name__}: {e}); {fix}"
            ) from None
        want = meta["parts"][part]["sha256"]
        key = (str(d / f"{part}.zarr"), want)
        if key in _VERIFIED:  # hashed once in this process already
            return ds
        verify_digest(name, tier, part, hash_dataset(ds), meta)
        _VERIFIED.add(key)
    return ds


def verify_digest(
    name: str, tier: Tier, part: str, got: str, meta: Mapping[str, Any] | None = None
) -> None:
    """:class:`StoreError` unless ``got`` is the sha256 recorded for ``part`` when it was built."""
    meta = store_meta(name, tier) if meta is None else meta
    want = meta["parts"][part]["sha256"]
    if got != want:
        d = store_dir(DATASETS.get(name), tier)
        raise StoreError(
            f"store {d / (part + '.zarr')} is corrupted: sha256 of its arrays is {got}, "
            f"expected {want} (recorded when it was written); delete {d} and run "
            f"`decathlon prepare {name} --tier {tier}` again"
        )
