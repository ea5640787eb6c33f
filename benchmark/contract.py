"""The data contract: canonical families, dims and variables, defined once, and ``validate``.

Every loader and simulator returns an :class:`xarray.Dataset` of one of the families below
(``docs/contract.md``). ``validate(ds)`` checks a dataset against its family and raises a
``ValueError`` that names every problem it found, so a new loader can be fixed in one round.

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset(
...     {"pos": (("sample", "time", "entity", "space"), np.zeros((1, 3, 2, 2), np.float32))},
...     coords={"time": np.arange(3) * 0.1, "space": ["x", "y"]},
...     attrs=dict(family="trajectories", units="m", dt=0.1, source="demo", license="CC0",
...                citation="none", dataset_version="1"),
... )
>>> validate(ds) is ds
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lazy import xr

__all__ = ["FAMILIES", "REQUIRED_ATTRS", "Family", "Variable", "validate"]


@dataclass(frozen=True)
class Variable:
    """One variable of a family: its dims, whether it is required, and its dtype kind."""

    dims: tuple[str, ...]
    required: bool = True
    kind: str = "f"  # numpy dtype kind(s): "f" float, "b" bool, "i" integer
    finite: bool = True  # NaN/inf forbidden (where a mask exists, only where the mask is True)


@dataclass(frozen=True)
class Family:
    """A family of datasets sharing canonical dims (``docs/contract.md``)."""

    name: str
    variables: dict[str, Variable]
    mask: str | None = None  # name of the presence mask, if the family has one


FAMILIES: dict[str, Family] = {
    "trajectories": Family(
        "trajectories",
        {
            "pos": Variable(("sample", "time", "entity", "space")),
            "vel": Variable(("sample", "time", "entity", "space"), required=False),
            "mask": Variable(("sample", "time", "entity"), required=False, kind="b"),
            "edges": Variable(("sample", "entity", "entity_"), required=False, kind="fib"),
            "params": Variable(("sample", "param"), required=False),
            # per-entity constants (charges, natural frequencies) and non-spatial state
            "entity_features": Variable(("sample", "entity", "entity_feature"), required=False),
            "state": Variable(("sample", "time", "entity", "feature"), required=False),
        },
        mask="mask",
    ),
    "sensor_network": Family(
        "sensor_network",
        {
            "value": Variable(("time", "node", "channel")),
            "mask": Variable(("time", "node"), required=False, kind="b"),
            "adjacency": Variable(("node", "node_")),
            # known per-step inputs shared by every node (time of day, day of week: DCRNN)
            "covariates": Variable(("time", "covariate"), required=False),
        },
        mask="mask",
    ),
    "causal_series": Family(
        "causal_series",
        {
            "x": Variable(("sample", "time", "variable")),
            # every sample is an independent dataset with its own graph (causal discovery)
            "graph": Variable(("sample", "variable", "variable_", "lag"), kind="fib"),
        },
    ),
    "fields": Family("fields", {"u": Variable(("sample", "time", "y", "x", "channel"))}),
}

#: Attributes every dataset carries (``docs/contract.md``).
REQUIRED_ATTRS = ("family", "units", "dt", "source", "license", "citation", "dataset_version")


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check ``ds`` against the data contract of its family; return it unchanged.

    Checks: the ``family`` attribute names a known family; every required variable is present
    with the canonical dims in the canonical order and a dtype of the right kind; ``time`` is an
    increasing coordinate in seconds; ``space`` (where present) is ``["x","y"]`` or
    ``["x","y","z"]``; values are finite where promised (for masked families, only where the
    mask is True); the required attributes are present.

    Raises
    ------
    TypeError
        ``ds`` is not an ``xarray.Dataset``.
    ValueError
        Listing every violation found, one per line.
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"validate() expects an xarray.Dataset, got {type(ds).__name__}.")
    problems: list[str] = []
    missing_attrs = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing_attrs:
        problems.append(f"missing attributes {missing_attrs} (required: {list(REQUIRED_ATTRS)})")
    fam_name = ds.attrs.get("family")
    if fam_name not in FAMILIES:
        problems.append(f"attribute family={fam_name!r} is not one of {sorted(FAMILIES)}")
        raise ValueError(_report(ds, problems))
    fam = FAMILIES[fam_name]
    problems += _check_variables(ds, fam, fam_name)
    problems += _check_coords(ds)
    if not problems:
        problems += _check_finite(ds, fam)
    if problems:
        raise ValueError(_report(ds, problems))
    return ds


def _check_variables(ds: xr.Dataset, fam: Family, fam_name: str) -> list[str]:
    """Required variables present with canonical dims and dtype kind; no unexpected ones."""
    problems = []
    for name, var in fam.variables.items():
        if name not in ds.data_vars:
            if var.required:
                problems.append(f"missing required variable {name!r} with dims {var.dims}")
            continue
        da = ds[name]
        if da.dims != var.dims:
            problems.append(f"variable {name!r} has dims {da.dims}, expected {var.dims}")
            continue
        if da.dtype.kind not in var.kind:
            problems.append(
                f"variable {name!r} has dtype {da.dtype}, expected kind {var.kind!r} "
                "(f=float, i=integer, b=bool)"
            )
    for extra in map(str, ds.data_vars):
        if extra not in fam.variables:
            problems.append(
                f"unexpected variable {extra!r}; the {fam_name} family has {sorted(fam.variables)}"
            )
    return problems


def _check_coords(ds: xr.Dataset) -> list[str]:
    """``time`` an increasing float coordinate in seconds; ``space`` labelled x, y(, z)."""
    problems = []
    if "time" in ds.dims:
        if "time" not in ds.coords:
            problems.append("dim 'time' has no coordinate; it must be a coordinate in seconds")
        else:
            t = np.asarray(ds["time"].values)
            if t.dtype.kind != "f":
                problems.append(f"coordinate 'time' has dtype {t.dtype}; expected float seconds")
            elif t.size > 1 and not np.all(np.diff(t) > 0):
                problems.append("coordinate 'time' is not strictly increasing")
    if "space" in ds.dims:
        space = list(ds["space"].values) if "space" in ds.coords else None
        if space not in (["x", "y"], ["x", "y", "z"]):
            problems.append(f"coordinate 'space' is {space}; expected ['x','y'] or ['x','y','z']")
    return problems


def _check_finite(ds: xr.Dataset, fam: Family) -> list[str]:
    out = []
    mask = ds[fam.mask] if fam.mask and fam.mask in ds.data_vars else None
    for name, var in fam.variables.items():
        if name not in ds.data_vars or not var.finite or ds[name].dtype.kind != "f":
            continue
        da = ds[name]
        bad = ~np.isfinite(da)
        if mask is not None and set(mask.dims) <= set(da.dims):
            bad = bad & mask
        n_bad = int(bad.sum())
        if n_bad:
            where = "where the mask is True" if mask is not None else ""
            out.append(f"variable {name!r} has {n_bad} non-finite values {where}".rstrip())
    return out


def _report(ds: xr.Dataset, problems: list[str]) -> str:
    name = ds.attrs.get("name", ds.attrs.get("source", "dataset"))
    lines = "\n  - ".join(problems)
    return (
        f"{name!s} breaks the data contract (decathlon.benchmark.contract):\n  - {lines}\n"
        "Fix the loader so that it returns the canonical dims and attributes (see CONTRIBUTING.md)."
    )
