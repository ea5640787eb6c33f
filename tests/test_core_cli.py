"""The command line: subcommands call the library and print tables; errors are one clear line."""

import json

import numpy as np
import pytest

from decathlon.cli import main


def test_list_and_describe(capsys, springs_mini):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "particles/springs-forecast" in out and "constant-velocity" in out
    assert main(["describe", "particles/springs-graph"]) == 0
    assert "model returns: dims=['window', 'entity', 'entity_']" in capsys.readouterr().out
    assert main(["describe", "particles/springs-forecast", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output"]["shape"] == ["W", 20, 5, 4]


def test_unknown_task_is_one_clear_line(capsys):
    assert main(["describe", "particles/nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("decathlon describe: error: unknown task 'particles/nope'; valid names: ")
    assert "Traceback" not in err


def test_evaluate_export_score(capsys, springs_mini, tmp_path):
    out = tmp_path / "res"
    assert (
        main(
            [
                "evaluate",
                "--model",
                "constant-velocity",
                "--task",
                "particles/springs-forecast",
                "--out",
                str(out),
                "--n-boot",
                "50",
            ]
        )
        == 0
    )
    files = list(out.glob("*.json"))
    assert len(files) == 1
    rec = json.loads(files[0].read_text())
    assert rec["model"]["name"] == "constant-velocity"
    assert main(["export-inputs", "particles/springs-graph", str(tmp_path / "in.npz")]) == 0
    with np.load(tmp_path / "in.npz", allow_pickle=False) as z:
        ids, n = z["ids"], z["x"].shape[2]
    np.savez(tmp_path / "p.npz", ids=ids, pred=np.full((len(ids), n, n), 0.5))
    capsys.readouterr()
    assert (
        main(
            [
                "score",
                "particles/springs-graph",
                str(tmp_path / "p.npz"),
                "--out",
                str(out),
                "--name",
                "mine",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "particles/springs-graph" in text and "mine" in text
    assert (out / "mine__particles-springs-graph__mini.json").is_file()


def test_score_bad_file_is_clear(capsys, springs_mini, tmp_path):
    np.savez(tmp_path / "p.npz", ids=np.arange(3), pred=np.zeros((3, 20, 5, 4)))
    assert main(["score", "particles/springs-forecast", str(tmp_path / "p.npz")]) == 2
    err = capsys.readouterr().err
    assert "member 'ids' has shape (3,), expected (500)" in err and err.count("\n") == 1


@pytest.mark.slow
def test_run_demo_subset(capsys, springs_mini, tmp_path):
    assert (
        main(
            [
                "run",
                "--tasks",
                "particles/springs-forecast",
                "--baselines",
                "static,constant-velocity,gru",
                "--epochs",
                "2",
                "--n-boot",
                "50",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "decathlon score gru" in out
    assert (tmp_path / "decathlon.png").stat().st_size > 10_000
    assert len(list(tmp_path.glob("*.json"))) == 3


@pytest.mark.slow
def test_bench_writes_side_by_side_results(capsys, springs_mini, tmp_path):
    """`decathlon bench` on the mini tier: the evaluator and the plain scripts agree on the value
    (both sides did the same job) and the results file records both; nothing is timed here."""
    import json

    argv = ["bench", "--part", "evaluator", "--tier", "mini", "--repeats", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "bench_evaluator.json").read_text())
    for row in doc["results"]:
        plain, full = row["plain"]["value"], row["evaluate"]["value"]
        assert full == pytest.approx(plain, rel=1e-9), row["kind"]
        assert row["evaluate"]["peak_mib"] > 0 and row["plain"]["wall_s"] > 0
        by_hand, ours = row["plain_probes"]["probe_values"], row["evaluate"]["probe_values"]
        assert set(by_hand) == set(ours) and len(ours) == 10, row["kind"]  # plain, 6 probes, 3 g
        for k, v in by_hand.items():
            assert ours[k] == pytest.approx(v, rel=1e-9, abs=1e-12), (row["kind"], k)
        assert row["evaluate"]["reference"] == "plain_probes"
    assert {r["mode"] for r in doc["streaming"]} == {"in-memory", "streaming"}
    assert "evaluator" in capsys.readouterr().out


def test_prepare_from_a_local_folder(capsys, real_data, tmp_path, monkeypatch):
    """`decathlon prepare eth-ucy --from DIR` on the real files: verified, copied, built."""
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    assert main(["prepare", "eth-ucy", "--from", str(real_data / "eth_ucy")]) == 0
    out = capsys.readouterr().out
    assert "24 files of eth-ucy verified and copied" in out and "ready at" in out
    assert main(["prepare", "nri-springs", "--from", str(tmp_path)]) == 2
    assert "applies to downloads only" in capsys.readouterr().err
