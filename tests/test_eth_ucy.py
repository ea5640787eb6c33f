"""ETH/UCY pedestrians: reader, dataset, Social-GAN windows, split, offline prepare.

Always on fake files in the upstream format and layout; also on the real files in
``../shared/data/eth_ucy`` when present (skipped cleanly otherwise).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from shared_samples import shared_data

from decathlon.benchmark.contract import validate
from decathlon.benchmark.data import DATASETS, FileSpec, materialize, open_part
from decathlon.datasets import eth_ucy as eu
from decathlon.datasets import fetch, pinning
from decathlon.datasets.io.eth_ucy_text import read_eth_ucy_file
from decathlon.datasets.sgan_windows import sgan_windows

SHARED = shared_data()
REAL = SHARED / "eth_ucy" if SHARED else None
REAL_FILES = {f.name: REAL / f.name for f in eu.ETH_UCY.files} if REAL else {}
HAS_REAL = bool(REAL_FILES) and all(p.is_file() for p in REAL_FILES.values())
real_only = pytest.mark.skipif(not HAS_REAL, reason="shared/data/eth_ucy not present")

#: The upstream files (data card datasets/cards/eth-ucy.md): rows, frames, pedestrians, first
#: and last frame of each file.
MANIFEST = {
    "biwi_eth": (5492, 876, 360, 780, 12380),
    "biwi_hotel": (6543, 1168, 389, 0, 18060),
    "crowds_zara01": (5153, 872, 148, 0, 9010),
    "crowds_zara02": (9722, 1052, 204, 10, 10520),
    "crowds_zara03": (5005, 754, 137, 0, 7530),
    "students001": (21813, 444, 415, 0, 4430),
    "students003": (17953, 541, 434, 0, 5400),
    "uni_examples": (2747, 734, 118, 0, 7410),
}
#: docs/protocols.md §4.2: Social-GAN test pedestrian-windows per held-out scene.
SGAN_TEST_COUNTS = {"eth": 181, "hotel": 1053, "univ": 24334, "zara1": 2253, "zara2": 5833}


def _sgan_reference(rows: np.ndarray, obs_len=8, pred_len=12, min_ped=1):
    """Social-GAN's loop, restated plainly: per window the (ped id, positions) kept, by start."""
    seq = obs_len + pred_len
    frames = sorted(set(rows[:, 0].tolist()))
    by_frame = {f: rows[rows[:, 0] == f] for f in frames}
    out = []
    for idx in range(0, len(frames) - seq + 1):
        win = frames[idx : idx + seq]
        chunk = np.concatenate([by_frame[f] for f in win])
        kept = []
        for pid in np.unique(chunk[:, 1]):
            mine = chunk[chunk[:, 1] == pid]
            if win.index(mine[0, 0]) != 0 or win.index(mine[-1, 0]) != seq - 1:
                continue  # SGAN: pad_end - pad_front != seq_len
            assert len(mine) == seq  # the data have no holes inside a window
            kept.append((int(pid), mine[:, 2:4]))
        if len(kept) > min_ped:
            out.append((idx, kept))
    return out


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> dict[str, Path]:
    return eu.make_fake_eth_ucy(tmp_path_factory.mktemp("eth_fake"), seed=5)


@pytest.fixture(scope="module")
def fake_ds(fake) -> xr.Dataset:
    return eu.open_eth_ucy(fake)


@pytest.fixture(scope="module")
def real_ds() -> xr.Dataset:
    if not HAS_REAL:
        pytest.skip("shared/data/eth_ucy not present")
    return eu.open_eth_ucy(REAL_FILES)


def _check_dataset_equals_files(ds: xr.Dataset, files: dict[str, Path]) -> None:
    """Every row of every file is at its (time step, slot), and nothing else is present."""
    for i, f in enumerate(ds.file.values):
        key = next(k for k in files if Path(k).stem == f)
        rows = read_eth_ucy_file(files[key])
        m = ds.mask.values[i]
        assert m.sum() == len(rows)
        t = ((rows[:, 0] - ds.frame0.values[i]) / 10).astype(int)
        ids = ds.ped_id.values[i]
        slot = np.argmax(ids[t] == rows[:, 1:2].astype(int), axis=1)
        assert (ids[t, slot] == rows[:, 1]).all() and m[t, slot].all()
        np.testing.assert_array_equal(ds.pos.values[i, t, slot], rows[:, 2:4].astype(np.float32))
        assert (ids[~m] == -1).all() and np.isnan(ds.pos.values[i][~m]).all()


