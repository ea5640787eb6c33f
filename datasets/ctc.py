"""Cell Tracking Challenge: Fluo-N2DL-HeLa trajectories and lineages (``docs/protocols.md`` §6).

Source: the CTC training archive ``Fluo-N2DL-HeLa.zip`` (Maška et al. 2014, 2023; Ulman et al.
2017), which unpacks to ``Fluo-N2DL-HeLa/{01,02}/tNNN.tif`` (raw frames, not read here),
``{01,02}_GT/TRA/`` (tracking ground truth: ``man_track.txt`` + ``man_trackNNN.tif``),
``{01,02}_GT/SEG/`` and ``{01,02}_ST/SEG/`` (segmentations, not read here). Data card:
``datasets/cards/ctc-fluo-n2dl-hela.md``.

The archive is unpacked with ``pooch.Unzip`` next to the download; :func:`open_ctc` reads the
tracking folders (format: :mod:`decathlon.datasets.io.ctc_format`; result folders
``<seq>_RES/`` with ``res_track.txt`` + ``maskNNN.tif`` too) into the trajectories family: one
entity per track, its centroid per frame (``pos``, µm), its presence (``mask``), its area
(``state``, µm²) and the lineage graph (``edges[i, j]``: track ``j``'s parent is track ``i``).
The build then cuts every sequence into three chronological blocks (first 60 % of the frames
for training, next 20 % validation, last 20 % test): :func:`chronological_blocks`.

The task records are in :mod:`decathlon.datasets.ctc_tasks`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import numpy as np

from decathlon.benchmark.data import DatasetSpec, FileSpec, register_dataset
from decathlon.benchmark.lazy import xr
from decathlon.datasets.ctc_fake import ARCHIVE, DATASET, make_fake_ctc
from decathlon.datasets.fetch import fetch, file_sha256
from decathlon.datasets.io.ctc_format import LAYOUTS, CtcTracks, frame_files, read_ctc_tracks

__all__ = [
    "CALIBRATION",
    "open_ctc",
    "unpack",
    "chronological_blocks",
    "BLOCKS",
    "CTC_HELA",
]

log = logging.getLogger("decathlon")

#: CTC dataset -> (pixel size in µm, seconds per frame), from the challenge's dataset page
#: (celltrackingchallenge.net/2d-datasets: Fluo-N2DL-HeLa, 0.645 x 0.645 µm, 30 min). The
#: archive itself carries no calibration (its TIFF resolution tags are 1/1, unit none).
CALIBRATION: dict[str, tuple[float, float]] = {DATASET: (0.645, 1800.0)}

#: Chronological blocks of every sequence: name -> (first, last) fraction of its frames.
BLOCKS: dict[str, tuple[float, float]] = {
    "train": (0.0, 0.6),
    "valid": (0.6, 0.8),
    "test": (0.8, 1.0),
}

VERSION = "1"
URL = f"http://data.celltrackingchallenge.net/training-datasets/{ARCHIVE}"
SOURCE = "http://celltrackingchallenge.net/2d-datasets/ (training dataset Fluo-N2DL-HeLa)"
LICENSE = (
    "Cell Tracking Challenge data: free for research use under the challenge's conditions of use "
    "(celltrackingchallenge.net/datasets); cite the challenge papers. Provided by the Mitocheck "
    "Consortium (HeLa cells stably expressing H2b-GFP)."
)
CITATION = (
    "Maška et al. A benchmark for comparison of cell tracking algorithms. Bioinformatics 30(11), "
    "2014. Ulman et al. An objective comparison of cell-tracking algorithms. Nature Methods 14, "
    "2017. Maška et al. The Cell Tracking Challenge: 10 years of objective benchmarking. Nature "
    "Methods 20, 2023. Neumann et al. Phenotypic profiling of the human genome by time-lapse "
    "microscopy reveals cell division genes. Nature 464, 2010 (Mitocheck, the HeLa recordings)."
)


# ------------------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------------------


def _folders(paths: Mapping[str, str | Path]) -> list[tuple[str, str, dict[str, Path]]]:
    """(folder, layout, {base name: path}) of every tracking folder among ``paths``."""
    by_dir: dict[str, dict[str, Path]] = {}
    for key, p in paths.items():
        k = PurePosixPath(str(key).replace(os.sep, "/"))
        by_dir.setdefault(str(k.parent), {})[k.name] = Path(p)
    out = []
    for folder, files in sorted(by_dir.items()):
        for layout, (table, _) in LAYOUTS.items():
            if table in files:
                out.append((folder, layout, files))
    if not out:
        raise ValueError(
            f"open_ctc found no track table among {len(paths)} paths (e.g. "
            f"{sorted(map(str, paths))[:3]}); expected <seq>_GT/TRA/man_track.txt with "
            "man_trackNNN.tif, or <seq>_RES/res_track.txt with maskNNN.tif"
        )
    return out


def _sequence_name(folder: str, layout: str) -> str:
    """``.../01_GT/TRA`` -> ``01``; ``.../01_RES`` -> ``01_RES``; otherwise the folder itself."""
    parts = PurePosixPath(folder).parts
    if layout == "TRA" and len(parts) >= 2 and parts[-1] == "TRA":
        return parts[-2].removesuffix("_GT") or parts[-2]
    return parts[-1] if parts else folder


def _calibration(paths: Mapping[str, str | Path], dataset: str | None) -> tuple[str, ...]:
    if dataset is None:
        tops = {PurePosixPath(str(k).replace(os.sep, "/")).parts[0] for k in paths}
        dataset = next(iter(tops)) if len(tops) == 1 else ""
    return (dataset,) if dataset in CALIBRATION else ()


def open_ctc(paths: Mapping[str, str | Path], dataset: str | None = None) -> xr.Dataset:
    """Parse CTC tracking folders into a trajectories-family dataset (data contract).

    Parameters
    ----------
    paths : mapping
        Relative path in the archive's layout (``"Fluo-N2DL-HeLa/01_GT/TRA/man_track.txt"``,
        ``".../man_track000.tif"``, ``".../01_RES/res_track.txt"``, ``".../mask000.tif"``) ->
        local path. Only these paths are read; files of other folders (raw frames, SEG) are
        ignored.
    dataset : str, optional
        The CTC dataset name that gives the calibration (:data:`CALIBRATION`); by default the
        first folder of the keys when they share one. Unknown: pixels and frames (``units`` is
        ``"px"``, ``dt`` 1, ``time_units`` ``"frame"``).

    Returns
    -------
    xarray.Dataset
        One ``sample`` per tracking folder (``sequence`` ``"01"`` for ``01_GT/TRA``, ``"01_RES"``
        for ``01_RES``), padded to the longest sequence and the most tracks: ``pos(sample, time,
        entity, space)`` float32 centroids (x = column, y = row of the pixel centres, times the
        pixel size; NaN where absent), ``mask(sample, time, entity)``, ``state(sample, time,
        entity, feature=["area", "age"])`` (area in µm², or pixels; age = time since the track
        began, s or frames), ``edges(sample, entity, entity_)`` bool
        lineage (``edges[s, i, j]``: the parent of track ``j`` is track ``i``). Per track:
        ``label``, ``begin``, ``end``, ``parent`` (labels; 0 where padded or none) and
        ``n_daughters``; per sample: ``sequence``, ``layout`` (``TRA``/``RES``), ``n_steps``.

    Raises
    ------
    ValueError
        No track table among the paths, or a malformed folder (see
        :func:`decathlon.datasets.io.ctc_format.read_ctc_tracks`).

    Examples
    --------
    >>> import tempfile
    >>> from decathlon.datasets.ctc_fake import write_fake_tree
    >>> ds = open_ctc(write_fake_tree(tempfile.mkdtemp(), seed=0, n_frames=12))
    >>> ds.sequence.values.tolist(), ds.attrs["units"], ds.pos.dims
    (['01', '02'], 'um', ('sample', 'time', 'entity', 'space'))
    """
    calib = _calibration(paths, dataset)
    seqs, names = [], []
    for folder, layout, files in _folders(paths):
        table_name, prefix = LAYOUTS[layout]
        seqs.append(read_ctc_tracks(files[table_name], frame_files(files, prefix), layout))
        names.append(_sequence_name(folder, layout))
    return _to_dataset(seqs, names, calib[0] if calib else None)


def _lineage(table: np.ndarray, n_e: int) -> tuple[np.ndarray, np.ndarray]:
    """(entity, entity) parent -> daughter matrix and the daughters per track."""
    pos = {int(lab): i for i, lab in enumerate(table[:, 0])}
    edges = np.zeros((n_e, n_e), dtype=bool)
    for j, par in enumerate(table[:, 3]):
        if par > 0:
            edges[pos[int(par)], j] = True
    return edges, edges.sum(1).astype(np.int32)


def _to_dataset(seqs: list[CtcTracks], names: list[str], dataset: str | None) -> xr.Dataset:
    """Stack the sequences as samples (padded) and attach units and provenance."""
    um, dt = CALIBRATION[dataset] if dataset else (1.0, 1.0)
    n_s, n_t = len(seqs), max(len(s.present) for s in seqs)
    n_e = max(len(s.table) for s in seqs)
    pos = np.full((n_s, n_t, n_e, 2), np.nan, dtype=np.float32)
    state = np.full((n_s, n_t, n_e, 2), np.nan, dtype=np.float32)  # area, age
    mask = np.zeros((n_s, n_t, n_e), dtype=bool)
    edges = np.zeros((n_s, n_e, n_e), dtype=bool)
    track = np.zeros((5, n_s, n_e), dtype=np.int32)  # label, begin, end, parent, n_daughters
    for i, s in enumerate(seqs):
        t, e = s.present.shape
        pos[i, :t, :e] = s.centroid * um
        state[i, :t, :e, 0] = np.where(s.present, s.area * um * um, np.nan)
        age = (np.arange(t)[:, None] - s.table[:, 1][None, :]) * dt
        state[i, :t, :e, 1] = np.where(s.present, age, np.nan)
        mask[i, :t, :e] = s.present
        edges[i, :e, :e], track[4, i, :e] = _lineage(s.table, e)
        track[:4, i, :e] = s.table.T
    ent = ("sample", "entity")
    known = dataset is not None
    return xr.Dataset(
        {
            "pos": (("sample", "time", "entity", "space"), pos),
            "mask": (("sample", "time", "entity"), mask),
            "state": (("sample", "time", "entity", "feature"), state),
            "edges": (("sample", "entity", "entity_"), edges),
        },
        coords={
            "time": np.arange(n_t) * dt,
            "entity": np.arange(n_e),
            "space": ["x", "y"],
            "feature": ["area", "age"],
            "sequence": ("sample", names),
            "layout": ("sample", [s.layout for s in seqs]),
            "n_steps": ("sample", np.array([len(s.present) for s in seqs], dtype=np.int64)),
            **{k: (ent, track[j]) for j, k in enumerate(_TRACK_COORDS)},
        },
        attrs={
            "family": "trajectories",
            "name": f"ctc-{dataset or 'unknown'}".lower(),
            "units": "um" if known else "px",
            "dt": float(dt),
            "time_units": "s" if known else "frame",
            "pixel_size_um": float(um) if known else "unknown",
            "source": SOURCE,
            "license": LICENSE,
            "citation": CITATION,
            "dataset_version": VERSION,
            "note": _NOTE if known else _NOTE + "; calibration unknown: pixels and frames",
        },
    )


_TRACK_COORDS = ("label", "begin", "end", "parent", "n_daughters")
_NOTE = (
    "entity = one CTC track (label); pos = label centroid (x = column, y = row, pixel centres "
    "at integer indices) times the pixel size; mask = label present in the frame; state area in "
    "um^2 and age (time since the track began, s; a lower bound for tracks from frame 0); "
    "edges[i, j] = track i is the parent of track j (2+ daughters: a division, 1: a track "
    "continued after a gap); begin/end are frames of the whole sequence"
)


# ------------------------------------------------------------------------------------------
# Blocks and the build
# ------------------------------------------------------------------------------------------


def chronological_blocks(ds: xr.Dataset) -> xr.Dataset:
    """Cut every sequence into the chronological :data:`BLOCKS` (one sample per block).

    Block ``b`` of a sequence of ``n`` frames holds frames ``round(lo n)`` to ``round(hi n)``
    (exclusive); samples are ordered sequence by sequence, then train, valid, test, with
    ``segment`` (``"01/train"``), ``block``, ``frame0`` (the block's first frame in the
    sequence) and ``n_steps``. Tracks keep their entity slots, labels, lineage and
    sequence-wide ``begin``/``end``; time restarts at 0 in every block.

    Examples
    --------
    >>> import tempfile
    >>> from decathlon.datasets.ctc_fake import write_fake_tree
    >>> ds = chronological_blocks(open_ctc(write_fake_tree(tempfile.mkdtemp(), 0, n_frames=20)))
    >>> ds.segment.values.tolist()[:3], ds.n_steps.values.tolist()[:3]
    (['01/train', '01/valid', '01/test'], [12, 4, 4])
    """
    pieces, meta = [], []
    for s in range(ds.sizes["sample"]):
        n = int(ds["n_steps"].values[s])
        for name, (lo, hi) in BLOCKS.items():
            a, b = round(lo * n), round(hi * n)
            piece = ds.isel(sample=[s], time=slice(a, b)).drop_vars(["time", "n_steps"])
            pieces.append(piece)
            meta.append((f"{ds['sequence'].values[s]}/{name}", name, a, b - a))
    n_t = max(m[3] for m in meta)
    pieces = [p.pad(time=(0, n_t - p.sizes["time"])) for p in pieces]
    out = xr.concat(pieces, dim="sample", data_vars="all", coords="different", compat="equals")
    out["mask"] = out["mask"].fillna(False).astype(bool)
    out = out.assign_coords(
        time=np.arange(n_t) * float(ds.attrs["dt"]),
        segment=("sample", [m[0] for m in meta]),
        block=("sample", [m[1] for m in meta]),
        frame0=("sample", np.array([m[2] for m in meta], dtype=np.int64)),
        n_steps=("sample", np.array([m[3] for m in meta], dtype=np.int64)),
    )
    out.attrs = dict(ds.attrs)
    return out


def unpack(archive: str | Path) -> dict[str, Path]:
    """Unpack a CTC archive with ``pooch.Unzip`` next to it; ``{relative path: path}``.

    The files go to ``<archive>.unzip/``, written in a temporary folder and renamed into place,
    with a ``.sha256`` marker of the archive they came from: an archive downloaded again (a new
    hash) is unpacked again, a complete folder is reused.
    """
    import pooch

    archive = Path(archive)
    final = archive.with_name(archive.name + ".unzip")
    marker = final / ".sha256"
    digest = file_sha256(archive)
    if not (marker.is_file() and marker.read_text().strip() == digest):
        tmp = archive.with_name(f".{archive.name}.unzip-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        quiet, level = pooch.get_logger(), pooch.get_logger().level
        quiet.setLevel(logging.WARNING)  # pooch announces every unzip on stderr; we log it once
        try:
            pooch.Unzip(extract_dir=str(tmp))(str(archive), "download", None)
            (tmp / ".sha256").write_text(digest + "\n")
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        finally:
            quiet.setLevel(level)
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("unpacked %s into %s", archive, final)
    return {
        p.relative_to(final).as_posix(): p
        for p in sorted(final.rglob("*"))
        if p.is_file() and p.name != ".sha256"
    }


def _build(spec: DatasetSpec, tier: str, progress: bool):
    """Fetch the archive, unpack it, parse the ground truth, cut the blocks: one part ``all``."""
    members = unpack(fetch(spec, progress=progress)[ARCHIVE])
    gt = {k: p for k, p in members.items() if "_GT/TRA/" in k}
    ds = chronological_blocks(open_ctc(gt, dataset=DATASET))
    ds.attrs["dataset_version"] = spec.version
    yield "all", ds


#: The archive has no published checksum: its hash is recorded at first download
#: (trust-on-first-use, ``decathlon pin-hashes ctc-fluo-n2dl-hela``).
SHA256: dict[str, str | None] = {
    ARCHIVE: None,  # pin: Fluo-N2DL-HeLa.zip
}

CTC_HELA = register_dataset(
    DatasetSpec(
        name="ctc-fluo-n2dl-hela",
        version=VERSION,
        domain="cells",
        family="trajectories",
        build=_build,
        fake=make_fake_ctc,
        parts=("all",),
        tiers={"full": {}},
        files=tuple(FileSpec(name, URL, sha) for name, sha in SHA256.items()),
        params={"pixel_size_um": CALIBRATION[DATASET][0], "frame_s": CALIBRATION[DATASET][1]},
        license=LICENSE,
        citation=CITATION,
        card="ctc-fluo-n2dl-hela.md",
        source=SOURCE,
    )
)
