"""CMU mocap subject 35: ASF/AMC parsing, forward kinematics, dataset, offline prepare, pinning.

Always on the fake files in the upstream format; also on the real ``35.asf`` / ``35_01.amc`` in
``../shared/data/cmu_mocap/35`` when present (skipped cleanly otherwise).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.transform import Rotation
from shared_samples import shared_data

from decathlon.benchmark.contract import validate
from decathlon.benchmark.data import DATASETS, FileSpec, materialize, open_part
from decathlon.datasets import cmu_mocap as cm
from decathlon.datasets import fetch, pinning
from decathlon.datasets.io import acclaim, amc, kinematics

SHARED = shared_data()
REAL = SHARED / "cmu_mocap" / "35" if SHARED else None
HAS_REAL = bool(REAL and (REAL / "35.asf").is_file() and (REAL / "35_01.amc").is_file())
real_only = pytest.mark.skipif(not HAS_REAL, reason="shared/data/cmu_mocap/35 not present")

#: Bone lengths from FK positions must equal the ASF lengths (converted) to this many metres.
#: float64 FK reaches ~3e-16 m (measured); float32 storage in the dataset adds ~1e-7 m.
LENGTH_TOL_F64 = 1e-12
LENGTH_TOL_F32 = 2e-6


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> dict[str, Path]:
    return cm.make_fake_cmu_mocap(tmp_path_factory.mktemp("cmu_fake"), seed=3)


@pytest.fixture(scope="module")
def real():
    if not HAS_REAL:
        pytest.skip("shared/data/cmu_mocap/35 not present")
    sk = acclaim.parse_asf(REAL / "35.asf")
    motion = amc.parse_amc(REAL / "35_01.amc", sk)
    return sk, motion, kinematics.forward_kinematics(sk, motion)


def _bone_lengths(sk: acclaim.Skeleton, pos: np.ndarray) -> dict[str, np.ndarray]:
    idx = {j: i for i, j in enumerate(sk.joints)}
    return {
        b: np.linalg.norm(pos[:, idx[b]] - pos[:, idx[sk.parent[b]]], axis=-1) for b in sk.bones
    }


def _fk_reference(sk: acclaim.Skeleton, motion: dict[str, np.ndarray], frame: int) -> np.ndarray:
    """One frame, bone by bone, with scipy's extrinsic Euler angles (the Acclaim convention)."""

    def euler(axes: str, angles) -> np.ndarray:
        return (
            Rotation.from_euler(axes.lower(), angles, degrees=True).as_matrix()
            if axes
            else np.eye(3)
        )

    out = {}
    rot = {}
    root = motion["root"][frame]
    ch = list(sk.root_order)
    r_ch = [c for c in ch if c.startswith("R")]
    c0 = euler(sk.root_axis, sk.root_orientation)
    rot["root"] = c0 @ euler("".join(c[1] for c in r_ch), [root[ch.index(c)] for c in r_ch]) @ c0.T
    out["root"] = np.array([root[ch.index(f"T{a}")] for a in "XYZ"]) * sk.metres_per_unit
    todo = list(sk.bones)
    while todo:
        for b in list(todo):
            p = sk.parent[b]
            if p not in out:
                continue
            bone = sk.bones[b]
            c = euler(bone.axis_order, bone.axis)
            m = euler("".join(d[1] for d in bone.dof), motion[b][frame]) if bone.dof else np.eye(3)
            rot[b] = rot[p] @ c @ m @ c.T
            out[b] = out[p] + bone.length * sk.metres_per_unit * rot[b] @ bone.direction
            todo.remove(b)
    return np.stack([out[j] for j in sk.joints])


def _is_tree_rooted_at_root(sk: acclaim.Skeleton) -> bool:
    reached, frontier = {"root"}, ["root"]
    while frontier:
        kids = sk.children(frontier.pop())
        if reached & set(kids):
            return False
        reached |= set(kids)
        frontier += kids
    return reached == set(sk.joints) and len(sk.parent) == len(sk.joints) - 1


# ------------------------------------------------------------------------------------------
# Fake files (always)
# ------------------------------------------------------------------------------------------


def test_fake_files_are_in_the_upstream_format(fake):
    asf = fake["35.asf"].read_bytes()
    amc_bytes = fake["35_01.amc"].read_bytes()
    assert asf.count(b"\r\n") == asf.count(b"\n") > 50
    assert amc_bytes.count(b"\r\n") == amc_bytes.count(b"\n")
    assert re.search(rb"e-01\d", asf) and re.search(rb"e-015", amc_bytes)
    assert (
        amc_bytes.startswith(b"#!OML:ASF F:\\VICON")
        and b":FULLY-SPECIFIED\r\n:DEGREES\r\n1\r\nroot " in amc_bytes
    )
    assert b"limits (-160.0 20.0)\r\n           (-70.0 70.0)" in asf


