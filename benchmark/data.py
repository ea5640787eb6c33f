"""Dataset records, the dataset registry, and materialization to zarr in the cache.

A :class:`DatasetSpec` says where a dataset comes from (files with URLs and sha256, or a
simulator with parameters and a seed) and how to build it. :func:`materialize` builds it once per
tier (download + parse, or simulate), validates every piece against the data contract and streams
it into zarr stores under ``<cache>/stores/<name>/v<version>/f<format>/<tier>/`` (:mod:`.stores`),
written into a temporary directory renamed into place only after the last byte and a
``COMPLETE.json`` (a sha256 of every array): an interrupted build leaves nothing read as valid.
:func:`open_part` opens a store with xarray; :mod:`.store_view` reads one without it.

A simulator built in independent chunks (``DatasetSpec.build_chunk``) can also be built on a
Dask cluster: ``materialize(..., client=...)`` builds its chunks as tasks writing zarr regions
(:mod:`.cluster`), the serial build's stores and hashes, and resumes if stopped (:mod:`.partial`).

The cache root is ``$DECATHLON_DATA_DIR`` if set, else the OS cache directory (Linux:
``~/.cache/spacetime-decathlon``)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from . import stores
from .cache import (
    _check_writable,
    _remove_leftovers,
    advice,
    build_lock,
    data_root,
    remove_leftovers_if_idle,
)
from .contract import validate
from .lazy import xr
from .marker import marker_problem
from .partial import drop_partial, finish_partial, open_partial
from .registry import Registry
from .stores import STORE_FORMAT, ArrayHasher, RangeTracker

if TYPE_CHECKING:
    from .store_view import StoreView

__all__ = [
    "DATASETS",
    "Chunk",
    "DatasetSpec",
    "FileSpec",
    "data_root",
    "open_part",
    "materialize",
    "is_prepared",
    "register_dataset",
    "store_dir",
    "stream_chunks",
    "STORE_FORMAT",
    "StoreError",
    "Tier",
    "TIERS",
    "store_meta",
    "verify_digest",
]

#: Data-size tier: ``mini`` (CPU-sized), ``full`` (the paper's sizes) or ``large`` (scale
#: tests: a million training simulations, where a simulator offers it). The one definition.
Tier = Literal["mini", "full", "large"]
TIERS: tuple[str, ...] = get_args(Tier)

log = logging.getLogger("decathlon")


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


Builder = Callable[["DatasetSpec", str, bool], Iterator[tuple[str, "xr.Dataset"]]]


@dataclass(frozen=True)
class Chunk:
    """Chunk ``index`` of ``part``: samples ``start .. start + size`` of that part."""

    part: str
    index: int
    start: int
    size: int


ChunkBuilder = Callable[["DatasetSpec", str, Chunk], "xr.Dataset"]


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
    build_chunk, chunk_size
        For a dataset made of independent chunks (a simulator seeding chunk ``c`` of part ``p``
        from ``(seed, p, c)``): ``build_chunk(spec, tier, chunk)`` builds one :class:`Chunk` of
        ``chunk_size`` samples (fewer for a part's last) whatever was built before, and the tier
        settings are ``{part: samples}``. Then ``build`` is :func:`stream_chunks`, and a Dask
        cluster can build the chunks in parallel (:func:`materialize`).
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
    build_chunk: ChunkBuilder | None = None
    chunk_size: int | None = None

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

    def chunk_builder(self) -> ChunkBuilder:
        """``build_chunk``; ``ValueError`` if the dataset is not built in chunks."""
        if self.build_chunk is None or not self.chunk_size:
            raise ValueError(f"dataset {self.name!r} is not built in chunks (no build_chunk)")
        return self.build_chunk

    def chunks(self, tier: str) -> list[Chunk]:
        """Every chunk of ``tier``, part by part in sample order (datasets with ``build_chunk``).

        Examples
        --------
        >>> spec = DATASETS.get("nri-springs")
        >>> [(c.part, c.start, c.size) for c in spec.chunks("mini")][:2]
        [('train', 0, 2000), ('valid', 0, 500)]
        >>> len(spec.chunks("large"))  # a million training simulations in chunks of 5000
        204
        """
        self.chunk_builder()
        sizes, size = self.tiers[self.resolve_tier(tier)], int(self.chunk_size or 0)
        return [
            Chunk(part, c, start, min(size, int(sizes[part]) - start))
            for part in self.parts
            for c, start in enumerate(range(0, int(sizes[part]), size))
        ]


def stream_chunks(spec: DatasetSpec, tier: str, progress: bool) -> Iterator[tuple[str, xr.Dataset]]:
    """The ``build`` of a dataset with ``build_chunk``: every chunk in order (the serial build)."""
    from tqdm.auto import tqdm

    todo, build_chunk = spec.chunks(tier), spec.chunk_builder()
    with tqdm(
        total=sum(c.size for c in todo),
        desc=f"simulate {spec.name} ({tier})",
        unit="sim",
        disable=not progress,
    ) as bar:
        for chunk in todo:
            yield chunk.part, build_chunk(spec, tier, chunk)
            bar.update(chunk.size)


DATASETS: Registry[DatasetSpec] = Registry("dataset", plugins=("decathlon.datasets",))


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Register ``spec`` under ``spec.name`` (duplicates refused)."""
    return DATASETS.register(spec.name, spec)


