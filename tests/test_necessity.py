"""Temporal necessity N (docs/probes.md §2, definition 3): the order-agnostic GRU, the
``-shuffled`` wrapper of every other reference, the reference sets, the paired interval, the
committed file and what ``describe`` shows."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from decathlon.baselines.gru import GRUConfig, _Net  # noqa: E402
from decathlon.baselines.shuffled import ShuffledFrames, permute_frames  # noqa: E402
from decathlon.benchmark.baselines import BASELINES, make_baseline  # noqa: E402
from decathlon.benchmark.context import EvalConfig, prepare  # noqa: E402
from decathlon.benchmark.data import DATASETS  # noqa: E402
from decathlon.benchmark.describe import describe  # noqa: E402
from decathlon.benchmark.evaluate import evaluate  # noqa: E402
from decathlon.benchmark.necessity import (  # noqa: E402
    NECESSITY_FILE,
    REFERENCES,
    References,
    compute_necessity,
    read_necessity,
    references,
    temporal_necessity,
)
from decathlon.benchmark.report import format_describe  # noqa: E402
from decathlon.benchmark.tasks import get_task, list_tasks  # noqa: E402
from decathlon.benchmark.windows import Windows, make_windows  # noqa: E402

SPRINGS = "particles/springs-forecast"
NBODY = "particles/nbody-forecast"
DIVISION = "cells/ctc-hela-division"


def test_gru_order_setting_is_checked_and_fixed_for_the_shuffled_baseline():
    with pytest.raises(ValueError, match="GRU order 'sideways' is not one of"):
        GRUConfig(order="sideways")
    task = get_task(SPRINGS)
    assert make_baseline("gru", task).config.order == "time"
    shuffled = make_baseline("gru-shuffled", task, order="time")  # cannot be switched off
    assert shuffled.config.order == "shuffled" and shuffled.name == "gru-shuffled"
    assert BASELINES.get("gru-shuffled").learned


def test_shuffled_loss_predicts_only_the_frames_after_the_shuffled_prefix():
    torch.manual_seed(0)
    net = _Net(4, GRUConfig(hidden=8), shuffled=3)
    x = torch.randn(2, 6, 1, 4)
    y = x.clone()
    y[:, 3:] += 1.0  # frames after the prefix change: the loss sees them
    torch.manual_seed(1)
    a = net.loss({"x": x})
    torch.manual_seed(1)
    b = net.loss({"x": y})
    assert a.item() != pytest.approx(b.item())
    plain = _Net(4, GRUConfig(hidden=8))
    plain.load_state_dict(net.state_dict())
    before = torch.random.get_rng_state()
    plain.loss({"x": x})
    assert torch.equal(before, torch.random.get_rng_state())  # the plain GRU draws nothing


def test_shuffled_gru_predicts_each_window_from_its_own_seeded_permutation(springs_mini):
    task = get_task(SPRINGS)
    model = make_baseline("gru-shuffled", task, epochs=1, hidden=8)
    model.fit("mini")
    w = make_windows(task, "test", "mini")
    batch = {"features": w.features, "target_features": w.target_features}
    all7 = model.predict({**batch, "x": w.x[:7], "ids": w.ids[:7]})
    one = model.predict({**batch, "x": w.x[3:4], "ids": w.ids[3:4]})
    np.testing.assert_allclose(one[0], all7[3], rtol=1e-5, atol=1e-6)  # batch-independent
    assert all7.shape == (7, 20, 5, 4) and np.isfinite(all7).all()


def test_necessity_is_paired_and_oriented(springs_mini):
    r = temporal_necessity(SPRINGS, epochs=1, n_boot=50)
    assert r["N"] == pytest.approx(r["agnostic_value"] - r["aware_value"])  # mse: lower better
    lo, hi = r["ci95"]
    assert lo <= r["N"] <= hi and r["n_windows"] == 500
    assert r["bootstrap"] == {"unit": "window", "n_units": 500, "resamples": 50}
    assert (r["aware"], r["agnostic"], r["metric"]) == (
        ["gru", "attention", "constant-velocity"],
        ["gru-shuffled", "attention-nopos", "context-mean"],
        "mse",
    )
    names = {"gru", "attention", "constant-velocity", "gru-shuffled", "attention-nopos"}
    names |= {"context-mean"}
    assert set(r["values"]) == names
    # the best (smallest mse) of each set gives N
    assert r["aware_value"] == min(r["values"][m] for m in r["aware"])
    assert r["agnostic_value"] == min(r["values"][m] for m in r["agnostic"])
    assert r["values"][r["best_aware"]] == r["aware_value"]
    assert r["values"][r["best_agnostic"]] == r["agnostic_value"]


def test_one_frame_context_and_unserved_tasks_need_no_training(tmp_path):
    out = tmp_path / "n.json"
    data = compute_necessity([NBODY, DIVISION], command="test", path=out)
    assert data["tasks"][NBODY]["N"] == 0.0 and "by construction" in data["tasks"][NBODY]["note"]
    assert data["not_computed"][DIVISION].startswith("no reference set: every frame carries")
    written = json.loads(out.read_text())  # an update: each record names its own command
    assert written["command"] == "see each record's command"
    assert written["tasks"][NBODY]["command"] == "test"
    assert read_necessity(NBODY, out)["status"] == "computed"
    assert "N = 0 by construction" in read_necessity(DIVISION, out)["reason"]
    assert read_necessity(SPRINGS, tmp_path / "absent.json")["status"] == "not computed"


def test_committed_values_are_shown_by_describe():
    data = json.loads(NECESSITY_FILE.read_text())
    for name, rec in data["tasks"].items():
        assert get_task(name).name == name and rec["tier"] == "mini"
        assert {"N", "ci95", "metric", "aware", "agnostic"} <= set(rec)
        if "note" not in rec:  # trained: every reference's value, the best of each set
            assert set(rec["values"]) <= set(rec["aware"]) | set(rec["agnostic"])
            assert rec["best_aware"] in rec["aware"] and rec["best_agnostic"] in rec["agnostic"]
    assert set(data["tasks"]) | set(data["not_computed"]) == set(list_tasks())
    text = format_describe(describe(SPRINGS))
    assert "temporal necessity N" in text
    n = read_necessity(SPRINGS)
    if n["status"] == "computed":
        rec = read_necessity(SPRINGS)
        pair = f"best order-aware {rec['best_aware']} vs best order-agnostic {rec['best_agnostic']}"
        assert f"{pair}; mini, cpu" in text
    else:
        assert "not computed" in text


class _Reads:
    """A stand-in baseline: predicts from its inputs by ``rule``, records what it trained on."""

    name, seed = "reads", 7

    def __init__(self, rule, train: Windows | None = None) -> None:
        self.rule, self.train, self.task, self.seen = rule, train, None, None

    def training_windows(self, tier, split):
        return self.train

    def fit(self, tier="mini"):
        self.seen = self.training_windows(tier, "train")
        return {}

    def predict(self, batch):
        return self.rule(batch["x"])


def _windows(n=6, t=9) -> Windows:
    x = np.arange(n * t, dtype=float).reshape(n, t, 1, 1)  # every frame of every window unique
    return Windows(
        ids=np.arange(10, 10 + n),
        x=x,
        y=-x[:, :2].copy(),
        sample=np.arange(n),
        start=np.zeros(n, int),
        features=["a"],
        target_features=["a"],
        mask_x=(x % 3 == 0)[..., 0],  # follows the frame values, so it must move with them
    )


def test_wrapper_permutes_input_frames_and_never_targets():
    w = _windows()
    last = ShuffledFrames(_Reads(lambda x: x[:, -1]), seed=3)  # reads frame order
    mean = ShuffledFrames(_Reads(lambda x: x.mean(1)), seed=3)  # blind to it
    batch = {"x": w.x, "ids": w.ids, "mask": w.mask_x}
    assert not np.array_equal(last.predict(batch), w.x[:, -1])
    np.testing.assert_allclose(mean.predict(batch), w.x.mean(1))
    few = last.predict({"x": w.x[2:4], "ids": w.ids[2:4]})  # per window, whatever the batch
    np.testing.assert_array_equal(few, last.predict(batch)[2:4])
    # training goes through the inner fit() on windows whose inputs alone are permuted
    inner = _Reads(None, train=w)
    ShuffledFrames(inner).fit("mini")
    got = inner.seen
    assert got is not None and not np.array_equal(got.x, w.x)
    np.testing.assert_array_equal(np.sort(got.x, axis=1), w.x)  # each window's own frames
    np.testing.assert_array_equal(got.y, w.y)
    np.testing.assert_array_equal(got.mask_x, (got.x % 3 == 0)[..., 0])
    np.testing.assert_array_equal(got.x, permute_frames(w.x, w.ids, inner.seed))
    with pytest.raises(TypeError, match="training_windows"):
        ShuffledFrames(type("Bare", (), {"name": "bare", "task": None})()).fit("mini")


def test_gru_shuffled_keeps_its_permutation():
    """The forecast N values stay identical: the GRU's prediction-time permutation is still
    ``default_rng([seed, window id]).permutation(context)``."""
    x = np.random.default_rng(0).normal(size=(4, 6, 2, 3))
    ids, seed = np.array([3, 0, 11, 5]), 4
    old = np.stack([x[k, np.random.default_rng([seed, int(i)]).permutation(6)] for k, i in
                    enumerate(ids)])  # fmt: skip
    np.testing.assert_array_equal(permute_frames(x, ids, seed), old)
    model = make_baseline("gru-shuffled", get_task(SPRINGS), seed=seed)
    np.testing.assert_array_equal(model._inputs({"x": x, "ids": ids}), old)


def test_every_reference_is_registered_and_order_agnostic_by_name():
    for refs in REFERENCES.values():
        for name in refs.aware + refs.agnostic:
            assert name in BASELINES, name
        for name in refs.agnostic:
            spec = BASELINES.get(name)
            # shuffled inputs, or blind to order by construction (attention without positions)
            free = ("proximity", "corr", "chance", "train-mean", "attention-nopos", "context-mean")
            assert name.endswith("-shuffled") or name in free, name
            shuffled = ("gru", "nri", "arrow-cnn", "order-params")
            trained = name == "attention-nopos" or any(name == f"{a}-shuffled" for a in shuffled)
            assert spec.learned == trained, name
    assert "state_age" in references(get_task(DIVISION))[1]
    refs, why = references(get_task("traffic/metr-la-forecast"))
    assert why is None and refs == References(("var", "static"), ("context-mean",))


@pytest.fixture
def tiny_var(monkeypatch, tmp_path):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    spec = dataclasses.replace(
        DATASETS.get("causal-var"), tiers={"mini": {"train": 2, "valid": 2, "test": 8}}
    )
    with DATASETS.override("causal-var", spec):
        yield spec


def test_shuffled_causal_baseline_ignores_reversal_and_n_is_positive(tiny_var):
    task = get_task("causal/var-lag3")
    pt = prepare(task)
    cfg = EvalConfig(n_boot=20)
    aware = evaluate(make_baseline("xcorr", task), pt, cfg)
    blind = evaluate(make_baseline("xcorr-shuffled", task), pt, cfg)
    plain = {r["model"]["name"]: r["metrics"]["auroc_mean"]["value"] for r in (aware, blind)}
    rev = {r["model"]["name"]: r["probes"]["reversal"]["value"] for r in (aware, blind)}
    # reversing the series flips Granger edges for xcorr; the shuffled model, which reads the
    # frames as a set, scores at chance whichever way they come
    assert rev["xcorr"] < plain["xcorr"] - 0.2
    assert abs(rev["xcorr-shuffled"] - plain["xcorr-shuffled"]) < 0.05
    assert abs(plain["xcorr-shuffled"] - 0.5) < 0.05
    r = temporal_necessity(task, n_boot=100)
    assert r["best_aware"] in ("granger-ridge", "xcorr") and r["N"] > 0.1 and r["ci95"][0] > 0
    assert r["values"]["xcorr-shuffled"] == pytest.approx(plain["xcorr-shuffled"])
    assert r["values"]["corr"] == r["agnostic_value"]  # order-free but above the shuffled ones


def test_context_mean_is_the_order_free_mean_of_the_present_frames():
    """The order-agnostic floor of the forecasts: each entity's mean over the frames where it is
    present (a hand loop), the same for any permutation of the frames."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6, 3, 4))
    mask = rng.random((4, 6, 3)) < 0.6
    mask[0, :, 2] = False  # an entity never present: the mean of all its frames
    task = get_task(SPRINGS)
    model = make_baseline("context-mean", task)
    feats = ["pos_x", "pos_y", "vel_x", "vel_y"]
    batch = {"x": x, "mask": mask, "features": feats, "target_features": ["pos_x", "pos_y"]}
    pred = model.predict(batch)
    assert pred.shape == (4, len(task.steps), 3, 2)
    for w in range(4):
        for e in range(3):
            present = x[w, mask[w, :, e], e, :2]
            want = present.mean(0) if len(present) else x[w, :, e, :2].mean(0)
            for h in range(len(task.steps)):
                np.testing.assert_allclose(pred[w, h, e], want, rtol=1e-12)
    ids = np.arange(4)
    moved = {"x": permute_frames(x, ids, 11), "mask": permute_frames(mask, ids, 11)}
    assert not np.array_equal(moved["x"], x)
    np.testing.assert_allclose(model.predict({**batch, **moved}), pred, rtol=1e-12, atol=1e-15)


