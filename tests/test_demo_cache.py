"""The demo respects the clock (issue 11, item 8): an estimate up front, a results cache keyed
by model, task, data and evaluator (a rerun recomputes only what changed; --force all; a damaged
cache entry is recomputed with a warning), torch threads capped on a busy machine, skip messages
said once."""

from __future__ import annotations

import json

import pytest

from decathlon.benchmark import runcache
from decathlon.benchmark.context import EvalConfig
from decathlon.benchmark.report import format_estimate, format_run
from decathlon.benchmark.suite import run_suite

TASKS = ["particles/springs-forecast", "particles/springs-graph"]
BASELINES = ("static", "chance")  # one pair per task: static on forecast, chance on graph


def _run(out, **kw):
    lines: list[str] = []
    res = run_suite(
        TASKS, BASELINES, "mini", out, config=EvalConfig(n_boot=10), say=lines.append, **kw
    )
    return res, lines


def _values(res):
    return [(r["model"]["name"], r["task"]["name"], r["metrics"]) for r in res["results"]]


def _pair(task: str, baseline: str):
    from decathlon.benchmark.suite import Pair

    return Pair(task, baseline)


def test_second_run_computes_nothing(springs_mini, tmp_path):
    first, lines = _run(tmp_path)
    assert (first["cached"], first["computed"]) == (0, 2)
    assert (
        lines[0].startswith("plan: 2 evaluations (2 tasks") and "0 cached, 2 to compute" in lines[0]
    )
    second, lines = _run(tmp_path)
    assert (second["cached"], second["computed"]) == (2, 0)
    assert "2 cached, 0 to compute; nothing to compute." in lines[0]
    assert _values(second) == _values(first) and second["files"] == first["files"]
    assert second["scores"] == first["scores"]
    assert "2 cached, 0 computed" in format_run(second)


def test_a_changed_model_version_recomputes_that_pair_only(springs_mini, tmp_path, monkeypatch):
    from decathlon.baselines.static import Static

    _run(tmp_path)
    monkeypatch.setattr(Static, "version", "2")
    res, lines = _run(tmp_path)
    assert (res["cached"], res["computed"]) == (1, 1)
    assert "1 cached, 1 to compute" in lines[0]
    assert [r["model"]["version"] for r in res["results"]] == ["2", "1"]
    res, _ = _run(tmp_path)  # and the new result is what is cached now
    assert (res["cached"], res["computed"]) == (2, 0)


def test_changed_evaluator_settings_recompute(springs_mini, tmp_path):
    _run(tmp_path)
    res = run_suite(TASKS, BASELINES, "mini", tmp_path, config=EvalConfig(n_boot=11), say=print)
    assert (res["cached"], res["computed"]) == (0, 2)


def test_force_recomputes_everything(springs_mini, tmp_path):
    _run(tmp_path)
    res, _ = _run(tmp_path, force=True)
    assert (res["cached"], res["computed"]) == (0, 2)


@pytest.mark.parametrize("damage", ["result", "sidecar"])
def test_a_damaged_cache_entry_is_recomputed_with_a_warning(springs_mini, tmp_path, caplog, damage):
    first, _ = _run(tmp_path)
    static_file = first["files"][0]
    if damage == "result":
        static_file.write_text(static_file.read_text()[:100])  # truncated
    else:
        side = next((tmp_path / runcache.SIDECAR_DIR).glob("static__*.json"))
        side.write_text("{not json")
    with caplog.at_level("WARNING", logger="decathlon"):
        res, _ = _run(tmp_path)
    assert (res["cached"], res["computed"]) == (1, 1)
    assert "computing" in caplog.text and "again" in caplog.text
    assert json.loads(static_file.read_text())["model"]["name"] == "static"  # rewritten whole


