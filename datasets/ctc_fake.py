"""A tiny Cell Tracking Challenge training archive in the upstream layout, for offline tests.

``make_fake_ctc(dir, seed)`` writes ``Fluo-N2DL-HeLa.zip`` holding what the real archive holds
(``docs/protocols.md`` §6, data card ``ctc-fluo-n2dl-hela.md``)::

    Fluo-N2DL-HeLa/01/t000.tif ...            raw frames (uint16, noise + bright nuclei)
    Fluo-N2DL-HeLa/01_GT/TRA/man_track.txt    L B E P, one line per track, space-separated
    Fluo-N2DL-HeLa/01_GT/TRA/man_track000.tif label masks (uint16, LZW-compressed)
    Fluo-N2DL-HeLa/01_GT/SEG/man_seg000.tif   segmentations of a few frames
    Fluo-N2DL-HeLa/01_ST/SEG/man_seg000.tif   silver-truth segmentations
    ... and the same for sequence 02

Nuclei are discs moving as persistent random walks, dividing into two daughters that start
next to the mother in the frame after her last one (lineage ``P`` = the mother), and a
newcomer entering mid-sequence. ``man_track.txt``'s ``B``/``E`` are the frames each label was
drawn in, as in real ground truth.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

__all__ = ["ARCHIVE", "DATASET", "make_fake_ctc", "write_fake_tree"]

DATASET = "Fluo-N2DL-HeLa"
ARCHIVE = f"{DATASET}.zip"
_SHAPE = (64, 96)  # rows, columns (the real frames are 700 x 1100)
_RADIUS = 3


def _walks(rng: np.random.Generator, n_frames: int) -> list[tuple[int, int, int, np.ndarray]]:
    """Tracks as (label, begin, parent, centres (frames, 2) as (row, col)) with divisions."""
    tracks: list[tuple[int, int, int, np.ndarray]] = []
    todo = [(int(b), 0, rng.uniform([8, 8], [_SHAPE[0] - 8, _SHAPE[1] - 8])) for b in (0,) * 5]
    todo.append((n_frames // 3, 0, rng.uniform([8, 8], [_SHAPE[0] - 8, _SHAPE[1] - 8])))
    while todo:
        begin, parent, start = todo.pop(0)
        label = len(tracks) + 1
        divides = len(tracks) < 40 and rng.random() < 0.9
        life = (
            int(rng.integers(max(2, n_frames // 6), max(3, n_frames // 2))) if divides else n_frames
        )
        end = min(n_frames - 1, begin + life - 1)
        steps = end - begin + 1
        vel = rng.normal(0, 1.5, 2)
        walk = np.cumsum(np.vstack([np.zeros(2), vel + rng.normal(0, 0.8, (steps - 1, 2))]), 0)
        cen = np.clip(start + walk, [4, 4], [_SHAPE[0] - 5, _SHAPE[1] - 5])
        tracks.append((label, begin, parent, cen))
        if divides and end < n_frames - 1:
            off = rng.normal(0, 1, 2)
            off = 3.5 * off / max(float(np.linalg.norm(off)), 1e-9)
            todo += [(end + 1, label, cen[-1] + off), (end + 1, label, cen[-1] - off)]
    return tracks


def _draw(tracks: list, n_frames: int) -> np.ndarray:
    """Label masks (frames, rows, cols): discs, then each centre pixel on top (never hidden)."""
    rr, cc = np.mgrid[: _SHAPE[0], : _SHAPE[1]]
    masks = np.zeros((n_frames, *_SHAPE), dtype=np.uint16)
    for label, begin, _, cen in tracks:
        for k, (r, c) in enumerate(cen):
            disc = (rr - r) ** 2 + (cc - c) ** 2 <= _RADIUS**2
            masks[begin + k][disc] = label
    taken = np.zeros(masks.shape, bool)
    for label, begin, _, cen in tracks:
        for k, (r, c) in enumerate(np.rint(cen).astype(int)):
            t = begin + k
            for dr, dc in _NEAR:  # the nearest pixel no other centre holds
                rr_, cc_ = min(max(r + dr, 0), _SHAPE[0] - 1), min(max(c + dc, 0), _SHAPE[1] - 1)
                if not taken[t, rr_, cc_]:
                    masks[t, rr_, cc_], taken[t, rr_, cc_] = label, True
                    break
    return masks


_NEAR = [(dr, dc) for d in range(4) for dr in range(-d, d + 1) for dc in range(-d, d + 1)]


def write_fake_tree(dir: str | Path, seed: int = 0, n_frames: int = 50) -> dict[str, Path]:
    """Write the unpacked archive's tree under ``dir``; return ``{relative path: path}``.

    Parameters
    ----------
    dir : str or pathlib.Path
        Output folder (created if needed); the tree starts at ``dir/Fluo-N2DL-HeLa``.
    seed : int
        Seed of the cells.
    n_frames : int
        Frames per sequence (the real sequences have 92).
    """
    import tifffile

    d = Path(dir)
    rng = np.random.default_rng(seed)
    out: dict[str, Path] = {}

    def put(rel: str, img: np.ndarray, compression: str | None = None) -> None:
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(p, img, compression=compression)
        out[rel] = p

    for seq in ("01", "02"):
        tracks = _walks(rng, n_frames)
        masks = _draw(tracks, n_frames)
        base = f"{DATASET}/{seq}"
        lines = []
        for label, _, parent, _ in tracks:
            frames = np.flatnonzero((masks == label).any((1, 2)))
            lines.append(f"{label} {frames[0]} {frames[-1]} {parent}")
        for t in range(n_frames):
            noise = rng.normal(100, 5, _SHAPE)
            put(f"{base}/t{t:03d}.tif", (noise + 400 * (masks[t] > 0)).astype(np.uint16))
            put(f"{base}_GT/TRA/man_track{t:03d}.tif", masks[t], compression="lzw")
        for t in (0, n_frames // 2):
            put(f"{base}_GT/SEG/man_seg{t:03d}.tif", masks[t], compression="lzw")
            put(f"{base}_ST/SEG/man_seg{t:03d}.tif", masks[t], compression="lzw")
        table = d / f"{base}_GT/TRA/man_track.txt"
        table.write_text("\n".join(lines) + "\n")
        out[f"{base}_GT/TRA/man_track.txt"] = table
    return out


def make_fake_ctc(dir: str | Path, seed: int = 0, n_frames: int = 50) -> dict[str, Path]:
    """Write a fake ``Fluo-N2DL-HeLa.zip`` in the upstream layout (see the module docstring).

    Returns
    -------
    dict
        ``{"Fluo-N2DL-HeLa.zip": path}``, the dataset's one upstream file.

    Examples
    --------
    >>> import tempfile, zipfile
    >>> z = make_fake_ctc(tempfile.mkdtemp(), seed=0, n_frames=12)["Fluo-N2DL-HeLa.zip"]
    >>> sorted(zipfile.ZipFile(z).namelist())[:2]
    ['Fluo-N2DL-HeLa/01/t000.tif', 'Fluo-N2DL-HeLa/01/t001.tif']
    """
    d = Path(dir)
    tree = write_fake_tree(d / "tree", seed, n_frames)
    archive = d / ARCHIVE
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for rel in sorted(tree):
            info = zipfile.ZipInfo(rel, date_time=(2017, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, tree[rel].read_bytes())
    return {ARCHIVE: archive}
