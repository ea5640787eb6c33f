"""ETH/UCY pedestrian trajectories in the Social-GAN / Trajectron++ text format.

Source: the ``experiments/pedestrians/raw/raw/{all_data,train,val}/`` files of
StanfordASL/Trajectron-plus-plus at commit ``1031c7bd1a444273af378c1ec1dcca907ba59830`` (MIT),
the same bytes as Social-GAN's ``datasets.zip`` (``shared/data/MANIFEST.md`` §2,
``shared/PROTOCOLS.md`` §7).

Format: no header; one row per (frame, pedestrian): ``frame_id  ped_id  x  y`` separated by tabs
(ETH files write integers, UCY files floats such as ``0.0``); x, y in metres on the ground plane.
``frame_id`` advances by 10 per annotation step of 0.4 s (2.5 Hz). Frames in which nobody is
annotated are absent, so the annotated frames have gaps (biwi_hotel has 26, the largest 1110
frames = 44.4 s).

The dataset (:func:`open_eth_ucy`) keeps those gaps on a regular time axis: step
``t = (frame_id - first frame of the file) / 10`` at ``t * 0.4`` s. Social-GAN's windows
(:func:`sgan_windows`) are instead runs of 20 consecutive *annotated* frames, which span a gap when
there is one; the function reproduces that exactly, and reports each window's time indices.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from decathlon.benchmark.data import DatasetSpec, FileSpec, register_dataset
from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.benchmark.windows import Windows
from decathlon.datasets.fetch import file_builder

__all__ = [
    "SCENES",
    "FILE_BASES",
    "FOLDERS",
    "read_eth_ucy_file",
    "open_eth_ucy",
    "sgan_windows",
    "scene_split",
    "make_fake_eth_ucy",
    "ETH_UCY",
]

log = logging.getLogger("decathlon")

#: Frame ids per annotation step, and seconds per step.
FRAME_STEP = 10
DT = 0.4

#: Leave-one-scene-out test scenes -> their ``all_data`` files (PROTOCOLS §7.1).
SCENES: dict[str, list[str]] = {
    "eth": ["biwi_eth"],
    "hotel": ["biwi_hotel"],
    "univ": ["students001", "students003"],
    "zara1": ["crowds_zara01"],
    "zara2": ["crowds_zara02"],
}
#: Every source file (without folder suffix); crowds_zara03 and uni_examples only ever train.
FILE_BASES: tuple[str, ...] = (
    "biwi_eth",
    "biwi_hotel",
    "crowds_zara01",
    "crowds_zara02",
    "crowds_zara03",
    "students001",
    "students003",
    "uni_examples",
)
#: Upstream folders and the suffix of their file names.
FOLDERS: dict[str, str] = {"all_data": "", "train": "_train", "val": "_val"}

_SCENE_OF = {f: s for s, fs in SCENES.items() for f in fs}


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------


_ROW = re.compile(r"^[ \t]*\S+[ \t]+\S+[ \t]+\S+[ \t]+\S+[ \t]*$", re.M)
_NONBLANK = re.compile(r"^[ \t]*\S", re.M)


def _read_lines(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Line-by-line reader: rows (n, 4) float64 and their 1-based line numbers.

    Raises the format errors with the file name and line number; used when the fast reader
    finds a problem and for the line numbers of later errors.
    """
    rows: list[tuple[float, ...]] = []
    line_no: list[int] = []
    with open(path, encoding="utf-8", errors="replace", newline=None) as f:
        for n, raw in enumerate(f, start=1):
            toks = raw.split()  # tabs (upstream) or spaces (SGAN's delim='space')
            if not toks:
                continue
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
            rows.append(vals)
            line_no.append(n)
    if not rows:
        raise ValueError(f"{path.name}: no data rows; expected 'frame_id ped_id x y' lines")
    return np.asarray(rows, dtype=np.float64), np.asarray(line_no)


