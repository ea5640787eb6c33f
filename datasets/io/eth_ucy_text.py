"""ETH/UCY pedestrian trajectories in the Social-GAN / Trajectron++ text format: reader.

Format: no header; one row per (frame, pedestrian): ``frame_id  ped_id  x  y`` separated by tabs
(ETH files write integers, UCY files floats such as ``0.0``; Social-GAN's ``delim='space'``
variant uses spaces); x, y in metres on the ground plane. Blank lines are skipped, CRLF and LF
endings are accepted. A file has no NaN or inf (a missing pedestrian is a missing row), whole
numbers in the first two columns and at most one row per (frame, pedestrian).

Ranges (checked on every row, the error names the file and line): ``frame_id`` is a video frame
index and ``ped_id`` a pedestrian number, both ``0 .. 2**31 - 1`` (:data:`MAX_ID`: the dataset
stores ids as int32, where -1 means "absent", and float64 holds every such integer exactly; the
upstream files use frames 0 .. 18060 and ids 1 .. 434). ``x``, ``y`` are ground-plane positions
within +-1e6 m (:data:`MAX_COORD`: a camera scene is tens of metres across, the upstream files
span -10.3 .. 15.6 m; this also keeps every value finite in the float32 dataset). How far apart
the frames of one file may be is checked when the file is placed on the time grid
(:mod:`decathlon.datasets.eth_ucy_tracks`).

The dataset built on this reader is :mod:`decathlon.datasets.eth_ucy`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["MAX_COORD", "MAX_ID", "read_eth_ucy_file", "read_eth_ucy_lines"]

#: Largest frame_id and ped_id: int32 (the dataset's ped_id dtype), exact in float64.
MAX_ID = 2**31 - 1
#: Largest |x| or |y| in metres (a camera scene is tens of metres across).
MAX_COORD = 1e6

_ROW = re.compile(r"^[ \t]*\S+[ \t]+\S+[ \t]+\S+[ \t]+\S+[ \t]*$", re.M)
_NONBLANK = re.compile(r"^[ \t]*\S", re.M)


def _is_float(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _check_row(path: Path, n: int, raw: str, toks: list[str]) -> tuple[float, ...]:
    """The four numbers of line ``n`` after every check of the row format."""
    if len(toks) != 4:
        raise ValueError(
            f"{path.name} line {n}: expected 4 columns 'frame_id ped_id x y' separated by "
            f"tabs or spaces, got {len(toks)}: {raw.strip()[:60]!r}. The file is "
            "truncated or not in the Social-GAN format; download it again."
        )
    try:
        vals = tuple(float(t) for t in toks)
    except ValueError:
        bad = next(t for t in toks if not _is_float(t))
        raise ValueError(
            f"{path.name} line {n}: cannot read {bad!r} as a number; expected "
            "'frame_id ped_id x y' numbers like '780\\t1.0\\t8.46\\t3.59'"
        ) from None
    if not all(np.isfinite(vals)):
        raise ValueError(
            f"{path.name} line {n}: non-finite value in {raw.strip()!r}; the upstream files "
            "have no NaN or inf (a missing pedestrian is a missing row, not NaN)"
        )
    if vals[0] != int(vals[0]) or vals[1] != int(vals[1]):
        raise ValueError(
            f"{path.name} line {n}: frame_id {toks[0]!r} and ped_id {toks[1]!r} must be "
            "whole numbers"
        )
    _check_ranges(path, n, toks, vals)
    return vals


def _check_ranges(path: Path, n: int, toks: list[str], vals: tuple[float, ...]) -> None:
    """Ids within ``0 .. MAX_ID``, coordinates within ``+-MAX_COORD`` (module docstring)."""
    for what, v in (("frame_id", vals[0]), ("ped_id", vals[1])):
        if not 0 <= v <= MAX_ID:
            kind = "a video frame index" if what == "frame_id" else "a pedestrian number"
            raise ValueError(
                f"{path.name} line {n}: {what} {int(v)} is out of range; expected {kind} "
                f"0 .. {MAX_ID}. The file is corrupted: download it again."
            )
    for what, tok, v in (("x", toks[2], vals[2]), ("y", toks[3], vals[3])):
        if not abs(v) <= MAX_COORD:
            raise ValueError(
                f"{path.name} line {n}: {what} = {tok} is not a finite ground-plane position "
                f"within +-{MAX_COORD:.0e} m (values beyond float32 count as non-finite); the "
                "upstream files span -10.3 .. 15.6 m. The file is corrupted: download it again."
            )


def read_eth_ucy_lines(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a file line by line: its rows and their 1-based line numbers.

    Slower than :func:`read_eth_ucy_file` (one Python step per line); used to name the line of
    a format error, and by dataset code that reports a later problem with a row's line.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``frame_id ped_id x y`` text file.

    Returns
    -------
    rows : numpy.ndarray
        float64 (n, 4) in file order (not checked for duplicated (frame, ped) pairs).
    line_no : numpy.ndarray
        (n,) line number of each row.

    Raises
    ------
    ValueError
        Naming the file and line: a wrong column count, a bad number, NaN/inf, a non-integer
        frame or pedestrian id, an id or coordinate out of range; or no data rows at all.
    """
    path = Path(path)
    rows: list[tuple[float, ...]] = []
    line_no: list[int] = []
    with open(path, encoding="utf-8", errors="replace", newline=None) as f:
        for n, raw in enumerate(f, start=1):
            toks = raw.split()  # tabs (upstream) or spaces (SGAN's delim='space')
            if not toks:
                continue
            rows.append(_check_row(path, n, raw, toks))
            line_no.append(n)
    if not rows:
        raise ValueError(f"{path.name}: no data rows; expected 'frame_id ped_id x y' lines")
    return np.asarray(rows, dtype=np.float64), np.asarray(line_no)


