"""The Cell Tracking Challenge (CTC) tracking format: track tables and label masks.

A CTC tracking folder holds one text table and one 2-D label image per frame (Maška et al.
2014, 2023; the format is the challenge's "naming and file content conventions"):

* ground truth, ``<seq>_GT/TRA/``: ``man_track.txt`` and ``man_trackNNN.tif``;
* a result, ``<seq>_RES/``: ``res_track.txt`` and ``maskNNN.tif``.

The table has one line ``L B E P`` per track, separated by single spaces: label ``L`` (> 0),
first and last frame ``B``..``E`` (0-based, inclusive) and parent label ``P`` (0: no parent).
In frame ``t`` the pixels of track ``L`` hold the value ``L`` (0 is background). ``NNN`` is the
frame number with 3 digits (4 for sequences of 1000 frames or more). The masks are uint16
TIFFs, some LZW-compressed (decoded by ``imagecodecs`` through ``tifffile``).

This module reads them into arrays; :mod:`decathlon.datasets.ctc` builds the dataset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["LAYOUTS", "CtcTracks", "read_track_table", "frame_files", "read_ctc_tracks"]

#: Layout name -> (track table file name, mask file prefix).
LAYOUTS: dict[str, tuple[str, str]] = {
    "TRA": ("man_track.txt", "man_track"),
    "RES": ("res_track.txt", "mask"),
}


@dataclass
class CtcTracks:
    """One tracking folder read into arrays, tracks in the table's order sorted by label.

    ``table`` (track, 4) int64 rows ``L B E P``; ``centroid`` (frame, track, 2) float64 pixel
    coordinates ``(x, y)`` = (column, row) of the label's pixel centres, NaN where absent;
    ``area`` (frame, track) pixel counts; ``present`` (frame, track) bool.
    """

    layout: str
    table: np.ndarray
    centroid: np.ndarray
    area: np.ndarray
    present: np.ndarray


def read_track_table(path: str | Path) -> np.ndarray:
    """Parse a CTC track table (``man_track.txt`` / ``res_track.txt``).

    Returns
    -------
    numpy.ndarray
        (track, 4) int64 rows ``label, begin, end, parent``, sorted by label.

    Raises
    ------
    ValueError
        A line that is not four non-negative integers, ``label`` 0, ``end < begin``, a label
        listed twice, or a parent that is not a label of the table; the message names the file
        and the line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "man_track.txt"
    >>> _ = p.write_text("1 0 30 0\\n2 31 91 1\\n")
    >>> read_track_table(p).tolist()
    [[1, 0, 30, 0], [2, 31, 91, 1]]
    """
    rows = []
    for i, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            raise ValueError(
                f"{path}, line {i}: {line!r} is not a CTC track line; expected four "
                "non-negative integers 'label begin end parent' separated by spaces"
            )
        lab, b, e, par = map(int, parts)
        if lab == 0 or e < b:
            raise ValueError(
                f"{path}, line {i}: {line!r} has label {lab}, begin {b}, end {e}; expected a "
                "label > 0 and end >= begin"
            )
        rows.append((lab, b, e, par))
    table = np.array(sorted(rows), dtype=np.int64).reshape(-1, 4)
    labels = table[:, 0]
    if len(np.unique(labels)) != len(labels):
        dup = sorted({int(v) for v in labels if (labels == v).sum() > 1})
        raise ValueError(f"{path}: labels {dup} are listed more than once; each track is one line")
    orphans = sorted(set(table[:, 3][table[:, 3] > 0].tolist()) - set(labels.tolist()))
    if orphans:
        raise ValueError(
            f"{path}: parent labels {orphans[:10]} are not tracks of the table; every parent "
            "must have its own line"
        )
    return table


_FRAME = re.compile(r"^(?P<prefix>[a-z_]+?)(?P<num>\d{3,4})\.tif$")


def frame_files(names: Mapping[str, Path], prefix: str) -> dict[int, Path]:
    """Frame number -> path of the ``<prefix>NNN.tif`` files among ``names`` (base names)."""
    out: dict[int, Path] = {}
    for name, path in names.items():
        m = _FRAME.match(name)
        if m and m["prefix"] == prefix:
            out[int(m["num"])] = Path(path)
    return out


def _read_mask(path: Path) -> np.ndarray:
    import tifffile

    img = np.asarray(tifffile.imread(path))
    if img.ndim != 2 or img.dtype.kind not in "ui":
        raise ValueError(
            f"{path}: label image of shape {img.shape} and dtype {img.dtype}; expected a 2-D "
            "integer image (3-D CTC datasets are not supported)"
        )
    return img


def read_ctc_tracks(table_path: Path, masks: Mapping[int, Path], layout: str) -> CtcTracks:
    """Read a track table and its label masks (one per frame, frames 0..n-1 all present).

    Centroids are the mean ``(column, row)`` of each label's pixels, in pixels; areas are pixel
    counts. Every label found in a mask must be a track of the table, and every track must
    appear first in frame ``B`` and last in frame ``E`` (it may be absent in between: a gap).

    Raises
    ------
    ValueError
        A frame file missing, a mask that is not 2-D integer, a label in a mask that the table
        lacks, or a track whose first or last frame in the masks is not its ``B`` or ``E``;
        the message names the files, the labels and the frames.
    """
    table = read_track_table(table_path)
    n_t = max(masks) + 1 if masks else 0
    gaps = sorted(set(range(n_t)) - set(masks))
    if not masks or gaps:
        raise ValueError(
            f"{table_path.parent}: frames {gaps[:10] or 'all'} have no {LAYOUTS[layout][1]}NNN.tif "
            "file; a CTC folder has one label image per frame from 0"
        )
    labels = table[:, 0]
    lut = np.full(int(labels.max()) + 1 if len(labels) else 1, -1, dtype=np.int64)
    lut[labels] = np.arange(len(labels))
    n = len(labels)
    cen = np.full((n_t, n, 2), np.nan)
    area = np.zeros((n_t, n), dtype=np.int64)
    for t in range(n_t):
        img = _read_mask(masks[t])
        _measure(img, lut, masks[t], table_path, cen[t], area[t])
    present = area > 0
    _check_spans(table, present, table_path)
    return CtcTracks(layout, table, cen, area, present)


def _measure(
    img: np.ndarray,
    lut: np.ndarray,
    path: Path,
    table_path: Path,
    cen: np.ndarray,
    area: np.ndarray,
) -> None:
    """Fill one frame's centroids (x, y) and areas from a label image."""
    flat = img.ravel().astype(np.int64)
    fg = flat > 0
    vals = flat[fg]
    unknown = vals >= len(lut)
    bad = np.unique(vals[unknown]).tolist() + [
        int(v) for v in np.unique(vals[~unknown]) if lut[v] < 0
    ]
    if bad:
        raise ValueError(
            f"{path}: labels {sorted(bad)[:10]} are not tracks of {table_path}; every label in a "
            "mask needs a line in the track table"
        )
    idx = lut[vals]
    rows, cols = np.divmod(np.flatnonzero(fg), img.shape[1])
    n = len(area)
    cnt = np.bincount(idx, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        cen[:, 0] = np.bincount(idx, weights=cols, minlength=n) / cnt
        cen[:, 1] = np.bincount(idx, weights=rows, minlength=n) / cnt
    cen[cnt == 0] = np.nan
    area[:] = cnt


def _check_spans(table: np.ndarray, present: np.ndarray, table_path: Path) -> None:
    """Each track's first and last frame in the masks are the table's ``B`` and ``E``."""
    n_t = len(present)
    seen = present.any(0)
    first = np.where(seen, present.argmax(0), -1)
    last = np.where(seen, n_t - 1 - present[::-1].argmax(0), -1)
    wrong = np.flatnonzero((first != table[:, 1]) | (last != table[:, 2]))
    if len(wrong):
        i = int(wrong[0])
        got = "never" if first[i] < 0 else f"in frames {first[i]}..{last[i]}"
        raise ValueError(
            f"{table_path}: track {table[i, 0]} is listed for frames {table[i, 1]}..{table[i, 2]} "
            f"but its label appears {got} of the masks ({len(wrong)} tracks disagree); the table "
            "and the masks must come from the same tracking"
        )
