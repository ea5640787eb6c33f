"""Faults and untrusted input, parsers (issue items 9 and 10).

Every number read from a file that sizes an allocation (frame ids and counts, pedestrian ids and
slots, bone and dof counts) is checked against the bound its format allows before anything is
allocated; non-finite and impossible values (NaN, inf, values beyond float32, negative bone
lengths) are refused by the parser with the file and line, not left to the contract check.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from decathlon.datasets import cmu_mocap as cm
from decathlon.datasets import eth_ucy as eu
from decathlon.datasets import eth_ucy_tracks as tracks
from decathlon.datasets.io import _acclaim_lines, acclaim, amc
from decathlon.datasets.io.eth_ucy_text import read_eth_ucy_file

#: A parser that refuses a file must do so before allocating anything sized by the bad number:
#: the traced peak stays under this (the files are a few hundred bytes).
FAIL_FAST_BYTES = 4 << 20


def _fails_fast(fn, pattern: str) -> None:
    """``fn()`` raises ValueError matching ``pattern`` within a second, peak under 4 MiB."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=pattern):
            fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < FAIL_FAST_BYTES, f"peak {peak / 2**20:.1f} MiB before the error"
    assert time.perf_counter() - t0 < 5.0


# ------------------------------------------------------------------------------------------
# ETH/UCY text
# ------------------------------------------------------------------------------------------


def _eth(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "x.txt"
    p.write_text(text)
    return p


def test_eth_frame_far_from_the_first_fails_fast(tmp_path):
    """One row at frame 100000780 used to allocate a 10M-step time axis."""
    p = _eth(tmp_path, "780\t1\t8.46\t3.59\n790\t1\t9.57\t3.79\n100000780\t2\t1.0\t1.0\n")
    _fails_fast(
        lambda: eu.open_eth_ucy({"all_data/x.txt": p}),
        r"x\.txt line 3: frame_id 100000780 is 100000000 frames after the file's first frame "
        r"780 \(line 1\): 10000001 annotation steps .*at most 9000 steps \(1 hour",
    )


def test_eth_frame_beyond_the_id_range_fails_fast(tmp_path):
    """Frame 99999999990 used to raise an uncaught MemoryError (149 GiB)."""
    p = _eth(tmp_path, "780\t1\t8.46\t3.59\n99999999990\t2\t1.0\t1.0\n")
    _fails_fast(
        lambda: eu.open_eth_ucy({"all_data/x.txt": p}),
        r"x\.txt line 2: frame_id 99999999990 is out of range; expected a video frame index "
        r"0 \.\. 2147483647",
    )


@pytest.mark.parametrize(
    "row, pattern",
    [
        ("790\t1e15\t1.0\t1.0", r"line 2: ped_id 1000000000000000 is out of range; expected .*"),
        (
            "790\t-1\t1.0\t1.0",
            r"line 2: ped_id -1 is out of range; expected a pedestrian number 0 \.\. 2147483647",
        ),
        ("-10\t1\t1.0\t1.0", r"line 2: frame_id -10 is out of range; expected a video frame"),
    ],
)
def test_eth_id_range(tmp_path, row, pattern):
    """A ped_id of 1e15 used to wrap to a negative int32; -1 is the dataset's 'absent' id."""
    p = _eth(tmp_path, f"780\t1\t8.46\t3.59\n{row}\n")
    with pytest.raises(ValueError, match=r"x\.txt " + pattern):
        read_eth_ucy_file(p)


@pytest.mark.parametrize("value", ["1e300", "-1e39", "2e6"])
def test_eth_coordinate_out_of_range(tmp_path, value):
    """x = 1e300 used to become float32 inf in the dataset."""
    p = _eth(tmp_path, f"780\t1\t8.46\t3.59\n790\t1\t{value}\t3.79\n")
    with pytest.raises(
        ValueError,
        match=r"x\.txt line 2: x = .* is not a finite ground-plane position within "
        r"\+-1e\+06 m \(values beyond float32 count as non-finite\)",
    ):
        read_eth_ucy_file(p)


def test_eth_too_many_pedestrians_at_once_fails_fast(tmp_path):
    rows = [f"780\t{i}\t1.0\t1.0" for i in range(1, tracks.MAX_SLOTS + 2)]
    p = _eth(tmp_path, "\n".join(rows) + "\n")
    _fails_fast(
        lambda: eu.open_eth_ucy({"all_data/x.txt": p}),
        rf"x\.txt line {tracks.MAX_SLOTS + 1}: pedestrian {tracks.MAX_SLOTS + 1} at frame 780 "
        rf"needs entity slot {tracks.MAX_SLOTS + 1}; at most {tracks.MAX_SLOTS} pedestrians",
    )


def test_eth_slots_unchanged_on_the_fakes(tmp_path):
    """The bounded slot assignment gives the slots of the plain lowest-free-slot rule."""
    files = eu.make_fake_eth_ucy(tmp_path, seed=2, n_steps=80, n_peds=60)
    for key, p in files.items():
        ft = tracks.file_tracks(Path(key).stem, "all_data", Path(key).stem, p)
        rows = read_eth_ucy_file(p)
        ann = np.unique(rows[:, 0], return_inverse=True)[1]
        peds, idx = np.unique(rows[:, 1], return_inverse=True)
        first = np.array([ann[idx == k].min() for k in range(len(peds))])
        last = np.array([ann[idx == k].max() for k in range(len(peds))])
        free: list[int] = []
        ref = np.empty(len(peds), dtype=int)
        for k in np.lexsort((peds, first)):
            s = next((j for j, f in enumerate(free) if f <= first[k]), len(free))
            free += [0] * (s == len(free))
            ref[k], free[s] = s, last[k] + 2
        np.testing.assert_array_equal(ft.slot, ref[idx])
        assert ft.n_slots == len(free)


# ------------------------------------------------------------------------------------------
# Acclaim ASF / AMC and the CMU assembly
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> dict[str, Path]:
    return cm.make_fake_cmu_mocap(tmp_path_factory.mktemp("cmu_faults"), seed=1, n_trials=1)


def _edit(src: Path, dst: Path, old: str, new: str) -> Path:
    text = src.read_bytes().decode()
    assert old in text
    dst.write_bytes(text.replace(old, new, 1).encode())
    return dst


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "-3.5e38"])
def test_amc_non_finite_angle(fake, tmp_path, value):
    sk = acclaim.parse_asf(fake["35.asf"])
    p = _edit(fake["35_01.amc"], tmp_path / "35_01.amc", "ltibia -3.22404e-015", f"ltibia {value}")
    with pytest.raises(
        ValueError,
        match=rf"35_01\.amc line 7: {value!r} is not finite \(bone 'ltibia'\); expected a finite "
        r"decimal \(NaN, inf and values beyond float32's 3\.4e\+38 are refused\)",
    ):
        amc.parse_amc(p, sk)


