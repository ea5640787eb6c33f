"""The evaluator end to end on the springs mini tier: windows, metrics, probes, bad predictions."""

import json
import subprocess
import sys

import numpy as np
import pytest

from decathlon.benchmark import metrics
from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.data import open_part
from decathlon.benchmark.describe import describe
from decathlon.benchmark.evaluate import evaluate
from decathlon.benchmark.normalization import task_stats
from decathlon.benchmark.offline import export_inputs, score
from decathlon.benchmark.probes import sensitivity, transform
from decathlon.benchmark.results import validate_result
from decathlon.benchmark.tasks import get_task
from decathlon.benchmark.windows import Windows, make_windows, train_sequences

FORECAST, GRAPH = "particles/springs-forecast", "particles/springs-graph"


class Oracle:
    """Returns the true target for each window id (to check scoring end to end)."""

    def __init__(self, windows, noise=0.0):
        self.w, self.noise = windows, noise

    def predict(self, batch):
        y = self.w.y[batch["ids"]]
        return y + self.noise


class Bad:
    def __init__(self, fn):
        self.fn = fn

    def predict(self, batch):
        return self.fn(batch)


def test_windows_follow_the_nri_protocol(springs_mini):
    w = make_windows(FORECAST, "test", "mini")
    ds = open_part("nri-springs", "mini", "test")
    stats = task_stats(FORECAST, "mini")
    train = open_part("nri-springs", "mini", "train")
    assert stats["pos"] == pytest.approx([float(train.pos.min()), float(train.pos.max())])
    lo, hi = stats["vel"]
    assert w.x.shape == (500, 49, 5, 4) and w.y.shape == (500, 20, 5, 4)
    assert w.features == ["pos_x", "pos_y", "vel_x", "vel_y"]
    vel = ds.vel.values[7]
    np.testing.assert_allclose(
        w.x[7, :, :, 2:], (vel[:49] - lo) * 2 / (hi - lo) - 1, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        w.y[7, :, :, 2:], (vel[49:69] - lo) * 2 / (hi - lo) - 1, rtol=1e-5, atol=1e-6
    )
    g = make_windows(GRAPH, "test", "mini")
    np.testing.assert_array_equal(g.y, ds.edges.values)
    tr = train_sequences(FORECAST, "train", "mini")
    assert tr.x.shape == (2000, 49, 5, 4)


def test_static_baseline_scored_by_hand(springs_mini):
    task = get_task(FORECAST)
    r = evaluate(make_baseline("static", task), prepare(task), EvalConfig(n_boot=200))
    validate_result(r)
    w = make_windows(task, "test", "mini")
    pred = np.repeat(w.x[:, -1:, :, :], 20, axis=1)
    per_step = ((pred.astype(np.float64) - w.y) ** 2).mean(axis=(0, 2, 3))
    assert r["metrics"]["mse@1"]["value"] == pytest.approx(per_step[0])
    assert r["metrics"]["mse@20"]["value"] == pytest.approx(per_step[19])
    assert r["metrics"]["mse"]["value"] == pytest.approx(per_step.mean())
    assert r["curve"]["per_step"] == pytest.approx(per_step.tolist())
    lo, hi = r["metrics"]["mse"]["ci95"]
    assert lo < r["metrics"]["mse"]["value"] < hi
    # reversal: static then repeats the first frame with velocities negated in physical units
    lo, hi = task_stats(task, "mini")["vel"]
    first = w.x[:, :1].astype(np.float64).copy()
    phys = (first[..., 2:] + 1) * (hi - lo) / 2 + lo
    first[..., 2:] = (-phys - lo) * 2 / (hi - lo) - 1
    rev = np.repeat(first, 20, axis=1)
    assert r["probes"]["reversal"]["value"] == pytest.approx(((rev - w.y) ** 2).mean())
    assert r["probes"]["freeze"]["gap"] == 0
    assert (
        r["probes"]["reversal"]["ts"] is None and "undefined" in r["probes"]["reversal"]["ts_note"]
    )
    assert r["points"]["value"] == 0 and r["points"]["trivial_baseline"] == "static"
    assert r["task"]["data_sha256"] and r["task"]["split_sha256"]