def _read(path: Path) -> np.ndarray:
    """Rows (n, 4) float64 after every check of the file format (fast path, C parsing).

    The whole text is checked to have 4 fields on every non-blank line and parsed at once; any
    problem sends the file through :func:`_read_lines`, which raises with the line number.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    data = None
    if len(_ROW.findall(text)) == len(_NONBLANK.findall(text)):
        try:
            data = np.array(text.split(), dtype=np.float64).reshape(-1, 4)
        except ValueError:
            data = None
    if (
        data is None
        or data.shape[0] == 0
        or not np.all(np.isfinite(data))
        or np.any(data[:, :2] != np.trunc(data[:, :2]))
    ):
        data = _read_lines(path)[0]
    order = np.lexsort((data[:, 1], data[:, 0]))
    key = data[order, :2]
    dup = np.flatnonzero(np.all(key[1:] == key[:-1], axis=1))
    if dup.size:
        lines = _read_lines(path)[1]
        a, b = lines[order[dup[0]]], lines[order[dup[0] + 1]]
        fr, pid = key[dup[0]]
        raise ValueError(
            f"{path.name} lines {min(a, b)} and {max(a, b)}: pedestrian {int(pid)} appears twice "
            f"in frame {int(fr)} ({dup.size} duplicated (frame, ped) pairs in all); each "
            "pedestrian has at most one row per frame. Remove the duplicates."
        )
    return data


def _is_float(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


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
        frame or pedestrian id, or a duplicated (frame, ped) row.

    Examples
    --------
    >>> import tempfile
    >>> files = make_fake_eth_ucy(tempfile.mkdtemp(), seed=0)
    >>> rows = read_eth_ucy_file(files["all_data/biwi_eth.txt"])
    >>> rows.shape[1], bool((rows[:, 0] % 10 == 0).all())
    (4, True)
    """
    return _read(Path(path))


# ------------------------------------------------------------------------------------------
# Dataset
# ------------------------------------------------------------------------------------------


def _split_name(key: str) -> tuple[str, str, str]:
    """(folder, file stem, base file) for a key like ``"train/biwi_eth_train.txt"``."""
    p = Path(key)
    stem = p.stem
    folder = p.parent.name if p.parent.name in FOLDERS else ""
    base = stem
    for fol, suffix in FOLDERS.items():
        if suffix and stem.endswith(suffix):
            base = stem[: -len(suffix)]
            folder = folder or fol
    return folder or "all_data", stem, base


def _assign_slots(first: np.ndarray, last: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, int]:
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


LICENSE = (
    "Files: MIT (StanfordASL/Trajectron-plus-plus; the same bytes as Social-GAN's datasets.zip). "
    "Underlying recordings: ETH/BIWI Walking Pedestrians (ETH Zurich) and UCY Crowds-by-Example "
    "(University of Cyprus), distributed by their authors for research use; check their terms "
    "before other uses."
)
CITATION = (
    "Pellegrini, Ess, Schindler, Van Gool. You'll never walk alone: modeling social behavior for "
    "multi-target tracking. ICCV 2009 (ETH). Lerner, Chrysanthou, Lischinski. Crowds by example. "
    "Computer Graphics Forum 2007 (UCY). Split and windows: Gupta, Johnson, Fei-Fei, Savarese, "
    "Alahi. Social GAN. CVPR 2018; Salzmann, Ivanovic, Chakravarty, Pavone. Trajectron++. ECCV 2020."
)
COMMIT = "1031c7bd1a444273af378c1ec1dcca907ba59830"
BASE_URL = f"https://raw.githubusercontent.com/StanfordASL/Trajectron-plus-plus/{COMMIT}/experiments/pedestrians/raw/raw/"
SOURCE = f"https://github.com/StanfordASL/Trajectron-plus-plus/tree/{COMMIT}/experiments/pedestrians/raw/raw"
VERSION = "1"


