"""A plainly stored part read into numpy arrays without xarray or zarr.

The evaluator's default windows (tasks without a ``window_fn``) only need each variable's
values and dims, the coordinate labels, the sizes and the attributes of a split. Stores are
written uncompressed and chunked along ``sample`` (:mod:`.stores`), so every array can be read
chunk file by chunk file straight into its result (:func:`.stores.plain_array`), as
``numpy.load`` would; going through ``xarray.open_zarr`` instead costs the xarray and Dask
imports (about 0.8 s) and the zarr machinery, which is most of a small evaluation
(docs/architecture.md, "Speed").

:func:`open_view` returns ``None`` whenever xarray would decode anything differently from the
raw bytes (compression, filters, scale/offset, a fill value on a non-float array, time units)
or the consolidated metadata is missing; the caller then opens the part with xarray as before.
A :class:`StoreView` offers the subset of :class:`xarray.Dataset` that the windowing and
hashing code reads: ``ds[name].values/.data/.dims/.sizes``, ``ds.variables``,
``ds.data_vars``, ``ds.coords``, ``ds.sizes``, ``ds.attrs`` and ``ds.isel``. The tests check
that every registered task's windows are identical through both readers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import Tier, part_dir, verify_once
from .stores import plain_array

__all__ = ["StoreView", "ViewVariable", "open_view", "open_part_view"]

#: Units xarray decodes into datetimes or timedeltas (CF conventions): such arrays take the
#: xarray path.
_TIME_UNITS = {
    "days",
    "hours",
    "minutes",
    "seconds",
    "milliseconds",
    "microseconds",
    "nanoseconds",
}
#: Attributes that make xarray change the stored values when it decodes them.
_DECODING_ATTRS = ("scale_factor", "add_offset", "_FillValue", "missing_value", "calendar")


@dataclass
class ViewVariable:
    """One variable: its dims and values (a numpy array), and its attributes."""

    dims: tuple[str, ...]
    values: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> np.ndarray:
        return self.values

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def ndim(self) -> int:
        return int(self.values.ndim)

    @property
    def sizes(self) -> dict[str, int]:
        return dict(zip(self.dims, self.values.shape, strict=True))


@dataclass
class StoreView:
    """A read-only, in-memory split: variables by name, which of them are coordinates, and the
    dataset attributes."""

    variables: dict[str, ViewVariable]
    coord_names: frozenset[str]
    attrs: dict[str, Any]

    def __getitem__(self, name: str) -> ViewVariable:
        if name not in self.variables:
            raise KeyError(f"no variable {name!r}; variables: {', '.join(sorted(self.variables))}")
        return self.variables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    @property
    def data_vars(self) -> dict[str, ViewVariable]:
        return {k: v for k, v in self.variables.items() if k not in self.coord_names}

    @property
    def coords(self) -> dict[str, ViewVariable]:
        return {k: v for k, v in self.variables.items() if k in self.coord_names}

    @property
    def sizes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.variables.values():
            out.update(v.sizes)
        return out

    def isel(self, **indexers: Sequence[int] | np.ndarray | slice) -> StoreView:
        """Select positions along dims, as :meth:`xarray.Dataset.isel` with 1-D indexers."""
        unknown = [d for d in indexers if d not in self.sizes]
        if unknown:
            raise ValueError(f"isel: dims {unknown} not in this split (dims: {list(self.sizes)})")
        out = {}
        for name, v in self.variables.items():
            vals = v.values
            for axis, d in enumerate(v.dims):
                if d in indexers:
                    idx = indexers[d]
                    key = idx if isinstance(idx, slice) else np.asarray(idx, dtype=np.intp)
                    vals = vals[(slice(None),) * axis + (key,)]
            out[name] = ViewVariable(v.dims, vals, v.attrs)
        return StoreView(out, self.coord_names, self.attrs)


def _decodes_plainly(zarray: Mapping[str, Any], attrs: Mapping[str, Any]) -> bool:
    """Whether xarray would return the stored bytes unchanged for this array."""
    try:
        dtype = np.dtype(zarray["dtype"])
    except (KeyError, TypeError):
        return False
    if dtype.kind not in "fiubU" or any(a in attrs for a in _DECODING_ATTRS):
        return False
    units = attrs.get("units")
    if isinstance(units, str) and (" since " in units or units.strip() in _TIME_UNITS):
        return False
    fill = zarray.get("fill_value")
    return fill is None or (dtype.kind == "f" and fill == "NaN") or dtype.kind in "bU"


def open_view(path: Path) -> StoreView | None:
    """The zarr (v2, consolidated) store at ``path`` read into a :class:`StoreView`, or None
    when some array is not stored plainly or would be decoded by xarray (then use
    ``xarray.open_zarr``). Corrupt or short chunk files also give None, so that the xarray path
    reports them with its usual message."""
    try:
        meta = json.loads((path / ".zmetadata").read_text())["metadata"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    names = sorted({k.split("/")[0] for k in meta if "/" in k})
    variables: dict[str, ViewVariable] = {}
    coords: set[str] = set()
    for name in names:
        zarray, attrs = meta.get(f"{name}/.zarray"), dict(meta.get(f"{name}/.zattrs", {}))
        dims = attrs.pop("_ARRAY_DIMENSIONS", None)
        if not isinstance(zarray, dict) or not isinstance(dims, list):
            return None
        if not _decodes_plainly(zarray, attrs):
            return None
        arr = plain_array(path / name, np.dtype(zarray["dtype"]), tuple(zarray["shape"]))
        if arr is None:
            return None
        coords.update(str(attrs.pop("coordinates", "")).split())
        if dims == [name]:
            coords.add(name)
        variables[name] = ViewVariable(tuple(dims), arr, attrs)
    root = dict(meta.get(".zattrs", {}))
    coords.update(str(root.pop("coordinates", "")).split())
    return StoreView(variables, frozenset(coords & set(variables)), root)


def open_part_view(
    name: str, tier: Tier, part: str, meta: Mapping[str, Any] | None = None
) -> StoreView | None:
    """One part of a prepared dataset read into numpy arrays without xarray, verified like
    ``open_part(..., verify=True)``; None when the part is not stored plainly (then use
    :func:`open_part`). See :mod:`.store_view`."""
    d, meta = part_dir(name, tier, part, meta)
    view = open_view(d / f"{part}.zarr")
    if view is not None:
        verify_once(name, tier, part, view, meta)
    return view
