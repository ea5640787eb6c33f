"""ETH/UCY files on the dataset's grid: the time step and entity slot of every row.

A file's rows (``frame_id ped_id x y``, read by :mod:`decathlon.datasets.io.eth_ucy_text`) are
placed at time step ``(frame_id - first frame id) / 10`` (``frame_id`` advances by
:data:`FRAME_STEP` per annotation step) and in an entity *slot*: a slot holds several pedestrians
one after another, separated by at least one annotated frame in which it is empty
(:func:`assign_slots`), so the entity axis stays about as wide as the peak crowd. The dataset
that stacks the files is :func:`decathlon.datasets.eth_ucy.open_eth_ucy`.

Bounds (the dataset allocates files x steps x slots cells, so both are checked, naming the file
and line, before anything is allocated): a file spans at most :data:`MAX_STEPS` annotation steps
(9000 steps of 0.4 s = 1 hour; the longest upstream file, biwi_hotel, spans 1807 steps, about
12 minutes) and needs at most :data:`MAX_SLOTS` entity slots (500; the busiest upstream file,
students001, needs 75). With both bounds the 24 upstream-sized files fit in 24 x 9000 x 500
cells (1.4 GB at 13 bytes per cell) however corrupt a frame id is; an unchecked frame id of
100000780 asked for a 10-million-step axis.
"""

from __future__ import annotations

import heapq
import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np

from decathlon.datasets.io.eth_ucy_text import read_eth_ucy_file, read_eth_ucy_lines

__all__ = ["FRAME_STEP", "MAX_SLOTS", "MAX_STEPS", "FileTracks", "assign_slots", "file_tracks"]

log = logging.getLogger("decathlon")

#: Frame ids per annotation step (0.4 s).
FRAME_STEP = 10
#: Most annotation steps one file may span: 1 hour at 0.4 s (the longest upstream file: 1807).
MAX_STEPS = 9000
#: Most entity slots one file may need (the busiest upstream file needs 75).
MAX_SLOTS = 500


class _TooManySlots(ValueError):
    """Raised by :func:`assign_slots` when pedestrian ``ped`` would need slot ``max_slots + 1``."""

    def __init__(self, ped: int, max_slots: int) -> None:
        super().__init__(f"pedestrian {ped} needs a slot beyond max_slots={max_slots}")
        self.ped = ped


class FileTracks(NamedTuple):
    """One file placed on the dataset's grid: the time step and entity slot of every row."""

    stem: str
    folder: str
    base: str
    frame0: int
    n_steps: int
    step: np.ndarray
    slot: np.ndarray
    ids: np.ndarray
    xy: np.ndarray
    n_slots: int


def assign_slots(
    first: np.ndarray, last: np.ndarray, ids: np.ndarray, max_slots: int | None = None
) -> tuple[np.ndarray, int]:
    """Entity slot per pedestrian; a slot is reused only after one annotated frame left empty.

    ``first``/``last`` are the indices (into the file's annotated frames) of each pedestrian's
    first and last row. Pedestrians are taken by (first, id) and get the lowest free slot; a slot
    whose previous pedestrian ended at index ``k`` is free from index ``k + 2``, so two people
    sharing a slot are always separated by an annotated frame in which the slot is absent.
    Two heaps (taken slots by the index they free up at, free slots by number) make this
    O(n log n). ``max_slots``: raise a ``ValueError`` (with the pedestrian's index as ``.ped``)
    instead of opening slot ``max_slots + 1``.
    """
    order = np.lexsort((ids, first))
    taken: list[tuple[int, int]] = []  # (index the slot is free from, slot)
    free: list[int] = []
    slot = np.empty(len(first), dtype=np.int64)
    n_slots = 0
    for p in order:
        while taken and taken[0][0] <= first[p]:
            heapq.heappush(free, heapq.heappop(taken)[1])
        if free:
            s = heapq.heappop(free)
        elif max_slots is not None and n_slots >= max_slots:
            raise _TooManySlots(int(p), max_slots)
        else:
            s, n_slots = n_slots, n_slots + 1
        slot[p] = s
        heapq.heappush(taken, (int(last[p]) + 2, s))
    return slot, n_slots


