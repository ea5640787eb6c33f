"""Faults and untrusted input, downloads (issue items 11 and 12): the hash lock file and files
obtained elsewhere (:func:`decathlon.datasets.fetch.import_local`), all offline.

The local-import tests run on the real sample files when present (ETH/UCY: all 24 files, pinned;
CMU: 35.asf and 35_01.amc, a subset of the record as in test_cmu_mocap.py) and always on fakes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import shutil
from pathlib import Path

import pytest
from fetch_workers import digest_of, record_many
from shared_samples import shared_data

from decathlon.benchmark import data
from decathlon.datasets import cmu_mocap as cm
from decathlon.datasets import eth_ucy as eu
from decathlon.datasets import fetch

SHARED = shared_data()
ETH = SHARED / "eth_ucy" if SHARED else None
CMU = SHARED / "cmu_mocap" / "35" if SHARED else None
HAS_ETH = bool(ETH) and all((ETH / f.name).is_file() for f in eu.ETH_UCY.files)
HAS_CMU = bool(CMU) and all((CMU / n).is_file() for n in ("35.asf", "35_01.amc"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _spec(src: Path, names: list[str], pinned: bool = True) -> data.DatasetSpec:
    """A toy dataset record over files in ``src`` (pinned to their current hashes)."""
    files = tuple(
        data.FileSpec(
            n, f"https://example.invalid/toy/{n}", fetch.file_sha256(src / n) if pinned else None
        )
        for n in names
    )
    return data.DatasetSpec(
        name="toy-files",
        version="1",
        domain="test",
        family="trajectories",
        build=lambda s, t, p: iter(()),
        parts=("all",),
        files=files,
    )


def _upstream(tmp_path: Path, files: dict[str, bytes]) -> Path:
    src = tmp_path / "upstream"
    for n, b in files.items():
        (src / n).parent.mkdir(parents=True, exist_ok=True)
        (src / n).write_bytes(b)
    return src


def _downloader(src: Path):
    def download(url, output_file, pup):
        shutil.copyfile(src / url.split("/toy/", 1)[1], output_file)

    return download


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.rglob(".*")) if d.exists() else []


# ------------------------------------------------------------------------------------------
# The hash lock file
# ------------------------------------------------------------------------------------------


def test_lock_file_holding_a_list(cache, tmp_path):
    src = _upstream(tmp_path, {"a.txt": b"a"})
    (cache / "raw").mkdir(parents=True)
    fetch.lock_path().write_text("[]")
    pattern = r"hashes\.lock\.json holds \[\] \(a JSON array\); expected a JSON object"
    with pytest.raises(ValueError, match=pattern):
        fetch.recorded_hashes()
    with pytest.raises(ValueError, match=pattern + r".*Delete it"):
        fetch.fetch(_spec(src, ["a.txt"], pinned=False), downloader=_downloader(src))
    fetch.lock_path().write_text('{"toy-files/a.txt": 3}')
    with pytest.raises(ValueError, match=r"holds an entry 'toy-files/a.txt': 3 that is not"):
        fetch.recorded_hashes()


def test_lock_path_is_a_directory(cache, tmp_path):
    src = _upstream(tmp_path, {"a.txt": b"a"})
    fetch.lock_path().mkdir(parents=True)
    with pytest.raises(ValueError, match=r"hashes\.lock\.json is a directory, not a JSON file"):
        fetch.fetch(_spec(src, ["a.txt"], pinned=False), downloader=_downloader(src))
    assert _leftovers(cache / "raw") == []


def test_failed_lock_write_leaves_no_temp_file(cache, monkeypatch):
    def refuse(a, b):
        raise PermissionError(13, "Permission denied", str(b))

    monkeypatch.setattr(fetch.os, "replace", refuse)
    with pytest.raises(OSError, match=r"could not write the hash lock file .*hashes\.lock\.json"):
        fetch._record_hash("toy-files/a.txt", "ab" * 32)
    assert _leftovers(cache / "raw") == []


def test_record_keeps_the_first_hash(cache):
    assert fetch._record_hash("toy-files/a.txt", "ab" * 32) == "ab" * 32
    assert fetch._record_hash("toy-files/a.txt", "cd" * 32) == "ab" * 32
    assert fetch.recorded_hashes() == {"toy-files/a.txt": "ab" * 32}


def test_concurrent_recording_loses_nothing(cache):
    workers, per = 10, 50
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    procs = [ctx.Process(target=record_many, args=(str(cache), w, per)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * workers
    table = fetch.recorded_hashes()
    assert len(table) == workers * per
    assert all(
        table[f"toy/w{w:02d}-{j:03d}.txt"] == digest_of(w, j) for w in range(10) for j in range(per)
    )
    assert _leftovers(cache / "raw") == []  # no temporary file left behind


def test_tampered_file_with_deleted_lock_entry_warns(cache, tmp_path, caplog):
    src = _upstream(tmp_path, {"a.txt": b"upstream"})
    spec = _spec(src, ["a.txt"], pinned=False)
    path = fetch.fetch(spec, downloader=_downloader(src))["a.txt"]
    path.write_bytes(b"tampered")
    fetch.lock_path().write_text("{}")  # the entry deleted
    caplog.clear()
    with caplog.at_level("WARNING", logger="decathlon"):
        fetch.fetch(spec, downloader=_downloader(src))
    tampered = hashlib.sha256(b"tampered").hexdigest()
    warn = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warn) == 1
    msg = warn[0].getMessage()
    assert str(path) in msg and tampered in msg and "toy-files/a.txt" in msg
    assert "recorded fresh" in msg and "was already in the cache" in msg
    assert "Only pinned files are verified against a published value" in msg
    assert fetch.recorded_hashes()["toy-files/a.txt"] == tampered


def test_first_download_warning_says_recorded_fresh(cache, tmp_path, caplog):
    src = _upstream(tmp_path, {"a.txt": b"upstream"})
    with caplog.at_level("WARNING", logger="decathlon"):
        fetch.fetch(_spec(src, ["a.txt"], pinned=False), downloader=_downloader(src))
    msg = caplog.records[-1].getMessage()
    assert "is not pinned" in msg and "recorded fresh" in msg
    assert hashlib.sha256(b"upstream").hexdigest() in msg
    assert "Only pinned files are verified against a published value" in msg


# ------------------------------------------------------------------------------------------
# Files obtained elsewhere: import_local
# ------------------------------------------------------------------------------------------


def _no_download(*a):
    raise AssertionError("should not download")


@pytest.mark.skipif(not HAS_ETH, reason="shared/data/eth_ucy not present")
def test_import_local_real_eth_ucy(cache):
    spec = eu.ETH_UCY
    paths = fetch.import_local(spec, ETH)
    assert sorted(paths) == sorted(f.name for f in spec.files)
    for f in spec.files:
        assert paths[f.name] == cache / "raw" / "eth-ucy" / f.name
        assert fetch.file_sha256(paths[f.name]) == f.sha256
    assert fetch.fetch(spec, downloader=_no_download) == paths  # verified in place, no download
    assert not fetch.recorded_hashes() and _leftovers(cache / "raw") == []


@pytest.mark.skipif(not HAS_CMU, reason="shared/data/cmu_mocap/35 not present")
def test_import_local_real_cmu_subset(cache):
    spec = cm.CMU_MOCAP_35
    subset = dataclasses.replace(
        spec, files=tuple(f for f in spec.files if f.name in ("35.asf", "35_01.amc"))
    )
    paths = fetch.import_local(subset, CMU)
    assert paths == {n: cache / "raw" / "cmu-mocap-35" / n for n in ("35.asf", "35_01.amc")}
    assert fetch.fetch(subset, downloader=_no_download) == paths
    assert not fetch.recorded_hashes()  # pinned files are never recorded
    with pytest.raises(ValueError, match=r"22 of the 24 files of dataset 'cmu-mocap-35' are not"):
        fetch.import_local(spec, CMU)  # the full record: 35_02 ... 35_34 are not there


def test_import_local_flat_layout(cache, tmp_path):
    fake = eu.make_fake_eth_ucy(tmp_path / "fake", seed=1)
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in fake.values():
        shutil.copy(p, flat / p.name)
    names = sorted(fake)
    spec = dataclasses.replace(_spec(tmp_path / "fake", names), name="eth-ucy")
    paths = fetch.import_local(spec, flat)
    assert (
        paths["train/biwi_eth_train.txt"]
        == cache / "raw" / "eth-ucy" / "train" / "biwi_eth_train.txt"
    )
    assert all(paths[n].read_bytes() == fake[n].read_bytes() for n in names)


def test_import_local_ambiguous_flat_name(cache, tmp_path):
    src = _upstream(tmp_path, {"a/x.txt": b"1", "b/x.txt": b"2"})
    spec = _spec(src, ["a/x.txt", "b/x.txt"])
    flat = _upstream(tmp_path / "flat", {"x.txt": b"1"})
    with pytest.raises(ValueError, match=r"a/x\.txt \(several files are named x\.txt: put it at"):
        fetch.import_local(spec, flat)


def test_import_local_wrong_hash(cache, tmp_path):
    src = _upstream(tmp_path, {"a.txt": b"a", "b.txt": b"b"})
    spec = _spec(src, ["a.txt", "b.txt"])
    (src / "b.txt").write_bytes(b"B")
    with pytest.raises(ValueError) as e:
        fetch.import_local(spec, src)
    msg = str(e.value)
    assert msg.startswith("b.txt: sha256 mismatch (local copy)")
    assert str(src / "b.txt") in msg and spec.files[1].sha256 in msg
    assert hashlib.sha256(b"B").hexdigest() in msg and "(pinned in the package)" in msg
    assert "https://example.invalid/toy/b.txt" in msg and "Nothing was copied" in msg
    assert not list((cache / "raw").rglob("*.txt")) and _leftovers(cache / "raw") == []


def test_import_local_missing_file(cache, tmp_path):
    src = _upstream(tmp_path, {"a.txt": b"a", "sub/b.txt": b"b"})
    spec = _spec(src, ["a.txt", "sub/b.txt"])
    (src / "sub" / "b.txt").unlink()
    with pytest.raises(
        ValueError,
        match=r"1 of the 2 files of dataset 'toy-files' are not in .*upstream: \['sub/b\.txt'\]"
        r"(.|\n)*https://example\.invalid/toy/sub/b\.txt(.|\n)*decathlon prepare",
    ):
        fetch.import_local(spec, src)
    assert not (cache / "raw").exists() or not list((cache / "raw").rglob("*.txt"))
    with pytest.raises(ValueError, match=r"is not a folder"):
        fetch.import_local(spec, src / "a.txt")


def test_import_local_unpinned_file_recorded_with_a_warning(cache, tmp_path, caplog):
    src = _upstream(tmp_path, {"a.txt": b"a"})
    spec = _spec(src, ["a.txt"], pinned=False)
    with caplog.at_level("WARNING", logger="decathlon"):
        paths = fetch.import_local(spec, src)
    digest = hashlib.sha256(b"a").hexdigest()
    assert fetch.recorded_hashes() == {"toy-files/a.txt": digest}
    assert digest in caplog.text and "recorded fresh" in caplog.text
    assert fetch.fetch(spec, downloader=_no_download) == paths
    (src / "a.txt").write_bytes(b"other")  # now verified against the record
    with pytest.raises(ValueError, match=r"recorded at first download"):
        fetch.import_local(spec, src)