def test_fake_parse(fake):
    sk = acclaim.parse_asf(fake["35.asf"])
    assert sk.joints == ["root", "lhipjoint", "lfemur", "ltibia", "lowerback", "upperback"]
    assert sk.units == {"mass": 1.0, "length": 0.45, "angle": "deg"}
    assert sk.root_order == ("TX", "TY", "TZ", "RX", "RY", "RZ") and sk.root_axis == "XYZ"
    assert sk.bones["lfemur"].dof == ("rx", "ry", "rz")
    np.testing.assert_array_equal(sk.bones["lfemur"].limits, [[-160, 20], [-70, 70], [-60, 70]])
    assert sk.bones["ltibia"].axis[1] == pytest.approx(7.62852e-16)
    assert sk.bones["lhipjoint"].dof == ()
    np.testing.assert_allclose([np.linalg.norm(b.direction) for b in sk.bones.values()], 1.0)
    assert _is_tree_rooted_at_root(sk)
    for k, n in ((1, 12), (2, 14), (3, 16)):
        m = amc.parse_amc(fake[f"35_{k:02d}.amc"], sk)
        assert set(m) == {"root", "lfemur", "ltibia", "lowerback", "upperback"}
        assert m["root"].shape == (n, 6) and m["upperback"].shape == (n, 2)
    assert amc.parse_amc(fake["35_01.amc"], sk)["lfemur"][0, 0] == pytest.approx(-3.22404e-15)


def test_fake_fk_matches_a_per_frame_reference_and_keeps_bone_lengths(fake):
    sk = acclaim.parse_asf(fake["35.asf"])
    m = amc.parse_amc(fake["35_02.amc"], sk)
    pos = kinematics.forward_kinematics(sk, m)
    assert pos.shape == (14, 6, 3)
    for f in (0, 7, 13):
        np.testing.assert_allclose(pos[f], _fk_reference(sk, m, f), atol=1e-12)
    for b, lengths in _bone_lengths(sk, pos).items():
        np.testing.assert_allclose(lengths, sk.bones[b].length * 0.0254 / 0.45, atol=LENGTH_TOL_F64)
    np.testing.assert_allclose(pos[:, 0], m["root"][:, :3] * 0.0254 / 0.45)


def test_fake_dataset(fake):
    ds = validate(cm.open_cmu_mocap(fake))
    assert ds.pos.dims == ("sample", "time", "entity", "space") and ds.pos.dtype == np.float32
    assert ds.trial.values.tolist() == ["35_01", "35_02", "35_03"]
    assert ds.sizes["time"] == 16 and ds.n_frames.values.tolist() == [12, 14, 16]
    assert ds.attrs["units"] == "m" and ds.attrs["dt"] == pytest.approx(1 / 120)
    np.testing.assert_allclose(np.diff(ds.time.values), 1 / 120)
    assert ds.mask.sum(("time", "entity")).values.tolist() == [12 * 6, 14 * 6, 16 * 6]
    assert np.isnan(ds.pos.values[0, 12:]).all() and np.isfinite(ds.pos.values[0, :12]).all()
    e = ds.edges.values[0]
    assert (e == e.T).all() and e.sum() == 2 * 5 and set(np.unique(e)) == {0.0, 1.0}
    assert ds.parent.values.tolist() == ["", "root", "lhipjoint", "lfemur", "root", "lowerback"]
    for k in ("source", "license", "citation", "dataset_version"):
        assert ds.attrs[k]


def test_open_needs_one_asf_and_some_amc(fake):
    with pytest.raises(ValueError, match="exactly one .asf"):
        cm.open_cmu_mocap({k: v for k, v in fake.items() if k.endswith(".amc")})
    with pytest.raises(ValueError, match="at least one .amc"):
        cm.open_cmu_mocap({"35.asf": fake["35.asf"]})


# ------------------------------------------------------------------------------------------
# Malformed input: ValueError naming file and line
# ------------------------------------------------------------------------------------------


def _edit(src: Path, dst: Path, fn) -> Path:
    text = src.read_bytes().decode()
    dst.write_bytes(fn(text).encode())
    return dst


