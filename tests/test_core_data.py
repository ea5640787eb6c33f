"""Materialization (atomic, verified) and the fetcher (checksums, lock file), all offline."""

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from toy_attrs import ATTRS

from decathlon.benchmark import data
from decathlon.datasets import fetch


def piece(seed, n=3):
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "pos": (
                ("sample", "time", "entity", "space"),
                rng.random((n, 4, 2, 2)).astype(np.float32),
            )
        },
        coords={"time": np.arange(4) * 0.1, "space": ["x", "y"]},
        attrs=dict(ATTRS),
    )


def toy_spec(name, fail_after=None, bad=False):
    def build(spec, tier, progress):
        for k in range(3):
            if fail_after is not None and k == fail_after:
                raise KeyboardInterrupt("simulated interruption")
            p = piece(k)
            if bad:
                p = p.rename({"pos": "position"})
            yield "all", p

    return data.DatasetSpec(
        name=name, version="1", domain="test", family="trajectories", build=build, parts=("all",)
    )


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    return tmp_path


def register_temp(spec, override):
    override(data.DATASETS, spec.name, spec)
    return spec


def test_prepare_streams_chunks_and_opens_lazily(cache, monkeypatch, override):
    register_temp(toy_spec("toy-ok"), override)
    path = data.materialize("toy-ok", "mini")
    meta = json.loads((path / "COMPLETE.json").read_text())
    ds = data.open_part("toy-ok", "mini", "all")
    assert not ds["pos"].variable._in_memory  # lazy: nothing read yet
    full = xr.concat([piece(k) for k in range(3)], "sample")
    np.testing.assert_array_equal(ds["pos"].values, full["pos"].values)
    assert meta["parts"]["all"]["sha256"] == data.hash_dataset(full)
    assert data.open_part("toy-ok", "mini", "all", verify=True).sizes["sample"] == 9
    assert data.materialize("toy-ok", "mini") == path  # second call reuses


def test_interrupted_materialization_leaves_nothing_readable(cache, monkeypatch, override):
    register_temp(toy_spec("toy-int", fail_after=2), override)
    with pytest.raises(KeyboardInterrupt):
        data.materialize("toy-int", "mini")
    assert not data.is_prepared("toy-int", "mini")
    parent = data.store_dir(data.DATASETS.get("toy-int"), "mini").parent
    left = [q for q in parent.iterdir() if q.suffix != ".lock"]  # the lock file is reusable
    assert left == []  # the temporary store was removed
    with pytest.raises(data.StoreError, match=r"is not prepared .* run `decathlon prepare toy-int"):
        data.open_part("toy-int", "mini", "all")


def test_contract_violation_stops_prepare(cache, monkeypatch, override):
    register_temp(toy_spec("toy-bad", bad=True), override)
    with pytest.raises(ValueError, match="missing required variable 'pos'"):
        data.materialize("toy-bad", "mini")
    assert not data.is_prepared("toy-bad", "mini")


