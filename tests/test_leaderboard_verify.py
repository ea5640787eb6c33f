"""Submission bundles and their verification: an honest bundle is accepted (folder, zip, tar)
and re-scored; every forged one is rejected with its own message naming the task and values."""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile

import numpy as np
import pytest

from decathlon.benchmark.context import EvalConfig
from decathlon.benchmark.suite import run_suite
from decathlon.leaderboard import bundle as bundle_mod
from decathlon.leaderboard.bundle import file_sha256, open_bundle
from decathlon.leaderboard.submit import submit
from decathlon.leaderboard.verify import verify_bundle

TASK = "particles/springs-forecast"
MODEL = "constant-velocity"


@pytest.fixture(scope="module")
def good(springs_mini, tmp_path_factory):
    """An honest bundle (a folder) of constant-velocity on springs-forecast, mini tier."""
    tmp = tmp_path_factory.mktemp("bundle")
    run_suite(
        [TASK],
        (MODEL,),
        "mini",
        tmp / "results",
        config=EvalConfig(n_boot=20),
        save_predictions=True,
    )
    path, verdict = submit(MODEL, tmp / "results", tmp / "good", training_data="none")
    assert verdict.accepted
    return path


def _copy(good, tmp_path):
    dest = tmp_path / "forged"
    shutil.copytree(good, dest)
    return dest


def _manifest(b):
    return json.loads((b / "submission.json").read_text())


def _save_manifest(b, m):
    (b / "submission.json").write_text(json.dumps(m))


def _result_path(b):
    return b / _manifest(b)["tasks"][0]["result"]


def _edit_result(b, fn):
    p = _result_path(b)
    rec = json.loads(p.read_text())
    fn(rec)
    p.write_text(json.dumps(rec))


def _rewrite_predictions(b, fn):
    """Change the predictions file with ``fn(dict of arrays)`` and fix the manifest's sha256,
    so that only the verification of the content can catch it."""
    m = _manifest(b)
    p = b / m["tasks"][0]["predictions"]
    arrays = dict(np.load(p))
    fn(arrays)
    np.savez_compressed(p, **arrays)
    m["tasks"][0]["predictions_file_sha256"] = file_sha256(p)
    _save_manifest(b, m)


def _rejected(b, match):
    verdict = verify_bundle(b, n_boot=20)
    assert not verdict.accepted, "the forged bundle was accepted"
    text = verdict.message()
    assert any(__import__("re").search(match, p) for p in verdict.problems), text
    return text


def test_an_honest_bundle_is_accepted_and_re_scored(good, tmp_path):
    verdict = verify_bundle(good, n_boot=20, accept_into=tmp_path / "entries")
    assert verdict.accepted and verdict.entry is not None
    (rec,) = verdict.results
    assert rec["verification"] == "re-scored" and rec["task"]["name"] == TASK
    claimed = json.loads(_result_path(good).read_text())
    assert rec["metrics"]["mse"]["value"] == claimed["metrics"]["mse"]["value"]
    assert (verdict.entry / "verified.json").is_file()


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_archives_are_accepted(good, tmp_path, suffix):
    out = bundle_mod.write_bundle(good, tmp_path / f"b{suffix}")
    assert verify_bundle(out, n_boot=20).accepted


def test_a_metric_edited_by_hand_is_named_with_both_values(good, tmp_path):
    b = _copy(good, tmp_path)
    real = json.loads(_result_path(b).read_text())["metrics"]["mse@10"]["value"]
    _edit_result(b, lambda r: r["metrics"]["mse@10"].update(value=real * 0.9))
    text = _rejected(b, rf"task {TASK}: metrics/mse@10 reported {real * 0.9}, re-scored {real}")
    assert TASK in text


def test_an_edited_predictions_file_fails_its_hash(good, tmp_path):
    b = _copy(good, tmp_path)
    p = b / _manifest(b)["tasks"][0]["predictions"]
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])  # truncated, manifest untouched
    _rejected(b, r"predictions file predictions/.*\.npz has sha256 [0-9a-f]{64}, the manifest says")


def test_a_truncated_predictions_file_is_refused(good, tmp_path):
    b = _copy(good, tmp_path)
    m = _manifest(b)
    p = b / m["tasks"][0]["predictions"]
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    m["tasks"][0]["predictions_file_sha256"] = file_sha256(p)
    _save_manifest(b, m)
    _rejected(b, r"is not a readable \.npz")


def test_wrong_versions_are_refused(good, tmp_path):
    b = _copy(good, tmp_path)
    m = _manifest(b)
    m["tasks"][0]["version"] = "0.9"
    m["versions"]["evaluator"] = "0.1"
    _save_manifest(b, m)
    _edit_result(b, lambda r: r["task"].update(version="0.9"))
    text = _rejected(b, r"task version '0.9' is not the one in force")
    assert "evaluator version '0.1' is not the one in force" in text


def test_duplicate_windows_are_refused(good, tmp_path):
    b = _copy(good, tmp_path)
    _rewrite_predictions(b, lambda a: a["ids"].__setitem__(1, a["ids"][0]))
    _rejected(b, r"duplicate window ids \[0\]")


def test_missing_windows_are_refused(good, tmp_path):
    b = _copy(good, tmp_path)

    def drop_last(a):
        for k in list(a):
            a[k] = a[k][:-1]

    _rewrite_predictions(b, drop_last)
    _rejected(b, r"member 'ids' has shape \(\d+,\), expected \(\d+\)")