# ------------------------------------------------------------------------------------------
# Fake files (always)
# ------------------------------------------------------------------------------------------


def test_fake_layout_and_format(fake):
    assert sorted(fake) == sorted(f.name for f in eu.ETH_UCY.files)
    eth = fake["all_data/biwi_eth.txt"].read_text().splitlines()[0].split("\t")
    ucy = fake["all_data/students001.txt"].read_text().splitlines()[0].split("\t")
    assert eth[0].isdigit() and eth[1].endswith(".0") and ucy[0].endswith(".0")
    rows = read_eth_ucy_file(fake["all_data/crowds_zara02.txt"])
    tr = read_eth_ucy_file(fake["train/crowds_zara02_train.txt"])
    va = read_eth_ucy_file(fake["val/crowds_zara02_val.txt"])
    assert len(tr) + len(va) == len(rows) and tr[:, 0].max() < va[:, 0].min()


def test_fake_dataset(fake, fake_ds):
    ds = validate(fake_ds)
    assert ds.sizes["sample"] == 24 and ds.attrs["dt"] == 0.4 and ds.attrs["units"] == "m"
    assert ds.file.values[:8].tolist() == list(eu.FILE_BASES)
    assert ds.file.values[8] == "biwi_eth_train" and ds.file.values[-1] == "uni_examples_val"
    assert ds.folder.values.tolist() == ["all_data"] * 8 + ["train"] * 8 + ["val"] * 8
    assert ds.scene.values[:8].tolist() == [
        "eth",
        "hotel",
        "zara1",
        "zara2",
        "crowds_zara03",
        "univ",
        "univ",
        "uni_examples",
    ]
    np.testing.assert_allclose(np.diff(ds.time.values), 0.4)
    assert ds.pos.dtype == np.float32 and ds.mask.dtype == bool and ds.ped_id.dtype == np.int32
    _check_dataset_equals_files(ds, fake)
    # the fake has a 3-step gap: present in the time axis, empty in the mask
    f0 = read_eth_ucy_file(fake["all_data/biwi_eth.txt"])
    steps = set(((f0[:, 0] - f0[:, 0].min()) / 10).astype(int).tolist())
    empty = [t for t in range(int(ds.n_steps[0])) if t not in steps]
    assert len(empty) >= 3 and not ds.mask.values[0, empty].any()


def test_slots_never_join_two_people(fake_ds):
    """In each slot, consecutive annotated frames with presence hold the same pedestrian."""
    for i in range(fake_ds.sizes["sample"]):
        m = fake_ds.mask.values[i]
        ann = np.flatnonzero(m.any(axis=1))
        mm, ids = m[ann], fake_ds.ped_id.values[i][ann]
        both = mm[1:] & mm[:-1]
        assert (ids[1:][both] == ids[:-1][both]).all()
        assert fake_ds.sizes["entity"] < 25 * 3  # slots are reused


def test_sgan_windows_match_the_reference_loop(fake, fake_ds):
    w = sgan_windows(
        fake_ds.pos.values,
        fake_ds.mask.values,
        ped_id=fake_ds.ped_id.values,
        files=fake_ds.file.values,
    )
    total = 0
    spans_gap = 0
    for i, f in enumerate(fake_ds.file.values):
        key = next(k for k in fake if Path(k).stem == f)
        ref = _sgan_reference(read_eth_ucy_file(fake[key]))
        mine = np.flatnonzero(w["sample"] == i)
        assert len(mine) == len(ref), f
        for j, (_, kept) in zip(mine, ref, strict=True):
            n = len(kept)
            assert w["n_peds"][j] == n and w["ped_mask"][j].sum() == n and w["file"][j] == f
            assert w["ped_id"][j, :n].tolist() == [k[0] for k in kept]
            traj = np.concatenate([w["obs"][j, :n], w["pred"][j, :n]], axis=1)
            np.testing.assert_array_equal(traj, np.stack([k[1] for k in kept]).astype(np.float32))
            assert np.isnan(w["obs"][j, n:]).all()
            spans_gap += int(w["time_index"][j, -1] - w["time_index"][j, 0] > 19)
        total += sum(len(k) for _, k in ref)
    assert total == w["n_peds"].sum() > 0
    assert spans_gap > 0  # the fake exercises SGAN's run over a gap in the frame ids
    assert w["obs"].shape[2:] == (8, 2) and w["pred"].shape[2:] == (12, 2)
    np.testing.assert_array_equal(w["start"], w["time_index"][:, 0])


