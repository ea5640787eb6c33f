"""Stores that must not be believed, and caches that cannot be used (issue "Faults")."""

import json
import os

import pytest

from decathlon.benchmark.data import DATASETS, StoreError, materialize, store_dir, store_meta
from decathlon.benchmark.marker import marker_problem
from decathlon.cli import main

TASK = "particles/springs-forecast"


@pytest.fixture
def marker(springs_mini, tmp_path):
    """The springs mini marker, restored after the test edits it."""
    f = store_dir(DATASETS.get("nri-springs"), "mini") / "COMPLETE.json"
    backup = f.read_text()
    yield f
    f.write_text(backup)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: {}, "has no 'parts' table"),
        (lambda m: [], "holds a JSON list"),
        (lambda m: {**m, "parts": {**m["parts"], "test": None}}, "no valid sha256 for part 'test'"),
        (lambda m: {**m, "tier": "full"}, "says tier = 'full', but this store is tier 'mini'"),
        (lambda m: {**m, "dataset": "nri-charged"}, "says dataset = 'nri-charged'"),
        (lambda m: {**m, "data_sha256": "0" * 64}, "data_sha256 that is not the hash of its parts"),
    ],
)
def test_a_forged_marker_is_refused_with_the_fix(marker, capsys, edit, match):
    marker.write_text(json.dumps(edit(json.loads(marker.read_text()))))
    with pytest.raises(StoreError, match=match):
        store_meta("nri-springs", "mini")
    # a corrupted store is a runtime failure: exit status 1 (issue 11)
    assert main(["evaluate", "--model", "static", "--task", TASK, "--n-boot", "5"]) == 1
    err = capsys.readouterr().err
    assert match.split("'")[0] in err and "`decathlon prepare nri-springs --tier mini` again" in err


def test_a_store_linked_under_another_name_is_refused(springs_mini, tmp_path, monkeypatch):
    """nri-charged/mini symlinked to the springs store: caught by the dataset in its marker."""
    charged = store_dir(DATASETS.get("nri-charged"), "mini")
    if charged.exists():
        pytest.skip("the charged mini store exists in this session's cache")
    charged.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(store_dir(DATASETS.get("nri-springs"), "mini"), charged)
    try:
        with pytest.raises(StoreError, match="says dataset = 'nri-springs'"):
            store_meta("nri-charged", "mini")
    finally:
        charged.unlink()


def test_marker_problem_accepts_an_honest_marker(springs_mini):
    meta = store_meta("nri-springs", "mini")
    assert marker_problem(meta, "nri-springs", "1", "mini") is None


@pytest.mark.parametrize("kind", ["file", "dangling", "loop"])
def test_a_cache_root_that_is_not_a_folder_is_named(tmp_path, monkeypatch, capsys, kind):
    root = tmp_path / "cache"
    if kind == "file":
        root.write_text("not a folder")
    elif kind == "dangling":
        os.symlink(tmp_path / "missing", root)
    else:
        os.symlink(root, root)
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(root))
    assert main(["prepare", "nri-springs"]) == 2
    err = capsys.readouterr().err
    assert "$DECATHLON_DATA_DIR" in err and str(root) in err and err.count("\n") == 1


def test_an_unwritable_cache_fails_before_any_simulation(monkeypatch, capsys):
    """/proc cannot hold files, not even for root: the build stops before simulating."""
    monkeypatch.setenv("DECATHLON_DATA_DIR", "/proc/decathlon-cache")
    with pytest.raises(ValueError, match=r"/proc/decathlon-cache cannot be written \(/proc: "):
        materialize("nri-springs", "mini")