def test_constant_velocity_beats_static_and_probes_are_consistent(springs_mini):
    task = get_task(FORECAST)
    r = evaluate(make_baseline("constant-velocity", task), prepare(task), EvalConfig(n_boot=200))
    static = evaluate(make_baseline("static", task), prepare(task), EvalConfig(n_boot=200))
    for m in task.metrics:  # every metric, the mean and each reported step, beats persistence
        assert r["metrics"][m]["value"] < static["metrics"][m]["value"], m
    assert r["points"]["trivial_value"] == static["metrics"]["mse"]["value"]
    assert 0 < r["points"]["value"] < 1000
    for p in ("reversal", "shuffle"):
        pr = r["probes"][p]
        assert pr["gap"] == pytest.approx(pr["value"] - r["metrics"]["mse"]["value"])
        assert pr["ts"] == pytest.approx(pr["gap"] / r["probes"]["freeze"]["gap"])
        assert pr["gap_ci95"][0] <= pr["gap"] <= pr["gap_ci95"][1]
    assert len(r["probes"]["shuffle"]["per_draw"]) == len(task.shuffle_seeds)
    # sensitivity by hand for the reversal probe: RMS change / RMS spread between windows
    a, b = np.zeros((3, 2)), np.ones((3, 2))
    a[1] = 2.0  # plain predictions 0, 2, 0 -> partners differ by 2 for two of three windows
    assert sensitivity(a.reshape(3, 1, 2), [b.reshape(3, 1, 2)], 0) == pytest.approx(1.0 / (4 / 3))
    assert 0 < r["probes"]["reversal"]["sensitivity"]
    static_mse = r["points"]["trivial_value"]
    rev = r["probes"]["reversal"]
    assert rev["ts_trivial"] == pytest.approx(
        rev["gap"] / (static_mse - r["metrics"]["mse"]["value"])
    )
    assert np.mean(r["probes"]["shuffle"]["per_draw"]) == pytest.approx(
        r["probes"]["shuffle"]["value"]
    )


def test_oracle_gets_perfect_scores(springs_mini):
    f = get_task(FORECAST)
    r = evaluate(Oracle(make_windows(f, "test", "mini")), prepare(f), EvalConfig(n_boot=50))
    assert r["metrics"]["mse"]["value"] == 0 and r["points"]["value"] == 1000
    g = get_task(GRAPH)
    r = evaluate(Oracle(make_windows(g, "test", "mini")), prepare(g), EvalConfig(n_boot=50))
    assert r["metrics"]["auroc"]["value"] == 1 and r["metrics"]["shd"]["value"] == 0
    assert r["metrics"]["edge_accuracy"]["value"] == 1 and r["points"]["value"] == 1000
    # an oracle ignores its input: every probe gap and prediction sensitivity is exactly 0
    assert all(p["gap"] == 0 and p["sensitivity"] == 0 for p in r["probes"].values())


def test_graph_chance_and_proximity(springs_mini):
    g = get_task(GRAPH)
    r = evaluate(make_baseline("chance", g), prepare(g), EvalConfig(n_boot=100))
    assert r["metrics"]["auroc"]["value"] == 0.5 and r["points"]["value"] == 0
    r = evaluate(make_baseline("proximity", g), prepare(g), EvalConfig(n_boot=100))
    assert r["metrics"]["auroc"]["value"] > 0.55  # connected balls stay closer
    assert r["probes"]["reversal"]["gap"] == 0 and r["probes"]["shuffle"]["gap"] == 0  # order-blind


@pytest.mark.parametrize(
    "fn, match",
    [
        (
            lambda b: np.zeros((len(b["ids"]), 19, 5, 4)),
            r"has shape \(\d+, 19, 5, 4\), expected \(\d+, 20, 5, 4\)",
        ),
        (lambda b: np.full((len(b["ids"]), 20, 5, 4), np.nan), r"NaN/inf values .* must be finite"),
        (lambda b: np.array([["a"]]), r"dtype <U1; expected a float array"),
    ],
)
def test_bad_predictions_rejected(springs_mini, fn, match):
    with pytest.raises(ValueError, match=match):
        evaluate(Bad(fn), prepare(FORECAST), EvalConfig(n_boot=0, probes=False))


