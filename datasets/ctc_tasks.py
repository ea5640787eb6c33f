"""Task records of the cells event: CTC Fluo-N2DL-HeLa (``docs/protocols.md`` §6).

``cells/ctc-hela-forecast``: from the centroids of the last :data:`CONTEXT` frames (2.5 h at
30 min per frame), predict every cell's centroid over the next :data:`HORIZON` frames (2 h).
Scored on the cells present in every frame of the window (a cell that divides, leaves the field
or is lost inside the window is not scored: its track ends); error: Euclidean distance in µm.
Windows start at every frame of a block (stride 1) and never cross a block: the first 60 % of
each sequence's frames train, the next 20 % validate, the last 20 % test
(:func:`decathlon.datasets.ctc.chronological_blocks`).

``cells/ctc-hela-division``: for every cell alive in the last context frame ``t``, the
probability that it divides within the next :data:`DIVISION_WITHIN` frames (its track ends at
``e <= t + k - 1`` and it has two or more daughters, so they appear by frame ``t + k``). Inputs:
centroid, area and age (time since the track began) over the context. Pooled AUROC (primary)
and average precision over every (window, cell).
"""

from __future__ import annotations

import numpy as np

from decathlon.benchmark.lazy import xr
from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.benchmark.windows import Windows

__all__ = [
    "CONTEXT",
    "HORIZON",
    "DIVISION_WITHIN",
    "ctc_windows",
    "division_windows",
    "present_cells",
    "CTC_TASKS",
]

#: Frames seen and frames predicted (30 min each).
CONTEXT, HORIZON = 5, 4
SEQUENCES = ("01", "02")
#: Division forecasting: does the cell divide within this many frames (2 h) after the context?
DIVISION_WITHIN = 4