def test_corrupted_store_detected(cache, monkeypatch, override):
    register_temp(toy_spec("toy-cor"), override)
    path = data.materialize("toy-cor", "mini")
    chunks = [
        p
        for p in (path / "all.zarr" / "pos").rglob("*")
        if p.is_file() and not p.name.startswith(".z")
    ]
    assert chunks
    raw = bytearray(chunks[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    chunks[0].write_bytes(bytes(raw))
    with pytest.raises(
        data.StoreError, match=r"(corrupted|sha256).*delete .* and run `decathlon prepare toy-cor"
    ):
        data.open_part("toy-cor", "mini", "all", verify=True)


def test_missing_marker_means_not_prepared(cache, monkeypatch, override):
    register_temp(toy_spec("toy-mk"), override)
    path = data.materialize("toy-mk", "mini")
    (path / "COMPLETE.json").unlink()
    assert not data.is_prepared("toy-mk", "mini")
    assert data.materialize("toy-mk", "mini") == path  # rebuilt in place
    assert data.is_prepared("toy-mk", "mini")


def test_unknown_tier():
    spec = data.DATASETS.get("nri-springs")
    with pytest.raises(KeyError, match="has no tier 'huge'; valid tiers: mini, full"):
        spec.resolve_tier("huge")


# --------------------------------------------------------------------------- fetcher
def local_downloader(src_dir: Path):
    def download(url, output_file, pup):
        shutil.copyfile(src_dir / url.rsplit("/", 1)[-1], output_file)

    return download


def files_spec(tmp_path, content=b"frame\tped\tx\ty\n", pinned=True):
    src = tmp_path / "upstream"
    src.mkdir(exist_ok=True)
    (src / "a.txt").write_bytes(content)
    sha = hashlib.sha256(content).hexdigest() if pinned else None
    spec = data.DatasetSpec(
        name="toy-files",
        version="1",
        domain="test",
        family="trajectories",
        build=lambda s, t, p: iter(()),
        parts=("all",),
        files=(data.FileSpec("a.txt", "https://example.invalid/data/a.txt", sha),),
    )
    return spec, src


def test_fetch_verifies_and_caches(cache):
    spec, src = files_spec(cache)
    paths = fetch.fetch(spec, downloader=local_downloader(src))
    assert paths["a.txt"].read_bytes() == (src / "a.txt").read_bytes()
    assert paths["a.txt"].is_relative_to(cache / "raw" / "toy-files")

    # second fetch uses the cache (a downloader that fails proves it)
    def boom(*a):
        raise AssertionError("should not download")

    assert fetch.fetch(spec, downloader=boom)["a.txt"] == paths["a.txt"]


def test_fetch_corrupted_download_names_file_and_hashes(cache):
    spec, src = files_spec(cache)
    (src / "a.txt").write_bytes(b"frame\tped")  # truncated upstream bytes
    with pytest.raises(ValueError) as e:
        fetch.fetch(spec, downloader=local_downloader(src))
    msg = str(e.value)
    assert "a.txt: sha256 mismatch" in msg and spec.files[0].sha256 in msg
    assert hashlib.sha256(b"frame\tped").hexdigest() in msg
    assert "Delete it and run the command again" in msg
    assert not (cache / "raw" / "toy-files" / "a.txt").exists()


def test_fetch_cached_file_corrupted_on_disk(cache):
    spec, src = files_spec(cache)
    p = fetch.fetch(spec, downloader=local_downloader(src))["a.txt"]
    p.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cached copy changed on disk"):
        fetch.fetch(spec, downloader=local_downloader(src))


def test_unpinned_file_recorded_then_verified(cache, caplog):
    spec, src = files_spec(cache, pinned=False)
    with caplog.at_level("WARNING", logger="decathlon"):
        p = fetch.fetch(spec, downloader=local_downloader(src))["a.txt"]
    assert "is not pinned" in caplog.text
    assert fetch.recorded_hashes()["toy-files/a.txt"] == fetch.file_sha256(p)
    p.write_bytes(b"changed")
    with pytest.raises(ValueError, match="differs from the hash recorded at first download"):
        fetch.fetch(spec, downloader=local_downloader(src))


def test_nothing_happens_at_import(tmp_path, monkeypatch):
    import importlib

    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "never"))
    importlib.reload(fetch)
    importlib.reload(importlib.import_module("decathlon.datasets"))
    assert not (tmp_path / "never").exists()


def test_replace_spec_tiers_is_cheap():
    spec = data.DATASETS.get("nri-springs")
    tiny = dataclasses.replace(spec, tiers={"tiny": {"train": 2, "valid": 2, "test": 2}})
    parts = list(tiny.build(tiny, "tiny", False))
    assert [p for p, _ in parts] == ["train", "valid", "test"]
    assert parts[2][1].sizes["time"] == 99 and parts[0][1].sizes["time"] == 49
