"""The arrow-of-time event: damped springs, centred clips, windows, per-source metrics, baselines
(docs/protocols.md §9)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from decathlon.baselines.arrow_features import trend_features
from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.metrics import auroc, entity_stats, get_metric, metric_value
from decathlon.benchmark.tasks import get_task
from decathlon.benchmark.windows import make_windows
from decathlon.datasets import nbody, nri
from decathlon.datasets.arrow import (
    ARROW_TIERS,
    CLIPS,
    normalize_clips,
    reverse_clips,
    source_names,
)
from decathlon.datasets.arrow_sources import FRICTION, HALF, SOURCES, centred_nri

TASK = "arrow/forward-backward"

#: sha256 of springs, charged and n-body simulations made before friction was added to the
#: integrator (commit 6ecff64): friction 0 must leave every byte as it was.
BEFORE_FRICTION = "7bdcf1a421f1b14551b573d7b08c55f7a0dd711b4c27ed90d3ad22f99a93e765"


@pytest.fixture(scope="module")
def arrow_mini(_isolated_cache):
    from decathlon.benchmark.data import materialize

    return materialize("arrow-of-time", "mini")


def test_friction_zero_keeps_every_byte():
    h = hashlib.sha256()
    for p in (nri.SPRINGS, nri.CHARGED):
        for n in (1, 3, 50):
            out = nri.simulate(n, 2000, 100, p, 7)
            for k in sorted(out):
                h.update(np.ascontiguousarray(out[k]).tobytes())
    out = nbody.simulate(20, 3, 2000)
    for k in sorted(out):
        h.update(np.ascontiguousarray(out[k]).tobytes())
    assert h.hexdigest() == BEFORE_FRICTION


def test_friction_drains_energy_and_negative_friction_restores_it():
    out = nri.simulate(40, 3000, 100, nri.SPRINGS, 1)
    damped = nri.simulate(40, 3000, 100, nri.SPRINGS, 1, friction=FRICTION)
    e0 = nri.energy(out["pos"], out["vel"], out["edges"], nri.SPRINGS)
    e1 = nri.energy(damped["pos"], damped["vel"], damped["edges"], nri.SPRINGS)
    assert np.abs(e0[:, -1] / e0[:, 0] - 1).max() < 1e-2  # conservative
    ratio = e1[:, -1] / e1[:, 0]  # dE/dt = -2 gamma K, and K is about half of E on average
    assert np.all(ratio < 0.95) and 0.4 < np.median(ratio) < 0.8
    # a damped trajectory run backwards with the reversed dynamics (-gamma) returns to its start
    pos, vel = centred_nri(nri.SPRINGS, np.random.default_rng(0), 10, FRICTION)
    assert np.abs(pos[:, HALF - 1] - pos[:, HALF]).max() < 0.2  # continuous through the middle


def _one_step(pos, vel, coupling, params, friction=0.0):
    """From every frame, one stored frame (100 integrator steps) ahead."""
    s, t = pos.shape[:2]
    x, v = pos[:, :-1].reshape(-1, *pos.shape[2:]), vel[:, :-1].reshape(-1, *pos.shape[2:])
    c = np.repeat(coupling, t - 1, axis=0)
    p, _ = nri.integrate_from(x, v, c, params, 200, 100, friction)
    return p[:, 0].reshape(s, t - 1, *pos.shape[2:])


@pytest.mark.parametrize("damped", [False, True])
def test_reversed_springs_clip_obeys_the_dynamics_only_without_friction(damped):
    gamma = FRICTION if damped else 0.0
    coupling, _, x0, v0 = nri.initial_conditions(nri.SPRINGS, 30, 5)
    pos, vel = nri.integrate_from(x0, v0, coupling, nri.SPRINGS, 2200, 100, gamma)
    rpos, rvel = pos[:, ::-1], -vel[:, ::-1]  # the reversed clip
    fwd = np.abs(_one_step(pos, vel, coupling, nri.SPRINGS, gamma) - pos[:, 1:]).mean()
    rev = np.abs(_one_step(rpos, rvel, coupling, nri.SPRINGS, gamma) - rpos[:, 1:]).mean()
    assert fwd < 1e-3
    if damped:  # the reversed damped clip is not a damped trajectory
        assert rev > 20 * fwd
    else:  # the reversed clip is a trajectory of the same dynamics, and conserves energy
        assert rev < 1e-3
        e = nri.energy(rpos, rvel, coupling, nri.SPRINGS)
        assert np.abs(e / e[:, :1] - 1).max() < 1e-2


def test_reversal_commutes_with_the_clip_scaling():
    rng = np.random.default_rng(0)
    pos, vel = rng.normal(size=(2, 4, 7, 5, 3))
    mask = rng.random((4, 7, 5)) < 0.8
    feats = ["pos_x", "pos_y", "pos_z", "vel_x", "vel_y", "vel_z"]
    a = reverse_clips(normalize_clips(pos, vel, mask), feats)
    b = normalize_clips(pos[:, ::-1], -vel[:, ::-1], mask[:, ::-1])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_windows_pair_every_clip_with_its_reverse(arrow_mini):
    task = get_task(TASK)
    w = make_windows(task, "test", "mini")
    n_sims = ARROW_TIERS["mini"]["test"]
    assert len(w) == n_sims * CLIPS * 2 and w.y.shape == (len(w), 1)
    assert w.y.mean() == 0.5 and not np.array_equal(w.y[: len(w) // 2], w.y[len(w) // 2 :])
    assert sorted(set(w.group)) == source_names()
    key = {
        (s, a, int(y)): i
        for i, (s, a, y) in enumerate(zip(w.sample, w.start, w.y[:, 0], strict=True))
    }
    for i in range(0, len(w), 97):
        j = key[(w.sample[i], w.start[i], 1 - int(w.y[i, 0]))]
        np.testing.assert_array_equal(reverse_clips(w.x[i : i + 1], w.features)[0], w.x[j])
        assert w.group[i] == w.group[j]
    shares = {g: int((w.group == g).sum()) for g in source_names()}
    assert set(shares.values()) == {2 * CLIPS * n_sims // len(SOURCES.names())}  # equal shares


def test_grouped_metrics_equal_the_metric_on_each_group():
    rng = np.random.default_rng(1)
    scores, labels = rng.random((40, 1)), rng.random((40, 1)) < 0.5
    st = entity_stats(scores, labels)
    st["group"] = np.array(["a", "b"] * 20)
    a = auroc(scores[::2], labels[::2])
    b = auroc(scores[1::2], labels[1::2])
    assert metric_value("auroc@a", st)[0] == pytest.approx(a)
    assert metric_value("auroc@a+b", st)[0] == pytest.approx((a + b) / 2)
    assert metric_value("auroc_bias@b", st)[0] == pytest.approx(abs(b - 0.5))
    assert not get_metric("auroc_bias@a")[0].higher_is_better
    st.pop("group")
    with pytest.raises(ValueError, match="Windows.group"):
        metric_value("auroc@a", st)
    for bad in ("auroc@a++b", "auroc@a@b", "nonsense@a", "auroc@"):
        with pytest.raises(KeyError, match="name@group"):
            get_metric(bad)


def test_task_metrics_follow_the_source_registry():
    task = get_task(TASK)
    irr, rev = source_names(False), source_names(True)
    assert irr and rev and set(irr) | set(rev) == set(SOURCES.names())
    assert task.primary == "auroc@" + "+".join(irr) and task.higher_is_better
    assert {f"auroc_bias@{s}" for s in rev} <= set(task.metrics)


@pytest.mark.parametrize("name", [TASK, "arrow/forward-backward-positions"])
def test_feature_baseline_sees_no_arrow_in_reversible_physics(arrow_mini, name):
    """The honesty check of the issue: AUROC within 0.5 +- 0.03 on every reversible source and
    clearly above 0.5 on damped springs (200 test simulations, 2000 windows per source); on
    positions alone too, with velocities from central differences inside each clip."""
    task = get_task(name)
    model = make_baseline("arrow-features", task)
    model.fit("mini")
    w = make_windows(task, "test", "mini")
    pred = model.predict({"x": w.x, "features": w.features, "mask": w.mask_x})
    assert pred.shape == (len(w), 1)
    for s in source_names():
        sel = w.group == s
        a = auroc(pred[sel, 0], w.y[sel, 0])
        if SOURCES.get(s).reversible:
            assert abs(a - 0.5) <= 0.03, (s, a)
        else:
            assert a > 0.6, (s, a)  # one logistic model for all seven sources
    sel = w.group == "damped-springs"
    assert auroc(pred[sel, 0], w.y[sel, 0]) > 0.75


def test_chance_and_the_cnn_return_one_probability_per_window(arrow_mini):
    task = get_task(TASK)
    w = make_windows(task, "valid", "mini")
    batch = {"x": w.x[:9], "features": w.features, "mask": None}
    assert make_baseline("chance", task).predict(batch).shape == (9, 1)
    cnn = make_baseline("arrow-cnn", task, epochs=1, hidden=4, batch_size=1024)
    hist = cnn.fit("mini")
    assert hist["epochs"] == 1
    out = cnn.predict(batch)
    assert out.shape == (9, 1) and ((out > 0) & (out < 1)).all()
    perm = np.random.default_rng(0).permutation(5)  # blind to the order of the entities
    np.testing.assert_allclose(cnn.predict({**batch, "x": w.x[:9][:, :, perm]}), out, atol=1e-5)


@pytest.mark.parametrize("centred", [False, True])
def test_centring_removes_the_arrow_of_the_low_entropy_start(centred):
    """Without centring, free-space n-body clips spread out in forward time (an arrow from the
    compact start, not from the dynamics): the spread trend alone tells the direction. Centred,
    only the mixture of the symmetric clip offsets is reversal-invariant (a single offset
    before the middle still converges), which is why the task cuts all five."""
    rng = np.random.default_rng(3)
    if centred:
        pos, vel = SOURCES.get("nbody").simulate(rng, 300)
    else:
        out = nri.simulate(300, (2 * HALF + 2) * 100, 100, nbody.NBODY, rng)
        pos, vel = out["pos"], out["vel"]
    idx = np.arange(0, 21, 5)[:, None] + np.arange(21)  # the task's five symmetric offsets
    p, v = pos[:, idx].reshape(-1, 21, 5, 3), vel[:, idx].reshape(-1, 21, 5, 3)
    x = normalize_clips(p, v, np.ones(p.shape[:3], bool))
    feats = ["pos_x", "pos_y", "pos_z", "vel_x", "vel_y", "vel_z"]
    both = np.concatenate([x, reverse_clips(x, feats)])
    spread = trend_features(both, feats)[:, 2]
    a = auroc(spread, np.repeat([1.0, 0.0], len(x)))
    assert (abs(a - 0.5) < 0.06) if centred else (a > 0.9), a
