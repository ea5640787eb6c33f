"""The hidden-target challenge split, the whole procedure offline at the mini tier: the
maintainer makes a challenge from a secret, the participant exports its inputs, a baseline
predicts, the participant submits, the maintainer verifies with the secret and accepts the
entry. A wrong secret, altered inputs and a plain verification of a challenge bundle are refused
with their own messages; the published inputs hold no targets."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.evaluate import evaluate
from decathlon.benchmark.results import validate_result
from decathlon.benchmark.tasks import get_task, list_tasks, supports_challenge
from decathlon.cli import main
from decathlon.leaderboard.build import leaderboard_data, load_entry
from decathlon.leaderboard.challenge import (
    arrays_sha256,
    predict_inputs,
    prepare_challenge,
    secret_from,
    slug,
)
from decathlon.leaderboard.challenge_verify import submit_challenge, verify_challenge
from decathlon.leaderboard.reference import simulated_tasks
from decathlon.leaderboard.verify import verify_bundle

FORECAST, GRAPH = "particles/springs-forecast", "particles/springs-graph"
SECRET = "test-secret-not-for-production-0001"
MODELS = {FORECAST: "constant-velocity", GRAPH: "proximity"}


def _predict(inputs_dir, out_dir, tasks=(FORECAST, GRAPH)):
    for t in tasks:
        model = make_baseline(MODELS[t], get_task(t))
        predict_inputs(model, inputs_dir / f"{slug(t)}.npz", out_dir / f"{slug(t)}.npz")
    return out_dir


@pytest.fixture(scope="module")
def flow(springs_mini, tmp_path_factory):
    """The procedure through the command line; returns its folders."""
    tmp = tmp_path_factory.mktemp("challenge")
    ch, inputs, entries = tmp / "published", tmp / "inputs", tmp / "entries"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DECATHLON_CHALLENGE_SECRET", SECRET)
        make = ["leaderboard", "challenge", "make", "--out", str(ch), "--name", "t1"]
        assert main([*make, "--tasks", FORECAST, GRAPH]) == 0
        for t in (FORECAST, GRAPH):
            out = str(inputs / f"{slug(t)}.npz")
            assert (
                main(["export-inputs", t, out, "--split", "challenge", "--challenge", str(ch)]) == 0
            )
        preds = _predict(inputs, tmp / "preds")
        bundle = tmp / "bundle.zip"
        submit = ["submit", "--model", "rules", "--challenge", str(ch), "--predictions"]
        meta = ["--training-data", "none: fixed rules", "--n-parameters", "0"]
        assert main([*submit, str(preds), "--out", str(bundle), *meta]) == 0
        verify = ["leaderboard", "challenge", "verify", str(bundle), "--n-boot", "50"]
        assert main([*verify, "--accept", str(entries)]) == 0
    return {"ch": ch, "inputs": inputs, "preds": preds, "bundle": bundle, "entries": entries}


def test_the_procedure_gives_a_re_scored_entry_with_the_numbers_of_a_direct_evaluation(flow):
    (entry,) = [p for p in flow["entries"].iterdir()]
    loaded = load_entry(entry)
    assert loaded["verification"] == "re-scored"
    by_task = {r["task"]["name"]: r for r in loaded["results"]}
    assert sorted(by_task) == [FORECAST, GRAPH]
    secret = secret_from(SECRET)
    for t, rec in by_task.items():
        assert rec["task"]["split"] == "challenge" and rec["verification"] == "re-scored"
        validate_result(rec)
        # the same model evaluated directly on the secret data gives the same numbers
        direct = evaluate(
            make_baseline(MODELS[t], get_task(t)),
            prepare_challenge(t, "mini", secret),
            EvalConfig(n_boot=50),
        )
        assert rec["metrics"] == direct["metrics"]
        assert rec["points"]["value"] == direct["points"]["value"]
        assert rec["task"]["split_sha256"] == direct["task"]["split_sha256"]
    data = leaderboard_data(flow["entries"])
    assert data["entries"][0]["tasks"][FORECAST]["split"] == "challenge"


def test_the_challenge_part_is_new_data_from_the_secret(flow):
    secret = secret_from(SECRET)
    ch = prepare_challenge(FORECAST, "mini", secret)
    public = prepare(FORECAST, "test", "mini")
    assert ch.windows.x.shape == public.windows.x.shape
    assert not np.allclose(ch.windows.x, public.windows.x)
    again = prepare_challenge(FORECAST, "mini", secret_from(SECRET))
    assert np.array_equal(again.windows.y, ch.windows.y)  # deterministic from the secret
    other = prepare_challenge(FORECAST, "mini", secret_from(SECRET + "x"))
    assert not np.allclose(other.windows.x, ch.windows.x)


def test_published_inputs_hold_no_targets_and_not_the_secret(flow):
    secret = secret_from(SECRET)
    for t in (FORECAST, GRAPH):
        task, ch = get_task(t), prepare_challenge(t, "mini", secret)
        with np.load(flow["ch"] / "inputs" / f"{slug(t)}.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = {"ids", "features", "target_features", "task", "tier", "split", "output_shape"}
        meta |= {"challenge", "commitment", "task_version", "dt"}
        inputs = {k for k in arrays if k == "x" or k.startswith("x__")}
        assert set(arrays) == meta | inputs  # no y, no edges, no sample/start, no seed
        assert {a.shape[1] for k, a in arrays.items() if k in inputs} == {task.context}
        y = ch.windows.y
        for a in arrays.values():  # the targets appear nowhere
            assert a.shape != y.shape or not np.allclose(a, y)
        assert np.array_equal(arrays["x"], ch.windows.x)
    published = b"".join(p.read_bytes() for p in flow["ch"].rglob("*") if p.is_file())
    for leak in (SECRET, str(secret.seed("nri-springs", "mini")), secret.key.hex()):
        assert leak.encode() not in published
    assert secret.key.hex() not in repr(secret)


def test_a_wrong_secret_is_refused(flow, capsys, monkeypatch):
    with pytest.raises(ValueError, match=r"does not open challenge 't1'.*give the secret"):
        verify_challenge(flow["bundle"], secret_from("another-secret-entirely-0002"))
    monkeypatch.setenv("DECATHLON_CHALLENGE_SECRET", "another-secret-entirely-0002")
    assert main(["leaderboard", "challenge", "verify", str(flow["bundle"])]) == 2
    assert "does not open challenge" in capsys.readouterr().err


@pytest.mark.parametrize("value", [None, "short"])
def test_a_missing_or_short_secret_is_refused(value, monkeypatch):
    monkeypatch.delenv("DECATHLON_CHALLENGE_SECRET", raising=False)
    with pytest.raises(ValueError, match=r"no challenge secret|at least 16"):
        secret_from(value)


def _tamper(src, dest, relist: bool):
    """A copy of the published challenge with one input value changed; with ``relist`` its
    hash in challenge.json is updated too (a consistent forgery only the secret can expose)."""
    shutil.copytree(src, dest)
    path = dest / "inputs" / f"{slug(FORECAST)}.npz"
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["x"] = arrays["x"].copy()
    arrays["x"][0, 0, 0, 0] += 0.5
    np.savez_compressed(path, **arrays)
    if relist:
        doc = json.loads((dest / "challenge.json").read_text())
        doc["tasks"][0]["inputs_sha256"] = arrays_sha256(arrays)
        (dest / "challenge.json").write_text(json.dumps(doc))
    return dest


def test_altered_inputs_are_refused_on_export(flow, tmp_path, capsys):
    ch = _tamper(flow["ch"], tmp_path / "ch", relist=False)
    cmd = ["export-inputs", FORECAST, str(tmp_path / "x.npz"), "--split", "challenge"]
    assert main([*cmd, "--challenge", str(ch)]) == 2
    assert "were altered" in capsys.readouterr().err


def test_predictions_of_altered_inputs_are_rejected_by_the_maintainer(flow, tmp_path):
    ch = _tamper(flow["ch"], tmp_path / "ch", relist=True)
    preds = _predict(ch / "inputs", tmp_path / "preds", (FORECAST,))
    bundle, _ = submit_challenge(
        "rules", ch, preds, tmp_path / "b", training_data="none", meta={"n_parameters": 0}
    )
    verdict = verify_challenge(bundle, secret_from(SECRET), n_boot=10)
    assert not verdict.accepted
    (problem,) = verdict.problems
    assert problem.startswith(f"task {FORECAST}: the predictions were made for inputs")
    assert "simulated again from the secret" in problem


def test_edited_predictions_are_rejected(flow, tmp_path):
    b = tmp_path / "b"
    with zipfile.ZipFile(flow["bundle"]) as zf:
        zf.extractall(b)  # our own bundle, written by the test
    p = b / "predictions" / f"{slug(GRAPH)}.npz"
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(p, **{**arrays, "pred": np.ones_like(arrays["pred"])})
    verdict = verify_challenge(b, secret_from(SECRET), n_boot=10)
    assert [x.split(":")[0] for x in verdict.problems] == [f"task {GRAPH}"]
    assert "has sha256" in verdict.problems[0]


def test_submit_refuses_bad_predictions_and_missing_declarations(flow, tmp_path):
    preds = tmp_path / "preds"
    shutil.copytree(flow["preds"], preds)
    p = preds / f"{slug(FORECAST)}.npz"
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    bad = arrays["pred"].copy()
    bad[3] = np.nan
    np.savez(p, **{**arrays, "pred": bad})
    kw = {"training_data": "none", "meta": {"n_parameters": 0}}
    with pytest.raises(ValueError, match=r"NaN/inf values \(windows \[3\]"):
        submit_challenge("rules", flow["ch"], preds, tmp_path / "b1", **kw)
    np.savez(p, **{**arrays, "ids": np.r_[arrays["ids"][:-1], 0]})
    with pytest.raises(ValueError, match=r"duplicate window ids \[0\]"):
        submit_challenge("rules", flow["ch"], preds, tmp_path / "b2", **kw)
    with pytest.raises(ValueError, match=r"parameter count"):
        submit_challenge("rules", flow["ch"], flow["preds"], tmp_path / "b3", training_data="x")
    with pytest.raises(ValueError, match=r"no predictions for challenge 't1'"):
        submit_challenge("rules", flow["ch"], tmp_path, tmp_path / "b4", **kw)
    assert not any((tmp_path / f"b{i}").exists() for i in range(1, 5))


def test_a_challenge_bundle_is_not_verified_as_a_plain_one(flow, tmp_path):
    with pytest.raises(ValueError, match=r"submission to challenge 't1'.*only the maintainer"):
        verify_bundle(flow["bundle"])
    (entry,) = list(flow["entries"].iterdir())
    copy = tmp_path / "entry"
    shutil.copytree(entry, copy)
    (copy / "verified.json").unlink()
    with pytest.raises(ValueError, match=r"challenge entry has no self-reported numbers"):
        load_entry(copy)


def test_export_needs_the_published_folder_for_the_challenge_split(flow, tmp_path, capsys):
    assert main(["export-inputs", FORECAST, str(tmp_path / "x.npz"), "--split", "challenge"]) == 2
    assert "--challenge FOLDER" in capsys.readouterr().err
    cmd = ["export-inputs", FORECAST, str(tmp_path / "x.npz"), "--split", "challenge"]
    assert main([*cmd, "--challenge", str(flow["ch"]), "--tier", "full"]) == 2
    assert "pass --tier mini" in capsys.readouterr().err


def test_the_challenge_split_exists_for_the_simulated_tasks_only():
    assert [t for t in list_tasks() if supports_challenge(t)] == simulated_tasks()
    assert not all(supports_challenge(t) for t in list_tasks())
