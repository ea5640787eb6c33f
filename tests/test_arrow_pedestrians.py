"""The arrow of time on ETH/UCY pedestrians (``arrow/pedestrians``, docs/protocols.md §9.7):
clips, their reversal, grouped splits, the task on fake files, the baselines.

On fake files in the upstream format always; on the real files in ``../shared/data/eth_ucy``
when present (skipped cleanly otherwise).
"""

from __future__ import annotations

import numpy as np
import pytest
from shared_samples import shared_data

from decathlon.baselines import arrow_features
from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.metrics import auroc
from decathlon.benchmark.tasks import get_task
from decathlon.datasets import eth_ucy as eu
from decathlon.datasets.arrow import paired_windows, reverse_clips
from decathlon.datasets.arrow_pedestrians import (
    CLIP_FRAMES,
    FEATURES,
    NEIGHBOURS,
    TEST_SCENE,
    clip_velocities,
    pedestrian_clips,
    pedestrian_windows,
)

TASK = "arrow/pedestrians"
SHARED = shared_data()
REAL = SHARED / "eth_ucy" if SHARED else None
REAL_FILES = {f.name: REAL / f.name for f in eu.ETH_UCY.files} if REAL else {}
HAS_REAL = bool(REAL_FILES) and all(p.is_file() for p in REAL_FILES.values())
real_only = pytest.mark.skipif(not HAS_REAL, reason="shared/data/eth_ucy not present")


@pytest.fixture(scope="module")
def fake_ds(tmp_path_factory):
    """Fake files long enough (150 steps) for clips in every split."""
    return eu.open_eth_ucy(eu.make_fake_eth_ucy(tmp_path_factory.mktemp("ped"), 3, n_steps=150))


@pytest.fixture(scope="module")
def real_ds():
    if not HAS_REAL:
        pytest.skip("shared/data/eth_ucy not present")
    return eu.open_eth_ucy(REAL_FILES)


def _split(ds, split):
    labels = get_task(TASK).splits[split].labels
    return ds.sel(sample=np.isin(ds.file.values, labels))


def _check_reversal(c: dict[str, np.ndarray]) -> None:
    """A reversed clip's velocities are the derivative rule applied to its reversed positions;
    the focal's forward velocities are numpy.gradient of its positions (central differences)."""
    x = np.concatenate([c["pos"], c["vel"]], axis=-1)
    rev = reverse_clips(x, FEATURES)
    v, m = clip_velocities(rev[..., :2], c["mask"][:, ::-1], eu.DT)
    np.testing.assert_array_equal(m, c["mask"][:, ::-1])
    np.testing.assert_allclose(rev[..., 2:], v, atol=1e-9)
    np.testing.assert_allclose(rev[..., 2:], -c["vel"][:, ::-1], atol=0)
    grad = np.gradient(c["pos"][:, :, 0], eu.DT, axis=1)
    np.testing.assert_allclose(c["vel"][:, :, 0], grad, atol=1e-9)


def test_velocities_follow_the_gradient_rule_and_reverse_exactly():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(6, 9, 3, 2))
    mask = rng.random((6, 9, 3)) < 0.7
    mask[:, :, 0] = True
    v, m = clip_velocities(pos, mask, dt=0.5)
    for c in range(6):  # each run of presence: numpy.gradient; one frame alone: dropped
        for e in range(3):
            t = np.flatnonzero(mask[c, :, e])
            for run in np.split(t, np.flatnonzero(np.diff(t) > 1) + 1):
                if len(run) == 1:
                    assert not m[c, run[0], e]
                else:
                    want = np.gradient(pos[c, run, e], 0.5, axis=0)
                    np.testing.assert_allclose(v[c, run, e], want, atol=1e-12)
    rv, rm = clip_velocities(pos[:, ::-1], mask[:, ::-1], dt=0.5)
    np.testing.assert_array_equal(rm, m[:, ::-1])
    np.testing.assert_allclose(rv, -v[:, ::-1], atol=1e-12)