def test_truncated_frame_names_file_and_line(fake, tmp_path):
    sk = acclaim.parse_asf(fake["35.asf"])
    lines = fake["35_01.amc"].read_bytes().decode().split("\r\n")
    i = lines.index("5")  # drop the last two bones of frame 5
    bad = "\r\n".join(lines[: i + 4] + lines[i + 6 :])
    p = tmp_path / "35_01.amc"
    p.write_bytes(bad.encode())
    with pytest.raises(
        ValueError, match=rf"35_01\.amc line {i + 1}: frame 5 is truncated.*'upperback'"
    ):
        amc.parse_amc(p, sk)
    p.write_bytes("\r\n".join(lines[:-3]).encode())  # file cut inside the last frame
    with pytest.raises(
        ValueError, match=r"35_01\.amc line \d+: frame 12 is truncated.*the file ends"
    ):
        amc.parse_amc(p, sk)


@pytest.mark.parametrize(
    "old, new, pattern",
    [
        (
            "ltibia -3.22404e-015",
            "ltibia -3.22404e-O15",
            r"line 7: cannot read '-3.22404e-O15' as a number",
        ),
        (
            "ltibia -3.22404e-015",
            "ltibia -3.22404e-015 1.0",
            r"line 7: bone 'ltibia' has 2 values, expected 1",
        ),
        ("ltibia -3.22404e-015", "lknee -3.22404e-015", r"line 7: unknown bone 'lknee'"),
        ("\r\n2\r\n", "\r\n3\r\n", r"line \d+: frame number 3 follows frame 1"),
    ],
)
def test_malformed_amc(fake, tmp_path, old, new, pattern):
    sk = acclaim.parse_asf(fake["35.asf"])
    p = _edit(fake["35_01.amc"], tmp_path / "35_01.amc", lambda t: t.replace(old, new, 1))
    with pytest.raises(ValueError, match=r"35_01\.amc " + pattern):
        amc.parse_amc(p, sk)


@pytest.mark.parametrize(
    "old, new, pattern",
    [
        ("length 7.41015", "length 7.41x15", r"line \d+: cannot read '7.41x15' as a number"),
        (
            "direction 0.34202 -0.939693 0",
            "direction 0.34202 -0.939693",
            r"line \d+: bone direction has 2 values",
        ),
        ("lfemur ltibia", "lfemur lknee", r"line \d+: the :hierarchy names bone 'lknee'"),
        ("lfemur ltibia", "lfemur", r"line \d+: a hierarchy line lists a parent and its children"),
        ("    lowerback upperback\r\n", "", r"line 56: bones \['upperback'\] have no parent"),
        (
            "lowerback upperback",
            "upperback lowerback",
            r"line 71: bone 'lowerback' has two parents",
        ),
        ("axis 0 0 20  XYZ", "axis 0 0 20  XYQ", r"line \d+: axis order 'XYQ'"),
        (
            "  end\r\n:hierarchy",
            "\r\n:hierarchy",
            r"line \d+: section :hierarchy starts inside a bone block",
        ),
    ],
)
def test_malformed_asf(fake, tmp_path, old, new, pattern):
    p = _edit(fake["35.asf"], tmp_path / "35.asf", lambda t: t.replace(old, new, 1))
    with pytest.raises(ValueError, match=r"35\.asf.*" + pattern):
        acclaim.parse_asf(p)


def test_asf_and_amc_tolerate_lf_and_comments(fake, tmp_path):
    asf = _edit(
        fake["35.asf"],
        tmp_path / "35.asf",
        lambda t: t.replace("\r\n", "\n").replace(":bonedata", "# c\n:bonedata  # c"),
    )
    amc_lf = _edit(fake["35_01.amc"], tmp_path / "35_01.amc", lambda t: t.replace("\r\n", "\n"))
    sk = acclaim.parse_asf(asf)
    ref = acclaim.parse_asf(fake["35.asf"])
    assert sk.joints == ref.joints
    np.testing.assert_array_equal(
        amc.parse_amc(amc_lf, sk)["root"], amc.parse_amc(fake["35_01.amc"], ref)["root"]
    )


# ------------------------------------------------------------------------------------------
# Real files (when present)
# ------------------------------------------------------------------------------------------