def test_sgan_windows_options(fake_ds):
    pos, mask = fake_ds.pos.values, fake_ds.mask.values
    one = sgan_windows(pos[3], mask[3])
    assert (one["sample"] == 0).all()
    all_ = sgan_windows(pos, mask)
    assert one["n_peds"].sum() == all_["n_peds"][all_["sample"] == 3].sum()
    loose = sgan_windows(pos, mask, min_ped=0)
    assert loose["n_peds"].min() == 1 and len(loose["n_peds"]) > len(all_["n_peds"])
    skip2 = sgan_windows(pos[3], mask[3], skip=2)
    assert set(skip2["start"]) <= set(one["start"])
    rounded = sgan_windows(pos, mask, decimals=1)
    np.testing.assert_array_equal(
        rounded["obs"], np.round(all_["obs"].astype(np.float64), 1).astype(np.float32)
    )
    with pytest.raises(ValueError, match="expects pos"):
        sgan_windows(pos[..., 0], mask)
    with pytest.raises(ValueError, match="obs_len=0"):
        sgan_windows(pos, mask, obs_len=0)


def test_scene_split():
    s = eu.scene_split("univ")
    assert s["test"] == ["students001", "students003"]
    assert s["train"] == [
        "biwi_eth_train",
        "biwi_hotel_train",
        "crowds_zara01_train",
        "crowds_zara02_train",
        "crowds_zara03_train",
        "uni_examples_train",
    ]
    assert s["valid"] == [f.replace("_train", "_val") for f in s["train"]]
    for scene, test in eu.SCENES.items():
        s = eu.scene_split(scene)
        assert s["test"] == test and len(s["train"]) == 8 - len(test)
        assert "crowds_zara03_train" in s["train"] and "uni_examples_val" in s["valid"]
    with pytest.raises(
        KeyError, match="unknown ETH/UCY scene 'zara3'; valid names: eth, hotel, univ, zara1, zara2"
    ):
        eu.scene_split("zara3")


# ------------------------------------------------------------------------------------------
# Malformed input
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("780\t1\t8.46\t3.59\n790\t1\t9.57\n", r"x\.txt line 2: expected 4 columns"),
        (
            "780\t1\t8.46\t3.59\n790\t1\t9,57\t3.79\n",
            r"x\.txt line 2: cannot read '9,57' as a number",
        ),
        ("780\t1\t8.46\t3.59\n\n790\t1\tnan\t3.79\n", r"x\.txt line 3: non-finite value"),
        (
            "780\t1\t8.46\t3.59\n790\t1.5\t9.57\t3.79\n",
            r"x\.txt line 2: frame_id '790' and ped_id '1.5' must be whole",
        ),
        (
            "780\t1\t8.46\t3.59\n790\t2\t1\t1\n780\t1.0\t9.57\t3.79\n",
            r"x\.txt lines 1 and 3: pedestrian 1 appears twice in frame 780",
        ),
        ("\n\n", r"x\.txt: no data rows"),
    ],
)
def test_malformed_files(tmp_path, text, pattern):
    p = tmp_path / "x.txt"
    p.write_text(text)
    with pytest.raises(ValueError, match=pattern):
        read_eth_ucy_file(p)


