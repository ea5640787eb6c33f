"""Social-GAN's windows (``sgan/data/trajectories.py`` ``TrajectoryDataset``), vectorized.

Per file (sample): the annotated frames are the time steps where any pedestrian is present
(SGAN's ``np.unique(frame_ids)``). A window is a run of ``obs_len + pred_len`` *consecutive
annotated frames* starting at every ``skip``-th one; at a gap in the frame ids the run simply
continues after the gap, as in SGAN, so such a window covers more than 8 s (``time_index``
shows it). A pedestrian enters a window if present in all its frames (SGAN keeps those
present in the first and the last and would fail on a hole in between; the upstream files
have no such holes, so the two rules agree). A window is kept if it has more than
``min_ped`` such pedestrians.

Used by the ETH/UCY tasks (:func:`decathlon.datasets.eth_ucy.eth_ucy_windows`) on the dataset of
:func:`decathlon.datasets.eth_ucy.open_eth_ucy`; the protocol is ``docs/protocols.md`` §4.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["sgan_windows"]


def _check_inputs(
    pos: np.ndarray,
    mask: np.ndarray,
    ped_id: np.ndarray | None,
    obs_len: int,
    pred_len: int,
    min_ped: int,
    skip: int,
    files: Sequence[str] | np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``pos``, ``mask``, ``ped_id`` as arrays with a sample axis, after every argument check."""
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
    return pos, mask, ped_id


def _file_windows(
    pos: np.ndarray,
    mask: np.ndarray,
    ped_id: np.ndarray | None,
    seq: int,
    skip: int,
    min_ped: int,
) -> dict[str, np.ndarray] | None:
    """The kept windows of one file (``pos`` (time, entity, space)), or None if there are none.

    Returns ``n`` (pedestrians per window), ``starts`` and ``tidx`` (time indices), and per
    kept (window, pedestrian) pair: ``w`` window, ``r`` rank within the window, ``e`` entity
    slot, ``traj`` (pairs, seq, space) and ``pid`` (pedestrian id, or None).
    """
    ann = np.flatnonzero(mask.any(axis=1))  # annotated frames of this file
    n_win = len(ann) - seq + 1
    if n_win < 1:
        return None
    m = mask[ann]  # (F, E)
    cs = np.concatenate([np.zeros((1, m.shape[1]), np.int64), np.cumsum(m, axis=0)])
    full = (cs[seq:] - cs[:-seq]) == seq  # (n_win, E): present in all frames
    if ped_id is not None:
        ids = ped_id[ann]
        brk = m[1:] & m[:-1] & (ids[1:] != ids[:-1])  # slot changes person between k-1, k
        cb = np.concatenate([np.zeros((1, m.shape[1]), np.int64), np.cumsum(brk, axis=0)])
        full &= (cb[seq - 1 :] - cb[:n_win]) == 0
    starts = np.arange(0, n_win, skip)
    full = full[starts]
    n = full.sum(axis=1)
    keep = n > min_ped
    if not keep.any():
        return None
    starts, full, n = starts[keep], full[keep], n[keep]
    w_idx, e_idx = np.nonzero(full)
    tidx = ann[starts[:, None] + np.arange(seq)]  # (W, seq) time indices
    traj = pos[tidx[w_idx][:, :, None], e_idx[:, None, None], np.arange(pos.shape[2])]
    pid = ped_id[tidx[w_idx, 0], e_idx] if ped_id is not None else None
    if pid is not None:  # SGAN orders pedestrians by id within a window
        o = np.lexsort((pid, w_idx))
        w_idx, e_idx, traj, pid = w_idx[o], e_idx[o], traj[o], pid[o]
    row0 = np.concatenate([[0], np.cumsum(n)[:-1]])
    rank = np.arange(len(w_idx)) - row0[w_idx]
    return dict(n=n, starts=ann[starts], tidx=tidx, w=w_idx, r=rank, e=e_idx, traj=traj, pid=pid)


def _every_file(
    pos: np.ndarray, mask: np.ndarray, ped_id: np.ndarray | None, seq: int, skip: int, min_ped: int
) -> list[dict[str, np.ndarray]]:
    """:func:`_file_windows` of every sample that has windows, with its index ``s`` added."""
    parts: list[dict[str, np.ndarray]] = []
    for s in range(pos.shape[0]):
        ids = ped_id[s] if ped_id is not None else None
        part = _file_windows(pos[s], mask[s], ids, seq, skip, min_ped)
        if part is not None:
            parts.append({"s": np.asarray(s), **part})
    return parts