def test_missing_duplicate_unknown_ids_rejected(springs_mini, tmp_path):
    task = get_task(FORECAST)
    w = make_windows(task, "test", "mini")
    y = np.zeros((len(w), 20, 5, 4))
    with pytest.raises(ValueError, match=r"2 of 500 window ids missing \(first: \[3, 4\]\)"):
        score(task, {"ids": np.delete(w.ids, [3, 4]), "pred": np.delete(y, [3, 4], 0)})
    ids = w.ids.copy()
    ids[5] = 6
    with pytest.raises(ValueError, match=r"duplicate window ids \[6\]"):
        score(task, {"ids": ids, "pred": y})
    ids = w.ids.copy()
    ids[0] = 9999
    with pytest.raises(ValueError, match="missing|unknown window ids"):
        score(task, {"ids": ids, "pred": y})
    with pytest.raises(ValueError, match=r"unknown probe variant"):
        score(task, {"ids": w.ids, "pred": y, "pred__backwards": y})


def test_offline_route_equals_evaluate(springs_mini, tmp_path):
    task = get_task(FORECAST)
    model = make_baseline("constant-velocity", task)
    direct = evaluate(model, prepare(task), EvalConfig(n_boot=100))
    inp = export_inputs(prepare(task), tmp_path / "inputs.npz")
    with np.load(inp, allow_pickle=False) as z:
        keys = set(z.files)
        out = {"ids": z["ids"]}
        feats = z["features"].tolist()
        for k in keys:
            if k == "x" or k.startswith("x__"):
                batch = {
                    "ids": z["ids"],
                    "x": z[k],
                    "mask": None,
                    "features": feats,
                    "target_features": z["target_features"].tolist(),
                    "dt": 0.1,
                }
                out["pred" + k[1:]] = model.predict(batch)
        assert tuple(z["output_shape"]) == (500, 20, 5, 4)
    assert {"x__reversal", "x__freeze", "x__shuffle9"} <= keys
    # predictions in shuffled window order are realigned by id
    perm = np.random.default_rng(0).permutation(500)
    out = {k: v[perm] for k, v in out.items()}
    np.savez(tmp_path / "pred.npz", **out)
    offline = score(prepare(task), tmp_path / "pred.npz", EvalConfig(n_boot=100))
    assert offline["metrics"] == direct["metrics"]
    assert offline["probes"] == direct["probes"]
    assert offline["predictions_sha256"] == direct["predictions_sha256"]


def test_offline_missing_probes_reported(springs_mini, tmp_path):
    task = get_task(FORECAST)
    w = make_windows(task, "test", "mini")
    r = score(prepare(task), {"ids": w.ids, "pred": w.y}, EvalConfig(n_boot=10))
    assert r["probes"]["reversal"]["status"] == "missing"


def test_pickled_predictions_refused(springs_mini, tmp_path):
    p = tmp_path / "evil.npz"
    np.savez(p, ids=np.arange(500), pred=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="holds Python objects \\(a pickle\\)"):
        score(FORECAST, p)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        score(FORECAST, tmp_path / "junk.npz")


def test_probe_transforms():
    task = get_task(FORECAST)
    x = np.arange(3 * 4, dtype=np.float32).reshape(1, 3, 1, 4)
    w = Windows(
        np.arange(1),
        x,
        np.zeros((1, 20, 1, 4)),
        np.zeros(1),
        np.zeros(1),
        ["pos_x", "pos_y", "vel_x", "vel_y"],
        [],
    )
    # without normalization velocities are negated as they are
    rev = transform(task, w, "reversal")["x"]
    np.testing.assert_array_equal(rev[0, 0, 0], [8, 9, -10, -11])
    np.testing.assert_array_equal(transform(task, w, "freeze")["x"][0, :, 0, 0], [8, 8, 8])
    s0 = transform(task, w, "shuffle0")["x"]
    perm = np.random.default_rng(task.shuffle_seeds[0]).permutation(3)
    np.testing.assert_array_equal(s0[0, :, 0, 0], x[0, perm, 0, 0])
    assert w.y.sum() == 0  # targets untouched
    # with a [-1, 1] scaling of range [0, 4] (physical v = 2 (x + 1)), v=2 at x=0 becomes -2 at x=-2
    w.ranges = (np.zeros(4), np.full(4, 4.0))
    w.x = np.zeros((1, 3, 1, 4), np.float32)
    np.testing.assert_allclose(transform(task, w, "reversal")["x"][0, 0, 0], [0, 0, -2, -2])


