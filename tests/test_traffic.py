"""Traffic sensor networks (METR-LA, PEMS-BAY): reader, graph, splits, windows, metrics,
baselines. Real sample: the DCRNN sensor-graph files (the speed tables are tested on fakes)."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
from shared_samples import shared_data

from decathlon.benchmark import data
from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.evaluate import evaluate
from decathlon.benchmark.metrics import masked_stats, metric_value
from decathlon.benchmark.tasks import Split, get_task
from decathlon.benchmark.windows import make_windows
from decathlon.datasets import traffic
from decathlon.datasets.fetch import file_sha256


def test_reader_reads_the_fake_h5_in_pandas_fixed_layout(tmp_path):
    files = traffic.make_fake_metr_la(tmp_path, 3)
    values, ids, stamps = traffic.read_speed_h5(files["metr-la.h5"])
    assert values.shape == (traffic.FAKE_STEPS, 6) and ids[0] == "773869"
    assert np.all(np.diff(stamps) == 300 * 10**9)
    assert np.datetime64(int(stamps[0]), "ns") == np.datetime64("2012-03-01T00:00")
    ds = traffic.open_metr_la(files)
    assert (ds["mask"].values == (values != 0)).all() and 0 < (values == 0).mean() < 0.2
    np.testing.assert_array_equal(ds["value"].values[..., 0], values.astype(np.float32))
    assert ds["covariates"].sel(covariate="day_of_week").values[0] == 3  # a Thursday


def test_reader_takes_the_speed_key_and_integer_ids(tmp_path):
    ds = traffic.open_pems_bay(traffic.make_fake_pems_bay(tmp_path, 0))
    assert list(ds["node"].values[:2]) == ["400001", "400017"]
    assert ds["covariates"].sel(covariate="day_of_week").values[0] == 6  # 2017-01-01, a Sunday


def test_reader_refuses_columns_that_differ_from_the_id_list(tmp_path):
    files = traffic.make_fake_metr_la(tmp_path, 0)
    files["graph_sensor_ids.txt"].write_text("1,2,3")
    with pytest.raises(ValueError, match="graph_sensor_ids.txt"):
        traffic.open_metr_la(files)


def test_graph_from_real_distances_has_the_published_sparsity():
    root = shared_data()
    if root is None:
        pytest.skip("real samples absent")
    d = root / "traffic_metr_la_pems_bay" / "sensor_graph"
    ids = list(traffic.read_locations(d / "graph_sensor_locations_bay.csv"))
    rows = traffic.read_distances(d / "distances_bay_2017.csv")
    adj = traffic.gaussian_adjacency(ids, rows)
    assert adj.shape == (325, 325) and set(ids) >= {a for a, _, _ in rows}
    assert int((adj != 0).sum()) == 2694  # adj_mx_bay.pkl's nonzeros (MANIFEST), never unpickled
    assert (np.diag(adj) == 1).all() and not np.array_equal(adj, adj.T)  # directed
    la = traffic.read_locations(d / "graph_sensor_locations.csv")
    assert list(la) == (d / "graph_sensor_ids.txt").read_text().split(",")


def test_chronological_split_sizes_are_dcrnn_s():
    for n_t, sizes in ((34272, (23974, 3425, 6850)), (52116, (36465, 5209, 10419))):
        got = [Split("all", shares=(0.7, 0.1, 0.2), share=i).frames(n_t, 24) for i in range(3)]
        assert [s.stop - s.start - 23 for s in got] == list(sizes)
        assert got[0].start == 0 and got[2].stop == n_t and got[1].start == sizes[0]


@pytest.fixture(scope="module")
def fake_cache(tmp_path_factory):
    """Both traffic datasets prepared from their fakes in a private cache."""
    import os

    root = tmp_path_factory.mktemp("traffic")
    old = os.environ.get("DECATHLON_DATA_DIR")
    os.environ["DECATHLON_DATA_DIR"] = str(root)
    specs = {}
    for name in ("metr-la", "pems-bay"):
        spec = data.DATASETS.get(name)
        files = spec.fake(root / "up" / name, 1)
        for f, src in files.items():
            (root / "raw" / name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / "raw" / name / f)
        pinned = tuple(
            dataclasses.replace(f, sha256=file_sha256(files[f.name])) for f in spec.files
        )
        specs[name] = dataclasses.replace(spec, files=pinned)
    with data.DATASETS.override("metr-la", specs["metr-la"]):
        with data.DATASETS.override("pems-bay", specs["pems-bay"]):
            for name in specs:
                data.materialize(name, "full")
            yield root
    if old is None:
        del os.environ["DECATHLON_DATA_DIR"]
    else:
        os.environ["DECATHLON_DATA_DIR"] = old


def test_windows_are_views_of_one_series(fake_cache):
    w = make_windows("traffic/pems-bay-forecast", "test", "full")
    assert w.x.base is not None and np.shares_memory(w.x, w.y)
    assert w.x.shape[1:] == (12, 7, 3) and w.y.shape[1:] == (12, 7, 1)
    np.testing.assert_array_equal(w.x[1, :-1], w.x[0, 1:])  # stride 1
    np.testing.assert_array_equal(w.y[0, 0], w.x[12, 0, :, :1])  # targets are later inputs
    assert w.features == ["value_speed", "covariates_time_of_day", "covariates_day_of_week"]


def test_masked_metrics_equal_a_direct_computation():
    rng = np.random.default_rng(0)
    y = rng.uniform(20, 70, (5, 12, 4, 1))
    y[rng.random(y.shape) < 0.2] = 0.0
    p = y + rng.normal(0, 3, y.shape)
    st = masked_stats(p, y)
    m = y[..., 0] != 0
    e = np.abs(p - y)[..., 0]
    for k in (3, 12):
        mk = m[:, k - 1]
        assert metric_value(f"mae@{k}", st)[0] == pytest.approx(e[:, k - 1][mk].mean())
        want = np.sqrt((e[:, k - 1][mk] ** 2).mean())
        assert metric_value(f"rmse@{k}", st)[0] == pytest.approx(want)
        want = 100 * (e[:, k - 1] / np.where(mk, y[:, k - 1, :, 0], 1))[mk].mean()
        assert metric_value(f"mape@{k}", st)[0] == pytest.approx(want)
    per = [e[:, h][m[:, h]].mean() for h in range(12)]
    assert metric_value("mae", st)[0] == pytest.approx(np.mean(per))


def test_baselines_beat_last_value_at_60_minutes_on_the_fake(fake_cache):
    """The fake has a daily profile plus noise: the time-of-week table must beat persistence
    one hour ahead (a broken slot would not); the VAR runs and is finite."""
    task = get_task("traffic/metr-la-forecast")
    w = make_windows(task, "test", "full")
    batch = {
        "x": w.x,
        "mask": w.mask_x,
        "features": w.features,
        "dt": w.dt,
        "target_features": w.target_features,
        "ids": w.ids,
        "constants": None,
    }
    mae = {}
    for name in ("static", "historical-average", "var"):
        model = make_baseline(name, task)
        if hasattr(model, "fit"):
            model.fit("full")
        mae[name] = metric_value("mae@12", masked_stats(model.predict(batch), w.y, w.mask_y))[0]
    assert mae["historical-average"] < 0.8 * mae["static"], mae
    assert np.isfinite(mae["var"]), mae


def test_var_recovers_a_known_autoregression():
    from types import SimpleNamespace

    from decathlon.baselines.var import VAR

    rng = np.random.default_rng(1)
    a = np.array([[0.6, 0.2, 0.0], [0.0, 0.5, -0.3], [0.1, 0.0, 0.7]])
    z = np.zeros((20000, 3))
    for t in range(1, len(z)):
        z[t] = z[t - 1] @ a.T + rng.normal(0, 1, 3)
    v = (50 + 5 * z).astype(np.float32)[None, :, :, None]
    data = SimpleNamespace(x=v, features=("value_speed",), target_features=("value_speed",))
    task = SimpleNamespace(train_data=lambda tier: data, steps=(1, 2))
    model = VAR(task, lags=1)
    model.fit()
    np.testing.assert_allclose(model.coef[1:].T, a, atol=0.03)
    x = v[:, -12:]
    pred = model.predict({"x": x, "features": ["value_speed"], "target_features": ["value_speed"]})
    last = (x[0, -1, :, 0] - model.mu) / model.sigma
    want = [last @ model.coef[1:] + model.coef[0]]
    want.append(want[0] @ model.coef[1:] + model.coef[0])
    np.testing.assert_allclose(pred[0, :, :, 0], np.array(want) * model.sigma + model.mu, rtol=1e-5)


def test_sensor_baselines_serve_only_sensor_networks():
    with pytest.raises(ValueError, match="sensor_network"):
        make_baseline("historical-average", get_task("particles/springs-forecast"))


def test_run_says_in_one_line_how_to_get_the_traffic_data(tmp_path, monkeypatch):
    """Without the speed tables in the cache, `decathlon run` skips the traffic events with one
    line naming the download and the local-files route (and never schedules the GRU there)."""
    from decathlon.benchmark.baselines import BASELINES
    from decathlon.benchmark.report import format_run
    from decathlon.benchmark.suite import run_suite

    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    names = ["traffic/metr-la-forecast", "traffic/pems-bay-forecast"]
    run = run_suite(names, ("static", "gru"), out=tmp_path / "out", say=lambda _: None)
    assert run["results"] == [] and set(run["skipped"]) == set(names)
    lines = [ln for ln in format_run(run).splitlines() if ln.startswith("skipped")]
    assert len(lines) == 2, lines
    for ds, line in zip(("metr-la", "pems-bay"), lines, strict=True):
        assert (
            f"`decathlon prepare {ds}`" in line and f"`decathlon prepare {ds} --from DIR`" in line
        )
    assert not BASELINES.get("gru").serves(get_task(names[0]))


@pytest.mark.parametrize("name", ["historical-average", "var"])
def test_learned_traffic_baselines_run_through_the_suite(fake_cache, name):
    """The suite hands every learned baseline its training settings (``budget``, ``progress``);
    the least-squares ones take them without a TypeError and score finite numbers."""
    from decathlon.benchmark.evaluate import EvalConfig
    from decathlon.benchmark.suite import run_baseline

    r = run_baseline(name, "traffic/metr-la-forecast", tier="full", config=EvalConfig(n_boot=5))
    assert r["model"]["name"] == name
    assert np.isfinite(r["metrics"]["mae@12"]["value"])


def test_temporal_necessity_on_a_sensor_network(fake_cache, tmp_path):
    """N of a traffic forecast: VAR and persistence against the order-free context mean, on the
    fake, with the best of each set and a paired interval around N."""
    from decathlon.benchmark.necessity import compute_necessity

    name = "traffic/metr-la-forecast"
    data = compute_necessity([name], n_boot=50, command="test", path=tmp_path / "n.json")
    r = data["tasks"][name]
    assert r["metric"] == "mae@12" and r["aware"] == ["var", "static"]
    assert r["agnostic"] == ["context-mean"] and r["best_agnostic"] == "context-mean"
    v = r["values"]
    assert r["best_aware"] == min(("var", "static"), key=lambda m: v[m])
    assert r["N"] == pytest.approx(v["context-mean"] - v[r["best_aware"]])
    lo, hi = r["ci95"]
    assert lo <= r["N"] <= hi and r["bootstrap"]["unit"] == "block"


def test_intervals_resample_blocks_of_the_sensor_series(fake_cache):
    """Windows slide by one step along one series: the intervals resample blocks of 24 steps.
    Streaming, which reads a store sample by sample, refuses the one continuous series with the
    fix instead of failing on a missing axis."""
    from decathlon.benchmark.stream import evaluate_stream

    t = get_task("traffic/metr-la-forecast")
    m = make_baseline("static", t)
    mem = evaluate(m, prepare(t, tier="full"), EvalConfig(n_boot=300, probes=False))
    blocks = -(-mem["n_windows"] // (t.context + t.horizon))  # one series; starts 0 .. n - 1
    assert mem["bootstrap"] == {"unit": "block", "n_units": blocks, "resamples": 300}
    with pytest.raises(ValueError, match="no 'sample' axis.*without --stream"):
        evaluate_stream(m, t, "test", "full", EvalConfig(n_boot=5, probes=False))