def open_eth_ucy(paths: Mapping[str, str | Path]) -> xr.Dataset:
    """Parse Social-GAN-format files into a trajectories-family dataset (data contract).

    Parameters
    ----------
    paths : mapping
        ``"<folder>/<file>.txt"`` (e.g. ``"all_data/biwi_eth.txt"``, ``"train/biwi_eth_train.txt"``)
        -> local path; any subset of the upstream files. Only these paths are read.

    Returns
    -------
    xarray.Dataset
        One ``sample`` per file, ordered all_data, train, val, then by name. ``pos(sample, time,
        entity, space)`` float32 metres (NaN where absent), ``mask(sample, time, entity)`` bool.
        ``time`` is the annotation step ``(frame_id - frame0) / 10`` at 0.4 s per step, so the
        frames a file lacks are steps where every mask is False. ``entity`` is a pedestrian
        *slot*: one slot can hold several people one after another (separated by at least one
        annotated frame where it is empty), which keeps the entity axis at about the peak crowd
        size (~80) instead of the number of people (434). Coordinates: ``file`` (e.g.
        ``"biwi_eth_train"``), ``folder`` (``all_data``/``train``/``val``), ``scene`` (a key of
        :data:`SCENES`, or the file base for crowds_zara03 and uni_examples), ``frame0`` (first
        frame id), ``n_steps`` (time steps of the file), ``ped_id(sample, time, entity)`` int32
        (the upstream pedestrian id, -1 where absent).

    Raises
    ------
    ValueError
        A malformed file (see :func:`read_eth_ucy_file`), a frame id not on the file's 10-frame
        grid, or two keys naming the same file.

    Examples
    --------
    >>> import tempfile
    >>> ds = open_eth_ucy(make_fake_eth_ucy(tempfile.mkdtemp(), seed=0))
    >>> ds.pos.dims, ds.file.values[:2].tolist()
    (('sample', 'time', 'entity', 'space'), ['biwi_eth', 'biwi_hotel'])
    """
    items = []
    for key, p in paths.items():
        folder, stem, base = _split_name(str(key))
        items.append((list(FOLDERS).index(folder), stem, folder, base, Path(p)))
    items.sort()
    stems = [it[1] for it in items]
    if len(set(stems)) != len(stems):
        dup = sorted({s for s in stems if stems.count(s) > 1})
        raise ValueError(f"open_eth_ucy got several paths for the files {dup}; pass each file once")
    if not items:
        raise ValueError("open_eth_ucy needs at least one file, got none")

    per_file = []
    for _, stem, folder, base, path in items:
        data = _read(path)
        frames = data[:, 0].astype(np.int64)
        frame0 = int(frames.min())
        off = frames - frame0
        bad = np.flatnonzero(off % FRAME_STEP)
        if bad.size:
            line = _read_lines(path)[1][bad[0]]
            raise ValueError(
                f"{path.name} line {line}: frame_id {frames[bad[0]]} is not on the "
                f"{FRAME_STEP}-frame grid starting at frame {frame0}; the Social-GAN files "
                f"annotate every {FRAME_STEP}th frame (0.4 s). This is not an ETH/UCY file of "
                "that format."
            )
        step = off // FRAME_STEP
        ids = data[:, 1].astype(np.int64)
        uniq_steps, ann = np.unique(step, return_inverse=True)  # annotated-frame index per row
        peds, ped_idx = np.unique(ids, return_inverse=True)
        first = np.full(len(peds), np.iinfo(np.int64).max)
        last = np.full(len(peds), -1)
        np.minimum.at(first, ped_idx, ann)
        np.maximum.at(last, ped_idx, ann)
        slot_of_ped, n_slots = _assign_slots(first, last, peds)
        n_steps = int(step.max()) + 1
        gaps = np.diff(uniq_steps)
        if np.any(gaps > 1):
            log.debug(
                "eth-ucy: %s has %d gaps in its annotated frames (largest %d steps)",
                stem, int(np.sum(gaps > 1)), int(gaps.max()) - 1,
            )
        per_file.append((stem, folder, base, frame0, n_steps, step, slot_of_ped[ped_idx], ids, data[:, 2:4], n_slots))

    n_t = max(f[4] for f in per_file)
    n_e = max(f[9] for f in per_file)
    n_s = len(per_file)
    pos = np.full((n_s, n_t, n_e, 2), np.nan, dtype=np.float32)
    mask = np.zeros((n_s, n_t, n_e), dtype=bool)
    ped_id = np.full((n_s, n_t, n_e), -1, dtype=np.int32)
    for i, (_, _, _, _, _, step, slot, ids, xy, _) in enumerate(per_file):
        pos[i, step, slot] = xy
        mask[i, step, slot] = True
        ped_id[i, step, slot] = ids
    return xr.Dataset(
        {
            "pos": (("sample", "time", "entity", "space"), pos),
            "mask": (("sample", "time", "entity"), mask),
        },
        coords={
            "time": np.arange(n_t) * DT,
            "entity": np.arange(n_e),
            "space": ["x", "y"],
            "file": ("sample", [f[0] for f in per_file]),
            "folder": ("sample", [f[1] for f in per_file]),
            "scene": ("sample", [_SCENE_OF.get(f[2], f[2]) for f in per_file]),
            "frame0": ("sample", np.array([f[3] for f in per_file], dtype=np.int64)),
            "n_steps": ("sample", np.array([f[4] for f in per_file], dtype=np.int64)),
            "ped_id": (("sample", "time", "entity"), ped_id),
        },
        attrs={
            "family": "trajectories",
            "name": "eth-ucy",
            "units": "m",
            "dt": DT,
            "source": SOURCE,
            "license": LICENSE,
            "citation": CITATION,
            "dataset_version": VERSION,
            "frame_step": FRAME_STEP,
            "note": (
                "time = (frame_id - frame0)/10 * 0.4 s; steps with no annotation are all-False in "
                "mask; entity is a pedestrian slot (see ped_id); coordinates are raw metres, not "
                "mean-centred"
            ),
        },
    )


