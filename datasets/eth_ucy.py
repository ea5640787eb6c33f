"""ETH/UCY pedestrian trajectories in the Social-GAN / Trajectron++ text format.

Source: the ``experiments/pedestrians/raw/raw/{all_data,train,val}/`` files of
StanfordASL/Trajectron-plus-plus at commit ``1031c7bd1a444273af378c1ec1dcca907ba59830`` (MIT),
the same bytes as Social-GAN's ``datasets.zip`` (data card ``datasets/cards/eth-ucy.md``,
``docs/protocols.md`` §4).

The files (read by :mod:`decathlon.datasets.io.eth_ucy_text`) have one ``frame_id ped_id x y``
row per (frame, pedestrian), x, y in metres on the ground plane. ``frame_id`` advances by 10 per
annotation step of 0.4 s (2.5 Hz). Frames in which nobody is annotated are absent, so the
annotated frames have gaps (biwi_hotel has 26, the largest 1110 frames = 44.4 s).

The dataset (:func:`open_eth_ucy`) keeps those gaps on a regular time axis: step
``t = (frame_id - first frame of the file) / 10`` at ``t * 0.4`` s (each file is placed on that
axis and given pedestrian slots by :mod:`decathlon.datasets.eth_ucy_tracks`). Social-GAN's windows
(:func:`decathlon.datasets.sgan_windows.sgan_windows`) are instead runs of 20 consecutive
*annotated* frames, which span a gap when there is one; that function reproduces this exactly,
and reports each window's time indices.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from decathlon.benchmark.data import DatasetSpec, FileSpec, register_dataset
from decathlon.benchmark.lazy import xr
from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.benchmark.windows import Windows
from decathlon.datasets.eth_ucy_tracks import FRAME_STEP, FileTracks, file_tracks
from decathlon.datasets.fetch import file_builder
from decathlon.datasets.sgan_windows import sgan_windows

__all__ = [
    "SCENES",
    "FILE_BASES",
    "FOLDERS",
    "open_eth_ucy",
    "scene_split",
    "make_fake_eth_ucy",
    "ETH_UCY",
]

#: Seconds per annotation step (:data:`~decathlon.datasets.eth_ucy_tracks.FRAME_STEP` frame ids).
DT = 0.4

#: Leave-one-scene-out test scenes -> their ``all_data`` files (docs/protocols.md §4.1).
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
    "Alahi. Social GAN. CVPR 2018; Salzmann, Ivanovic, Chakravarty, Pavone. Trajectron++. "
    "ECCV 2020."
)
COMMIT = "1031c7bd1a444273af378c1ec1dcca907ba59830"
BASE_URL = (
    "https://raw.githubusercontent.com/StanfordASL/Trajectron-plus-plus/"
    f"{COMMIT}/experiments/pedestrians/raw/raw/"
)
SOURCE = (
    "https://github.com/StanfordASL/Trajectron-plus-plus/tree/"
    f"{COMMIT}/experiments/pedestrians/raw/raw"
)
VERSION = "1"
_NOTE = (
    "time = (frame_id - frame0)/10 * 0.4 s; steps with no annotation are all-False in "
    "mask; entity is a pedestrian slot (see ped_id); coordinates are raw metres, not "
    "mean-centred"
)


def _ordered_files(paths: Mapping[str, str | Path]) -> list[tuple[str, str, str, Path]]:
    """(stem, folder, base, path) of every file, ordered all_data, train, val, then by name."""
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
    return [it[1:] for it in items]


def _to_dataset(per_file: list[FileTracks]) -> xr.Dataset:
    """Stack the files as samples on a common (time, entity slot) grid."""
    n_t = max(f.n_steps for f in per_file)
    n_e = max(f.n_slots for f in per_file)
    n_s = len(per_file)
    pos = np.full((n_s, n_t, n_e, 2), np.nan, dtype=np.float32)
    mask = np.zeros((n_s, n_t, n_e), dtype=bool)
    ped_id = np.full((n_s, n_t, n_e), -1, dtype=np.int32)
    for i, f in enumerate(per_file):
        pos[i, f.step, f.slot] = f.xy
        mask[i, f.step, f.slot] = True
        ped_id[i, f.step, f.slot] = f.ids
    return xr.Dataset(
        {
            "pos": (("sample", "time", "entity", "space"), pos),
            "mask": (("sample", "time", "entity"), mask),
        },
        coords={
            "time": np.arange(n_t) * DT,
            "entity": np.arange(n_e),
            "space": ["x", "y"],
            "file": ("sample", [f.stem for f in per_file]),
            "folder": ("sample", [f.folder for f in per_file]),
            "scene": ("sample", [_SCENE_OF.get(f.base, f.base) for f in per_file]),
            "frame0": ("sample", np.array([f.frame0 for f in per_file], dtype=np.int64)),
            "n_steps": ("sample", np.array([f.n_steps for f in per_file], dtype=np.int64)),
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
            "note": _NOTE,
        },
    )


def open_eth_ucy(paths: Mapping[str, str | Path]) -> xr.Dataset:
    """Parse Social-GAN-format files into a trajectories-family dataset (data contract).

    Parameters
    ----------
    paths : mapping
        ``"<folder>/<file>.txt"`` (e.g. ``"all_data/biwi_eth.txt"``,
        ``"train/biwi_eth_train.txt"``) -> local path; any subset of the upstream files. Only
        these paths are read.

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
        A malformed file (see :func:`decathlon.datasets.io.eth_ucy_text.read_eth_ucy_file`), a
        frame id not on the file's 10-frame grid, a file spanning more than 9000 steps or needing
        more than 500 slots (:mod:`decathlon.datasets.eth_ucy_tracks`), all checked before
        anything is allocated; or two keys naming the same file.

    Examples
    --------
    >>> import tempfile
    >>> ds = open_eth_ucy(make_fake_eth_ucy(tempfile.mkdtemp(), seed=0))
    >>> ds.pos.dims, ds.file.values[:2].tolist()
    (('sample', 'time', 'entity', 'space'), ['biwi_eth', 'biwi_hotel'])
    """
    return _to_dataset([file_tracks(*item) for item in _ordered_files(paths)])


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


def _fake_rows(
    rng: np.random.Generator, n_steps: int, n_peds: int, frame0: int, ucy: bool
) -> list[str]:
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


def make_fake_eth_ucy(
    dir: str | Path, seed: int = 0, n_steps: int = 60, n_peds: int = 25
) -> dict[str, Path]:
    """Write tiny files in the upstream format and folder layout (``all_data/``, ``train/``,
    ``val/``).

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