def test_nan_predictions_are_refused(good, tmp_path):
    b = _copy(good, tmp_path)
    _rewrite_predictions(b, lambda a: a["pred"].__setitem__((0, 0, 0, 0), np.nan))
    _rejected(b, r"has 1 NaN/inf values \(windows \[0\]")


def test_other_predictions_than_the_reported_ones_are_refused(good, tmp_path):
    b = _copy(good, tmp_path)
    _rewrite_predictions(b, lambda a: a["pred"].__setitem__((0, 0, 0, 0), 0.123))
    _rejected(b, r"predictions_sha256 reported [0-9a-f]{64}, re-scored [0-9a-f]{64}")


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda r: r["task"].update(data_sha256="ab" * 32), "task/data_sha256 is abab"),
        (lambda r: r.update(verification="re-scored"), "verification 're-scored' is claimed"),
        (lambda r: r["model"].update(name="someone-else"), "is not the manifest's"),
        (lambda r: r["points"].update(value=1000.0), "points/value"),
    ],
    ids=["data-hash", "claimed-tier", "model-name", "points"],
)
def test_edited_results_are_refused(good, tmp_path, edit, match):
    b = _copy(good, tmp_path)
    _edit_result(b, edit)
    _rejected(b, match)


def test_a_task_listed_twice_is_refused(good, tmp_path):
    b = _copy(good, tmp_path)
    m = _manifest(b)
    m["tasks"].append(dict(m["tasks"][0]))
    _save_manifest(b, m)
    _rejected(b, r"listed more than once")


@pytest.mark.parametrize(
    "path", ["results/../../../etc/passwd", "/etc/passwd", "results/..", "other/x.json"]
)
def test_manifest_paths_cannot_leave_the_bundle(good, tmp_path, path):
    b = _copy(good, tmp_path)
    m = _manifest(b)
    m["tasks"][0]["result"] = path
    _save_manifest(b, m)
    with pytest.raises(ValueError, match="tasks/0/result"):
        verify_bundle(b)


def test_symlinks_in_a_bundle_are_refused(good, tmp_path):
    b = _copy(good, tmp_path)
    p = _result_path(b)
    p.unlink()
    p.symlink_to("/etc/hostname")
    with pytest.raises(ValueError, match="is a link or special file"):
        verify_bundle(b)


def test_unbounded_manifest_fields_are_refused(good, tmp_path):
    b = _copy(good, tmp_path)
    m = _manifest(b)
    m["model"]["hardware"] = {"blob": "x" * 300_000}  # under the manifest's 1 MiB
    m["model"]["authors"] = ["a"] * 51
    _save_manifest(b, m)
    with pytest.raises(ValueError, match=r"model/authors.*\n.*model/hardware/blob"):
        verify_bundle(b)


def _tar_with(tmp_path, good, extra):
    out = tmp_path / "evil.tar"
    with tarfile.open(out, "w") as tf:
        for f in sorted(good.rglob("*")):
            tf.add(f, f.relative_to(good).as_posix(), recursive=False)
        extra(tf)
    return out


def test_archive_members_cannot_escape_or_link(good, tmp_path):
    def escape(tf):
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        tf.addfile(info, __import__("io").BytesIO(b"x"))

    with pytest.raises(ValueError, match="would land outside the bundle"):
        verify_bundle(_tar_with(tmp_path, good, escape))
    assert not (tmp_path.parent / "escaped.txt").exists()

    def link(tf):
        info = tarfile.TarInfo("results/link.json")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)

    with pytest.raises(ValueError, match="is a link or special file"):
        verify_bundle(_tar_with(tmp_path, good, link))
    z = tmp_path / "abs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("/abs/submission.json", "{}")
    with pytest.raises(ValueError, match="would land outside the bundle"):
        verify_bundle(z)


def test_size_limits_count_the_bytes_really_unpacked(good, tmp_path, monkeypatch):
    z = bundle_mod.write_bundle(good, tmp_path / "b.zip")
    monkeypatch.setattr(bundle_mod, "MAX_MEMBER_BYTES", 1000)
    with pytest.raises(ValueError, match="unpacks to more than 1000 bytes"):
        with open_bundle(z):
            pass


def test_a_data_hash_mismatch_says_whose_machine_built_other_data(good, tmp_path, monkeypatch):
    """The reference build (datasets/reference_builds.json) tells a submitter whose store has
    other bits from a verifier whose store has."""
    from decathlon.benchmark.data import store_meta
    from decathlon.datasets import reference_builds as rb

    ours = store_meta("nri-springs", "mini")["data_sha256"]
    assert rb.reference("nri-springs", "1", "mini")["data_sha256"] == ours
    b = _copy(good, tmp_path)
    _edit_result(b, lambda r: r["task"].update(data_sha256="ab" * 32))
    text = _rejected(b, "reference build of nri-springs \\(mini\\) has " + ours[:12])
    assert "the submitter's machine built other data" in text

    ref = tmp_path / "reference_builds.json"  # now the verifier's store is the odd one
    ref.write_text(
        json.dumps({"builds": {"nri-springs": {"1": {"mini": {"data_sha256": "ab" * 32}}}}})
    )
    monkeypatch.setattr(rb, "REFERENCE_FILE", ref)
    assert "this verifier's machine built other data" in _rejected(b, "abababababab")
