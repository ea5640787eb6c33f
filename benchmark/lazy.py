"""xarray, imported on first use.

``import decathlon`` and an evaluation that reads a plainly stored split
(:mod:`.store_view`) need no xarray: importing it costs about 0.3 s, and the first xarray
object built imports Dask as well (xarray checks every array against Dask's array type),
another 0.45 s. Modules that build or open datasets write ``from decathlon.benchmark.lazy
import xr`` and use ``xr`` as usual; the real module is imported the first time an attribute
is read. Type checkers see the real module.

Examples
--------
>>> from decathlon.benchmark.lazy import xr
>>> xr.Dataset().sizes
Frozen({})
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

__all__ = ["xr", "LazyModule"]


class LazyModule:
    """A stand-in for module ``name`` that imports it when an attribute is first read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self._name)  # cached in sys.modules after the first

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # copy/pickle/introspection probes: not the module's
        return getattr(self._module(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


if TYPE_CHECKING:
    import xarray as xr
else:
    xr = LazyModule("xarray")
