"""Checking a store's ``COMPLETE.json`` before trusting it.

The marker is written last by a build; everything a result records about the data (dataset,
version, tier, ``data_sha256``) comes from it, so it is validated rather than believed: its
structure, that it names the requested dataset, version, tier and store layout (a store copied
or linked under another name is caught), and that ``data_sha256`` is the hash derived from the
part hashes, which ``verify`` in turn checks against the arrays themselves.

Examples
--------
>>> marker_problem([], "d", "1", "mini")
'holds a JSON list, not the object a build writes'
"""

from __future__ import annotations

import hashlib
from typing import Any

from .stores import STORE_FORMAT

__all__ = ["marker_problem"]


def marker_problem(meta: Any, name: str, version: str, tier: str) -> str | None:
    """Why ``COMPLETE.json`` contents ``meta`` cannot be trusted for dataset ``name`` at
    ``version`` and ``tier``, or ``None``: its structure, that it names this dataset, version,
    tier and layout, and that its ``data_sha256`` is the one derived from its part hashes
    (which ``verify`` checks against the arrays)."""
    if not isinstance(meta, dict):
        return f"holds a JSON {type(meta).__name__}, not the object a build writes"
    parts = meta.get("parts")
    if not isinstance(parts, dict) or not parts:
        return "has no 'parts' table"
    for p, m in parts.items():
        if not isinstance(m, dict) or not _is_sha(m.get("sha256")):
            return f"has no valid sha256 for part {str(p)[:40]!r}"
    want = {
        "dataset": name,
        "version": version,
        "tier": tier,
        "store_format": STORE_FORMAT,
    }
    for key, value in want.items():
        if meta.get(key) != value:
            return f"says {key} = {str(meta.get(key))[:40]!r}, but this store is {key} {value!r}"
    derived = hashlib.sha256(
        "".join(f"{p}:{m['sha256']}\n" for p, m in sorted(parts.items())).encode()
    ).hexdigest()
    if meta.get("data_sha256") != derived:
        return "has a data_sha256 that is not the hash of its parts (edited by hand?)"
    return None


def _is_sha(x: Any) -> bool:
    return isinstance(x, str) and len(x) == 64 and all(c in "0123456789abcdef" for c in x)
