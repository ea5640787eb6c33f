"""Maintainer helpers: turn hashes recorded at first download into pinned ``FileSpec`` hashes.

A dataset module may list upstream files whose sha256 is not known yet (``FileSpec.sha256 is
None``, e.g. CMU trials that were never fetched when the module was written). The fetcher records
their hashes at first download in ``<cache>/raw/hashes.lock.json``
(:func:`decathlon.datasets.fetch.recorded_hashes`). These helpers carry them back into the source:

* :func:`pin_hashes_source` prints ``FileSpec(name, url, "sha256")`` lines to paste by hand;
* :func:`write_pins` rewrites the module in place. It edits only lines that carry the marker
  comment ``# pin: <file name>`` (one line per file, e.g. an entry of a ``{name: sha256}`` table
  such as ``"35_02.amc": None,  # pin: 35_02.amc``) and, on such a line, replaces the single
  ``None`` with the recorded hash in double quotes. Nothing else in the file changes. Lines whose
  file already has a pinned hash are left alone.

The CLI command ``decathlon pin-hashes DATASET`` calls these. :func:`pin_summary` says in one
sentence which files of a dataset are pinned and which are trust-on-first-use (used in the
fetcher's errors and ``decathlon describe``).
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from decathlon.benchmark.data import DatasetSpec

__all__ = ["MARKER", "file_lines", "pin_hashes_source", "pin_summary", "write_pins"]

log = logging.getLogger("decathlon")

#: The marker comment ``write_pins`` looks for; the file name follows it.
MARKER = "# pin:"
_MARKER_RE = re.compile(r"#\s*pin:\s*(\S+)\s*$")
_SHA_RE = re.compile(r"[0-9a-f]{64}")


def pin_summary(spec: DatasetSpec) -> str:
    """One sentence saying which files of ``spec`` are pinned and which are trust-on-first-use.

    Pinned files carry a published sha256 in the package and are verified against it;
    trust-on-first-use files are verified against the hash recorded when they were first
    downloaded (or imported), which is whatever that first copy held.

    Examples
    --------
    >>> from decathlon.benchmark.data import DATASETS
    >>> print(pin_summary(DATASETS.get("eth-ucy")))
    all 24 files of eth-ucy are pinned (sha256 published in the package, checked on every use)
    >>> print(pin_summary(DATASETS.get("cmu-mocap-35")))  # doctest: +ELLIPSIS
    2 of the 24 files of cmu-mocap-35 are pinned (35.asf, 35_01.amc); the other 22 are trust-on-...
    """
    pinned = [f.name for f in spec.files if f.sha256]
    n = len(spec.files)
    if len(pinned) == n:
        return (
            f"all {n} files of {spec.name} are pinned (sha256 published in the package, "
            "checked on every use)"
        )
    tofu = (
        "trust-on-first-use (no published sha256: the hash of the first copy is recorded in "
        "the cache's hashes.lock.json and later copies are checked against it)"
    )
    if not pinned:
        return f"none of the {n} files of {spec.name} is pinned; all are {tofu}"
    return (
        f"{len(pinned)} of the {n} files of {spec.name} are pinned ({', '.join(pinned)}); "
        f"the other {n - len(pinned)} are {tofu}"
    )


def file_lines(spec: DatasetSpec, names: list[str]) -> str:
    """``name  url  (pinned | trust-on-first-use)`` for each file of ``names``, one per line."""
    by_name = {f.name: f for f in spec.files}
    width = max(len(n) for n in names)
    return "\n".join(
        f"  {n:{width}s}  {by_name[n].url}  "
        f"({'pinned' if by_name[n].sha256 else 'trust-on-first-use'})"
        for n in names
    )


def _recorded(spec: DatasetSpec) -> dict[str, str]:
    """Recorded sha256 of ``spec``'s unpinned files, by file name; malformed records refused."""
    from decathlon.datasets.fetch import recorded_hashes

    table = recorded_hashes()
    out = {}
    for f in spec.files:
        if f.sha256 is not None:
            continue
        h = table.get(f"{spec.name}/{f.name}")
        if h is None:
            continue
        if not isinstance(h, str) or not _SHA_RE.fullmatch(h):
            raise ValueError(
                f"the hash lock file records {h!r} for {spec.name}/{f.name}, which is not a "
                "64-digit lowercase hex sha256; delete that entry (or the lock file) and "
                "download the file again"
            )
        out[f.name] = h
    return out