@real_only
def test_real_parse_counts(real):
    sk, motion, pos = real
    assert len(sk.joints) == 31 and sk.joints[0] == "root" and len(sk.bones) == 30
    assert sk.units == {"mass": 1.0, "length": 0.45, "angle": "deg"}
    assert motion["root"].shape == (358, 6)
    assert (
        sum(1 for b in sk.bones.values() if b.dof) == 28 and len(motion) == 29
    )  # lhipjoint, rhipjoint: no dof
    assert pos.shape == (358, 31, 3)
    assert _is_tree_rooted_at_root(sk)
    assert sk.children("root") == ["lhipjoint", "rhipjoint", "lowerback"]


@real_only
def test_real_bone_lengths_constant_and_equal_to_asf(real):
    sk, _, pos = real
    lengths = _bone_lengths(sk, pos)
    for b, ln in lengths.items():
        expected = sk.bones[b].length / 0.45 * 0.0254
        assert np.abs(ln - expected).max() < LENGTH_TOL_F64, b
    assert lengths["lfemur"][0] == pytest.approx(7.41015 / 0.45 * 0.0254)  # 0.418 m thigh


@real_only
def test_real_fk_convention_and_plausibility(real):
    sk, motion, pos = real
    for f in (0, 200, 357):
        np.testing.assert_allclose(pos[f], _fk_reference(sk, motion, f), atol=1e-12)
    idx = {j: i for i, j in enumerate(sk.joints)}
    assert (
        0.95 < pos[:, 0, 1].min() and pos[:, 0, 1].max() < 1.05
    )  # pelvis ~1 m above the floor (y up)
    assert 1.5 < pos[:, idx["head"], 1].mean() < 1.8
    lowest = pos[:, [idx["ltoes"], idx["rtoes"]], 1].min(axis=1)
    assert lowest.min() > 0 and lowest.max() < 0.06  # one foot on the floor in every frame
    speed = np.linalg.norm(pos[-1, 0, [0, 2]] - pos[0, 0, [0, 2]]) / (357 / 120)
    assert 1.0 < speed < 1.6  # walking pace, m/s
    # The planted toe barely moves (median of the slower toe's speed; 0.20 m/s with the Acclaim
    # order, 0.42 m/s if the Euler order were reversed).
    toe = np.linalg.norm(np.diff(pos[:, [idx["ltoes"], idx["rtoes"]]], axis=0), axis=-1) * 120
    assert np.median(toe.min(axis=1)) < 0.3


@real_only
def test_real_dataset(real):
    ds = validate(cm.open_cmu_mocap({"35.asf": REAL / "35.asf", "35_01.amc": REAL / "35_01.amc"}))
    sk = real[0]
    assert dict(ds.sizes) == {"sample": 1, "time": 358, "entity": 31, "space": 3, "entity_": 31}
    assert ds.entity.values.tolist() == sk.joints
    e = ds.edges.values[0]
    assert (e == e.T).all() and e.sum() == 60
    for b, ln in _bone_lengths(sk, ds.pos.values[0].astype(np.float64)).items():
        assert np.abs(ln - sk.bones[b].length * sk.metres_per_unit).max() < LENGTH_TOL_F32


# ------------------------------------------------------------------------------------------
# Record, offline prepare, pinning
# ------------------------------------------------------------------------------------------


def test_record():
    spec = DATASETS.get("cmu-mocap-35")
    names = [f.name for f in spec.files]
    assert names == ["35.asf"] + [f"35_{n:02d}.amc" for n in [*range(1, 17), *range(28, 35)]]
    assert all(f.url == f"http://mocap.cs.cmu.edu/subjects/35/{f.name}" for f in spec.files)
    pinned = {f.name: f.sha256 for f in spec.files if f.sha256}
    assert pinned == {
        "35.asf": "2a8e2eda3c0d7d828566b2a9a8ab36b2b8b3864110574e8b73c8f069fded416c",
        "35_01.amc": "0743f4ea48e7e199cd56b2810b5ce81f8ede08d32ff79aa4e363c44cc4fe33aa",
    }
    assert (
        spec.parts == ("all",) and list(spec.tiers) == ["full"] and spec.card == "cmu-mocap-35.md"
    )
    card = Path(cm.__file__).parent / "cards" / spec.card
    assert card.is_file() and "0.0254" in card.read_text()


def _use_spec(override, spec) -> None:
    DATASETS.names()  # load the plugins first
    override(DATASETS, spec.name, spec)


def _place(cache: Path, name: str, files: dict[str, Path]) -> None:
    raw = cache / "raw" / name
    raw.mkdir(parents=True, exist_ok=True)
    for n, p in files.items():
        shutil.copy(p, raw / n)