def test_off_grid_frame(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("780\t1\t8.46\t3.59\n795\t1\t9.57\t3.79\n")
    with pytest.raises(
        ValueError, match=r"x\.txt line 2: frame_id 795 is not on the 10-frame grid"
    ):
        eu.open_eth_ucy({"all_data/x.txt": p})


def test_spaces_crlf_and_blank_lines(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"780 1 8.46 3.59\r\n\r\n790  1.0\t9.57 3.79\r\n")
    np.testing.assert_array_equal(
        read_eth_ucy_file(p), [[780, 1, 8.46, 3.59], [790, 1, 9.57, 3.79]]
    )


def test_duplicate_file_keys(fake):
    with pytest.raises(ValueError, match=r"several paths for the files \['biwi_eth'\]"):
        eu.open_eth_ucy(
            {
                "all_data/biwi_eth.txt": fake["all_data/biwi_eth.txt"],
                "biwi_eth.txt": fake["all_data/biwi_eth.txt"],
            }
        )


# ------------------------------------------------------------------------------------------
# Real files (when present)
# ------------------------------------------------------------------------------------------


@real_only
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_real_counts(name):
    rows = read_eth_ucy_file(REAL / "all_data" / f"{name}.txt")
    got = (
        len(rows),
        len(np.unique(rows[:, 0])),
        len(np.unique(rows[:, 1])),
        int(rows[:, 0].min()),
        int(rows[:, 0].max()),
    )
    assert got == MANIFEST[name]


@real_only
def test_real_dataset(real_ds):
    validate(real_ds)
    assert dict(real_ds.sizes) == {"sample": 24, "time": 1807, "entity": 75, "space": 2}
    assert real_ds.n_steps.values[:8].tolist() == [1161, 1807, 902, 1052, 754, 444, 541, 742]
    _check_dataset_equals_files(real_ds, REAL_FILES)
    assert real_ds.nbytes < 60e6


@real_only
def test_real_sgan_test_counts(real_ds):
    w = sgan_windows(
        real_ds.pos.values,
        real_ds.mask.values,
        ped_id=real_ds.ped_id.values,
        files=real_ds.file.values,
    )
    got = {
        s: int(w["n_peds"][np.isin(w["file"], eu.scene_split(s)["test"])].sum()) for s in eu.SCENES
    }
    assert got == SGAN_TEST_COUNTS
    # the same without ids (slots alone never join two people), and no kept window spans a gap
    w2 = sgan_windows(real_ds.pos.values, real_ds.mask.values)
    np.testing.assert_array_equal(w2["n_peds"], w["n_peds"])
    assert (w["time_index"][:, -1] - w["time_index"][:, 0] == 19).all()


@real_only
def test_real_sgan_matches_reference_loop_on_eth():
    rows = read_eth_ucy_file(REAL / "all_data" / "biwi_eth.txt")
    ds = eu.open_eth_ucy({"all_data/biwi_eth.txt": REAL / "all_data" / "biwi_eth.txt"})
    w = sgan_windows(ds.pos.values, ds.mask.values, ped_id=ds.ped_id.values)
    ref = _sgan_reference(rows)
    assert w["n_peds"].tolist() == [len(k) for _, k in ref]
    assert w["ped_id"][w["ped_mask"]].tolist() == [p for _, k in ref for p, _ in k]


# ------------------------------------------------------------------------------------------
# Record and offline prepare
# ------------------------------------------------------------------------------------------


def test_record():
    spec = DATASETS.get("eth-ucy")
    assert len(spec.files) == 24 and all(f.sha256 and len(f.sha256) == 64 for f in spec.files)
    f = next(f for f in spec.files if f.name == "all_data/biwi_eth.txt")
    assert f.sha256 == "cf8d3fd342a15f409ebc2a1fc76b91a0f06390bd21f1e11410f3859331ab082b"
    assert f.url == (
        "https://raw.githubusercontent.com/StanfordASL/Trajectron-plus-plus/"
        "1031c7bd1a444273af378c1ec1dcca907ba59830/experiments/pedestrians/raw/raw/all_data/biwi_eth.txt"
    )
    assert spec.parts == ("all",) and list(spec.tiers) == ["full"]
    assert (Path(eu.__file__).parent / "cards" / spec.card).is_file()
    assert pinning.pin_hashes_source(spec) == ""


@real_only
def test_real_files_match_pinned_hashes():
    for f in eu.ETH_UCY.files:
        assert fetch.file_sha256(REAL_FILES[f.name]) == f.sha256, f.name


def _place(cache: Path, name: str, files: dict[str, Path]) -> None:
    for n, p in files.items():
        dst = cache / "raw" / name / n
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dst)


def test_prepare_offline_fake(fake, fake_ds, tmp_path, monkeypatch, override):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    spec = DATASETS.get("eth-ucy")
    subset = {
        k: fake[k]
        for k in ("all_data/biwi_eth.txt", "train/biwi_hotel_train.txt", "val/biwi_hotel_val.txt")
    }
    files = tuple(FileSpec(n, eu.BASE_URL + n, None) for n in subset)
    DATASETS.names()
    override(DATASETS, "eth-ucy", dataclasses.replace(spec, files=files))
    _place(tmp_path / "cache", "eth-ucy", subset)
    materialize("eth-ucy", "full")
    ds = open_part("eth-ucy", "full", "all", verify=True).load()
    xr.testing.assert_identical(ds, eu.open_eth_ucy(subset))
    assert ds.file.values.tolist() == ["biwi_eth", "biwi_hotel_train", "biwi_hotel_val"]


@real_only
def test_prepare_offline_real(tmp_path, monkeypatch, real_ds):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    _place(tmp_path / "cache", "eth-ucy", REAL_FILES)
    materialize("eth-ucy", "full")  # the registered record: every hash pinned and checked
    ds = open_part("eth-ucy", "full", "all")
    assert ds.file.values.tolist() == real_ds.file.values.tolist()
    np.testing.assert_array_equal(ds.mask.values, real_ds.mask.values)
    assert not fetch.recorded_hashes()
