"""The block bootstrap in time (``bootstrap_unit="block"``): windows sliding along a recording
are resampled in runs of ``context + horizon`` frames (benchmark/bootstrap.py,
docs/contract.md "Confidence intervals")."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
from scipy.stats import norm

from decathlon.benchmark.bootstrap import PairedBootstrap, ci, resampling_units
from decathlon.benchmark.stream import StreamScores
from decathlon.benchmark.tasks import get_task

SPAN_TASK = SimpleNamespace(name="t", bootstrap_unit="block", context=15, horizon=5)


def test_blocks_are_spans_of_start_frames_within_each_sample():
    """Block = (sample, start // 20), numbered in sorted order, whatever the window order."""
    sample = np.array([1, 0, 0, 1, 0, 0, 1])
    start = np.array([0, 19, 20, 25, 0, 45, 39])
    units = resampling_units(SPAN_TASK, SimpleNamespace(sample=sample, start=start))
    # (0, 0): starts 0, 19; (0, 1): 20; (0, 2): 45; (1, 0): 0; (1, 1): 25, 39
    assert units.tolist() == [3, 0, 1, 4, 0, 2, 4]


def _coverage(unit: str, reps: int = 150, n: int = 800, span: int = 20) -> float:
    """How often the 95 % interval of the mean of ``n`` overlapping windows (each the mean of
    ``span`` consecutive values of white noise, stride 1) holds the true mean 0."""
    units = resampling_units(
        SPAN_TASK, SimpleNamespace(sample=np.zeros(n, int), start=np.arange(n))
    )
    hit = 0
    for r in range(reps):
        x = np.random.default_rng([7, r]).standard_normal(n + span - 1)
        per_window = np.convolve(x, np.full(span, 1.0 / span), mode="valid")
        boot = PairedBootstrap({}, n, 200, seed=r, clusters=None if unit == "window" else units)
        lo, hi = ci(boot.mean(per_window))
        hit += lo <= 0.0 <= hi
    return hit / reps


def test_block_intervals_cover_where_window_intervals_do_not():
    """Windows of 20 frames sliding by one frame share 19 frames with their neighbour. The window
    bootstrap takes the 800 windows as independent and its 95 % interval is about sqrt(20)
    times too narrow: it covers the true mean about 2 Phi(1.96 / sqrt(20)) - 1 = 34 % of the
    time. Resampling the 40 blocks of 20 windows restores nearly nominal coverage."""
    expected_window = 2 * norm.cdf(1.96 / np.sqrt(20)) - 1
    window, block = _coverage("window"), _coverage("block")
    assert abs(window - expected_window) < 0.12, window
    assert block > 0.85, block


def test_block_intervals_on_real_pedestrians(tmp_path, monkeypatch, real_data):
    """ETH/UCY zara2 (the real recording): constant velocity's ADE interval resamples the 51
    blocks of 20 frames and is more than twice as wide as the window bootstrap's on the same
    predictions; the value is the same, and windows two blocks apart share no frame."""
    from decathlon.benchmark import data
    from decathlon.benchmark.baselines import make_baseline
    from decathlon.benchmark.collect import collect
    from decathlon.benchmark.context import EvalConfig, prepare
    from decathlon.benchmark.evaluate import evaluate, model_predictor

    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    for f in data.DATASETS.get("eth-ucy").files:
        dst = tmp_path / "raw" / "eth-ucy" / f.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real_data / "eth_ucy" / f.name, dst)
    prepared = prepare("pedestrians/eth-ucy-zara2", tier="full")
    task, w = prepared.task, prepared.windows
    units = resampling_units(task, w)
    assert units is not None and units.max() + 1 == 51
    for b in range(units.max() - 1):
        near, far = w.start[units == b], w.start[units >= b + 2]
        assert far.min() - near.max() >= task.context + task.horizon
    model = make_baseline("constant-velocity", task)
    rec = evaluate(model, prepared, EvalConfig(n_boot=500, probes=False))
    assert rec["bootstrap"] == {"unit": "block", "n_units": 51, "resamples": 500}
    stats = collect(task, w, [], model_predictor(model, task, w)).stats
    val, reps = PairedBootstrap(stats, len(w), 500, seed=0)("ade", "plain")
    lo, hi = ci(reps)
    got = rec["metrics"]["ade"]
    assert got["value"] == val
    assert got["ci95"][1] - got["ci95"][0] > 2.0 * (hi - lo), (got["ci95"], [lo, hi])


def test_streaming_gives_every_window_of_a_unit_its_weight():
    """One Poisson(1) draw per unit and resample, copied to the unit's windows; without units,
    the per-window draws of earlier evaluator versions."""
    sc = StreamScores(get_task("particles/springs-forecast"), n_boot=300, seed=3)
    units = np.array([2, 0, 0, 1, 2, 2])
    w = sc.weights(4, 6, units)
    draws = np.random.default_rng([3, 4]).poisson(1.0, (300, 3)).astype(float)
    np.testing.assert_array_equal(w, draws[:, units])
    assert sc.n_units == 3
    plain = np.random.default_rng([3, 4]).poisson(1.0, (300, 6)).astype(float)
    np.testing.assert_array_equal(sc.weights(4, 6), plain)
    assert sc.n_units == 3  # per-window weights count no units


def test_streaming_weights_of_an_empty_chunk():
    sc = StreamScores(get_task("particles/springs-forecast"), n_boot=5, seed=0)
    assert sc.weights(0, 0, np.zeros(0, dtype=np.int64)).shape == (5, 0)


def test_describe_says_what_the_intervals_resample():
    from decathlon.benchmark.describe import describe
    from decathlon.benchmark.report import format_describe

    d = describe("pedestrians/eth-ucy-zara2")
    assert d["intervals"]["unit"] == "block"
    assert "95 % intervals: paired bootstrap over blocks of 20 frames in time" in format_describe(d)
    assert describe("arrow/forward-backward")["intervals"]["unit"] == "sample"