# ------------------------------------------------------------------------------------------
# Social-GAN windows
# ------------------------------------------------------------------------------------------


def sgan_windows(
    pos: np.ndarray,
    mask: np.ndarray,
    obs_len: int = 8,
    pred_len: int = 12,
    min_ped: int = 1,
    skip: int = 1,
    ped_id: np.ndarray | None = None,
    files: Sequence[str] | None = None,
    decimals: int | None = None,
) -> dict[str, np.ndarray]:
    """Social-GAN's windows (``sgan/data/trajectories.py`` ``TrajectoryDataset``), vectorized.

    Per file (sample): the annotated frames are the time steps where any pedestrian is present
    (SGAN's ``np.unique(frame_ids)``). A window is a run of ``obs_len + pred_len`` *consecutive
    annotated frames* starting at every ``skip``-th one; at a gap in the frame ids the run simply
    continues after the gap, as in SGAN, so such a window covers more than 8 s (``time_index``
    shows it). A pedestrian enters a window if present in all its frames (SGAN keeps those
    present in the first and the last and would fail on a hole in between; the upstream files
    have no such holes, so the two rules agree). A window is kept if it has more than
    ``min_ped`` such pedestrians.

    Parameters
    ----------
    pos : array_like
        (time, entity, space) for one file, or (sample, time, entity, space).
    mask : array_like
        Presence, (time, entity) or (sample, time, entity).
    obs_len, pred_len : int
        Observed and predicted steps (SGAN: 8 and 12).
    min_ped : int
        Keep windows with strictly more pedestrians than this (SGAN: 1).
    skip : int
        Stride between window starts in annotated frames (SGAN: 1).
    ped_id : array_like, optional
        Pedestrian ids, shape of ``mask`` (e.g. ``ds.ped_id``). If given, a slot whose id changes
        inside a window is not counted, and pedestrians are ordered by id within each window as
        in SGAN (else by entity slot).
    files : sequence of str, optional
        Name of each sample (e.g. ``ds.file.values``); adds a ``file`` entry per window.
    decimals : int, optional
        Round positions like SGAN does (``np.around(..., 4)``, done here in float64 on the given
        values, then stored as float32); default: no rounding.

    Returns
    -------
    dict of numpy.ndarray
        ``obs`` (W, P, obs_len, space) and ``pred`` (W, P, pred_len, space) float32, NaN-padded to
        the largest window's P pedestrians; ``ped_mask`` (W, P) bool; ``entity`` (W, P) slot index
        (-1 padding); ``ped_id`` (W, P) if given (-1 padding); ``n_peds`` (W,); ``sample`` (W,);
        ``start`` (W,) time index of the first frame; ``time_index`` (W, obs_len + pred_len)
        time indices of all frames; ``file`` (W,) if ``files`` is given.

    Examples
    --------
    >>> import tempfile
    >>> ds = open_eth_ucy(make_fake_eth_ucy(tempfile.mkdtemp(), seed=0))
    >>> w = sgan_windows(ds.pos.values, ds.mask.values, ped_id=ds.ped_id.values, files=ds.file.values)
    >>> w["obs"].shape[2:], int(w["n_peds"].sum()) > 0
    ((8, 2), True)
    """
    pos = np.asarray(pos)
    mask = np.asarray(mask, dtype=bool)
    if pos.ndim == 3:
        pos, mask = pos[None], mask[None]
        ped_id = None if ped_id is None else np.asarray(ped_id)[None]
    if pos.ndim != 4 or mask.shape != pos.shape[:3]:
        raise ValueError(
            f"sgan_windows expects pos (sample, time, entity, space) and mask (sample, time, "
            f"entity) or the same without sample; got {pos.shape} and {mask.shape}"
        )
    if ped_id is not None:
        ped_id = np.asarray(ped_id)
        if ped_id.shape != mask.shape:
            raise ValueError(f"ped_id has shape {ped_id.shape}, expected the mask's {mask.shape}")
    if obs_len < 1 or pred_len < 1 or skip < 1 or min_ped < 0:
        raise ValueError(
            f"need obs_len, pred_len, skip >= 1 and min_ped >= 0; got obs_len={obs_len}, "
            f"pred_len={pred_len}, skip={skip}, min_ped={min_ped}"
        )
    if files is not None and len(files) != pos.shape[0]:
        raise ValueError(f"files has {len(files)} names for {pos.shape[0]} samples")
    seq = obs_len + pred_len
    ar = np.arange(seq)
    parts: list[dict[str, np.ndarray]] = []
    for s in range(pos.shape[0]):
        ann = np.flatnonzero(mask[s].any(axis=1))  # annotated frames of this file
        n_win = len(ann) - seq + 1
        if n_win < 1:
            continue
        m = mask[s, ann]  # (F, E)
        cs = np.concatenate([np.zeros((1, m.shape[1]), np.int64), np.cumsum(m, axis=0)])
        full = (cs[seq:] - cs[:-seq]) == seq  # (n_win, E): present in all frames
        if ped_id is not None:
            ids = ped_id[s, ann]
            brk = m[1:] & m[:-1] & (ids[1:] != ids[:-1])  # slot changes person between k-1, k
            cb = np.concatenate([np.zeros((1, m.shape[1]), np.int64), np.cumsum(brk, axis=0)])
            full &= (cb[seq - 1:] - cb[: n_win]) == 0
        starts = np.arange(0, n_win, skip)
        full = full[starts]
        n = full.sum(axis=1)
        keep = n > min_ped
        if not keep.any():
            continue
        starts, full, n = starts[keep], full[keep], n[keep]
        w_idx, e_idx = np.nonzero(full)
        tidx = ann[starts[:, None] + ar]  # (W, seq) time indices
        traj = pos[s][tidx[w_idx][:, :, None], e_idx[:, None, None], np.arange(pos.shape[3])]
        pid = ped_id[s][tidx[w_idx, 0], e_idx] if ped_id is not None else None
        if pid is not None:  # SGAN orders pedestrians by id within a window
            o = np.lexsort((pid, w_idx))
            w_idx, e_idx, traj, pid = w_idx[o], e_idx[o], traj[o], pid[o]
        row0 = np.concatenate([[0], np.cumsum(n)[:-1]])
        rank = np.arange(len(w_idx)) - row0[w_idx]
        parts.append(dict(s=s, n=n, starts=ann[starts], tidx=tidx, w=w_idx, r=rank, e=e_idx, traj=traj, pid=pid))

    n_w = sum(len(p["n"]) for p in parts)
    p_max = max((int(p["n"].max()) for p in parts), default=0)
    space = pos.shape[3]
    traj_all = np.full((n_w, p_max, seq, space), np.nan, dtype=np.float32)
    out = {
        "ped_mask": np.zeros((n_w, p_max), dtype=bool),
        "entity": np.full((n_w, p_max), -1, dtype=np.int64),
        "n_peds": np.zeros(n_w, dtype=np.int64),
        "sample": np.zeros(n_w, dtype=np.int64),
        "start": np.zeros(n_w, dtype=np.int64),
        "time_index": np.zeros((n_w, seq), dtype=np.int64),
    }
    if ped_id is not None:
        out["ped_id"] = np.full((n_w, p_max), -1, dtype=np.int64)
    o = 0
    for p in parts:
        k = len(p["n"])
        w = p["w"] + o
        traj_all[w, p["r"]] = p["traj"]
        out["ped_mask"][w, p["r"]] = True
        out["entity"][w, p["r"]] = p["e"]
        if ped_id is not None:
            out["ped_id"][w, p["r"]] = p["pid"]
        out["n_peds"][o : o + k] = p["n"]
        out["sample"][o : o + k] = p["s"]
        out["start"][o : o + k] = p["starts"]
        out["time_index"][o : o + k] = p["tidx"]
        o += k
    if decimals is not None:
        traj_all = np.around(traj_all.astype(np.float64), decimals).astype(np.float32)
    out["obs"] = traj_all[:, :, :obs_len]
    out["pred"] = traj_all[:, :, obs_len:]
    if files is not None:
        out["file"] = np.asarray(files)[out["sample"]]
    return out