def test_a_tampered_result_is_not_reused(springs_mini, tmp_path):
    """A hit is verified: a result edited after it was written (valid JSON, valid schema) no
    longer has the recorded sha256 and is recomputed."""
    first, _ = _run(tmp_path)
    rec = json.loads(first["files"][0].read_text())
    rec["metrics"]["mse"]["value"] = 0.0
    first["files"][0].write_text(json.dumps(rec))
    res, _ = _run(tmp_path)
    assert res["computed"] == 1 and res["results"][0]["metrics"]["mse"]["value"] > 0


def test_key_holds_model_task_data_and_evaluator(springs_mini, tmp_path):
    _run(tmp_path)
    side = json.loads(next((tmp_path / runcache.SIDECAR_DIR).glob("static__*.json")).read_text())
    key = side["key"]
    assert key["model"]["name"] == "static" and key["model"]["version"] == "1"
    assert key["task"] == {
        "name": "particles/springs-forecast",
        "version": "1",
        "split": "test",
        "tier": "mini",
    }
    assert key["data"]["dataset"] == "nri-springs" and len(key["data"]["data_sha256"]) == 64
    assert key["evaluator"]["n_boot"] == 10 and "progress" not in key["evaluator"]
    assert {"evaluator_version", "decathlon_version"} <= set(key["evaluator"])
    assert (
        side["seconds"] > 0
        and side["result_file"] == "static__particles-springs-forecast__mini.json"
    )


def test_estimate_uses_recorded_timings_and_the_load(springs_mini, tmp_path, monkeypatch):
    res, _ = _run(tmp_path)
    assert res["estimate"]["recorded"] == 0  # nothing ran here before: built-in timings
    secs, recorded = runcache.pair_seconds(tmp_path, "static", TASKS[0], "mini")
    assert recorded and secs > 0
    monkeypatch.setattr(runcache, "busy_factor", lambda *a: (1.0, 2, 0.2))
    est = runcache.estimate([_pair("particles/springs-forecast", "static")], "mini", tmp_path, {})
    assert est["recorded"] == 1 and est["seconds"] == pytest.approx(secs, abs=0.1)
    monkeypatch.setattr(runcache, "busy_factor", lambda *a: (2.5, 2, 4.0))
    est = runcache.estimate(
        [_pair("particles/springs-forecast", "gru")], "mini", tmp_path, {"x": "y"}
    )
    gru = runcache.DEFAULT_SECONDS["gru"]["particles/springs-forecast"]
    assert est["recorded"] == 0 and est["seconds"] == pytest.approx(2.5 * gru, abs=0.1)
    text = format_estimate(est)
    assert "mostly gru" in text and "busy (load 4.0 on 2 CPUs)" in text
    assert "1 task skipped (listed at the end)" in text


def test_busy_factor_is_a_share_of_the_cores():
    assert runcache.busy_factor(4, 0.5)[0] == 1.0
    assert runcache.busy_factor(2, 5.0)[0] == 3.0
    assert runcache.busy_factor(1, 0.0)[0] == 1.0


# ------------------------------------------------------------------------------------------
# Skip messages once
# ------------------------------------------------------------------------------------------


def test_a_skipped_task_is_reported_once(springs_mini, tmp_path):
    lines: list[str] = []
    res = run_suite(
        ["particles/springs-graph", "mocap/cmu-walking-forecast"],
        ("chance", "static", "constant-velocity"),
        "mini",
        tmp_path,
        config=EvalConfig(n_boot=5),
        say=lines.append,
    )
    text = "\n".join(lines) + "\n" + format_run(res)
    assert text.count("needs the cmu-mocap-35 download") == 1
    assert "1 task skipped (listed at the end)" in lines[0]


def test_refusals_are_grouped_per_baseline_and_reason():
    why = "the gru baseline needs a fixed set of entities; task {!r} has entities that come and go"
    run = {
        "results": [],
        "scores": {},
        "skipped": {},
        "skipped_pairs": {(t, "gru"): why.format(t) for t in ("ped/a", "ped/b")},
    }
    lines = [ln for ln in format_run(run).splitlines() if ln.startswith("skipped")]
    assert lines == [
        "skipped gru on ped/a, ped/b: the gru baseline needs a fixed set of entities; "
        "the task has entities that come and go"
    ]


