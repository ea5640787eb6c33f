"""Command-line conventions (issue 11, item 10): --version, defaults in every help, list --json,
"did you mean", exit status 2 for usage errors and 1 for runtime failures, describe before
prepare, files written with the user's umask, no progress bars in redirected output."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from decathlon import __version__
from decathlon.benchmark import cache
from decathlon.cli import _parser, main
from decathlon.cli_support import Failed, exit_status


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    acts = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(acts[0].choices) if acts else {}


def test_version_is_printed_and_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "decathlon", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"decathlon {__version__}"


def test_every_option_help_states_its_default():
    top = _parser()
    parsers = {"": top, **_subparsers(top)}
    for name, sub in list(parsers.items()):  # nested groups: `decathlon leaderboard verify`
        parsers.update({f"{name} {k}": v for k, v in _subparsers(sub).items()} if name else {})
    for name, sub in parsers.items():
        fmt = sub._get_formatter()
        for action in sub._actions:
            if not action.option_strings or action.dest in ("help", "version") or action.required:
                continue
            text = fmt._get_help_string(action)
            assert "default" in text, f"decathlon {name} {action.option_strings[0]}: {text!r}"
    help_text = _subparsers(top)["run"].format_help()
    assert "(default: mini)" in help_text and "(default: 1000)" in help_text
    assert "DECATHLON_THREADS" in help_text and "--force" in help_text


def test_list_json(capsys):
    assert main(["list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {t["name"] for t in doc["tasks"]} >= {"particles/springs-forecast"}
    cmu = next(d for d in doc["datasets"] if d["name"] == "cmu-mocap-35")
    assert (cmu["origin"], cmu["files"], cmu["pinned_files"]) == ("download", 24, 2)
    assert any(b["name"] == "gru" and b["learned"] for b in doc["baselines"])
    assert main(["list"]) == 0
    assert "files=24 (2 pinned)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["describe", "particles/sprngs-forecast"], "Did you mean 'particles/springs-forecast'?"),
        (["prepare", "nri-sprngs"], "Did you mean 'nri-springs'?"),
        (["run", "--tasks", "springs-forecast"], "Did you mean 'particles/springs-forecast'?"),
        (["run", "--baselines", "static,constant-velocty"], "Did you mean 'constant-velocity'?"),
    ],
)
def test_misspelt_names_get_a_suggestion_and_exit_2(capsys, tmp_path, argv, hint):
    assert main([*argv, *(["--out", str(tmp_path)] if argv[0] == "run" else [])]) == 2
    err = capsys.readouterr().err
    assert hint in err and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing ran before the name was checked


def test_argparse_usage_errors_exit_2(capsys):
    for argv in (["describe", "particles/springs-forecast", "--tier", "ful"], ["run", "--x"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "error:" in err and err.count("\n") == 1


def test_describe_tier_is_checked_like_everywhere_else(capsys):
    with pytest.raises(SystemExit) as e:
        main(["describe", "particles/springs-forecast", "--tier", "ful"])
    assert e.value.code == 2
    assert "invalid choice: 'ful'" in capsys.readouterr().err


def test_exit_status_splits_usage_from_runtime():
    from decathlon.benchmark.data import StoreError
    from decathlon.benchmark.suite import CannotTrain
    from decathlon.datasets.fetch import ChecksumError

    args = argparse.Namespace(predictions="mine.npz", tier="mini")
    assert exit_status(KeyError("unknown task"), args) == 2
    assert exit_status(ValueError("member 'ids' has shape (3,)"), args) == 2
    assert exit_status(FileNotFoundError(2, "No such file", "mine.npz"), args) == 2
    assert exit_status(FileNotFoundError(2, "No such file", "/cache/x.zarr"), args) == 1
    for e in (
        Failed("parse error"),
        StoreError("corrupted"),
        CannotTrain("no"),
        ChecksumError("sha"),
        OSError("network"),
    ):
        assert exit_status(e, args) == 1, e


def test_failed_download_exits_1_listing_every_missing_file(capsys, tmp_path, monkeypatch):
    """The CMU task needs 24 files: one failure reports all of them, with URLs and pin status."""
    from decathlon.datasets import fetch

    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    calls = []

    def offline(pup, key, f, *a, **k):
        calls.append(f.name)
        raise OSError(f"could not download {f.url} (ConnectionError: offline)")

    monkeypatch.setattr(fetch, "_download", offline)
    assert main(["prepare", "mocap/cmu-walking-forecast"]) == 1
    err = capsys.readouterr().err
    assert calls == ["35.asf"]  # stopped at the first failure: no time-out per file
    assert "24 of the 24 files of cmu-mocap-35 are not in the cache" in err
    for n in ("35.asf", "35_01.amc", "35_16.amc", "35_28.amc", "35_34.amc"):
        assert f"http://mocap.cs.cmu.edu/subjects/35/{n}" in err
    assert err.count("(pinned)") == 2 and err.count("(trust-on-first-use)") == 22
    assert "2 of the 24 files of cmu-mocap-35 are pinned (35.asf, 35_01.amc)" in err
    assert "decathlon prepare cmu-mocap-35 --from DIR" in err and "Traceback" not in err


def test_prepare_from_a_folder_missing_files_lists_them_all(capsys, tmp_path, monkeypatch):
    from decathlon.datasets.cmu_mocap import make_fake_cmu_mocap

    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    make_fake_cmu_mocap(tmp_path / "up", trials=(1, 2))
    assert main(["prepare", "cmu-mocap-35", "--from", str(tmp_path / "up")]) == 1
    err = capsys.readouterr().err
    assert "21 of the 24 files of dataset 'cmu-mocap-35' are not in" in err
    assert "35_34.amc" in err and "http://mocap.cs.cmu.edu/subjects/35/35_03.amc" in err
    assert "..." not in err and err.count("(trust-on-first-use)") == 21
    with pytest.raises(SystemExit) as e:  # a folder that does not exist: a usage error
        main(["prepare", "cmu-mocap-35", "--from", str(tmp_path / "nope")])
    assert e.value.code == 2


def test_describe_before_prepare_shows_the_real_feature_counts(capsys, tmp_path, monkeypatch):
    """Springs used to show features ['pos', 'vel'] and an output last dimension of 2 (the
    variable names, not their columns) until the store was built."""
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "empty"))
    assert main(["describe", "particles/springs-forecast", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["prepared"] is False and d["shapes_from"] == "one simulated sample"
    assert d["inputs"]["x"]["features"] == ["pos_x", "pos_y", "vel_x", "vel_y"]
    assert d["inputs"]["x"]["shape"] == ["W", 49, 5, 4] and d["output"]["shape"] == ["W", 20, 5, 4]
    assert main(["describe", "mocap/cmu-walking-forecast"]) == 0
    out = capsys.readouterr().out
    assert (
        "shape=['W', 50, 'N', 'F']" in out and "known after `decathlon prepare cmu-mocap-35`" in out
    )
    assert "upstream files: 2 pinned" in out and "22 trust-on-first-use" in out
    assert not (tmp_path / "empty").exists()  # describing builds nothing


def test_describe_after_prepare_reads_the_store(capsys, springs_mini):
    assert main(["describe", "particles/springs-forecast", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["prepared"] is True and d["shapes_from"] == "store"
    assert d["output"]["shape"] == ["W", 20, 5, 4]


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_files_are_written_with_the_users_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert cache.current_umask() == mask
        p = cache.write_atomic(tmp_path / "r.json", "{}")
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask
        assert not [q for q in tmp_path.iterdir() if q.name.startswith(".tmp-")]
    finally:
        os.umask(old)


def test_saved_result_is_readable_by_the_group_under_umask_022(springs_mini, tmp_path):
    from decathlon.benchmark.context import EvalConfig
    from decathlon.benchmark.results import save_result
    from decathlon.benchmark.suite import run_baseline

    old = os.umask(0o022)
    try:
        r = run_baseline("static", "particles/springs-forecast", config=EvalConfig(n_boot=5))
        path = save_result(r, tmp_path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # mkstemp alone gave 0o600


def test_no_progress_bars_when_output_is_redirected(capsys, springs_mini, tmp_path):
    argv = ["evaluate", "--model", "static", "--task", "particles/springs-forecast"]
    assert main([*argv, "--n-boot", "10", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "it/s" not in err and "windows/s" not in err


def test_tier_choices_are_the_data_tiers():
    """The command line's `--tier` choices (written out so parsing imports no data code) are
    exactly the tiers the data layer knows."""
    from typing import get_args

    from decathlon.benchmark.data import Tier
    from decathlon.cli_support import TIER_CHOICES

    assert TIER_CHOICES == list(get_args(Tier))