def scene_split(scene: str) -> dict[str, list[str]]:
    """Social-GAN / Trajectron++ leave-one-scene-out split for held-out ``scene``.

    Parameters
    ----------
    scene : str
        One of ``eth``, ``hotel``, ``univ``, ``zara1``, ``zara2``.

    Returns
    -------
    dict
        ``{"train": [...], "valid": [...], "test": [...]}`` of values of the dataset's ``file``
        coordinate: train = the ``*_train`` file of every other source file (crowds_zara03 and
        uni_examples included), valid = their ``*_val`` files, test = the scene's ``all_data``
        file(s). This is the folder layout of Trajectron++ ``experiments/pedestrians/raw/<scene>``
        at commit 1031c7b.

    Raises
    ------
    KeyError
        Unknown scene (the message lists the valid names).

    Examples
    --------
    >>> scene_split("univ")["test"]
    ['students001', 'students003']
    >>> scene_split("eth")["train"][:2]
    ['biwi_hotel_train', 'crowds_zara01_train']
    """
    if scene not in SCENES:
        raise KeyError(f"unknown ETH/UCY scene {scene!r}; valid names: {', '.join(SCENES)}")
    others = [b for b in FILE_BASES if b not in SCENES[scene]]
    return {
        "train": [f"{b}_train" for b in others],
        "valid": [f"{b}_val" for b in others],
        "test": list(SCENES[scene]),
    }