# ------------------------------------------------------------------------------------------
# The torch thread cap
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cores", "load", "env", "current", "expected"),
    [
        (2, 0.1, {}, 2, 2),  # idle: torch's default
        (2, 1.0, {}, 2, 2),  # this process alone is running
        (2, 3.0, {}, 2, 1),  # two other jobs: one core left
        (2, 9.0, {}, 2, 1),  # never below 1
        (16, 4.4, {}, 8, 8),  # never above torch's own setting (physical cores)
        (16, 12.0, {}, 8, 5),
        (4, None, {}, 8, 4),  # no load average: the usable cores
        (2, 9.0, {"DECATHLON_THREADS": "3"}, 2, 3),  # the user decides
        (8, 9.0, {"OMP_NUM_THREADS": "6"}, 6, 6),  # the user's OMP setting is kept
        (8, 9.0, {"MKL_NUM_THREADS": "2"}, 2, 2),
    ],
)
def test_thread_cap(cores, load, env, current, expected):
    pytest.importorskip("torch")
    from decathlon.baselines.fit import choose_threads

    n, why = choose_threads(cores, load, env, current)
    assert n == expected and why


@pytest.mark.parametrize("bad", ["0", "two", "-1", "1.5"])
def test_thread_cap_refuses_a_bad_setting(bad):
    pytest.importorskip("torch")
    from decathlon.baselines.fit import choose_threads

    with pytest.raises(ValueError, match=f"DECATHLON_THREADS={bad!r} is not a whole number"):
        choose_threads(2, 0.0, {"DECATHLON_THREADS": bad}, 2)


def test_thread_cap_is_applied_and_logged_once(monkeypatch, caplog):
    torch = pytest.importorskip("torch")
    from decathlon.baselines import fit

    set_to: list[int] = []
    monkeypatch.setattr(fit, "_CHOSEN", None)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(torch, "set_num_threads", set_to.append)
    monkeypatch.setenv("DECATHLON_THREADS", "1")
    with caplog.at_level("INFO", logger="decathlon"):
        assert fit.cap_torch_threads() == 1
        assert fit.cap_torch_threads() == 1
    assert set_to == [1]
    assert caplog.text.count("torch uses 1 CPU threads (DECATHLON_THREADS=1") == 1


def test_a_refusal_is_remembered_and_not_estimated_as_work(springs_mini, tmp_path, override):
    """A learned baseline that refuses a task is tried once: the next run reports the same
    refusal from the cache, without training, and its estimate counts no work for it."""
    from decathlon.baselines.static import Static
    from decathlon.benchmark.baselines import BASELINES as REGISTRY
    from decathlon.benchmark.baselines import BaselineSpec

    fits: list[str] = []

    class Picky(Static):
        name = "picky"

        def fit(self, tier: str) -> None:
            fits.append(tier)
            raise ValueError(f"picky refuses task {self.task.name!r}")

    spec = BaselineSpec("picky", lambda task, **_: Picky(task), ("forecast",), learned=True)
    override(REGISTRY, "picky", spec)
    cfg = EvalConfig(n_boot=10)
    first = run_suite(TASKS[:1], ("picky",), "mini", tmp_path, config=cfg, say=lambda _: None)
    assert fits == ["mini"] and first["results"] == []
    why = first["skipped_pairs"][(TASKS[0], "picky")]
    lines: list[str] = []
    second = run_suite(TASKS[:1], ("picky",), "mini", tmp_path, config=cfg, say=lines.append)
    assert fits == ["mini"], "the refusal was tried again"
    assert second["skipped_pairs"] == {(TASKS[0], "picky"): why}
    assert second["estimate"]["to_compute"] == 0 and "nothing to compute" in lines[0]
    forced = run_suite(
        TASKS[:1], ("picky",), "mini", tmp_path, config=cfg, say=lambda _: None, force=True
    )
    assert fits == ["mini", "mini"] and forced["skipped_pairs"] == first["skipped_pairs"]