def store_dir(spec: DatasetSpec, tier: str) -> Path:
    """Folder of the materialized stores of ``spec`` at ``tier``: the data version and the store
    layout (:data:`STORE_FORMAT`) are both in the path, so a store of another layout is never
    read."""
    root = data_root() / "stores" / spec.name / f"v{spec.version}" / f"f{STORE_FORMAT}"
    return root / spec.resolve_tier(tier)


def _complete_file(d: Path) -> Path:
    return d / "COMPLETE.json"


def is_prepared(name: str, tier: str) -> bool:
    """Whether :func:`materialize` has completed for this dataset and tier."""
    return _complete_file(store_dir(DATASETS.get(name), tier)).is_file()


def hash_dataset(ds: xr.Dataset | StoreView) -> str:
    """The sha256 :func:`materialize` records for a whole part (used by ``verify``)."""
    h = ArrayHasher()
    h.update(ds)
    return h.digest()[0]


def materialize(
    name: str,
    tier: Tier = "mini",
    progress: bool = False,
    force: bool = False,
    client: Any = None,
) -> Path:
    """Build dataset ``name`` at ``tier`` into the cache (once) and return its folder.

    Parameters
    ----------
    name
        A registered dataset name (see ``decathlon list``).
    tier
        ``mini`` (CPU-sized), ``full`` (the paper's sizes) or ``large`` for simulators; real
        recordings have one tier.
    progress
        Show progress bars (downloads and simulation).
    force
        Rebuild even if a complete store exists.
    client
        A ``dask.distributed.Client``: a dataset with ``build_chunk`` is then built chunk by
        chunk on its workers, which write zarr regions of the stores (:mod:`.cluster`; the
        folder must be reachable from the workers). The stores and ``COMPLETE.json`` hashes are
        those of the serial build. Other datasets are built here, serially.

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
        remove_leftovers_if_idle(final)
        return final
    _check_writable(data_root())
    final.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(final):  # one builder per store; a second one waits, then reuses or rebuilds
        if _complete_file(final).is_file() and not force:
            return final  # built by the process we waited for
        _remove_leftovers(final)
        _build_into(spec, spec.resolve_tier(tier), final, progress, client)
    return final


def _build_into(spec: DatasetSpec, tier: str, final: Path, progress: bool, client: Any) -> None:
    """Build into a temporary folder (a cluster build: a partial one, kept if it stops); swap it
    in when complete. An old store (``--force``) stays valid until then, then is removed."""
    resumable = client is not None and spec.build_chunk is not None
    if not resumable:
        drop_partial(final)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:12]}"
    t0 = time.perf_counter()
    try:
        if resumable:  # on the client's workers, into a folder kept if the build stops
            from .cluster import build_parts

            tmp = open_partial(final, spec, tier)
            digests, ranges, summary = build_parts(spec, tier, tmp, client, progress)
            finish_partial(tmp)
        else:
            tmp.mkdir()
            digests, ranges, summary = (*_write_parts(spec, tier, tmp, progress), None)
        meta = _marker(spec, tier, digests, ranges, time.perf_counter() - t0, summary)
        _complete_file(tmp).write_text(json.dumps(meta, indent=1, default=str))
        trash = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:12]}"
        if final.exists():
            os.replace(final, trash)
        os.replace(tmp, final)
        shutil.rmtree(trash, ignore_errors=True)
    finally:
        if tmp.exists() and not resumable:
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("prepared %s (%s) in %.1fs at %s", spec.name, tier, time.perf_counter() - t0, final)


#: Per part: its sha256 and the sha256 of each of its variables.
PartDigests = dict[str, tuple[str, dict[str, str]]]


def _write_parts(
    spec: DatasetSpec, tier: str, tmp: Path, progress: bool
) -> tuple[PartDigests, dict[str, RangeTracker]]:
    """Stream every validated piece the builder yields into ``tmp/<part>.zarr``; per part, the
    array hashes and the value ranges."""
    name = spec.name
    hashers: dict[str, ArrayHasher] = {}
    ranges: dict[str, RangeTracker] = {}
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
            stores.append(piece, path)
        else:
            hashers[part], ranges[part] = ArrayHasher(), RangeTracker()
            n = piece.sizes.get("sample", 1)
            stores.write_first(piece, path, stores.sample_chunk(piece, n, spec.chunk_size))
        hashers[part].update(piece)
        ranges[part].update(piece)
    missing = [p for p in spec.parts if p not in hashers]
    if missing:
        raise ValueError(f"dataset {name!r} built no data for parts {missing}")
    return {p: h.digest() for p, h in hashers.items()}, ranges


def _marker(
    spec: DatasetSpec,
    tier: str,
    digests: PartDigests,
    ranges: Mapping[str, RangeTracker],
    seconds: float,
    cluster: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``COMPLETE.json``: provenance, every array's and part's sha256, every part's value ranges
    (the normalization statistics' source), a cluster build's chunks over all its runs."""
    parts_meta = {}
    for part, (digest, per_var) in digests.items():
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
    } | ({"cluster_build": cluster} if cluster else {})


