"""``arrow/forward-backward-positions``: the arrow of time from positions alone, where only the
order of the frames can tell a clip from its reverse (docs/protocols.md §9.8)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from decathlon.baselines.arrow_features import trend_features
from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.metrics import auroc
from decathlon.benchmark.tasks import get_task
from decathlon.benchmark.windows import Windows, make_windows
from decathlon.datasets.arrow import ARROW_TASK, POSITIONS_TASK, source_names

#: sha256 of the velocity task's mini test windows (:func:`_windows_sha256`), made before the
#: positions task existed (commit f82f072): the window builder's new parameter must leave every
#: byte of the velocity task as it was. Updated for data version 3 (float32 D'Orsogna clips;
#: version 2: 402173ba…), whose stores differ from version 2's in the D'Orsogna clips only
#: (compared array by array, every part: the other sources' bytes are identical).
VELOCITY_TEST_WINDOWS = "114a7fa9813fad02a12b08a1badcce7afea28166d0a31c9217289c505a170e3d"


@pytest.fixture(scope="module")
def windows(_isolated_cache) -> dict[str, Windows]:
    from decathlon.benchmark.data import materialize

    materialize("arrow-of-time", "mini")
    return {t.name: make_windows(t, "test", "mini") for t in (ARROW_TASK, POSITIONS_TASK)}


def _windows_sha256(w: Windows) -> str:
    h = hashlib.sha256()
    for a in (w.ids, w.x, w.y, w.sample, w.start, w.group.astype(str), w.mask_x):
        h.update(b"none" if a is None else np.ascontiguousarray(a).tobytes())
    h.update(repr(w.features).encode())
    return h.hexdigest()


def _per_source(score: np.ndarray, w: Windows) -> dict[str, float]:
    return {s: auroc(score[w.group == s], w.y[w.group == s, 0]) for s in source_names()}


def test_the_velocity_task_keeps_every_byte_of_its_windows(windows):
    w = windows[ARROW_TASK.name]
    assert w.features == [f"{v}_{c}" for v in ("pos", "vel") for c in "xyz"]
    assert _windows_sha256(w) == VELOCITY_TEST_WINDOWS


def test_the_positions_task_is_the_velocity_task_less_the_velocities(windows):
    task = get_task("arrow/forward-backward-positions")
    assert task.inputs == ("pos",) and task.velocity == ()
    for field in ("dataset", "splits", "metrics", "primary", "probes", "bootstrap_unit"):
        assert getattr(task, field) == getattr(ARROW_TASK, field), field
    w, wv = windows[task.name], windows[ARROW_TASK.name]
    assert w.features == ["pos_x", "pos_y", "pos_z"]
    np.testing.assert_array_equal(w.x, wv.x[..., :3])
    for k in ("ids", "y", "sample", "start", "group"):
        np.testing.assert_array_equal(getattr(w, k), getattr(wv, k))


def test_a_clip_and_its_reverse_are_the_same_frames(windows):
    """The exact statement: every clip's partner (same simulation and start, other label) is
    its frames in reverse order, so any function of the set of frames scores both alike and
    its AUROC is exactly 1/2 on every source. With velocities the same kind of function, the
    mean of x . v over the frames, sees the arrow: why N is about 0 on the velocity task."""
    w = windows[POSITIONS_TASK.name]
    at = list(zip(w.sample, w.start, w.y[:, 0].astype(int), strict=True))
    key = {k: i for i, k in enumerate(at)}
    partner = np.array([key[(s, a, 1 - y)] for s, a, y in at])
    np.testing.assert_array_equal(w.x[partner], w.x[:, ::-1])
    pooled = np.sort(w.x, axis=1)  # each column's values over the frames: order-free
    score = np.tanh(pooled).std(axis=(2, 3)) @ np.linspace(-1.0, 2.0, w.x.shape[1])
    assert set(_per_source(score, w).values()) == {0.5}
    wv = windows[ARROW_TASK.name]
    xv = (wv.x[..., :3] * wv.x[..., 3:]).sum(-1).mean(axis=(1, 2))  # order-free, needs v
    assert _per_source(-xv, wv)["damped-springs"] > 0.65


def test_an_order_aware_rule_sees_the_arrow_of_damped_springs(windows):
    """The kinetic-energy trend from central differences of the positions: friction drains
    the energy forward in time, so a falling trend says "forward"; reversible physics has no
    such trend (the rule is the feature baseline's first trend, without any fitting)."""
    w = windows[POSITIONS_TASK.name]
    a = _per_source(-trend_features(w.x, w.features, w.mask_x)[:, 0], w)
    assert a["damped-springs"] > 0.75 and a["damped-charged"] > 0.6, a
    assert all(abs(a[s] - 0.5) < 0.05 for s in source_names(reversible=True)), a


def test_the_cnn_on_shuffled_frames_is_at_chance(windows):
    """A model trained and tested on frame-shuffled clips sees a clip and its reverse as
    draws from the same distribution: its AUROC is 1/2 within the noise of the mini test split
    (200 simulations per source)."""
    task = POSITIONS_TASK
    model = make_baseline("arrow-cnn-shuffled", task, epochs=1, hidden=8, batch_size=1024)
    model.fit("mini")
    w = windows[task.name]
    pred = model.predict({"x": w.x, "features": w.features, "mask": w.mask_x, "ids": w.ids})
    a = _per_source(pred[:, 0], w)
    assert all(abs(v - 0.5) < 0.04 for v in a.values()), a
    irr = np.mean([a[s] for s in source_names(reversible=False)])
    assert abs(irr - 0.5) < 0.02, a