def test_prepare_offline_fake_and_pin(fake, tmp_path, monkeypatch, caplog, override):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    spec = DATASETS.get("cmu-mocap-35")
    files = tuple(FileSpec(n, cm.BASE_URL + n, None) for n in sorted(fake))  # fakes are unpinned
    _use_spec(override, dataclasses.replace(spec, files=files))
    _place(tmp_path / "cache", spec.name, fake)
    materialize("cmu-mocap-35", "full")
    ds = open_part("cmu-mocap-35", "full", "all", verify=True)
    xr.testing.assert_identical(ds.load(), cm.open_cmu_mocap(fake))
    assert "not pinned" in caplog.text
    recorded = fetch.recorded_hashes()
    assert recorded["cmu-mocap-35/35_02.amc"] == fetch.file_sha256(fake["35_02.amc"])

    # pin_hashes_source / write_pins against the recorded hashes, on a copy of the module
    src = pinning.pin_hashes_source(DATASETS.get("cmu-mocap-35"))
    url = "http://mocap.cs.cmu.edu/subjects/35/35_02.amc"
    assert f'FileSpec("35_02.amc", "{url}", "{recorded["cmu-mocap-35/35_02.amc"]}"),' in src
    real_spec = dataclasses.replace(spec)  # the module's own list: 35_02, 35_03 unpinned
    mod = tmp_path / "cmu_mocap_copy.py"
    shutil.copy(cm.__file__, mod)
    done = pinning.write_pins(real_spec, mod)
    assert done == ["35_02.amc", "35_03.amc"]
    text = mod.read_text()
    assert f'"35_02.amc": "{recorded["cmu-mocap-35/35_02.amc"]}",  # pin: 35_02.amc' in text
    assert '"35_04.amc": None,  # pin: 35_04.amc' in text
    assert len(text.splitlines()) == len(Path(cm.__file__).read_text().splitlines())
    assert "# 35_04.amc: not downloaded yet" in pinning.pin_hashes_source(real_spec)


def test_write_pins_refuses_a_bad_lock_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    (tmp_path / "raw").mkdir()
    fetch.lock_path().write_text('{"cmu-mocap-35/35_02.amc": "abc\\"; import os"}')
    mod = tmp_path / "x.py"
    mod.write_text('"35_02.amc": None,  # pin: 35_02.amc\n')
    with pytest.raises(ValueError, match="not a 64-digit lowercase hex sha256"):
        pinning.write_pins(DATASETS.get("cmu-mocap-35"), mod)
    with pytest.raises(ValueError, match="not a 64-digit lowercase hex sha256"):
        pinning.pin_hashes_source(DATASETS.get("cmu-mocap-35"))
    assert mod.read_text() == '"35_02.amc": None,  # pin: 35_02.amc\n'


@real_only
def test_prepare_offline_real(tmp_path, monkeypatch, override):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    spec = DATASETS.get("cmu-mocap-35")
    subset = tuple(f for f in spec.files if f.name in ("35.asf", "35_01.amc"))  # pinned, present
    _use_spec(override, dataclasses.replace(spec, files=subset))
    _place(tmp_path / "cache", spec.name, {n: REAL / n for n in ("35.asf", "35_01.amc")})
    materialize("cmu-mocap-35", "full")
    ds = open_part("cmu-mocap-35", "full", "all", verify=True)
    assert ds.trial.values.tolist() == ["35_01"] and ds.sizes["time"] == 358
    assert not fetch.recorded_hashes()  # pinned files are never recorded


def test_write_pins_needs_a_marked_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    (tmp_path / "raw").mkdir()
    fetch.lock_path().write_text('{"cmu-mocap-35/35_02.amc": "%s"}' % ("ab" * 32))
    mod = tmp_path / "x.py"
    mod.write_text('"35_02.amc": None,\n')
    with pytest.raises(ValueError, match=r"no line marked '# pin: <name>' for \['35_02.amc'\]"):
        pinning.write_pins(DATASETS.get("cmu-mocap-35"), mod)
    mod.write_text('"35_02.amc": None, None,  # pin: 35_02.amc\n')
    with pytest.raises(ValueError, match="x.py line 1: .* exactly one None"):
        pinning.write_pins(DATASETS.get("cmu-mocap-35"), mod)
    mod.write_text('"35_02.amc": None,  # pin: 35_02.amc\n')
    assert pinning.write_pins(DATASETS.get("cmu-mocap-35"), mod) == ["35_02.amc"]
    assert mod.read_text() == f'"35_02.amc": "{"ab" * 32}",  # pin: 35_02.amc\n'
