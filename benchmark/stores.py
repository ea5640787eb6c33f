"""The on-disk layout of a store: chunking and encoding, writing, loading, hashing.

A part is one zarr (format 2) group; every variable is one array. Layout ``STORE_FORMAT`` 2:

* arrays whose first dimension is ``sample`` are chunked along ``sample`` only: a chunk holds
  whole samples (every time, entity and space entry), at most :data:`CHUNK_BYTES` of the part's
  widest variable and one sample at least; for a dataset built in chunks of ``C`` samples
  (``DatasetSpec.chunk_size``) the count is a divisor of ``C``, so that chunks built on different
  workers never share a store chunk; a part smaller than that is one chunk;
* every other array (coordinates such as ``time``) is one chunk;
* no compressor: the simulated float32 trajectories compress by 11-18 % at best (Zstd 1, Blosc
  LZ4 with byte or bit shuffle), and decompression halves the read speed
  (``docs/architecture.md``, "Stores").

:func:`load` reads such arrays straight from their chunk files into the result (one copy, as
``np.load``); anything else is read through zarr. The sha256 of a part (:class:`ArrayHasher`) is
computed from array values in sample order, so it does not depend on the layout: a part written
in one stream and a part written region by region from many workers hash the same.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .lazy import xr

if TYPE_CHECKING:
    from .store_view import StoreView

__all__ = [
    "STORE_FORMAT",
    "CHUNK_BYTES",
    "ArrayHasher",
    "RangeTracker",
    "combine_digests",
    "sample_chunk",
    "encoding",
    "compressor",
    "write_first",
    "append",
    "write_template",
    "write_region",
    "load",
    "hash_variable",
    "sample_variables",
]

#: Version of the on-disk store layout; part of the store path, so a bump never misreads a cache.
STORE_FORMAT = 2

#: Largest store chunk, in bytes of the widest variable (whole samples; at least one).
CHUNK_BYTES = 16 * 2**20


def sample_variables(ds: xr.Dataset) -> list[str]:
    """Names of the variables whose first dimension is ``sample`` (the ones chunked)."""
    return [str(k) for k, v in ds.variables.items() if v.dims[:1] == ("sample",)]


def sample_chunk(piece: xr.Dataset, n: int, build_chunk: int | None = None) -> int:
    """Samples per store chunk for a part of ``n`` samples whose variables look like ``piece``.

    At most :data:`CHUNK_BYTES` of the widest variable, a divisor of ``build_chunk`` when the
    dataset is built in chunks of that many samples, at most ``n``, at least 1.
    """
    m = max(piece.sizes.get("sample", 1), 1)
    widest = max((piece[v].nbytes // m for v in sample_variables(piece)), default=1)
    s = max(1, CHUNK_BYTES // max(widest, 1))
    if build_chunk:
        s = min(s, build_chunk)
        while build_chunk % s:
            s -= 1
    return max(1, min(s, n))


def compressor(codec: Any = None) -> dict[str, Any]:
    """The encoding entry for a compressor (``None``: none), as zarr-python 3 or 2 spells it."""
    import zarr

    if int(zarr.__version__.split(".")[0]) >= 3:
        return {"compressors": None if codec is None else (codec,)}
    return {"compressor": codec}


def encoding(ds: xr.Dataset, s: int) -> dict[str, dict[str, Any]]:
    """zarr encoding of every variable: ``s`` samples per chunk, whole otherwise, uncompressed."""
    enc: dict[str, dict[str, Any]] = {}
    for name, v in ds.variables.items():
        if v.ndim == 0:
            continue
        lead = (s,) if v.dims[0] == "sample" else (v.shape[0],)
        enc[str(name)] = {"chunks": lead + tuple(v.shape[1:]), **compressor()}
    return enc


def write_first(piece: xr.Dataset, path: Path, s: int) -> None:
    """Create the store of a part from its first piece (streamed build)."""
    piece.to_zarr(path, mode="w", consolidated=True, encoding=encoding(piece, s), zarr_format=2)


def append(piece: xr.Dataset, path: Path) -> None:
    """Append a later piece of a part along ``sample`` (streamed build)."""
    keep = set(sample_variables(piece))
    piece.drop_vars([v for v in piece.variables if v not in keep]).to_zarr(
        path, mode="a", append_dim="sample", consolidated=True, zarr_format=2
    )


def write_template(piece: xr.Dataset, path: Path, n: int, s: int) -> None:
    """Create the store of a part of ``n`` samples shaped like ``piece`` (its first chunk):
    metadata and the arrays without ``sample``; the sample arrays are left for
    :func:`write_region`."""
    import dask.array as da

    if "sample" in piece.xindexes:
        raise ValueError("a store built region by region cannot have a 'sample' index coordinate")
    chunked = set(sample_variables(piece))
    variables = {}
    for name, v in piece.variables.items():
        if name in chunked:
            lazy = da.zeros((n, *v.shape[1:]), dtype=v.dtype, chunks=(s, *v.shape[1:]))
            v = xr.Variable(v.dims, lazy, v.attrs, v.encoding)
        variables[name] = v
    tmpl = xr.Dataset(
        {k: variables[k] for k in piece.data_vars},
        coords={k: variables[k] for k in piece.coords},
        attrs=piece.attrs,
    )
    tmpl.to_zarr(
        path, mode="w", compute=False, consolidated=True, encoding=encoding(piece, s), zarr_format=2
    )


def write_region(piece: xr.Dataset, path: Path, start: int) -> None:
    """Write the sample arrays of ``piece`` at samples ``start ..`` of an existing store."""
    keep = set(sample_variables(piece))
    sub = piece.drop_vars([v for v in piece.variables if v not in keep])
    region = {"sample": slice(start, start + piece.sizes["sample"])}
    sub.to_zarr(path, mode="r+", region=region, consolidated=False, zarr_format=2)


def _decodes_to_itself(v: xr.Variable, dtype: np.dtype) -> bool:
    """Whether xarray's decoding of a stored ``dtype`` array leaves its values as they are: a
    number type read as itself, no scale, offset or time units, no fill value but NaN."""
    enc = v.encoding
    if dtype.kind not in "fiu" or dtype != v.dtype or enc.get("dtype", dtype) != dtype:
        return False
    if any(k in enc for k in ("scale_factor", "add_offset", "units", "calendar")):
        return False
    fill = enc.get("_FillValue")
    return fill is None or (dtype.kind == "f" and bool(np.isnan(fill)))


def plain_array(array_dir: Path, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray | None:
    """The zarr array at ``array_dir`` (of ``dtype`` and ``shape``) read chunk file by chunk
    file straight into the result, or None if it is not stored plainly (compressed, filtered,
    another dtype or shape, chunked across a non-sample dimension, or a chunk file missing or
    short)."""
    try:
        meta = json.loads((array_dir / ".zarray").read_text())
        stored = np.dtype(meta["dtype"]) if isinstance(meta.get("dtype"), str) else None
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if (
        stored != dtype
        or meta.get("compressor") is not None
        or meta.get("filters")
        or meta.get("order") != "C"
        or len(shape) == 0
        or list(meta["shape"]) != list(shape)
        or list(meta["chunks"][1:]) != list(shape[1:])
    ):
        return None
    sep = meta.get("dimension_separator") or "."
    s, n = int(meta["chunks"][0]), shape[0]
    out = np.empty(shape, dtype)
    row = out[:1].nbytes
    for i, start in enumerate(range(0, n, s)):
        f = array_dir / sep.join([str(i)] + ["0"] * (len(shape) - 1))
        view = out[start : start + s].data.cast("B")
        try:
            if f.stat().st_size != s * row:  # zarr v2 pads the last chunk to full size
                return None
            with open(f, "rb") as fh:
                if fh.readinto(view) != len(view):
                    return None
        except OSError:
            return None
    return out


def load(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """``ds.load()`` for a dataset opened lazily from the store at ``path``: plainly stored
    arrays are read straight from their chunk files (:func:`plain_array`), the rest by zarr."""
    for name, v in ds.variables.items():
        if name in ds.xindexes:
            continue
        if not _decodes_to_itself(v, v.dtype):
            continue
        arr = plain_array(path / str(name), v.dtype, v.shape)
        if arr is not None:
            v.data = arr
    return ds.load()


class ArrayHasher:
    """sha256 of every variable, fed chunk by chunk along the first axis (C order)."""

    def __init__(self) -> None:
        self._h: dict[str, Any] = {}
        self._meta: dict[str, tuple[str, list[int]]] = {}

    def update(self, ds: xr.Dataset | StoreView) -> None:
        for name in sorted(map(str, ds.variables)):
            da = ds[name]
            self.update_array(name, np.asarray(da.values), da.dims[:1] == ("sample",))

    def update_array(self, name: str, arr: np.ndarray, chunked: bool) -> None:
        """Feed one array: the first piece of every variable, later ones only if ``chunked``."""
        arr = np.ascontiguousarray(arr)
        if arr.dtype.kind in "OUS":
            arr = np.asarray(arr.astype(str), dtype="U")
        if name not in self._h:
            self._h[name] = hashlib.sha256()
            self._meta[name] = (str(arr.dtype), list(arr.shape))
            self._h[name].update(arr.tobytes())
        elif chunked:
            self._h[name].update(arr.tobytes())
            self._meta[name][1][0] += arr.shape[0]

    def entries(self) -> dict[str, tuple[str, list[int], str]]:
        """Per variable: dtype, shape and hex digest."""
        return {k: (*self._meta[k], h.hexdigest()) for k, h in self._h.items()}

    def digest(self) -> tuple[str, dict[str, str]]:
        return combine_digests(self.entries())


def combine_digests(
    entries: Mapping[str, tuple[str, list[int], str]],
) -> tuple[str, dict[str, str]]:
    """The part's sha256 and the per-variable ones from (dtype, shape, digest) per variable."""
    per_var = {k: entries[k][2] for k in sorted(entries)}
    lines = "".join(f"{k}:{entries[k][0]}:{entries[k][1]}:{per_var[k]}\n" for k in per_var)
    return hashlib.sha256(lines.encode()).hexdigest(), per_var


