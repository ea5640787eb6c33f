"""The ``half`` and ``local-b`` temporal probes (docs/probes.md §1): exact frame orders, block
locality, the multiset of frames kept, targets never permuted, n/a on short contexts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from decathlon import EvalConfig, evaluate, prepare
from decathlon.benchmark.describe import probe_applicability
from decathlon.benchmark.probes import (
    not_applicable,
    probe_of,
    probe_variants,
    score_probes,
    time_index,
    transform,
)
from decathlon.benchmark.tasks import get_task
from decathlon.benchmark.windows import Windows

FORECAST = "particles/springs-forecast"
NEW = ("half", "local-2", "local-4")


def _windows(context: int, n: int = 3) -> Windows:
    """Windows whose frame t holds the value t everywhere (entity 0) and distinct targets."""
    x = np.broadcast_to(
        np.arange(context, dtype=np.float32)[None, :, None, None], (n, context, 2, 4)
    )
    y = np.arange(n * 20 * 2 * 4, dtype=np.float64).reshape(n, 20, 2, 4)
    mask = np.broadcast_to(np.arange(context)[None, :, None] % 3 == 0, (n, context, 2))
    feats = ["pos_x", "pos_y", "vel_x", "vel_y"]
    return Windows(np.arange(n), x.copy(), y, np.zeros(n), np.zeros(n), feats, [], mask.copy())


def test_half_exchanges_the_two_halves():
    task = get_task(FORECAST)
    assert time_index(task, "half", 6).tolist() == [3, 4, 5, 0, 1, 2]
    assert time_index(task, "half", 7).tolist() == [3, 4, 5, 6, 0, 1, 2]  # h = T // 2
    assert time_index(task, "half", 2).tolist() == [1, 0]
    x = transform(task, _windows(6), "half")["x"]
    np.testing.assert_array_equal(x[0, :, 0, 0], [3, 4, 5, 0, 1, 2])
    np.testing.assert_array_equal(x[0, :, 0, 2], [3, 4, 5, 0, 1, 2])  # velocities not negated


@pytest.mark.parametrize("b", [2, 4])
@pytest.mark.parametrize("context", [8, 9, 11, 49])
def test_local_permutes_only_within_blocks_counted_from_the_last_frame(b, context):
    task = get_task(FORECAST)
    first = context % b  # the first block is the short one
    block = [0 if t < first else 1 + (t - first) // b for t in range(context)]
    draws = [time_index(task, f"local{b}_{k}", context) for k in range(len(task.local_seeds))]
    for idx in draws:
        assert sorted(idx.tolist()) == list(range(context))
        assert [block[i] for i in idx] == block  # every frame stays inside its own block
        assert not np.array_equal(idx, np.arange(context))  # never the identity
    assert len({tuple(d) for d in draws}) > 1  # the seeds give different draws


def test_local_2_of_six_frames_swaps_pairs_and_is_seeded():
    task = get_task(FORECAST)
    idx = time_index(task, "local2_0", 6)
    assert all({int(idx[2 * k]), int(idx[2 * k + 1])} == {2 * k, 2 * k + 1} for k in range(3))
    np.testing.assert_array_equal(idx, time_index(task, "local2_0", 6))  # deterministic
    seven = replace(task, local_seeds=(7,))  # the draws follow the record's local_seeds
    assert not np.array_equal(time_index(seven, "local2_0", 49), time_index(task, "local2_0", 49))


@pytest.mark.parametrize("variant", ["half", "local2_0", "local2_2", "local4_1", "shuffle3"])
def test_every_reordering_keeps_the_multiset_of_frames_and_never_the_targets(variant):
    task = get_task(FORECAST)
    w = _windows(10)
    y_before, x_before = w.y.copy(), w.x.copy()
    out = transform(task, w, variant)
    assert set(out) == {"x", "mask"}  # a probe hands the model inputs only
    t = time_index(task, variant, 10)
    np.testing.assert_array_equal(out["x"], x_before[:, t])
    np.testing.assert_array_equal(np.sort(out["x"], axis=1), np.sort(x_before, axis=1))
    np.testing.assert_array_equal(out["mask"], w.mask_x[:, t])  # masks move with the frames
    np.testing.assert_array_equal(w.y, y_before)  # targets untouched
    np.testing.assert_array_equal(w.x, x_before)  # and the plain inputs too


def test_variant_names_and_their_probe():
    task = get_task(FORECAST)
    vs = probe_variants(task)
    assert "half" in vs and [v for v in vs if v.startswith("local2_")] == [
        f"local2_{k}" for k in range(len(task.local_seeds))
    ]
    assert probe_of("local4_2") == ("local-4", 2) and probe_of("shuffle9") == ("shuffle", 9)
    assert probe_of("half") == ("half", -1)


def test_short_contexts_are_not_applicable_with_the_reason():
    assert not_applicable("local-4", 7) is not None and not_applicable("local-4", 8) is None
    assert not_applicable("local-2", 3) is not None and not_applicable("local-2", 4) is None
    assert "one-frame context" in not_applicable("half", 1)
    # the CTC forecast has a 5-frame context: local-4 is n/a there, local-2 and half apply
    short = replace(get_task(FORECAST), context=5)
    vs = probe_variants(short)
    assert "half" in vs and "local2_0" in vs and not any(v.startswith("local4_") for v in vs)
    assert (
        "shorter than two blocks of 4" in probe_applicability("cells/ctc-hela-forecast")["local-4"]
    )
    assert probe_applicability("cells/ctc-hela-forecast")["local-2"] is None
    nbody = probe_applicability("particles/nbody-forecast")
    assert all("one-frame context" in nbody[p] for p in NEW)

    # a probe that does not apply gets no entry at all (the table says n/a with the reason)
    assert score_probes(replace(short, probes=("local-4",)), _NoScores(), lambda vs: None) == {}


class _NoScores:
    """Scores with no variant at all."""

    def __call__(self, name: str, variant: str) -> tuple[float, np.ndarray]:
        raise KeyError(variant)

    def __contains__(self, variant: str) -> bool:
        return False


class _Blind:
    """Predicts from the mean over the context frames: blind to their order."""

    def predict(self, batch):
        x = np.asarray(batch["x"], dtype=np.float64).mean(1, keepdims=True)
        cols = [batch["features"].index(c) for c in batch["target_features"]]
        return np.repeat(x[..., cols], 20, axis=1)


def test_an_order_blind_model_has_zero_gaps_and_draws_are_recorded(springs_mini):
    task = get_task(FORECAST)
    r = evaluate(_Blind(), prepare(task), EvalConfig(n_boot=20))
    for p in NEW:  # the targets are the same ones: an order-blind model's error cannot move
        assert r["probes"][p]["gap"] == pytest.approx(0.0, abs=1e-12)
        assert r["probes"][p]["sensitivity"] == pytest.approx(0.0, abs=1e-6)
    assert len(r["probes"]["local-2"]["per_draw"]) == len(task.local_seeds)
    assert r["seeds"]["local"] == list(task.local_seeds)
    assert "ts" in r["probes"]["half"] or "ts_note" in r["probes"]["half"]
