"""Checks of an ASF skeleton's values and tree, for :mod:`decathlon.datasets.io.acclaim`.

``:units`` values (finite, positive lengths and masses, ``deg``/``rad`` angles) and the
``:hierarchy`` (every bone hangs from ``root``, no cycles, no unknown names); errors name the file
and line through :func:`decathlon.datasets.io._acclaim_lines._err`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from decathlon.datasets.io._acclaim_lines import _err, _float

log = logging.getLogger("decathlon")


def _set_unit(units: dict, key: str, value: str, path: Path, line: int) -> None:
    """Store one ``:units`` entry: ``mass``, ``length`` finite and positive; ``angle`` deg/rad."""
    key = key.lower()
    if key == "angle":
        v = value.lower()
        if v not in ("deg", "rad"):
            raise _err(path, line, f"angle unit {value!r} must be 'deg' or 'rad'")
        units["angle"] = v
    elif key in ("mass", "length"):
        x = _float(value, path, line, f"{key} unit")
        if not x > 0:
            raise _err(path, line, f"{key} unit must be positive, got {value!r}")
        units[key] = x
    else:
        log.debug("%s line %d: ignoring unit %r", path.name, line, key)


def _check_tree(
    path: Path, bones: Mapping[str, object], parent: Mapping[str, str], where: Mapping[str, int]
) -> None:
    """Every :hierarchy name is a bone (or ``root``), every bone has a parent, no cycles."""
    known = {"root", *bones}
    for c, p in parent.items():
        line = where[f"hierarchy:{c}"]
        if c not in bones:
            raise _err(path, line, f"the :hierarchy names bone {c!r}, which has no :bonedata block")
        if p not in known:
            raise _err(
                path, line, f"the :hierarchy names parent {p!r}, which is neither 'root' nor a bone"
            )
    orphans = [b for b in bones if b not in parent]
    if orphans:
        raise _err(
            path,
            where[orphans[0]],
            f"bones {orphans} have no parent in the :hierarchy; every bone must hang from 'root'",
        )
    for b in bones:  # every chain must reach root without a cycle
        seen, node = set(), b
        while node != "root":
            if node in seen:
                raise _err(
                    path, where[f"hierarchy:{b}"], f"the :hierarchy has a cycle through bone {b!r}"
                )
            seen.add(node)
            node = parent[node]
