"""CMU Motion Capture Database, subject 35 (walking): dataset, fake files and task record.

Source: http://mocap.cs.cmu.edu (subject 35, ``35.asf`` and ``35_NN.amc``). The trials used are
1-16 and 28-34, the 23 walking trials of dNRI (Graber & Schwing, CVPR 2020) and LoCS (Kofinas et
al., NeurIPS 2021); ``docs/protocols.md`` §2.1 and the data card
``datasets/cards/cmu-mocap-35.md``.

The files are Acclaim ASF (skeleton) and AMC (motion), parsed by
:mod:`decathlon.datasets.io.acclaim` and :mod:`decathlon.datasets.io.amc`; the forward kinematics
of :mod:`decathlon.datasets.io.kinematics` gives the joint positions: metres, y up (the CMU
capture frame), at 120 Hz. Lengths and root translations are in inches times the ASF ``length`` unit
0.45, i.e. metres are ``value * 0.0254 / 0.45`` (the CMU FAQ's "(1/0.45) * 2.54 / 100").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from decathlon.benchmark.data import DatasetSpec, FileSpec, register_dataset
from decathlon.benchmark.lazy import xr
from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.datasets.fetch import file_builder
from decathlon.datasets.io.acclaim import INCH, Skeleton, parse_asf
from decathlon.datasets.io.amc import parse_amc
from decathlon.datasets.io.kinematics import forward_kinematics

__all__ = [
    "open_cmu_mocap",
    "make_fake_cmu_mocap",
    "CMU_MOCAP_35",
    "TRIALS",
    "FPS",
]

log = logging.getLogger("decathlon")

#: Frame rate of the CMU subject-35 trials (Hz; CMU site: "captured at 120 Hz").
FPS = 120.0
#: The dNRI / LoCS selection of subject-35 walking trials (docs/protocols.md §2.1).
TRIALS: tuple[int, ...] = (*range(1, 17), *range(28, 35))


# ------------------------------------------------------------------------------------------
# Dataset
# ------------------------------------------------------------------------------------------

LICENSE = (
    'CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu): "This dataset of motions is '
    'free for all uses"; "free for use in research projects. You may include this data in '
    "commercially-sold products, but you may not resell this data directly, even in converted "
    'form." Acknowledgement requested: "The data used in this project was obtained from '
    'mocap.cs.cmu.edu. The database was created with funding from NSF EIA-0196217."'
)
CITATION = (
    "CMU Graphics Lab Motion Capture Database, http://mocap.cs.cmu.edu (funded by NSF "
    "EIA-0196217), subject 35. Trial selection: Graber & Schwing, Dynamic Neural Relational "
    "Inference, CVPR 2020; Kofinas, Nagaraja & Gavves, Roto-translated Local Coordinate Frames "
    "for Interacting Dynamical Systems, NeurIPS 2021."
)
SOURCE = "http://mocap.cs.cmu.edu/subjects/35/ (35.asf, 35_NN.amc)"
VERSION = "1"


def _split_files(paths: Mapping[str, str | Path]) -> tuple[Path, dict[str, Path]]:
    """The one ``.asf`` path and the ``.amc`` paths by trial name (file stem, e.g. ``35_01``)."""
    asf = [Path(p) for k, p in paths.items() if str(k).lower().endswith(".asf")]
    amc = {Path(k).stem: Path(p) for k, p in paths.items() if str(k).lower().endswith(".amc")}
    if len(asf) != 1:
        raise ValueError(
            f"open_cmu_mocap needs exactly one .asf skeleton file, got {len(asf)} in "
            f"{sorted(map(str, paths))}"
        )
    if not amc:
        raise ValueError(
            "open_cmu_mocap needs at least one .amc motion file, got none in "
            f"{sorted(map(str, paths))}"
        )
    return asf[0], amc


def _checked_fk(skel: Skeleton, amc: Path, asf: Path) -> np.ndarray:
    """Joint positions of one trial, refused if any is beyond float32 (the dataset's dtype).

    The parsers refuse every non-finite value, but finite lengths, units and translations can
    still combine into positions past float32's 3.4e38 (e.g. a tiny ``length`` unit).
    """
    pos = forward_kinematics(skel, parse_amc(amc, skel))
    peak = float(np.max(np.abs(pos))) if pos.size else 0.0
    if not peak <= float(np.finfo(np.float32).max):
        raise ValueError(
            f"{amc.name} (skeleton {asf.name}): joint positions reach {peak:.3g} m, beyond "
            "float32 (3.4e+38); the skeleton's length unit or bone lengths, or the motion's "
            "root translations, are wrong. Download both files again."
        )
    return pos


def _pad_trials(positions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack (frames, joints, 3) trials on a common time axis: float32 NaN-padded, and mask."""
    n_max = max(p.shape[0] for p in positions)
    n_joints = positions[0].shape[1]
    pos = np.full((len(positions), n_max, n_joints, 3), np.nan, dtype=np.float32)
    mask = np.zeros((len(positions), n_max, n_joints), dtype=bool)
    for i, p in enumerate(positions):
        pos[i, : p.shape[0]] = p
        mask[i, : p.shape[0]] = True
    return pos, mask


def _attrs(skel: Skeleton) -> dict:
    """Dataset attributes (data contract, provenance and the conventions used)."""
    return {
        "family": "trajectories",
        "name": "cmu-mocap-35",
        "units": "m",
        "dt": 1.0 / FPS,
        "source": SOURCE,
        "license": LICENSE,
        "citation": CITATION,
        "dataset_version": VERSION,
        "skeleton": skel.source,
        "length_unit_to_m": skel.metres_per_unit,
        "up_axis": "y",
        "fk": "Acclaim: L = L_parent C M C^-1, C and M = R_last...R_first (fixed axes)",
    }


def _to_dataset(skel: Skeleton, trials: list[str], positions: list[np.ndarray]) -> xr.Dataset:
    """One sample per trial: ``pos``, ``mask`` and the skeleton tree as ``edges``."""
    pos, mask = _pad_trials(positions)
    joints = skel.joints
    edges = np.broadcast_to(skel.edges(), (len(trials), len(joints), len(joints))).copy()
    return xr.Dataset(
        {
            "pos": (("sample", "time", "entity", "space"), pos),
            "mask": (("sample", "time", "entity"), mask),
            "edges": (("sample", "entity", "entity_"), edges),
        },
        coords={
            "time": np.arange(pos.shape[1]) / FPS,
            "entity": joints,
            "entity_": joints,
            "space": ["x", "y", "z"],
            "trial": ("sample", trials),
            "n_frames": ("sample", np.array([p.shape[0] for p in positions], dtype=np.int64)),
            "parent": ("entity", [skel.parent.get(j, "") for j in joints]),
        },
        attrs=_attrs(skel),
    )


def open_cmu_mocap(paths: Mapping[str, str | Path]) -> xr.Dataset:
    """Parse one ASF and its AMC trials into a trajectories-family dataset (data contract).

    Parameters
    ----------
    paths : mapping
        File name -> path; exactly one ``*.asf`` and one or more ``*.amc`` (e.g. the output of
        the fetcher). Only these paths are read.

    Returns
    -------
    xarray.Dataset
        ``pos(sample, time, entity, space)`` float32 joint positions in metres (y up), NaN after a
        trial's end; ``mask(sample, time, entity)`` bool (True while the trial lasts);
        ``edges(sample, entity, entity_)`` float32 symmetric 0/1 skeleton tree. One sample per
        trial, sorted by trial name (coordinate ``trial``, e.g. ``"35_01"``, and ``n_frames``);
        ``time`` in seconds at 120 Hz; ``entity`` = the 31 joint names (``root`` first) with a
        ``parent`` coordinate (``""`` for the root); ``space`` = x, y, z.

    Raises
    ------
    ValueError
        No or several ASF files, no AMC file, a malformed file (named with its line; see
        :func:`~decathlon.datasets.io.acclaim.parse_asf` and
        :func:`~decathlon.datasets.io.amc.parse_amc` for the bounds on bones and frames), or
        joint positions beyond float32.

    Examples
    --------
    >>> import tempfile
    >>> ds = open_cmu_mocap(make_fake_cmu_mocap(tempfile.mkdtemp(), seed=0))
    >>> ds.pos.dims, ds.trial.values.tolist()
    (('sample', 'time', 'entity', 'space'), ['35_01', '35_02', '35_03'])
    """
    asf, amc = _split_files(paths)
    skel = parse_asf(asf)
    trials = sorted(amc)
    positions = []
    for t in trials:
        positions.append(_checked_fk(skel, amc[t], asf))
        log.debug("cmu-mocap: %s has %d frames", t, positions[-1].shape[0])
    return _to_dataset(skel, trials, positions)


# ------------------------------------------------------------------------------------------
# Fake data in the upstream format
# ------------------------------------------------------------------------------------------

# A six-joint chain in the layout of the CMU skeleton: root -> lhipjoint -> lfemur -> ltibia, and
# root -> lowerback -> upperback.
_FakeBone = tuple[
    int,  # id
    str,  # name
    tuple[float, float, float],  # direction
    float,  # length
    tuple[float, float, float],  # axis
    tuple[str, ...],  # dof
    tuple[tuple[float, float], ...],  # limits, one (lo, hi) per dof
]
_FAKE_BONES: list[_FakeBone] = [
    (1, "lhipjoint", (0.673618, -0.716094, 0.182886), 2.63917, (0, 0, 0), (), ()),
    (
        2,
        "lfemur",
        (0.34202, -0.939693, 0),
        7.41015,
        (0, 0, 20),
        ("rx", "ry", "rz"),
        ((-160.0, 20.0), (-70.0, 70.0), (-60.0, 70.0)),
    ),
    (
        3,
        "ltibia",
        (0.0786834, -0.216181, 0.973178),
        7.92551,
        (-90, 7.62852e-16, 20),
        ("rx",),
        ((-10.0, 170.0),),
    ),
    (
        4,
        "lowerback",
        (0.0116, 0.999881, -0.0104),
        2.07,
        (0, 0, 0),
        ("rx", "ry", "rz"),
        ((-20.0, 45.0), (-30.0, 30.0), (-30.0, 30.0)),
    ),
    (
        5,
        "upperback",
        (1.53562e-11, 1, -4.21928e-11),
        2.09,
        (0, 0, 0),
        ("rx", "rz"),
        ((-20.0, 45.0), (-30.0, 30.0)),
    ),
]
_FAKE_HIERARCHY = [
    ("root", ("lhipjoint", "lowerback")),
    ("lhipjoint", ("lfemur",)),
    ("lfemur", ("ltibia",)),
    ("lowerback", ("upperback",)),
]
_FAKE_ASF_HEADER = [
    "# AST/ASF file generated using VICON BodyLanguage",
    "# -----------------------------------------------",
    ":version 1.10",
    ":name VICON",
    ":units",
    "  mass 1.0",
    "  length 0.45",
    "  angle deg",
    ":documentation",
    "   .ast/.asf automatically generated from VICON data using",
    "   VICON BodyBuilder and BodyLanguage model FoxedUp or BRILLIANT.MOD",
    ":root",
    "   order TX TY TZ RX RY RZ",
    "   axis XYZ",
    "   position 0 0 0  ",
    "   orientation 0 0 0 ",
    ":bonedata",
]
_FAKE_AMC_HEADER = [
    "#!OML:ASF F:\\VICON\\USERDATA\\INSTALL\\rory3\\rory3.ASF",
    ":FULLY-SPECIFIED",
    ":DEGREES",
]


def _win_float(x: float) -> str:
    """A float written the way the Windows VICON tools do: ``%g`` with 3-digit exponents."""
    s = f"{x:g}"
    return re.sub(r"e([+-])(\d\d)$", r"e\g<1>0\2", s)


def _fake_asf_lines() -> list[str]:
    """The fake skeleton's lines: header, one block per bone (limits continued), hierarchy."""
    lines = list(_FAKE_ASF_HEADER)
    for bid, name, direc, length, axis, dof, limits in _FAKE_BONES:
        lines += [
            "  begin",
            f"     id {bid} ",
            f"     name {name}",
            "     direction " + " ".join(_win_float(v) for v in direc) + " ",
            f"     length {_win_float(length)}  ",
            "     axis " + " ".join(_win_float(v) for v in axis) + "  XYZ",
        ]
        if dof:
            lines.append("    dof " + " ".join(dof))
            lim = [f"({lo:.1f} {hi:.1f})" for lo, hi in limits]
            lines.append("    limits " + lim[0])
            lines += ["           " + x for x in lim[1:]]
        lines.append("  end")
    lines += [":hierarchy", "  begin"]
    lines += [f"    {p} {' '.join(cs)}" for p, cs in _FAKE_HIERARCHY]
    lines += ["  end", ""]
    return lines


def _fake_amc_lines(rng: np.random.Generator, n: int) -> list[str]:
    """One fake trial of ``n`` frames: a root walking along x, random angles for every dof."""
    dof_bones = [b for b in _FAKE_BONES if b[5]]
    amc = list(_FAKE_AMC_HEADER)
    phase = rng.uniform(0, 2 * np.pi)
    for f in range(1, n + 1):
        amc.append(str(f))
        t = f / FPS
        root = [
            4.4 + 30 * t,
            17.9 + 0.1 * np.sin(phase + 40 * t),
            -21.1 + 2 * t,
            -0.94 + rng.normal(0, 0.5),
            -8.4 + rng.normal(0, 0.5),
            -7.4 + rng.normal(0, 0.5),
        ]
        amc.append("root " + " ".join(_win_float(v) for v in root))
        for _, name, _direc, _length, _axis, dof, _limits in dof_bones:
            vals = rng.normal(0, 20, len(dof))
            if f == 1:
                vals[0] = -3.22404e-15  # the CMU files' tiny 3-digit-exponent values
            amc.append(name + " " + " ".join(_win_float(v) for v in vals))
    return amc


def make_fake_cmu_mocap(
    dir: str | Path,
    seed: int = 0,
    n_trials: int = 3,
    trials: Sequence[int] | None = None,
    n_frames: int | None = None,
) -> dict[str, Path]:
    """Write a tiny skeleton and ``n_trials`` motions in the upstream Acclaim format.

    The files mimic the CMU ones byte for byte in layout: CRLF line endings, a
    ``# AST/ASF ...`` comment header, ``length 0.45`` units, ``e-016``-style exponents, limits on
    continuation lines, and AMC headers naming an unrelated ASF path.

    Parameters
    ----------
    dir : str or pathlib.Path
        Output folder (created if needed).
    seed : int
        Seed of the motion angles; trial ``k`` has ``10 + 2k`` frames (12, 14, 16 ...).
    n_trials : int
        Number of AMC files (named ``35_01.amc`` ...).
    trials : sequence of int, optional
        Trial numbers to write instead of ``1 .. n_trials`` (e.g. the task's 23 trials).
    n_frames : int, optional
        Frames per trial instead of ``10 + 2k``.

    Returns
    -------
    dict
        ``{"35.asf": path, "35_01.amc": path, ...}``.
    """
    d = Path(dir)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {"35.asf": d / "35.asf"}
    out["35.asf"].write_bytes("\r\n".join(_fake_asf_lines()).encode())
    for k in trials if trials is not None else range(1, n_trials + 1):
        n = n_frames if n_frames is not None else 10 + 2 * k
        p = d / f"35_{k:02d}.amc"
        p.write_bytes(("\r\n".join(_fake_amc_lines(rng, n)) + "\r\n").encode())
        out[p.name] = p
    return out


# ------------------------------------------------------------------------------------------
# Dataset record
# ------------------------------------------------------------------------------------------

BASE_URL = "http://mocap.cs.cmu.edu/subjects/35/"

#: sha256 of each upstream file; ``None`` = not pinned yet (the fetcher records the hash at first
#: download). ``decathlon pin-hashes cmu-mocap-35`` rewrites a ``None`` on a line marked
#: ``# pin: <file>`` with the recorded hash (decathlon.datasets.pinning). 35.asf and 35_01.amc are
#: pinned (provenance in the data card datasets/cards/cmu-mocap-35.md; byte-identical to the
#: CMU originals).
SHA256: dict[str, str | None] = {
    "35.asf": "2a8e2eda3c0d7d828566b2a9a8ab36b2b8b3864110574e8b73c8f069fded416c",
    "35_01.amc": "0743f4ea48e7e199cd56b2810b5ce81f8ede08d32ff79aa4e363c44cc4fe33aa",
    "35_02.amc": None,  # pin: 35_02.amc
    "35_03.amc": None,  # pin: 35_03.amc
    "35_04.amc": None,  # pin: 35_04.amc
    "35_05.amc": None,  # pin: 35_05.amc
    "35_06.amc": None,  # pin: 35_06.amc
    "35_07.amc": None,  # pin: 35_07.amc
    "35_08.amc": None,  # pin: 35_08.amc
    "35_09.amc": None,  # pin: 35_09.amc
    "35_10.amc": None,  # pin: 35_10.amc
    "35_11.amc": None,  # pin: 35_11.amc
    "35_12.amc": None,  # pin: 35_12.amc
    "35_13.amc": None,  # pin: 35_13.amc
    "35_14.amc": None,  # pin: 35_14.amc
    "35_15.amc": None,  # pin: 35_15.amc
    "35_16.amc": None,  # pin: 35_16.amc
    "35_28.amc": None,  # pin: 35_28.amc
    "35_29.amc": None,  # pin: 35_29.amc
    "35_30.amc": None,  # pin: 35_30.amc
    "35_31.amc": None,  # pin: 35_31.amc
    "35_32.amc": None,  # pin: 35_32.amc
    "35_33.amc": None,  # pin: 35_33.amc
    "35_34.amc": None,  # pin: 35_34.amc
}


CMU_MOCAP_35 = register_dataset(
    DatasetSpec(
        name="cmu-mocap-35",
        version=VERSION,
        domain="mocap",
        family="trajectories",
        build=file_builder(open_cmu_mocap),
        fake=lambda d, seed: make_fake_cmu_mocap(d, seed, trials=TRIALS, n_frames=210),
        parts=("all",),
        tiers={"full": {}},
        files=tuple(FileSpec(name, BASE_URL + name, sha) for name, sha in SHA256.items()),
        params={"trials": list(TRIALS), "fps": FPS, "length_unit_to_m": INCH / 0.45},
        license=LICENSE,
        citation=CITATION,
        card="cmu-mocap-35.md",
        source=SOURCE,
    )
)


# --------------------------------------------------------------------------------------------
# Task record: mocap/cmu-walking (dNRI / LoCS protocol, docs/protocols.md §2.1, §2.3)
# --------------------------------------------------------------------------------------------
#: Trials sorted by name: first 12 train, next 4 validation, last 7 test (dNRI
#: ``cmu_motion_data.py``: ``--num_train_trials 12 --num_val_trials 4``).
CMU_TRIALS = [f"35_{k:02d}" for k in sorted(TRIALS)]

CMU_WALKING = register_task(
    TaskSpec(
        name="mocap/cmu-walking-forecast",
        version="1",
        event="mocap/cmu-walking",
        kind="forecast",
        dataset="cmu-mocap-35",
        splits={
            "train": Split("all", coord="trial", labels=tuple(CMU_TRIALS[:12])),
            "valid": Split("all", coord="trial", labels=tuple(CMU_TRIALS[12:16])),
            "test": Split("all", coord="trial", labels=tuple(CMU_TRIALS[16:])),
        },
        inputs=("pos",),
        targets=("pos",),
        context=50,
        horizon=48,
        offset=0,
        stride=100,  # non-overlapping 100-frame test windows: burn-in 50, predict 48
        train_length=50,  # non-overlapping 50-frame train/valid windows
        normalize=None,
        error="l2",
        metrics=("ade", "l2@1", "l2@20", "l2@40"),
        primary="ade",
        trivial="static",
        # noise floor (no published value gathered): white noise per coordinate <= 0.96 mm from
        # the second differences of trial 35_01, so E|noise| <= 1.5 mm (docs/probes.md §4)
        target=0.0015,
        target_source="noise floor: 1.5 mm, the mean 3-D norm of the recording's jitter",
        reversible=False,
        description=(
            "CMU subject 35 walking, 31 joints in metres at 120 Hz. See 50 frames, predict the "
            "next 48; Euclidean joint-position error (mean over joints) per step, reported at "
            "steps 1, 20, 40 "
            "(dNRI/LoCS protocol; their numbers are in raw ASF units = 0.0564 m)."
        ),
    )
)
