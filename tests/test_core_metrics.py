"""Metrics against hand-computed values and brute-force reference definitions."""

import itertools

import numpy as np
import pytest

from decathlon.benchmark import metrics


def test_rollout_error_hand_computed():
    pred = np.zeros((2, 2, 1, 2))
    target = np.zeros((2, 2, 1, 2))
    target[0, 0, 0] = [1, 1]  # se 1, l2 sqrt2
    target[1, 0, 0] = [3, 0]  # se 4.5, l2 3
    target[0, 1, 0] = [0, 2]  # se 2, l2 2
    assert metrics.rollout_error(pred, target).tolist() == [2.75, 1.0]
    np.testing.assert_allclose(
        metrics.rollout_error(pred, target, error="l2"), [(2**0.5 + 3) / 2, 1.0]
    )


def test_rollout_error_mask_excludes_entities():
    pred = np.zeros((1, 1, 2, 1))
    target = np.array([[[[2.0], [100.0]]]])
    mask = np.array([[[True, False]]])
    assert metrics.rollout_error(pred, target, mask).tolist() == [4.0]


def test_forecast_metric_names():
    pred = np.zeros((1, 3, 1, 1))
    target = np.arange(1, 4, dtype=float).reshape(1, 3, 1, 1)  # se 1, 4, 9
    st = metrics.forecast_stats(pred, target)
    assert metrics.metric_value("mse", st)[0] == pytest.approx(14 / 3)
    assert metrics.metric_value("mse@2", st)[0] == 4
    st = metrics.forecast_stats(pred, target, error="l2")
    assert metrics.metric_value("ade", st)[0] == 2
    assert metrics.metric_value("fde", st)[0] == 3
    assert metrics.metric_value("l2@1", st)[0] == 1
    with pytest.raises(KeyError, match="unknown metric 'nmse'"):
        metrics.metric_value("nmse", st)


def shd_reference(p, t):
    """Count unordered pairs whose directed pattern differs (reversal = 1)."""
    n = len(t)
    return sum(
        (p[i, j], p[j, i]) != (t[i, j], t[j, i]) for i, j in itertools.combinations(range(n), 2)
    )


def test_shd_conventions():
    t = np.zeros((1, 3, 3))
    t[0, 0, 1] = 1
    rev = np.zeros((1, 3, 3))
    rev[0, 1, 0] = 1
    both = np.zeros((1, 3, 3))
    both[0, 0, 1] = both[0, 1, 0] = 1
    selfloop = t.copy()
    selfloop[0, 2, 2] = 1
    assert metrics.shd(rev, t)[0] == 1  # reversed edge costs 1
    assert metrics.shd(both, t)[0] == 1  # extra opposite direction costs 1
    assert metrics.shd(selfloop, t)[0] == 0  # self-loops excluded
    assert metrics.shd(np.zeros_like(t), t)[0] == 1
    full = np.ones((1, 3, 3))
    assert metrics.shd(full, np.zeros((1, 3, 3)))[0] == 3


def test_shd_matches_reference_on_random_graphs():
    rng = np.random.default_rng(0)
    p = (rng.random((50, 6, 6)) < 0.4).astype(float)
    t = (rng.random((50, 6, 6)) < 0.4).astype(float)
    got = metrics.shd(p, t)
    want = [shd_reference(p[k], t[k]) for k in range(50)]
    assert got.tolist() == want


def test_edge_accuracy_hand_computed():
    t = np.array([[[0, 1, 0], [1, 0, 0], [0, 0, 0]]], float)
    s = np.array([[[0.9, 0.8, 0.6], [0.1, 0.0, 0.2], [0.3, 0.4, 1.0]]])
    # off-diagonal predictions: (0,1)=1 ok, (0,2)=1 wrong, (1,0)=0 wrong, (1,2)=0 ok,
    # (2,0) ok, (2,1) ok
    assert metrics.edge_accuracy(s, t)[0] == pytest.approx(4 / 6)


def auroc_reference(s, y):
    pos, neg = s[y], s[~y]
    return np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])


def test_auroc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, 200).astype(float)  # many ties
    y = rng.random(200) < 0.3
    assert metrics.auroc(s, y) == pytest.approx(auroc_reference(s, y))
    assert metrics.auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert np.isnan(metrics.auroc(np.array([0.1, 0.2]), np.array([1, 1])))


def test_weighted_auroc_equals_auroc_of_repeated_items():
    rng = np.random.default_rng(2)
    s = rng.random(30)
    y = rng.random(30) < 0.5
    w = rng.integers(0, 4, 30)
    rep = np.repeat(np.arange(30), w)
    assert metrics.weighted_auroc(s, y, w[None])[0] == pytest.approx(metrics.auroc(s[rep], y[rep]))