def test_backward_differences_would_leak_the_direction():
    """Why central differences: with backward differences the velocity of a forward clip lags
    its displacement and that of a reversed clip leads it, a perfect artefactual arrow."""
    rng = np.random.default_rng(1)
    pos = np.cumsum(rng.normal(size=(200, 20, 1, 2)), axis=1)
    back = np.zeros_like(pos)
    back[:, 1:] = pos[:, 1:] - pos[:, :-1]
    fwd = np.concatenate([pos, back], -1)
    rev = reverse_clips(fwd, FEATURES)
    lag = lambda x: np.abs(x[:, 1:, :, 2:] - (x[:, 1:, :, :2] - x[:, :-1, :, :2])).sum((1, 2, 3))  # noqa: E731
    assert auroc(-np.concatenate([lag(fwd), lag(rev)]), np.repeat([1.0, 0.0], 200)) == 1.0
    v, _ = clip_velocities(pos, np.ones(pos.shape[:3], bool), dt=1.0)
    cen = np.concatenate([pos, v], -1)
    both = np.concatenate([lag(cen), lag(reverse_clips(cen, FEATURES))])
    assert abs(auroc(-both, np.repeat([1.0, 0.0], 200)) - 0.5) < 0.1


@real_only
def test_real_clips_reverse_exactly(real_ds):
    for i in (1, 5):  # biwi_hotel, students001
        c = pedestrian_clips(
            real_ds.pos.values[i], real_ds.mask.values[i], real_ds.ped_id.values[i]
        )
        assert len(c["start"]) > 100 and c["mask"][:, :, 0].all()
        _check_reversal(c)
        # positions are relative to the focal's middle position
        mid = c["pos"][:, [(CLIP_FRAMES - 1) // 2, CLIP_FRAMES // 2], 0].mean(1)
        np.testing.assert_allclose(mid, 0.0, atol=1e-5)


@real_only
def test_real_test_split_has_the_social_gan_count(real_ds):
    """Every start of every 20-step presence: on univ that is SGAN's pedestrian-window count
    (docs/protocols.md §4.2; none of univ's runs spans a gap or has a lone pedestrian)."""
    w = pedestrian_windows(get_task(TASK), _split(real_ds, "test"))
    assert len(w) == 2 * 24334 and w.y.mean() == 0.5
    assert w.x.shape[1:] == (CLIP_FRAMES, 1 + NEIGHBOURS, len(FEATURES))


@real_only
def test_real_splits_share_no_scene_and_no_frames_of_a_pedestrian(real_ds):
    task = get_task(TASK)
    spans: dict[str, set[tuple[str, int, int]]] = {}
    for split in ("train", "valid", "test"):
        ds = _split(real_ds, split)
        spans[split] = set()
        for i, f in enumerate(ds.file.values):
            c = pedestrian_clips(ds.pos.values[i], ds.mask.values[i], ds.ped_id.values[i])
            base = eu._split_name(f"{ds.folder.values[i]}/{f}.txt")[2]
            frame = int(ds.frame0.values[i]) + 10 * c["start"]
            for pid, a in zip(c["ped_id"], frame, strict=True):
                spans[split] |= {(base, int(pid), int(a) + 10 * k) for k in range(CLIP_FRAMES)}
    scenes = {s: {b for b, _, _ in spans[s]} for s in spans}
    assert scenes["test"] == set(eu.SCENES[TEST_SCENE])
    assert not scenes["test"] & (scenes["train"] | scenes["valid"])
    assert not spans["train"] & spans["valid"]  # one pedestrian's frames sit in one split
    assert task.splits["test"].labels == tuple(eu.SCENES[TEST_SCENE])


def test_task_builds_on_the_fake(fake_ds):
    task = get_task(TASK)
    assert task.kind == "classify" and task.dataset == "eth-ucy" and task.target_source
    assert task.event == "arrow-of-time" and "reversal" in task.extra["probe_notes"]
    for split in ("train", "valid", "test"):
        w = pedestrian_windows(task, _split(fake_ds, split))
        assert len(w) > 0 and w.y.mean() == 0.5 and np.isfinite(w.x).all()
        assert w.x.shape[1:] == (CLIP_FRAMES, 1 + NEIGHBOURS, len(FEATURES))
        assert w.mask_x is not None and w.mask_x[:, :, 0].all()  # the focal is always present
        assert (w.x[~w.mask_x] == 0).all()
        key = {
            (s, a, round(float(x), 4)): i
            for i, (s, a, x) in enumerate(zip(w.sample, w.start, w.x[:, 0, 0, 0], strict=True))
        }
        for i in range(0, len(w), 7):  # every window's reverse, with the other label
            r = reverse_clips(w.x[i : i + 1], w.features)[0]
            j = key[(w.sample[i], w.start[i], round(float(r[0, 0, 0]), 4))]
            np.testing.assert_allclose(r, w.x[j], atol=1e-6)
            assert w.y[j, 0] == 1 - w.y[i, 0]
            assert w.cluster is not None and w.cluster[j] == w.cluster[i]  # one resampling unit
        # a cluster is one pedestrian of one file: never two files, and the split has several
        assert w.cluster is not None and 1 < len(np.unique(w.cluster)) < len(w) // 2
        for k in np.unique(w.cluster):
            assert len(np.unique(w.sample[w.cluster == k])) == 1
        c = [
            pedestrian_clips(
                *(_split(fake_ds, split)[v].values[k] for v in ("pos", "mask", "ped_id"))
            )
            for k in range(_split(fake_ds, split).sizes["sample"])
        ]
        for part in c:
            if len(part["start"]):
                _check_reversal(part)


def _planted(n: int, decel: float, rng: np.random.Generator):
    """Windows of a walker (plus 4 absent neighbours) whose speed falls by ``decel`` per
    frame (0: constant speed), with noise, paired with their reverses."""
    t = np.arange(CLIP_FRAMES, dtype=float)
    speed = np.clip(1.3 - decel * t + 0.05 * rng.normal(size=(n, CLIP_FRAMES)), 0, None)
    pos = np.zeros((n, CLIP_FRAMES, 1 + NEIGHBOURS, 2))
    pos[:, :, 0, 0] = np.cumsum(speed, axis=1) * eu.DT
    mask = np.zeros(pos.shape[:3], bool)
    mask[:, :, 0] = True
    vel, mask = clip_velocities(pos, mask)
    x = np.concatenate([pos, vel], -1).astype(np.float32)
    at = np.arange(n)
    return paired_windows(x, mask, FEATURES, at, at)


@pytest.mark.parametrize("decel", [0.0, 0.04])
def test_feature_baseline_finds_a_planted_arrow_and_only_then(monkeypatch, decel):
    rng = np.random.default_rng(2)
    train, test = _planted(400, decel, rng), _planted(400, decel, rng)
    monkeypatch.setattr(arrow_features, "make_windows", lambda *a, **k: train)
    task = get_task(TASK)
    model = make_baseline("arrow-features", task)
    model.fit("mini")
    assert model.n_parameters == 2  # intercept + the kinetic-energy trend (task.extra)
    batch = {"x": test.x, "features": test.features, "mask": test.mask_x}
    a = auroc(model.predict(batch)[:, 0], test.y[:, 0])
    assert (a > 0.95) if decel else (abs(a - 0.5) < 0.06), a
    chance = make_baseline("chance", task).predict(batch)
    assert auroc(chance[:, 0], test.y[:, 0]) == 0.5


def test_arrow_features_refuses_an_unknown_trend():
    task = get_task(TASK)
    bad = type("T", (), {"name": "x", "extra": {"arrow_features": ("entropy",)}})()
    with pytest.raises(ValueError, match="non-empty subset"):
        _ = make_baseline("arrow-features", task).__class__(bad).columns


def test_cnn_serves_the_task_through_the_one_fit(monkeypatch):
    pytest.importorskip("torch")
    from decathlon.baselines import arrow_cnn

    rng = np.random.default_rng(3)
    train = _planted(64, 0.04, rng)
    monkeypatch.setattr(arrow_cnn, "make_windows", lambda *a, **k: train)
    cnn = make_baseline("arrow-cnn", get_task(TASK), epochs=1, hidden=4, batch_size=64)
    assert cnn.fit("mini")["epochs"] == 1
    out = cnn.predict({"x": train.x[:5], "features": FEATURES, "mask": train.mask_x[:5]})
    assert out.shape == (5, 1) and ((out > 0) & (out < 1)).all()