def _fast_rows(path: Path) -> np.ndarray | None:
    """All rows parsed at once (C parsing), or None if any format check fails.

    The whole text must have 4 fields on every non-blank line, parse as numbers, be finite, have
    whole ids and stay within the ranges of the module docstring; a ``None`` sends the file
    through :func:`read_eth_ucy_lines`, which raises with the line number.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    if len(_ROW.findall(text)) != len(_NONBLANK.findall(text)):
        return None
    try:
        data = np.array(text.split(), dtype=np.float64).reshape(-1, 4)
    except ValueError:
        return None
    if (
        data.shape[0] == 0
        or not np.all(np.isfinite(data))
        or np.any(data[:, :2] != np.trunc(data[:, :2]))
        or np.any((data[:, :2] < 0) | (data[:, :2] > MAX_ID))
        or np.any(np.abs(data[:, 2:]) > MAX_COORD)
    ):
        return None
    return data


def _check_unique(path: Path, data: np.ndarray) -> None:
    """Raise on a pedestrian with two rows in one frame, naming both lines."""
    order = np.lexsort((data[:, 1], data[:, 0]))
    key = data[order, :2]
    dup = np.flatnonzero(np.all(key[1:] == key[:-1], axis=1))
    if dup.size:
        lines = read_eth_ucy_lines(path)[1]
        a, b = lines[order[dup[0]]], lines[order[dup[0] + 1]]
        fr, pid = key[dup[0]]
        raise ValueError(
            f"{path.name} lines {min(a, b)} and {max(a, b)}: pedestrian {int(pid)} appears twice "
            f"in frame {int(fr)} ({dup.size} duplicated (frame, ped) pairs in all); each "
            "pedestrian has at most one row per frame. Remove the duplicates."
        )


def read_eth_ucy_file(path: str | Path) -> np.ndarray:
    """Read one Social-GAN-format file.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``frame_id ped_id x y`` text file (tab- or space-separated; blank lines skipped).

    Returns
    -------
    numpy.ndarray
        float64 (rows, 4): frame_id, ped_id, x, y in file order.

    Raises
    ------
    ValueError
        Naming the file and line: a wrong column count, a bad number, NaN/inf, a non-integer
        frame or pedestrian id, an id outside ``0 .. 2**31 - 1``, a coordinate beyond +-1e6 m,
        or a duplicated (frame, ped) row.

    Examples
    --------
    >>> import tempfile
    >>> from decathlon.datasets.eth_ucy import make_fake_eth_ucy
    >>> files = make_fake_eth_ucy(tempfile.mkdtemp(), seed=0)
    >>> rows = read_eth_ucy_file(files["all_data/biwi_eth.txt"])
    >>> rows.shape[1], bool((rows[:, 0] % 10 == 0).all())
    (4, True)
    """
    path = Path(path)
    data = _fast_rows(path)
    if data is None:
        data = read_eth_ucy_lines(path)[0]
    _check_unique(path, data)
    return data