def pin_hashes_source(spec: DatasetSpec) -> str:
    """Python source pinning the recorded hashes of ``spec``'s unpinned files.

    Parameters
    ----------
    spec : DatasetSpec
        The dataset record.

    Returns
    -------
    str
        One ``FileSpec("name", "url", "sha256"),`` line per unpinned file with a recorded hash,
        and a ``# name: not downloaded yet`` comment for each unpinned file without one; an empty
        string if every file is pinned.

    Examples
    --------
    >>> from decathlon.benchmark.data import DATASETS
    >>> pin_hashes_source(DATASETS.get("eth-ucy"))  # every file pinned
    ''
    """
    recorded = _recorded(spec)
    lines = []
    for f in spec.files:
        if f.sha256 is not None:
            continue
        if f.name in recorded:
            lines.append(f'FileSpec("{f.name}", "{f.url}", "{recorded[f.name]}"),')
        else:
            lines.append(f"# {f.name}: not downloaded yet, no hash recorded")
    return "\n".join(lines)


def _source_file(spec: DatasetSpec, module_path: str | Path | None) -> Path:
    """``module_path``, by default the source of the module that registered ``spec``."""
    if module_path is None:  # the module that registered the dataset (its builder's __module__)
        mod = sys.modules.get(getattr(spec.build, "__module__", ""), None)
        module_path = getattr(mod, "__file__", None) or inspect.getsourcefile(spec.build) or ""
    path = Path(module_path)
    if not path.is_file():
        raise ValueError(
            f"cannot find the source of dataset {spec.name!r} at {str(path)!r}; pass module_path"
        )
    return path


def write_pins(spec: DatasetSpec, module_path: str | Path | None = None) -> list[str]:
    """Write recorded hashes into the dataset module's source, in place.

    Parameters
    ----------
    spec : DatasetSpec
        The dataset record whose unpinned files to pin.
    module_path : str or pathlib.Path, optional
        The module's source file; by default the file defining ``spec.build``.

    Returns
    -------
    list of str
        Names of the files whose hash was written.

    Raises
    ------
    ValueError
        A file with a recorded hash has no ``# pin: <name>`` line, or its marked line does not
        hold exactly one ``None``; the file is then left unchanged.
    """
    path = _source_file(spec, module_path)
    recorded = _recorded(spec)
    if not recorded:
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    done: list[str] = []
    for i, line in enumerate(lines):
        m = _MARKER_RE.search(line)
        if not m or m.group(1) not in recorded:
            continue
        name = m.group(1)
        code = line[: m.start()]
        if len(re.findall(r"\bNone\b", code)) != 1:
            raise ValueError(
                f"{path.name} line {i + 1}: the line marked '{MARKER} {name}' must hold exactly "
                f"one None to replace, got {code.strip()!r}; edit it to the form "
                f"'\"{name}\": None,  {MARKER} {name}'"
            )
        lines[i] = re.sub(r"\bNone\b", f'"{recorded[name]}"', code, count=1) + line[m.start() :]
        done.append(name)
    missing = sorted(set(recorded) - set(done))
    if missing:
        raise ValueError(
            f"{path.name} has no line marked '{MARKER} <name>' for {missing}; add the marker to "
            f"the line holding each file's None hash, or paste pin_hashes_source() output by hand"
        )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write("".join(lines))
    shutil.copymode(path, tmp)
    os.replace(tmp, path)
    log.info("pinned %d hashes of %s in %s: %s", len(done), spec.name, path, ", ".join(done))
    return done