def test_describe_names_shapes(springs_mini):
    d = describe(FORECAST)
    assert d["inputs"]["x"]["shape"] == ["W", 49, 5, 4]
    assert d["output"]["shape"] == ["W", 20, 5, 4]
    assert describe(GRAPH)["output"]["dims"] == ["window", "entity", "entity_"]


def test_benchmark_core_does_not_import_torch(springs_mini):
    code = (
        "import sys, decathlon.benchmark\n"
        "from decathlon.benchmark.evaluate import evaluate\n"
        "from decathlon.benchmark.baselines import make_baseline\n"
        "from decathlon.benchmark.tasks import get_task\n"
        "t = get_task('particles/springs-forecast')\n"
        "from decathlon.benchmark.context import EvalConfig, prepare\n"
        "evaluate(make_baseline('static', t), prepare(t), EvalConfig(n_boot=5))\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_result_schema_rejects_forgeries(springs_mini):
    task = get_task(FORECAST)
    r = evaluate(make_baseline("static", task), prepare(task), EvalConfig(n_boot=10))
    bad = json.loads(json.dumps(r))
    bad["points"]["value"] = 5000
    with pytest.raises(ValueError, match="points/value"):
        validate_result(bad)
    bad = json.loads(json.dumps(r))
    bad["predictions_sha256"] = "abc"
    with pytest.raises(ValueError, match="predictions_sha256"):
        validate_result(bad)
    bad = json.loads(json.dumps(r))
    bad["verification"] = "trust-me"
    with pytest.raises(ValueError, match="verification"):
        validate_result(bad)


def test_metric_values_agree_with_pure_functions(springs_mini):
    g = get_task(GRAPH)
    model = make_baseline("proximity", g)
    w = make_windows(g, "test", "mini")
    r = evaluate(model, prepare(g), EvalConfig(n_boot=10))
    s = model.predict({"ids": w.ids, "x": w.x, "mask": None, "features": w.features})
    od = ~np.eye(5, dtype=bool)
    assert r["metrics"]["auroc"]["value"] == pytest.approx(metrics.auroc(s[:, od], w.y[:, od]))
    assert r["metrics"]["shd"]["value"] == pytest.approx(metrics.shd(s, w.y).mean())


def test_equivariance_probe(springs_mini):
    task = get_task(FORECAST)
    r = evaluate(make_baseline("constant-velocity", task), prepare(task), EvalConfig(n_boot=20))
    for g in ("rot90", "reflect", "permute"):
        assert r["equivariance"][g]["error"] < 1e-10, g  # linear, per-ball: exactly equivariant

    class Biased:
        """Adds a fixed offset to ball 0's x coordinate: breaks rotations and permutations."""

        def predict(self, batch):
            y = np.repeat(batch["x"][:, -1:], 20, axis=1).astype(np.float64)
            y[:, :, 0, 0] += 0.1
            return y

    r = evaluate(Biased(), prepare(task), EvalConfig(n_boot=20))
    # by hand: after rot90 the offset shows up on ball 0's y; after the permutation, on another ball
    assert r["equivariance"]["rot90"]["error"] == pytest.approx(2 * 0.1**2 / (5 * 4), rel=1e-3)
    assert r["equivariance"]["permute"]["error"] == pytest.approx(2 * 0.1**2 / (5 * 4), rel=1e-3)
    g = get_task(GRAPH)
    r = evaluate(make_baseline("proximity", g), prepare(g), EvalConfig(n_boot=20))
    # distances are invariant, but float32 rounding of the turned inputs flips the rank of a few
    # near-equal distances (a rank step is 1/19 of score): small, not zero
    assert r["equivariance"]["permute"]["error"] < 1e-12
    assert 0 <= r["equivariance"]["rot90"]["error"] < 5e-3