def _grid_steps(path: Path, data: np.ndarray) -> tuple[int, np.ndarray]:
    """First frame id and each row's time step; raises on a frame off the 10-frame grid."""
    frames = data[:, 0].astype(np.int64)  # 0 .. 2**31 - 1, checked by the reader
    frame0 = int(frames.min())
    off = frames - frame0
    far = int(np.argmax(off))
    if off[far] // FRAME_STEP + 1 > MAX_STEPS:
        lines = read_eth_ucy_lines(path)[1]
        n_steps = int(off[far]) // FRAME_STEP + 1
        raise ValueError(
            f"{path.name} line {lines[far]}: frame_id {frames[far]} is {off[far]} frames after "
            f"the file's first frame {frame0} (line {lines[int(np.argmin(off))]}): {n_steps} "
            f"annotation steps of 0.4 s ({n_steps * 0.4 / 3600:.1f} h), but a file may span at "
            f"most {MAX_STEPS} steps (1 hour; the longest upstream file spans 1807 steps, 12 "
            "minutes). The frame id is corrupted: download the file again."
        )
    bad = np.flatnonzero(off % FRAME_STEP)
    if bad.size:
        line = read_eth_ucy_lines(path)[1][bad[0]]
        raise ValueError(
            f"{path.name} line {line}: frame_id {frames[bad[0]]} is not on the "
            f"{FRAME_STEP}-frame grid starting at frame {frame0}; the Social-GAN files "
            f"annotate every {FRAME_STEP}th frame (0.4 s). This is not an ETH/UCY file of "
            "that format."
        )
    return frame0, off // FRAME_STEP


def file_tracks(stem: str, folder: str, base: str, path: Path) -> FileTracks:
    """Read one file and give every pedestrian a slot (see :func:`assign_slots`).

    Raises a ``ValueError`` naming the file and line for a malformed file (see
    :func:`~decathlon.datasets.io.eth_ucy_text.read_eth_ucy_file`), a frame off the 10-frame
    grid, a file spanning more than :data:`MAX_STEPS` steps or needing more than
    :data:`MAX_SLOTS` slots.
    """
    data = read_eth_ucy_file(path)
    frame0, step = _grid_steps(path, data)
    ids = data[:, 1].astype(np.int64)
    uniq_steps, ann = np.unique(step, return_inverse=True)  # annotated-frame index per row
    peds, ped_idx = np.unique(ids, return_inverse=True)
    first = np.full(len(peds), np.iinfo(np.int64).max)
    last = np.full(len(peds), -1)
    np.minimum.at(first, ped_idx, ann)
    np.maximum.at(last, ped_idx, ann)
    try:
        slot_of_ped, n_slots = assign_slots(first, last, peds, max_slots=MAX_SLOTS)
    except _TooManySlots as e:
        row = int(np.flatnonzero((ped_idx == e.ped) & (ann == first[e.ped]))[0])
        raise ValueError(
            f"{path.name} line {read_eth_ucy_lines(path)[1][row]}: pedestrian {peds[e.ped]} at "
            f"frame {int(data[row, 0])} needs entity slot {MAX_SLOTS + 1}; at most {MAX_SLOTS} "
            "pedestrians may overlap in time (the busiest upstream file needs 75 slots). The "
            "file is corrupted or not an ETH/UCY file."
        ) from None
    n_steps = int(step.max()) + 1
    gaps = np.diff(uniq_steps)
    if np.any(gaps > 1):
        log.debug(
            "eth-ucy: %s has %d gaps in its annotated frames (largest %d steps)",
            stem,
            int(np.sum(gaps > 1)),
            int(gaps.max()) - 1,
        )
    return FileTracks(
        stem, folder, base, frame0, n_steps, step, slot_of_ped[ped_idx], ids, data[:, 2:4], n_slots
    )