def _assemble(
    parts: list[dict[str, np.ndarray]], seq: int, space: int, with_ids: bool
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Pad every file's windows to the busiest window: trajectories (W, P, seq, space), fields."""
    n_w = sum(len(p["n"]) for p in parts)
    p_max = max((int(p["n"].max()) for p in parts), default=0)
    traj_all = np.full((n_w, p_max, seq, space), np.nan, dtype=np.float32)
    out = {
        "ped_mask": np.zeros((n_w, p_max), dtype=bool),
        "entity": np.full((n_w, p_max), -1, dtype=np.int64),
        "n_peds": np.zeros(n_w, dtype=np.int64),
        "sample": np.zeros(n_w, dtype=np.int64),
        "start": np.zeros(n_w, dtype=np.int64),
        "time_index": np.zeros((n_w, seq), dtype=np.int64),
    }
    if with_ids:
        out["ped_id"] = np.full((n_w, p_max), -1, dtype=np.int64)
    o = 0
    for p in parts:
        k = len(p["n"])
        w = p["w"] + o
        traj_all[w, p["r"]] = p["traj"]
        out["ped_mask"][w, p["r"]] = True
        out["entity"][w, p["r"]] = p["e"]
        if with_ids:
            out["ped_id"][w, p["r"]] = p["pid"]
        out["n_peds"][o : o + k] = p["n"]
        out["sample"][o : o + k] = p["s"]
        out["start"][o : o + k] = p["starts"]
        out["time_index"][o : o + k] = p["tidx"]
        o += k
    return traj_all, out


def sgan_windows(
    pos: np.ndarray,
    mask: np.ndarray,
    obs_len: int = 8,
    pred_len: int = 12,
    min_ped: int = 1,
    skip: int = 1,
    ped_id: np.ndarray | None = None,
    files: Sequence[str] | np.ndarray | None = None,
    decimals: int | None = None,
) -> dict[str, np.ndarray]:
    """Social-GAN's windows of one or several files (the rules are in the module docstring).

    Parameters
    ----------
    pos : array_like
        (time, entity, space) for one file, or (sample, time, entity, space).
    mask : array_like
        Presence, (time, entity) or (sample, time, entity).
    obs_len, pred_len, min_ped, skip : int
        Observed and predicted steps (SGAN: 8 and 12); keep windows with strictly more than
        ``min_ped`` pedestrians, starting one every ``skip``-th annotated frame (SGAN: 1 and 1).
    ped_id : array_like, optional
        Pedestrian ids, shape of ``mask`` (e.g. ``ds.ped_id``): a slot whose id changes inside a
        window is not counted, and windows list pedestrians by id as SGAN does (else by slot).
    files : sequence or array of str, optional
        Name of each sample (e.g. ``ds.file.values``); adds a ``file`` entry per window.
    decimals : int, optional
        Round positions like SGAN's ``np.around(..., 4)`` (in float64 on the given values, then
        stored as float32); default: no rounding.

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
    >>> from decathlon.datasets.eth_ucy import make_fake_eth_ucy, open_eth_ucy
    >>> ds = open_eth_ucy(make_fake_eth_ucy(tempfile.mkdtemp(), seed=0))
    >>> w = sgan_windows(ds.pos.values, ds.mask.values, ped_id=ds.ped_id.values)
    >>> w["obs"].shape[2:], int(w["n_peds"].sum()) > 0
    ((8, 2), True)
    """
    pos, mask, ped_id = _check_inputs(pos, mask, ped_id, obs_len, pred_len, min_ped, skip, files)
    seq = obs_len + pred_len
    parts = _every_file(pos, mask, ped_id, seq, skip, min_ped)
    traj_all, out = _assemble(parts, seq, pos.shape[3], ped_id is not None)
    if decimals is not None:
        traj_all = np.around(traj_all.astype(np.float64), decimals).astype(np.float32)
    out["obs"] = traj_all[:, :, :obs_len]
    out["pred"] = traj_all[:, :, obs_len:]
    if files is not None:
        out["file"] = np.asarray(files)[out["sample"]]
    return out