#: sha256 of every upstream file (all pinned; provenance in the data card
#: datasets/cards/eth-ucy.md). A file added unpinned gets ``None,  # pin: <file>`` so that
#: ``decathlon pin-hashes`` can fill in the hash recorded at its first download.
SHA256: dict[str, str | None] = {
    "all_data/biwi_eth.txt": "cf8d3fd342a15f409ebc2a1fc76b91a0f06390bd21f1e11410f3859331ab082b",
    "all_data/biwi_hotel.txt": "9caa771bb9153d6b809dd0916b6f86761b641e6bbb15e766c1de3133fbbb7fcf",
    "all_data/crowds_zara01.txt": (
        "1147a1962a09abfb86f28c6cddcac862e095a0cf129b3016385b69eacdd09d85"
    ),
    "all_data/crowds_zara02.txt": (
        "8a649d0f8c9ae75c87c4d23a85f892786b0aa30266e996c7be03e69dafff22ff"
    ),
    "all_data/crowds_zara03.txt": (
        "16b3e899932c4baacd07f45013d5b921f90bc5a29eb2b0fe42f4d7c904ac3108"
    ),
    "all_data/students001.txt": "a6d87f278d94136fe39b8be91555487a29ac77259ae403b9dba2d5c18caf7b5b",
    "all_data/students003.txt": "e25798b660634330aa89f8bb259425de720e84d0873902726c1d1f4ccff21d6c",
    "all_data/uni_examples.txt": "61f432c0ab3070ed0ef150fbeabcd7baf839cab5495a46e6105bd747f0a092a7",
    "train/biwi_eth_train.txt": "7905d1337f8466c3ebcd80e8264158209370e939774a371d215491256128407e",
    "train/biwi_hotel_train.txt": (
        "f3f485043273e3d972efd73770df0021ec7d3d5135f60d2e2ca5809f68d6f104"
    ),
    "train/crowds_zara01_train.txt": (
        "5b2ff1a334f4b3e8595e0ee898874b1795561db7bde97e90cbc4a1382c8c3d56"
    ),
    "train/crowds_zara02_train.txt": (
        "9fd606341135d7d211c3af259c9eb2c25e4c7035efc43d3007ceeef6f954b247"
    ),
    "train/crowds_zara03_train.txt": (
        "d38a0a6cd1e24adadbb3b15cac97b747e5c6ace2c59d457d805f38a4d91d5a03"
    ),
    "train/students001_train.txt": (
        "f41a0a63301e1c15104205c4a1540db477ddc3330ee2801a976d7b9fc238a63e"
    ),
    "train/students003_train.txt": (
        "85fe6324e9a0b94acb21617eb0331f543fe5ebf0caee1e253794bca554f35daf"
    ),
    "train/uni_examples_train.txt": (
        "06866bea5c2f589094473371e9fb6b653c7af95e5f748434bc1024544c5e1c7a"
    ),
    "val/biwi_eth_val.txt": "ed19f8ee52e024788658d70060c1452b991aa506b78ea649c74f79e075ad20b9",
    "val/biwi_hotel_val.txt": "5c6026c5c6feb81295187e2e063d86197344428811ac2ae98a45bdfb5dfa79ed",
    "val/crowds_zara01_val.txt": "d5212e4e3289aa44365e5ce34a476ef2a4208c89bd6a29204ece097c7f33c157",
    "val/crowds_zara02_val.txt": "361949e5655814680e1185bdd23344932f7b6ccc0d7120c34b523495d0fc69f8",
    "val/crowds_zara03_val.txt": "60d464e21fd3851fab146ec3b35d0db4155b3c057f4b46050336eac59314f0f5",
    "val/students001_val.txt": "dc8f3147820e80642903041b017292eb03ea5df81ffd2974b47a725d8ffeb394",
    "val/students003_val.txt": "b7aa6dcedba0e9036272dc363e2a25e6bb80d7485d75dcb3fff918ce01b10e24",
    "val/uni_examples_val.txt": "436dfa865ffab37957e928e227a1b6cc836ab0e6b7652abbf5d06cdf5638dee4",
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
# Task records: pedestrians/eth-ucy, leave-one-scene-out (docs/protocols.md §4; data card
# datasets/cards/eth-ucy.md)
# --------------------------------------------------------------------------------------------
OBS_LEN, PRED_LEN, BEST_OF = 8, 12, 20


def eth_ucy_windows(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """Social-GAN windows of the split's files (20 consecutive annotated frames, pedestrians
    present in all of them, at least 2 per window), as decathlon :class:`Windows`.

    ``x`` (window, 8, pedestrian, 2) and ``y`` (window, 12, pedestrian, 2) in metres; the
    pedestrian axis is padded to the busiest window, padded slots are masked out (and zero).
    """
    w = sgan_windows(
        ds["pos"].values,
        ds["mask"].values,
        OBS_LEN,
        PRED_LEN,
        ped_id=ds["ped_id"].values,
        files=ds["file"].values,
    )
    pm = w["ped_mask"]  # (W, P)
    obs = np.where(pm[:, :, None, None], w["obs"], 0.0).transpose(0, 2, 1, 3)
    pred = np.where(pm[:, :, None, None], w["pred"], 0.0).transpose(0, 2, 1, 3)
    n = len(pm)
    return Windows(
        ids=np.arange(n, dtype=np.int64),
        x=np.ascontiguousarray(obs, dtype=np.float32),
        y=np.ascontiguousarray(pred, dtype=np.float32),
        sample=w["sample"],
        start=w["start"],
        features=["pos_x", "pos_y"],
        target_features=["pos_x", "pos_y"],
        mask_x=np.repeat(pm[:, None], OBS_LEN, axis=1),
        mask_y=np.repeat(pm[:, None], PRED_LEN, axis=1),
    )


#: Decathlon points targets: Trajectron++ best-of-20 ADE (per-agent minimum, our convention)
#: after its future-leak fix [issue: StanfordASL/Trajectron-plus-plus #53], docs/probes.md §4.
T_PLUS_PLUS_FIXED_ADE = {"eth": 0.67, "hotel": 0.18, "univ": 0.30, "zara1": 0.25, "zara2": 0.18}


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
        target=T_PLUS_PLUS_FIXED_ADE[scene],
        target_source="Trajectron++ minADE_20 per agent after the leak fix (Trajectron++ #53)",
        window_fn=eth_ucy_windows,
        bootstrap_unit="block",  # windows start at every frame: 20-frame blocks in time
        reversible=False,
        description=(
            f"ETH/UCY leave-one-scene-out, held-out scene {scene!r}: observe 8 steps (3.2 s), "
            "predict 12 (4.8 s) for every pedestrian present in all 20 frames (Social-GAN "
            f"windows). ADE/FDE in metres; a model may return up to {BEST_OF} samples per window "
            f"(best-of-{BEST_OF}, minimum per pedestrian)."
        ),
    )


ETH_UCY_TASKS = [register_task(_eth_task(s)) for s in SCENES]
