"""Decathlon points (logarithmic, to a per-task target) and the decathlon score over every
registered event (docs/probes.md §4)."""

import dataclasses
import math
import warnings

import numpy as np
import pytest

from decathlon.benchmark.bootstrap import ci
from decathlon.benchmark.points import (
    POINTS_RULE,
    decathlon_score,
    metric_error,
    points,
    points_block,
    registered_events,
)
from decathlon.benchmark.report import format_score
from decathlon.benchmark.tasks import get_task, list_tasks


def test_equal_ratios_gain_equal_points():
    # trivial 1e-2, target 1e-6: four decades, 250 points each
    for e, want in [(1e-2, 0), (1e-3, 250), (1e-4, 500), (1e-5, 750), (1e-6, 1000)]:
        assert points(e, 1e-2, 1e-6) == pytest.approx(want, abs=1e-9)
    # halving the error is worth the same wherever it happens
    assert points(4e-4, 1e-2, 1e-6) - points(8e-4, 1e-2, 1e-6) == pytest.approx(
        points(4e-5, 1e-2, 1e-6) - points(8e-5, 1e-2, 1e-6)
    )
    # metrics bounded above use 1 - value: chance AUROC 0.5 -> target 0.995 is two decades
    up = dict(perfect=1.0, higher_is_better=True)
    assert points(0.5, 0.5, 0.995, **up) == 0
    assert points(0.95, 0.5, 0.995, **up) == pytest.approx(500)
    assert points(0.995, 0.5, 0.995, **up) == pytest.approx(1000)
    assert metric_error(0.5, 1.0, True) == 0.5


def test_points_of_a_ridge_like_model_no_longer_saturate():
    """The issue's example: an error 1.2 % of persistence's scored 988 linear points."""
    trivial, ridge, oracle = 0.015, 0.015 * 0.012, 1e-8
    linear = 1000 * (1 - ridge / trivial)
    assert linear == pytest.approx(988)
    target = 1e-9
    assert points(ridge, trivial, target) < 400 < points(oracle, trivial, target)


def test_edge_cases_never_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero or invalid-value warnings
        assert points(0.0, 1.0, 0.1) == 1000  # E == 0
        assert points(0.05, 1.0, 0.1) == 1000  # past the target
        assert points(0.1, 1.0, 0.1) == 1000  # at the target
        assert points(1.0, 1.0, 0.1) == 0  # the trivial baseline itself
        assert points(3.0, 1.0, 0.1) == 0  # worse than trivial
        for bad in (np.nan, np.inf, -np.inf):
            assert points(bad, 1.0, 0.1) == 0
            assert points(0.5, bad, 0.1) == 0  # no finite anchor, no points
        # a trivial baseline already at the target (tiny fake data): it still scores 0, any
        # model better than it scores 1000, none in between
        assert points(0.05, 0.05, 0.1) == 0 and points(0.04, 0.05, 0.1) == 1000
        reps = points(np.array([0.0, 0.5, np.nan, 2.0]), np.array([1.0, 1.0, 1.0, np.nan]), 0.1)
        assert reps.tolist() == [1000.0, pytest.approx(1000 * math.log(2) / math.log(10)), 0, 0]


def test_points_block_is_self_describing_and_paired():
    task = get_task("particles/springs-forecast")
    rng = np.random.default_rng(0)
    trivial_reps = 0.015 * np.exp(rng.normal(0, 0.05, 200))
    reps = trivial_reps * 0.01 * np.exp(rng.normal(0, 0.05, 200))
    b = points_block(task, 1.5e-4, reps, 0.015, trivial_reps)
    assert b["rule"] == POINTS_RULE and b["target_value"] == task.target
    assert b["trivial_value"] == 0.015 and b["trivial_baseline"] == "static"
    assert b["target_source"] == task.target_source and b["perfect_value"] == 0.0
    want = points(1.5e-4, 0.015, task.target)
    assert b["value"] == pytest.approx(float(want))
    assert b["ci95"] == ci(points(reps, trivial_reps, task.target))  # the same function
    assert b["ci95"][0] <= b["value"] <= b["ci95"][1]


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(target=None), "declares no|every task declares"),
        (dict(target_source=""), "every task declares"),
        (dict(target=float("nan")), "not a finite number"),
        (dict(target=0.0), "at or past the perfect"),
        (dict(target=-1.0), "at or past the perfect"),
    ],
)
def test_registration_refuses_bad_forecast_targets(change, match):
    with pytest.raises(ValueError, match=match) as e:
        dataclasses.replace(get_task("particles/springs-forecast"), **change)
    assert "particles/springs-forecast" in str(e.value)