def test_amc_too_many_frames_fails_fast(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(amc, "MAX_FRAMES", 10)
    sk = acclaim.parse_asf(fake["35.asf"])
    _fails_fast(
        lambda: amc.parse_amc(fake["35_01.amc"], sk),
        r"35_01\.amc line \d+: frame 11 is past the 10 frames a motion may have",
    )


def test_amc_frame_number_out_of_range(fake, tmp_path):
    sk = acclaim.parse_asf(fake["35.asf"])
    p = _edit(fake["35_01.amc"], tmp_path / "35_01.amc", "\r\n1\r\nroot", "\r\n99999999999\r\nroot")
    with pytest.raises(
        ValueError, match=r"35_01\.amc line 4: frame number 99999999999 is out of range"
    ):
        amc.parse_amc(p, sk)


@pytest.mark.parametrize(
    "old, new, pattern",
    [
        ("length 7.41015", "length -7.41015", r"line 29: bone length -7\.41015 is negative"),
        ("length 7.41015", "length inf", r"line 29: 'inf' is not finite \(bone length\)"),
        (
            "direction 0.34202 -0.939693 0",
            "direction nan -0.939693 0",
            r"line 28: 'nan' is not finite \(bone direction\)",
        ),
        ("axis 0 0 20  XYZ", "axis 0 1e39 20  XYZ", r"line 30: '1e39' is not finite \(bone axis"),
        ("length 0.45", "length inf", r"line 7: 'inf' is not finite \(length unit\)"),
        ("position 0 0 0", "position 0 nan 0", r"line 15: 'nan' is not finite \(root position"),
        ("(-70.0 70.0)", "(nan 70.0)", r"line 33: 'nan' is not a number \(limit pair\)"),
        ("dof rx ry rz", "dof rx ry rx", r"line 31: dof \['rx', 'ry', 'rx'\] lists 'rx' twice"),
        ("id 3 ", "id 99999999999 ", r"line 37: bone id 99999999999 is out of range"),
        ("id 3 ", "id 2 ", r"line 37: bone id 2 is used twice \(bones 'lfemur' and 'ltibia'\)"),
    ],
)
def test_asf_impossible_values(fake, tmp_path, old, new, pattern):
    p = _edit(fake["35.asf"], tmp_path / "35.asf", old, new)
    with pytest.raises(ValueError, match=r"35\.asf " + pattern):
        acclaim.parse_asf(p)


def test_asf_infinite_limits_are_allowed(fake, tmp_path):
    p = _edit(fake["35.asf"], tmp_path / "35.asf", "(-70.0 70.0)", "(-inf inf)")
    assert np.isinf(acclaim.parse_asf(p).bones["lfemur"].limits[1]).all()


def test_asf_too_many_bones_fails_fast(fake, monkeypatch):
    monkeypatch.setattr(acclaim, "MAX_BONES", 3)
    _fails_fast(
        lambda: acclaim.parse_asf(fake["35.asf"]),
        r"35\.asf line 45: bone block number 4; a skeleton may have at most 3 bones",
    )


def test_cmu_positions_beyond_float32(fake, tmp_path):
    """Units that pass every per-value check can still put joints beyond float32 (a tiny
    length unit scales lengths up): the assembly names the motion and skeleton files."""
    asf = _edit(fake["35.asf"], tmp_path / "35.asf", "length 0.45", "length 1e-300")
    paths = {"35.asf": asf, "35_01.amc": fake["35_01.amc"]}
    with pytest.raises(
        ValueError,
        match=r"35_01\.amc \(skeleton 35\.asf\): joint positions reach .* m, beyond float32",
    ):
        cm.open_cmu_mocap(paths)


def test_number_reader_messages():
    with pytest.raises(ValueError, match=r"f\.asf line 3: cannot read 'x' as a number \(w\)"):
        _acclaim_lines._float("x", Path("f.asf"), 3, "w")
    assert _acclaim_lines._float("-inf", Path("f.asf"), 3, "w", finite=False) == -np.inf
