"""Reading untrusted ``.npz`` files (predictions, submissions) in bounded memory.

An ``.npz`` file is a zip archive of ``.npy`` members. :func:`read_npz` reads the archive's
directory first and refuses, before decompressing anything: unknown member names, missing
required members, members whose declared uncompressed size exceeds what their expected shape
needs (zip bombs), and then, from each member's ``.npy`` header alone (a few hundred bytes),
a dtype or shape other than the expected one. Only then are the arrays read, with
``allow_pickle=False``. Nothing is ever unpickled or executed.

Examples
--------
>>> import io, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
>>> np.savez(path, ids=np.arange(3), pred=np.zeros((3, 2), np.float32))
>>> spec = {"ids": Member((3,), "iu"), "pred": Member((3, 2), "f")}
>>> sorted(read_npz(path, spec))
['ids', 'pred']
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Member", "read_npz", "HEADER_SLACK"]

#: Bytes allowed in a member beyond its array data (the ``.npy`` magic and header).
HEADER_SLACK = 1 << 16


@dataclass(frozen=True)
class Member:
    """What one member must be: its shape (``None`` in a slot: any size up to ``max_extent``),
    the numpy dtype kinds it may have (``"f"`` float, ``"iu"`` integer ...), and whether it
    must be present."""

    shape: tuple[int | None, ...]
    kinds: str
    required: bool = True
    max_extent: int = 1

    def max_bytes(self) -> int:
        n = 1
        for d in self.shape:
            n *= self.max_extent if d is None else d
        return n * 8  # the widest dtype allowed (float64, int64)

    def fits(self, shape: tuple[int, ...]) -> bool:
        if len(shape) != len(self.shape):
            return False
        pairs = zip(shape, self.shape, strict=True)
        return all((d is None and 1 <= s <= self.max_extent) or s == d for s, d in pairs)


def _describe(m: Member) -> str:
    return "(" + ", ".join(f"<= {m.max_extent}" if d is None else str(d) for d in m.shape) + ")"


def read_npz(
    path: str | Path, expected: Mapping[str, Member | tuple[Member, ...]]
) -> dict[str, np.ndarray]:
    """The arrays of ``path``, checked against ``expected`` before anything is decompressed.

    ``expected`` maps member names (without ``.npy``) to a :class:`Member` or a tuple of
    acceptable alternatives (e.g. deterministic or best-of-K shapes).

    Raises
    ------
    ValueError
        Not a zip archive; an unknown, duplicated or missing member; a declared size, dtype or
        shape that is not the expected one; an object (pickled) array. Each message names the
        file, the member and what was expected.
    """
    path = Path(path)
    spec = {k: (v if isinstance(v, tuple) else (v,)) for k, v in expected.items()}
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(
            f"{path} is not a readable .npz file ({e}); write it with np.savez"
        ) from None
    with zf:
        infos = _directory(path, zf, spec)
        return {key: _read_member(path, zf, info, key, spec[key]) for key, info in infos.items()}


def _directory(
    path: Path, zf: zipfile.ZipFile, expected: Mapping[str, tuple[Member, ...]]
) -> dict[str, zipfile.ZipInfo]:
    """The members by key, after the checks that need only the zip directory."""
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if key not in expected:
            valid = ", ".join(sorted(expected))
            raise ValueError(f"{path}: unknown member {key[:80]!r}; valid names: {valid}")
        if key in infos:
            raise ValueError(f"{path}: member {key!r} appears twice")
        infos[key] = info
    required = sorted(k for k, alts in expected.items() if any(a.required for a in alts))
    for key in required:
        if key not in infos:
            raise ValueError(f"{path}: missing member {key!r} (required: {', '.join(required)})")
    for key, info in infos.items():
        limit = max(a.max_bytes() for a in expected[key]) + HEADER_SLACK
        if info.file_size > limit:
            raise ValueError(
                f"{path}: member {key!r} declares {info.file_size} bytes uncompressed, more than "
                f"its expected shape needs ({limit} bytes at most); refusing to decompress it"
            )
    return infos


def _read_member(
    path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, alts: tuple[Member, ...]
) -> np.ndarray:
    """One member: its ``.npy`` header checked first, then the array (no pickles)."""
    fmt = np.lib.format
    try:
        with zf.open(info) as f:
            version = fmt.read_magic(f)
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = reader(f)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: member {key!r} is not a valid .npy array ({e})") from None
    if dtype.hasobject:
        raise ValueError(
            f"{path}: member {key!r} holds Python objects (a pickle); save plain numeric arrays "
            "with np.savez"
        )
    if dtype.kind not in "".join(a.kinds for a in alts):
        kinds = "float" if "f" in alts[0].kinds else "integer"
        raise ValueError(
            f"{path}: member {key!r} has dtype {dtype}; expected a {kinds} array "
            f"(for predictions: float32 or float64, convert with .astype('float32'))"
        )
    if not any(a.fits(tuple(shape)) for a in alts):
        want = " or ".join(_describe(a) for a in alts)
        raise ValueError(f"{path}: member {key!r} has shape {tuple(shape)}, expected {want}")
    with zf.open(info) as f:
        return fmt.read_array(f, allow_pickle=False)


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` compressed, under a temporary name renamed when complete
    (a reader never sees a half-written file); the one writer of the package's ``.npz`` files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle
    tmp.replace(path)
    return path