def present_cells(mask: np.ndarray, n_steps: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Window starts of one block and the cells present in all ``length`` frames of each.

    ``mask`` (time, entity) of one block with ``n_steps`` real frames; returns ``starts`` (W,)
    and ``full`` (W, entity) bool.

    Examples
    --------
    >>> m = np.array([[1, 1], [1, 0], [1, 1]], bool)
    >>> starts, full = present_cells(m, 3, 2)
    >>> starts.tolist(), full.tolist()
    ([0, 1], [[True, False], [True, False]])
    """
    starts = np.arange(max(n_steps - length + 1, 0))
    c = np.vstack([np.zeros((1, mask.shape[1]), np.int64), np.cumsum(mask[:n_steps], 0)])
    full = (c[starts + length] - c[starts]) == length
    return starts, full


def ctc_windows(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """Forecast windows of the split's blocks: cells present in all context + horizon frames.

    ``x`` (window, context, cell, 2) and ``y`` (window, horizon, cell, 2) centroids in the
    dataset's units; the cell axis is packed per window (the present cells first, by track
    label) and padded to the busiest window, padded slots masked out and zero. Blocks too short
    for one window give none; ``start`` is the frame in the block.
    """
    length = task.context + task.horizon
    steps = np.asarray(task.steps) - 1 + task.context
    pos, mask = ds["pos"].values, ds["mask"].values
    rows = []  # (sample, start, entity indices)
    for s in range(ds.sizes["sample"]):
        starts, full = present_cells(mask[s], int(ds["n_steps"].values[s]), length)
        rows += [(s, int(a), np.flatnonzero(f)) for a, f in zip(starts, full, strict=True)]
    rows = [r for r in rows if len(r[2])]
    n_p = max((len(r[2]) for r in rows), default=0)
    x = np.zeros((len(rows), task.context, n_p, 2), np.float32)
    y = np.zeros((len(rows), len(steps), n_p, 2), np.float32)
    pm = np.zeros((len(rows), n_p), bool)
    for w, (s, a, ent) in enumerate(rows):
        seq = pos[s, a : a + length][:, ent]
        x[w, :, : len(ent)] = seq[: task.context]
        y[w, :, : len(ent)] = seq[steps]
        pm[w, : len(ent)] = True
    return Windows(
        ids=np.arange(len(rows), dtype=np.int64),
        x=x,
        y=y,
        sample=np.array([r[0] for r in rows], dtype=np.int64),
        start=np.array([r[1] for r in rows], dtype=np.int64),
        features=["pos_x", "pos_y"],
        target_features=["pos_x", "pos_y"],
        mask_x=np.repeat(pm[:, None], task.context, axis=1),
        mask_y=np.repeat(pm[:, None], len(steps), axis=1),
    )


def division_windows(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """Division windows of the split's blocks: every cell alive in the last context frame.

    ``x`` (window, context, cell, 4): ``pos_x``, ``pos_y``, ``state_area``, ``state_age`` (zero
    and masked out in frames where the cell is absent); ``y`` (window, cell) 1.0 where the cell
    divides within ``task.horizon`` frames of the last context frame, else 0.0; ``mask_y``
    (window, cell) marks the real cells (slots are packed per window and padded). Windows need
    ``context + horizon`` frames inside the block.
    """
    c, k = task.context, task.horizon
    feats = ["pos_x", "pos_y", "state_area", "state_age"]
    data = np.concatenate([ds["pos"].values, ds["state"].values], axis=-1)  # (S, T, E, 4)
    mask = ds["mask"].values
    end, kids = ds["end"].values, ds["n_daughters"].values
    rows = []  # (sample, start, cells, labels)
    for s in range(ds.sizes["sample"]):
        frame0, n = int(ds["frame0"].values[s]), int(ds["n_steps"].values[s])
        for a in range(max(n - c - k + 1, 0)):
            ent = np.flatnonzero(mask[s, a + c - 1])
            last = frame0 + a + c - 1  # in frames of the whole sequence
            lab = (kids[s, ent] >= 2) & (end[s, ent] <= last + k - 1)
            if len(ent):
                rows.append((s, a, ent, lab))
    n_p = max((len(r[2]) for r in rows), default=0)
    x = np.zeros((len(rows), c, n_p, len(feats)), np.float32)
    mx = np.zeros((len(rows), c, n_p), bool)
    y = np.zeros((len(rows), n_p), np.float32)
    my = np.zeros((len(rows), n_p), bool)
    for w, (s, a, ent, lab) in enumerate(rows):
        m = mask[s, a : a + c][:, ent]
        x[w, :, : len(ent)] = np.where(m[..., None], data[s, a : a + c][:, ent], 0.0)
        mx[w, :, : len(ent)] = m
        y[w, : len(ent)], my[w, : len(ent)] = lab, True
    return Windows(
        ids=np.arange(len(rows), dtype=np.int64),
        x=x,
        y=y,
        sample=np.array([r[0] for r in rows], dtype=np.int64),
        start=np.array([r[1] for r in rows], dtype=np.int64),
        features=feats,
        target_features=[],
        mask_x=mx,
        mask_y=my,
    )


def _splits() -> dict[str, Split]:
    return {
        b: Split("all", coord="segment", labels=tuple(f"{s}/{b}" for s in SEQUENCES))
        for b in ("train", "valid", "test")
    }


#: Points target of the centroid forecast (µm, error at the 4th frame), a noise floor
#: (docs/probes.md §4): the centroid jitter of segmented HeLa nuclei estimated from second
#: differences of the real Fluo-N2DL-HeLa 01_RES tracks (sigma = sqrt(mean(d2^2)/6) = 1.22 µm
#: per coordinate, so a perfect predictor's mean 2-D error is about 1.25 sigma = 1.53 µm).
FORECAST_TARGET = 1.5
#: Points target of division forecasting (AUROC), an annotation-timing floor (docs/probes.md
#: §4): a division annotated one frame early or late flips the label of a cell dividing at the
#: window's edge, so (edge positive, edge negative) pairs are coin flips. On the real HeLa
#: 01_RES tracks (all blocks): 72 x 69 such pairs among 307 x 5701, 1 - AUROC = 0.0014.
DIVISION_TARGET = 0.998

CTC_TASKS = [
    register_task(
        TaskSpec(
            name="cells/ctc-hela-forecast",
            version="1",
            event="cells/ctc",
            kind="forecast",
            dataset="ctc-fluo-n2dl-hela",
            splits=_splits(),
            inputs=("pos",),
            targets=("pos",),
            context=CONTEXT,
            horizon=HORIZON,
            stride=1,
            normalize=None,
            error="l2",
            metrics=("fde", "ade", "l2@1"),
            primary="fde",
            trivial="static",
            target=FORECAST_TARGET,
            target_source=(
                "noise floor: centroid jitter 1.22 um per coordinate from second differences of "
                "the real HeLa 01_RES tracks, mean 2-D error 1.5 um"
            ),
            window_fn=ctc_windows,
            bootstrap_unit="block",  # stride 1 along each sequence's block
            reversible=False,
            description=(
                "CTC Fluo-N2DL-HeLa ground truth: from 5 frames of cell centroids (2.5 h), "
                "predict the next 4 (2 h) of every cell present in all 9 frames; Euclidean "
                "error in um, primary at the 4th frame (fde); chronological blocks 60/20/20 % "
                "of each of the two sequences."
            ),
        )
    ),
    register_task(
        TaskSpec(
            name="cells/ctc-hela-division",
            version="1",
            event="cells/ctc",
            kind="classify",
            dataset="ctc-fluo-n2dl-hela",
            splits=_splits(),
            inputs=("pos", "state"),
            context=CONTEXT,
            horizon=DIVISION_WITHIN,
            stride=1,
            normalize=None,
            metrics=("auroc", "average_precision"),
            primary="auroc",
            trivial="chance",
            target=DIVISION_TARGET,
            target_source=(
                "annotation-timing floor: pairs a one-frame shift of the division time "
                "reorders, 1 - AUROC = 0.0014 on the real HeLa 01_RES tracks"
            ),
            window_fn=division_windows,
            bootstrap_unit="block",  # stride 1 along each sequence's block
            reversible=False,
            extra={"output": "probability that the cell divides within the next 4 frames"},
            description=(
                "CTC Fluo-N2DL-HeLa ground truth: for every cell alive in the last of 5 context "
                "frames (centroid, area, age), the probability that it divides within the next "
                "4 frames (2 h); pooled AUROC (primary) and average precision."
            ),
        )
    ),
]