def test_division_ages_are_a_clock_so_an_order_free_twin_scores_as_cell_age(tmp_path, monkeypatch):
    """Why ``cells/ctc-hela-division`` has no reference set: on the CTC fake, the largest age
    over the context frames (a symmetric function of the frames) equals the last frame's age
    that ``cell-age`` reads, for every cell scored, so the two score the same and N = 0 by
    construction."""
    import dataclasses
    import shutil

    from decathlon.benchmark import data
    from decathlon.benchmark.evaluate import model_predictor
    from decathlon.datasets.fetch import file_sha256

    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    spec = data.DATASETS.get("ctc-fluo-n2dl-hela")
    files = spec.fake(tmp_path / "up", 1)
    for name, src in files.items():
        (tmp_path / "raw" / spec.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp_path / "raw" / spec.name / name)
    pinned = tuple(dataclasses.replace(f, sha256=file_sha256(files[f.name])) for f in spec.files)
    with data.DATASETS.override(spec.name, dataclasses.replace(spec, files=pinned)):
        data.materialize(spec.name, "full")
        task = get_task(DIVISION)
        w = make_windows(task, "test", "full")
        aware = model_predictor(make_baseline("cell-age", task), task, w)("plain", slice(None))
    ages = w.x[..., w.features.index("state_age")].astype(np.float64)
    age = np.where(w.mask_x, ages, -np.inf).max(1)
    scored = w.mask_y.astype(bool)
    assert scored.sum() > 20
    twin = np.maximum(age, 0.0) / (np.maximum(age, 0.0) + 20 * 3600.0)
    got = np.asarray(aware)
    np.testing.assert_array_equal(twin.astype(got.dtype)[scored], got[scored])