def hash_variable(path: Path, name: str) -> tuple[str, list[int], str]:
    """(dtype, shape, sha256) of variable ``name`` of the store at ``path``, read back chunk by
    chunk in sample order: what :class:`ArrayHasher` gives for the pieces that were written."""
    ds = xr.open_zarr(path, consolidated=True, chunks=None)
    da = ds[name]
    h = ArrayHasher()
    if da.dims[:1] == ("sample",):
        s = int(da.encoding.get("chunks", (da.shape[0],))[0]) or 1
        for start in range(0, max(da.shape[0], 1), s):
            h.update_array(name, np.asarray(da[start : start + s].values), True)
    else:
        h.update_array(name, np.asarray(da.values), False)
    return h.entries()[name]


class RangeTracker:
    """Per-column minimum and maximum of every float (sample, time, entity[, k]) variable,
    over present entities only where the dataset has a matching ``mask``; fed piece by piece.

    Stored in ``COMPLETE.json`` so that normalization statistics of a whole part never need the
    part to be loaded again (:func:`decathlon.benchmark.normalization.task_stats`). Trackers of
    disjoint pieces :meth:`merge` into the tracker of their union (in any order).
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
            self._fold(name, lo, hi)

    def _fold(self, name: str, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo[name] = np.fmin(self.lo[name], lo) if name in self.lo else lo
        self.hi[name] = np.fmax(self.hi[name], hi) if name in self.hi else hi

    def merge(self, other: RangeTracker) -> None:
        """Fold in the ranges of another piece of the same part."""
        self.spatial |= other.spatial
        for name in other.lo:
            self._fold(name, other.lo[name], other.hi[name])

    def as_json(self) -> dict[str, dict[str, list[float]]]:
        return {
            k: {"min": self.lo[k].tolist(), "max": self.hi[k].tolist()} for k in sorted(self.lo)
        }