@pytest.mark.parametrize("target", [1.0, 0.5, 0.3])
def test_registration_refuses_graph_targets_at_perfect_or_chance(target):
    with pytest.raises(ValueError, match="perfect|no better than the chance"):
        dataclasses.replace(get_task("particles/springs-graph"), target=target)


@pytest.mark.parametrize("name", list_tasks())
def test_every_task_declares_a_target_better_than_trivial(name):
    """Where the trivial value is known without data (chance AUROC), the target beats it; the
    forecast targets are checked against the measured trivial value in the contract test."""
    t = get_task(name)
    assert t.target is not None and t.target_source
    err = metric_error(t.target, t.perfect, t.higher_is_better)
    assert 0 < err
    if t.trivial == "chance":
        assert err < metric_error(0.5, t.perfect, t.higher_is_better)


def _rec(task, pts, ci95=None):
    return {"task": {"name": task}, "points": {"value": pts, "ci95": ci95 or [pts, pts]}}


def test_score_is_over_every_registered_event():
    events = registered_events()
    assert sorted(events) == sorted({get_task(n).event for n in list_tasks()})
    assert sum(len(v) for v in events.values()) == len(list_tasks())
    s = decathlon_score([_rec("particles/springs-forecast", 600.0)])
    assert s["max"] == 1000 * len(events) and s["total"] == pytest.approx(300.0)
    assert s["events"]["particles/springs"] == 300.0  # the graph task counts 0
    assert not s["complete"] and "particles/springs-graph" in s["missing_tasks"]
    assert "particles/springs" not in s["missing_events"]
    assert set(s["missing_events"]) == set(events) - {"particles/springs"}
    assert "particles/springs-graph" in s["missing"] and "particles/charged" in s["missing"]
    full = decathlon_score([_rec(n, 100.0) for n in list_tasks()])
    assert (
        full["complete"]
        and full["missing"] == []
        and full["total"] == pytest.approx(100.0 * len(events))
    )


def test_score_with_explicit_events_and_report_line():
    rs = [_rec("a/x-forecast", 600.0), _rec("a/x-graph", 200.0), _rec("b/y-forecast", 300.0)]
    ev = {"a/x": ["a/x-forecast", "a/x-graph"], "b/y": ["b/y-forecast"], "c/z": ["c/z-graph"]}
    s = decathlon_score(rs, events=ev)
    assert s["events"] == {"a/x": 400.0, "b/y": 300.0, "c/z": 0.0}
    assert s["total"] == 700.0 and s["max"] == 3000 and s["missing"] == ["c/z"]
    line = format_score("m", s)
    assert "700.0 of 3000" in line and "2 of 3 events; incomplete: missing c/z" in line
    s = decathlon_score(rs[:1], events=ev)
    assert s["missing"] == ["a/x-graph", "b/y", "c/z"] and s["total"] == 300.0
    done = decathlon_score(rs, events={k: v for k, v in ev.items() if k != "c/z"})
    assert done["complete"] and "2 of 2 events; complete" in format_score("m", done)


@pytest.mark.parametrize(
    "pts, ci95, match",
    [
        (float("nan"), None, "are nan .* must be finite"),
        (1500.0, None, "points 1500"),
        (500.0, [600.0, 400.0], r"is \[600.0, 400.0\]: inverted"),
        (500.0, [float("nan"), 600.0], "interval"),
    ],
)
def test_score_refuses_nan_points_and_inverted_intervals(pts, ci95, match):
    rec = _rec("particles/springs-forecast", pts, ci95)
    with pytest.raises(ValueError, match=match) as e:
        decathlon_score([rec])
    assert "particles/springs-forecast" in str(e.value)


def test_run_suite_scores_over_every_registered_event(springs_mini, tmp_path):
    from decathlon.benchmark.context import EvalConfig
    from decathlon.benchmark.report import format_run
    from decathlon.benchmark.suite import run_suite

    run = run_suite(
        ["particles/springs-forecast"],
        ("constant-velocity",),
        out=tmp_path,
        config=EvalConfig(n_boot=20, probes=False),
        say=lambda _: None,
    )
    s = run["scores"]["constant-velocity"]
    n = len(registered_events())
    assert s["max"] == 1000 * n and not s["complete"] and len(s["events"]) == n
    assert 0 < s["total"] == pytest.approx(s["events"]["particles/springs"])
    line = format_run(run).splitlines()[-1]
    assert line.startswith("decathlon score constant-velocity") and f"of {1000 * n}" in line
    assert f"1 of {n} events; incomplete: missing " in line and "particles/springs-graph" in line
