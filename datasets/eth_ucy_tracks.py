"""ETH/UCY files on the dataset's grid: the time step and entity slot of every row.

A file's rows (``frame_id ped_id x y``, read by :mod:`decathlon.datasets.io.eth_ucy_text`) are
placed at time step ``(frame_id - first frame id) / 10`` (``frame_id`` advances by
:data:`FRAME_STEP` per annotation step) and in an entity *slot*: a slot holds several pedestrians
one after another, separated by at least one annotated frame in which it is empty
(:func:`assign_slots`), so the entity axis stays about as wide as the peak crowd. The dataset
that stacks the files is :func:`decathlon.datasets.eth_ucy.open_eth_ucy`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np

from decathlon.datasets.io.eth_ucy_text import read_eth_ucy_file, read_eth_ucy_lines

__all__ = ["FRAME_STEP", "FileTracks", "assign_slots", "file_tracks"]

log = logging.getLogger("decathlon")

#: Frame ids per annotation step (0.4 s).
FRAME_STEP = 10


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


def assign_slots(first: np.ndarray, last: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Entity slot per pedestrian; a slot is reused only after one annotated frame left empty.

    ``first``/``last`` are the indices (into the file's annotated frames) of each pedestrian's
    first and last row. Pedestrians are taken by (first, id) and get the lowest free slot; a slot
    whose previous pedestrian ended at index ``k`` is free from index ``k + 2``, so two people
    sharing a slot are always separated by an annotated frame in which the slot is absent.
    """
    order = np.lexsort((ids, first))
    free_from: list[int] = []
    slot = np.empty(len(first), dtype=np.int64)
    for p in order:
        free = [k for k, f in enumerate(free_from) if f <= first[p]]
        if free:
            s = free[0]
        else:
            s = len(free_from)
            free_from.append(0)
        slot[p] = s
        free_from[s] = int(last[p]) + 2
    return slot, len(free_from)


def _grid_steps(path: Path, data: np.ndarray) -> tuple[int, np.ndarray]:
    """First frame id and each row's time step; raises on a frame off the 10-frame grid."""
    frames = data[:, 0].astype(np.int64)
    frame0 = int(frames.min())
    off = frames - frame0
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
    """Read one file and give every pedestrian a slot (see :func:`assign_slots`)."""
    data = read_eth_ucy_file(path)
    frame0, step = _grid_steps(path, data)
    ids = data[:, 1].astype(np.int64)
    uniq_steps, ann = np.unique(step, return_inverse=True)  # annotated-frame index per row
    peds, ped_idx = np.unique(ids, return_inverse=True)
    first = np.full(len(peds), np.iinfo(np.int64).max)
    last = np.full(len(peds), -1)
    np.minimum.at(first, ped_idx, ann)
    np.maximum.at(last, ped_idx, ann)
    slot_of_ped, n_slots = assign_slots(first, last, peds)
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
