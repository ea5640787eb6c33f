"""Result records are the leaderboard's input: every hole of issue 15 closed, one test each.

Each forged record below was accepted before (``load_result``/``decathlon_score`` checked the
schema only); each now gives its own error naming the bad value.
"""

from __future__ import annotations

import copy
import json

import pytest

from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.evaluate import evaluate
from decathlon.benchmark.points import decathlon_score
from decathlon.benchmark.results import load_result, parse_json, save_result, validate_result
from decathlon.benchmark.tasks import get_task

FORECAST = "particles/springs-forecast"


@pytest.fixture(scope="module")
def record(springs_mini):
    task = get_task(FORECAST)
    return evaluate(make_baseline("constant-velocity", task), prepare(task), EvalConfig(n_boot=20))


def _edit(rec, path, value):
    out = copy.deepcopy(rec)
    *head, last = path.split("/")
    node = out
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node[k]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def _write(tmp_path, text, name="r.json"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_an_honest_record_loads(record, tmp_path):
    loaded = load_result(save_result(record, tmp_path))
    assert loaded["metrics"] == record["metrics"]


FORGERIES = [
    # (what, path, value, the error names)
    ("points of 1000 beside an MSE of 5.0", "metrics/mse/value", 5.0, r"points/value .* gives"),
    ("points edited alone", "points/value", 1000.0, r"points/value of .* is 1000"),
    ("negative MSE", "metrics/mse/value", -1.0, r"metrics/mse = -1.0 is impossible"),
    ("unknown task", "task/name", "particles/warp-drive", "not a registered task"),
    ("tier ultra", "task/tier", "ultra", "task/tier"),
    ("unknown split", "task/split", "secret", "task/split 'secret' is not a split"),
    ("primary metric swapped", "task/primary", "fde", "task/primary is 'fde'"),
    ("n_windows 1e18", "n_windows", 10**18, "n_windows"),
    ("inverted interval", "metrics/mse/ci95", [0.9, 0.1], r"ci95 = \[0.9, 0.1\] is inverted"),
    (
        "metric key of 1000 characters",
        "metrics/" + "m" * 1000,
        {"value": 1, "ci95": [1, 1]},
        "metrics",
    ),
    (
        "a metric the task does not report",
        "metrics/auroc",
        {"value": 0.5, "ci95": [0.5, 0.5]},
        "not reported",
    ),
    ("4 MB hardware blob", "hardware/blob", "x" * (4 << 20), "hardware"),
    ("hardware nested", "hardware/gpu", {"a": {"b": 1}}, "hardware"),
    ("unbounded seeds", "seeds/model", "s" * 10_000, "seeds"),
    ("unbounded model config", "model/config", {"k": [["x"] * 300]}, "model/config"),
    ("unbounded normalization", "task/normalization/junk", "x", "normalization"),
    ("control characters in the model name", "model/name", "a\x00b", "model/name"),
    ("NaN in memory", "points/value", float("nan"), "finite"),
]


@pytest.mark.parametrize("what,path,value,match", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_forged_records_are_refused(record, what, path, value, match):
    with pytest.raises(ValueError, match=match):
        validate_result(_edit(record, path, value))


def test_a_claimed_verification_tier_is_refused(record, tmp_path):
    p = _write(tmp_path, json.dumps(_edit(record, "verification", "re-run")))
    with pytest.raises(ValueError, match=r"verification 're-run' is claimed by the file"):
        load_result(p)
    assert load_result(p, tiers=("self-reported", "re-run"))["verification"] == "re-run"


@pytest.mark.parametrize("key", ["data_sha256", "split_sha256"])
def test_made_up_hashes_are_refused_when_the_data_are_here(record, tmp_path, key):
    p = _write(tmp_path, json.dumps(_edit(record, f"task/{key}", "ab" * 32)))
    with pytest.raises(ValueError, match=f"task/{key} is abab.* but nri-springs"):
        load_result(p)


def test_nan_literal_infinite_number_and_duplicate_keys_are_refused(record, tmp_path):
    text = json.dumps(record)
    nan = text.replace(f'"value": {record["points"]["value"]}', '"value": NaN', 1)
    assert nan != text
    with pytest.raises(ValueError, match="NaN is not allowed"):
        load_result(_write(tmp_path, nan))
    with pytest.raises(ValueError, match="1e999 overflows"):
        parse_json('{"a": 1e999}', "x")
    with pytest.raises(ValueError, match="key 'a' appears twice"):
        parse_json('{"a": 1, "a": 2}', "x")


def test_deep_nesting_is_refused_before_parsing(tmp_path):
    p = _write(tmp_path, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nested 100000 levels deep"):
        load_result(p)


def test_oversized_files_are_refused_before_reading(record, tmp_path):
    p = _write(tmp_path, json.dumps(record) + " " * 2000)
    with pytest.raises(ValueError, match="bytes; result files are at most 1000 bytes"):
        load_result(p, max_bytes=1000)


def _scored(name, value, ci):
    return {"task": {"name": name, "event": "a/x"}, "points": {"value": value, "ci95": ci}}


def test_decathlon_score_refuses_nan_inverted_and_duplicates():
    with pytest.raises(ValueError, match="must be finite"):
        decathlon_score([_scored("a/x-f", float("nan"), [1.0, 2.0])])
    with pytest.raises(ValueError, match=r"points/ci95 of task 'a/x-f' is \[6.0, 4.0\]: inverted"):
        decathlon_score([_scored("a/x-f", 5.0, [6.0, 4.0])])
    with pytest.raises(ValueError, match="two results for task 'a/x-f'"):
        decathlon_score([_scored("a/x-f", 5.0, [4.0, 6.0]), _scored("a/x-f", 900.0, [9, 9])])
    one = decathlon_score([_scored("a/x-f", 5.0, [4.0, 6.0])], events={"a/x": ["a/x-f"]})
    assert one["total"] == 5.0