def store_meta(name: str, tier: str) -> dict[str, Any]:
    """Contents of the store's ``COMPLETE.json``; :class:`StoreError` if not prepared."""
    spec = DATASETS.get(name)
    d = store_dir(spec, tier)
    f = _complete_file(d)
    if not f.is_file() and d.parent.is_dir():
        with build_lock(d):  # a build in progress (or a --force swap): wait for it
            pass
    if not f.is_file():
        raise StoreError(
            f"dataset {name!r} (tier {spec.resolve_tier(tier)!r}) is not prepared in {d}; run "
            f"`decathlon prepare {name} --tier {tier}` first (data cache: $DECATHLON_DATA_DIR)"
        )
    fix = f"delete {d} and run `decathlon prepare {name} --tier {tier}` again"
    try:
        meta = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise StoreError(f"the store marker {f} is unreadable ({e}); {fix}") from None
    problem = marker_problem(meta, spec.name, spec.version, spec.resolve_tier(tier))
    if problem:
        raise StoreError(f"the store marker {f} {problem}; {fix}")
    return meta


_VERIFIED: set[tuple[str, str]] = set()  # (store path, sha256) verified in this process


def open_part(
    name: str, tier: Tier, part: str, verify: bool = False, meta: Mapping[str, Any] | None = None
) -> xr.Dataset:
    """Open one part of a prepared dataset.

    ``meta`` is the store's ``COMPLETE.json`` (:func:`store_meta`) when the caller has read it
    already. Lazy by default (``xarray.open_zarr``, without Dask). With ``verify=True`` the part
    is loaded into memory (:func:`.stores.load`) and its sha256 checked against the one recorded
    when it was written, so silent corruption of the cache is caught; the loaded dataset is
    returned. A part is hashed once per process; later opens of the same store only load it.

    Raises
    ------
    StoreError
        Not prepared, or the store is corrupted; the message names the folder to delete and the
        command to run.
    """
    d, meta = part_dir(name, tier, part, meta)
    try:
        ds = xr.open_zarr(d / f"{part}.zarr", consolidated=True, chunks=None)
    except Exception as e:  # zarr raises many kinds; all mean the same to the user
        raise StoreError(
            f"store {d / (part + '.zarr')} is corrupted or incomplete and cannot be opened "
            f"({type(e).__name__}: {e}); {advice(d, meta, name, tier)}"
        ) from None
    if verify:
        try:
            ds = stores.load(ds, d / f"{part}.zarr")
        except Exception as e:
            raise StoreError(
                f"store {d / (part + '.zarr')} is corrupted ({type(e).__name__}: {e}); "
                f"{advice(d, meta, name, tier)}"
            ) from None
        verify_once(name, tier, part, ds, meta)
    return ds


def part_dir(
    name: str, tier: Tier, part: str, meta: Mapping[str, Any] | None
) -> tuple[Path, Mapping[str, Any]]:
    """The store folder of ``name`` at ``tier`` and its marker; KeyError for an unknown part."""
    meta = store_meta(name, tier) if meta is None else meta
    if part not in meta["parts"]:
        raise KeyError(f"dataset {name!r} has no part {part!r}; parts: {', '.join(meta['parts'])}")
    return store_dir(DATASETS.get(name), tier), meta


def verify_once(
    name: str, tier: Tier, part: str, ds: xr.Dataset | StoreView, meta: Mapping[str, Any]
) -> None:
    """Check the loaded part's sha256 against its marker, once per store per process."""
    key = (str(store_dir(DATASETS.get(name), tier) / part), meta["parts"][part]["sha256"])
    if key not in _VERIFIED:
        verify_digest(name, tier, part, hash_dataset(ds), meta)
        _VERIFIED.add(key)


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
            f"expected {want} (recorded when it was written); "
            f"{advice(d, meta, name, tier)}"
        )