# ------------------------------------------------------------------------------------------
# Fake data in the upstream format
# ------------------------------------------------------------------------------------------


def _fake_rows(rng: np.random.Generator, n_steps: int, n_peds: int, frame0: int, ucy: bool) -> list[str]:
    """Walkers with random entry times and 8-30 step lifetimes, plus one gap in the frames."""
    rows = []
    gap = (n_steps // 2, n_steps // 2 + 3)  # steps nobody is annotated at
    for pid in range(1, n_peds + 1):
        t0 = int(rng.integers(0, max(1, n_steps - 8)))
        life = int(rng.integers(8, 31))
        p = rng.uniform(0, 10, 2)
        v = rng.normal(0, 0.5, 2)
        for t in range(t0, min(n_steps, t0 + life)):
            if gap[0] <= t < gap[1]:
                continue
            x, y = p + v * (t - t0) * DT
            fr = frame0 + FRAME_STEP * t
            if ucy:
                rows.append((fr, pid, f"{float(fr)}\t{float(pid)}\t{x:.10g}\t{y:.10g}"))
            else:
                rows.append((fr, pid, f"{fr}\t{pid}.0\t{x:.2f}\t{y:.2f}"))
    rows.sort()
    return [r[2] for r in rows]


def make_fake_eth_ucy(dir: str | Path, seed: int = 0, n_steps: int = 60, n_peds: int = 25) -> dict[str, Path]:
    """Write tiny files in the upstream format and folder layout (``all_data/``, ``train/``, ``val/``).

    Every one of the 8 source files gets random walkers (ETH-style integer frames for ``biwi_*``,
    UCY-style floats otherwise, tab-separated, LF endings, sorted by frame) with a 3-step gap in
    its frames; its ``_train`` / ``_val`` files are the first 80 % / last 20 % of the frames, as
    upstream.

    Parameters
    ----------
    dir : str or pathlib.Path
        Output folder (created if needed).
    seed : int
        Seed of the walkers.
    n_steps, n_peds : int
        Annotation steps and pedestrians per source file.

    Returns
    -------
    dict
        ``{"all_data/biwi_eth.txt": path, "train/biwi_eth_train.txt": path, ...}`` (24 files).
    """
    d = Path(dir)
    rng = np.random.default_rng(seed)
    out: dict[str, Path] = {}
    for base in FILE_BASES:
        ucy = not base.startswith("biwi")
        frame0 = 780 if base == "biwi_eth" else (10 if base == "crowds_zara02" else 0)
        rows = _fake_rows(rng, n_steps, n_peds, frame0, ucy)
        cut = frame0 + FRAME_STEP * int(0.8 * n_steps)
        frames = [float(r.split("\t", 1)[0]) for r in rows]
        groups = {
            "all_data": rows,
            "train": [r for r, f in zip(rows, frames, strict=True) if f < cut],
            "val": [r for r, f in zip(rows, frames, strict=True) if f >= cut],
        }
        for folder, suffix in FOLDERS.items():
            key = f"{folder}/{base}{suffix}.txt"
            p = d / key
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("\n".join(groups[folder]) + "\n")
            out[key] = p
    return out


# ------------------------------------------------------------------------------------------
# Dataset record
# ------------------------------------------------------------------------------------------

#: sha256 of every upstream file (shared/data/MANIFEST.md appendix; all pinned). The ``# pin:``
#: markers let ``decathlon pin-hashes`` fill a ``None`` if a file is ever added unpinned.
SHA256: dict[str, str | None] = {
    "all_data/biwi_eth.txt": "cf8d3fd342a15f409ebc2a1fc76b91a0f06390bd21f1e11410f3859331ab082b",  # pin: all_data/biwi_eth.txt
    "all_data/biwi_hotel.txt": "9caa771bb9153d6b809dd0916b6f86761b641e6bbb15e766c1de3133fbbb7fcf",  # pin: all_data/biwi_hotel.txt
    "all_data/crowds_zara01.txt": "1147a1962a09abfb86f28c6cddcac862e095a0cf129b3016385b69eacdd09d85",  # pin: all_data/crowds_zara01.txt
    "all_data/crowds_zara02.txt": "8a649d0f8c9ae75c87c4d23a85f892786b0aa30266e996c7be03e69dafff22ff",  # pin: all_data/crowds_zara02.txt
    "all_data/crowds_zara03.txt": "16b3e899932c4baacd07f45013d5b921f90bc5a29eb2b0fe42f4d7c904ac3108",  # pin: all_data/crowds_zara03.txt
    "all_data/students001.txt": "a6d87f278d94136fe39b8be91555487a29ac77259ae403b9dba2d5c18caf7b5b",  # pin: all_data/students001.txt
    "all_data/students003.txt": "e25798b660634330aa89f8bb259425de720e84d0873902726c1d1f4ccff21d6c",  # pin: all_data/students003.txt
    "all_data/uni_examples.txt": "61f432c0ab3070ed0ef150fbeabcd7baf839cab5495a46e6105bd747f0a092a7",  # pin: all_data/uni_examples.txt
    "train/biwi_eth_train.txt": "7905d1337f8466c3ebcd80e8264158209370e939774a371d215491256128407e",  # pin: train/biwi_eth_train.txt
    "train/biwi_hotel_train.txt": "f3f485043273e3d972efd73770df0021ec7d3d5135f60d2e2ca5809f68d6f104",  # pin: train/biwi_hotel_train.txt
    "train/crowds_zara01_train.txt": "5b2ff1a334f4b3e8595e0ee898874b1795561db7bde97e90cbc4a1382c8c3d56",  # pin: train/crowds_zara01_train.txt
    "train/crowds_zara02_train.txt": "9fd606341135d7d211c3af259c9eb2c25e4c7035efc43d3007ceeef6f954b247",  # pin: train/crowds_zara02_train.txt
    "train/crowds_zara03_train.txt": "d38a0a6cd1e24adadbb3b15cac97b747e5c6ace2c59d457d805f38a4d91d5a03",  # pin: train/crowds_zara03_train.txt
    "train/students001_train.txt": "f41a0a63301e1c15104205c4a1540db477ddc3330ee2801a976d7b9fc238a63e",  # pin: train/students001_train.txt
    "train/students003_train.txt": "85fe6324e9a0b94acb21617eb0331f543fe5ebf0caee1e253794bca554f35daf",  # pin: train/students003_train.txt
    "train/uni_examples_train.txt": "06866bea5c2f589094473371e9fb6b653c7af95e5f748434bc1024544c5e1c7a",  # pin: train/uni_examples_train.txt
    "val/biwi_eth_val.txt": "ed19f8ee52e024788658d70060c1452b991aa506b78ea649c74f79e075ad20b9",  # pin: val/biwi_eth_val.txt
    "val/biwi_hotel_val.txt": "5c6026c5c6feb81295187e2e063d86197344428811ac2ae98a45bdfb5dfa79ed",  # pin: val/biwi_hotel_val.txt
    "val/crowds_zara01_val.txt": "d5212e4e3289aa44365e5ce34a476ef2a4208c89bd6a29204ece097c7f33c157",  # pin: val/crowds_zara01_val.txt
    "val/crowds_zara02_val.txt": "361949e5655814680e1185bdd23344932f7b6ccc0d7120c34b523495d0fc69f8",  # pin: val/crowds_zara02_val.txt
    "val/crowds_zara03_val.txt": "60d464e21fd3851fab146ec3b35d0db4155b3c057f4b46050336eac59314f0f5",  # pin: val/crowds_zara03_val.txt
    "val/students001_val.txt": "dc8f3147820e80642903041b017292eb03ea5df81ffd2974b47a725d8ffeb394",  # pin: val/students001_val.txt
    "val/students003_val.txt": "b7aa6dcedba0e9036272dc363e2a25e6bb80d7485d75dcb3fff918ce01b10e24",  # pin: val/students003_val.txt
    "val/uni_examples_val.txt": "436dfa865ffab37957e928e227a1b6cc836ab0e6b7652abbf5d06cdf5638dee4",  # pin: val/uni_examples_val.txt
}


ETH_UCY = register_dataset(
    DatasetSpec(
        name="eth-ucy",
        version=VERSION,
        domain="pedestrians",
        family="trajectories",
        build=file_builder(open_eth_ucy),
        fake=make_fake_eth_ucy,
        parts=("all",),
        tiers={"full": {}},
        files=tuple(FileSpec(name, BASE_URL + name, sha) for name, sha in SHA256.items()),
        params={"frame_step": FRAME_STEP, "dt": DT, "commit": COMMIT},
        license=LICENSE,
        citation=CITATION,
        card="eth-ucy.md",
        source=SOURCE,
    )
)


# --------------------------------------------------------------------------------------------
# Task records: pedestrians/eth-ucy, leave-one-scene-out (PROTOCOLS §7; MANIFEST §2)
# --------------------------------------------------------------------------------------------
OBS_LEN, PRED_LEN, BEST_OF = 8, 12, 20


def eth_ucy_windows(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """Social-GAN windows of the split's files (20 consecutive annotated frames, pedestrians
    present in all of them, at least 2 per window), as decathlon :class:`Windows`.

    ``x`` (window, 8, pedestrian, 2) and ``y`` (window, 12, pedestrian, 2) in metres; the
    pedestrian axis is padded to the busiest window, padded slots are masked out (and zero).
    """
    w = sgan_windows(ds["pos"].values, ds["mask"].values, OBS_LEN, PRED_LEN,
                     ped_id=ds["ped_id"].values, files=ds["file"].values)
    pm = w["ped_mask"]  # (W, P)
    obs = np.where(pm[:, :, None, None], w["obs"], 0.0).transpose(0, 2, 1, 3)
    pred = np.where(pm[:, :, None, None], w["pred"], 0.0).transpose(0, 2, 1, 3)
    n = len(pm)
    return Windows(
        ids=np.arange(n, dtype=np.int64), x=np.ascontiguousarray(obs, dtype=np.float32),
        y=np.ascontiguousarray(pred, dtype=np.float32), sample=w["sample"], start=w["start"],
        features=["pos_x", "pos_y"], target_features=["pos_x", "pos_y"],
        mask_x=np.repeat(pm[:, None], OBS_LEN, axis=1), mask_y=np.repeat(pm[:, None], PRED_LEN, axis=1),
    )


def _eth_task(scene: str) -> TaskSpec:
    sp = scene_split(scene)
    return TaskSpec(
        name=f"pedestrians/eth-ucy-{scene}",
        version="1",
        event="pedestrians/eth-ucy",
        kind="forecast",
        dataset="eth-ucy",
        splits={k: Split("all", coord="file", labels=tuple(v)) for k, v in sp.items()},
        inputs=("pos",),
        targets=("pos",),
        context=OBS_LEN,
        horizon=PRED_LEN,
        normalize=None,
        error="l2",
        metrics=("ade", "fde", "l2@1", "l2@6"),
        primary="ade",
        best_of=BEST_OF,
        trivial="static",
        window_fn=eth_ucy_windows,
        reversible=False,
        description=(
            f"ETH/UCY leave-one-scene-out, held-out scene {scene!r}: observe 8 steps (3.2 s), predict 12 "
            "(4.8 s) for every pedestrian present in all 20 frames (Social-GAN windows). ADE/FDE in metres; "
            f"a model may return up to {BEST_OF} samples per window (best-of-{BEST_OF}, minimum per pedestrian)."
        ),
    )


ETH_UCY_TASKS = [register_task(_eth_task(s)) for s in SCENES]