def test_bootstrap_weights_equal_explicit_resampling():
    rng = np.random.default_rng(3)
    pred, target = rng.random((20, 4, 3, 2)), rng.random((20, 4, 3, 2))
    st = metrics.forecast_stats(pred, target)
    idx = rng.integers(0, 20, 20)
    w = np.bincount(idx, minlength=20)[None]
    assert metrics.metric_value("mse@3", st, w)[0] == pytest.approx(
        metrics.rollout_error(pred[idx], target[idx])[2]
    )
    s, t = rng.random((20, 4, 4)), (rng.random((20, 4, 4)) < 0.5).astype(float)
    gs = metrics.graph_stats(s, t)
    gi = metrics.graph_stats(s[idx], t[idx])
    for name in ("auroc", "edge_accuracy", "shd", "f1", "precision", "recall"):
        assert metrics.metric_value(name, gs, w)[0] == pytest.approx(
            metrics.metric_value(name, gi)[0]
        ), name


def test_f1_hand_computed():
    t = np.array([[[0, 1, 1], [0, 0, 0], [0, 0, 0]]], float)
    s = np.array([[[0, 1, 0], [1, 0, 0], [0, 0, 0]]], float)  # tp 1, fp 1, fn 1
    st = metrics.graph_stats(s, t)
    assert metrics.metric_value("precision", st)[0] == 0.5
    assert metrics.metric_value("recall", st)[0] == 0.5
    assert metrics.metric_value("f1", st)[0] == 0.5


@pytest.mark.parametrize("distinct", [7, None])
def test_bootstrap_replicates_equal_the_item_by_item_computation(distinct):
    """The evaluator's replicates (int32 weights, per-window tie-group counts, row blocks) equal
    the direct definition on the same resamples: AUROC bit for bit (float64 weights repeated per
    item, items re-sorted for every replicate: the previous implementation), the linear metrics
    (stacked into one matrix product) up to the round-off of the summation order."""
    from decathlon.benchmark.bootstrap import PairedBootstrap

    rng = np.random.default_rng(5)
    n, pairs = 300, 20
    truth = (rng.random((n, 5, 5)) < 0.4).astype(float)
    raw = rng.random((n, 5, 5))
    scores = raw if distinct is None else np.round(raw * distinct) / distinct
    st = metrics.graph_stats(scores, truth)
    pred = rng.normal(size=(n, 4, 3, 2))
    fst = metrics.forecast_stats(pred, rng.normal(size=(n, 4, 3, 2)))
    boot = PairedBootstrap({"g": st, "f": fst}, n, 250, seed=11)
    w = np.random.default_rng(11).multinomial(n, np.full(n, 1.0 / n), size=250).astype(np.float64)
    direct = metrics.weighted_auroc(
        st["scores"].ravel(), st["labels"].ravel(), np.repeat(w, pairs, axis=1)
    )
    np.testing.assert_array_equal(boot("auroc", "g")[1], direct)
    mse = (w @ fst["sum"].sum(1)) / np.maximum(w @ fst["count"].sum(1), 1e-300)
    np.testing.assert_allclose(boot("mse", "f")[1], mse, rtol=1e-13, atol=0)
    boot2 = PairedBootstrap({"g": st, "f": fst}, n, 250, seed=11)
    boot2.prefetch([("auroc", "g"), ("mse", "f"), ("shd", "g")])
    np.testing.assert_array_equal(boot2("auroc", "g")[1], direct)
    np.testing.assert_allclose(boot2("mse", "f")[1], mse, rtol=1e-13, atol=0)
    assert np.array_equal(boot2("mse", "f")[1], boot("mse", "f")[1])  # prefetched or not
    shd = (w @ st["shd"]) / n
    np.testing.assert_allclose(boot2("shd", "g")[1], shd, rtol=1e-13, atol=0)


def test_cached_bootstrap_weights_are_the_drawn_ones(tmp_path, monkeypatch):
    """Large weight matrices are cached in the data cache; a cached file gives the same values,
    and a damaged one is ignored (drawn again)."""
    from decathlon.benchmark.bootstrap import multinomial_weights

    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    n, b = 1000, 1000
    drawn = np.random.default_rng(3).multinomial(n, np.full(n, 1 / n), size=b).astype(np.int32)
    first = multinomial_weights(n, b, 3)
    files = list((tmp_path / "bootstrap").iterdir())
    assert len(files) == 1 and np.array_equal(first, drawn)
    np.testing.assert_array_equal(multinomial_weights(n, b, 3), drawn)  # from the cache
    np.save(files[0], np.zeros((b, n), np.int32))  # damaged: rows do not sum to n
    np.testing.assert_array_equal(multinomial_weights(n, b, 3), drawn)
