"""The cluster (group-aware) bootstrap: whole samples resampled, windows weighted by their
sample's draw count (benchmark/bootstrap.py, docs/contract.md "Confidence intervals")."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from decathlon.benchmark import metrics
from decathlon.benchmark.bootstrap import (
    PairedBootstrap,
    ci,
    multinomial_weights,
    resample_weights,
    resampling_units,
)
from decathlon.benchmark.tasks import get_task

ARROW = "arrow/forward-backward"


def _identical_windows(values: list[float], per_cluster: int) -> tuple[dict, np.ndarray]:
    """Forecast statistics of ``per_cluster`` identical windows per value (squared error =
    value on every element), and each window's cluster."""
    err = np.repeat(np.asarray(values), per_cluster)
    pred = np.sqrt(err)[:, None, None, None] * np.ones((1, 2, 3, 1))
    st = metrics.forecast_stats(pred, np.zeros_like(pred))
    return st, np.repeat(np.arange(len(values)), per_cluster)


def test_two_clusters_of_identical_windows_resample_like_two_points():
    """Two clusters of ten identical windows (errors 1 and 3): every cluster-bootstrap replicate
    is 1, 2 or 3 (both draws the first cluster, one of each, both the second), with chances
    1/4, 1/2, 1/4 as for a bootstrap of the two points, and the replicates are those of the
    two-point bootstrap on the same seed. The window bootstrap of the same 20 windows treats them
    as independent and gives a much narrower interval."""
    st, clusters = _identical_windows([1.0, 3.0], per_cluster=10)
    b = 2000
    boot = PairedBootstrap({"plain": st}, 20, b, seed=4, clusters=clusters, unit="sample")
    val, reps = boot("mse", "plain")
    assert val == 2.0
    levels, counts = np.unique(np.round(reps, 12), return_counts=True)
    assert levels.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(counts / b, [0.25, 0.5, 0.25], atol=0.03)
    two, _ = _identical_windows([1.0, 3.0], per_cluster=1)
    np.testing.assert_allclose(
        PairedBootstrap({"plain": two}, 2, b, seed=4)("mse", "plain")[1], reps, rtol=1e-14
    )
    np.testing.assert_allclose(ci(reps), [1.0, 3.0], rtol=1e-14)
    lo, hi = ci(PairedBootstrap({"plain": st}, 20, b, seed=4)("mse", "plain")[1])
    assert hi - lo < 0.6 * (3.0 - 1.0)  # about 1/sqrt(10) of the cluster interval
    assert boot.record() == {"unit": "sample", "n_units": 2, "resamples": b}


def test_window_bootstrap_is_the_cluster_bootstrap_with_one_window_per_cluster():
    """One code path: singleton clusters give exactly the window weights, and those are the
    multinomial draws of every earlier evaluator version."""
    n, b, seed = 37, 50, 9
    plain = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=b)
    np.testing.assert_array_equal(resample_weights(n, b, seed), plain)
    np.testing.assert_array_equal(resample_weights(n, b, seed, np.arange(n)), plain)
    w = resample_weights(6, b, seed, np.array([2, 0, 2, 1, 0, 2]))
    np.testing.assert_array_equal(w, multinomial_weights(3, b, seed)[:, [2, 0, 2, 1, 0, 2]])


def test_means_of_unequal_clusters_divide_by_the_windows_drawn():
    """Cluster sizes 1 and 3: a replicate's mean is over the windows its draw holds."""
    x = np.array([10.0, 1.0, 2.0, 3.0])
    clusters = np.array([0, 1, 1, 1])
    boot = PairedBootstrap({}, 4, 200, seed=1, clusters=clusters, unit="sample")
    w = boot.weights.astype(float)
    np.testing.assert_allclose(boot.mean(x), (w @ x) / w.sum(1), rtol=1e-15)
    assert set(np.round(boot.mean(x), 12)) <= {10.0, 2.0, (10 + 6) / 4}


@pytest.mark.parametrize(
    "clusters", [np.array([0, 2, 2]), np.array([0.0, 1.0, 1.0]), np.array([0, 1])]
)
def test_bad_clusters_are_refused(clusters):
    with pytest.raises(ValueError, match="cluster"):
        resample_weights(3, 5, 0, clusters)


def test_task_refuses_an_unknown_bootstrap_unit():
    with pytest.raises(ValueError, match="bootstrap_unit 'simulation'.*'window', 'sample', 'cl"):
        dataclasses.replace(get_task("particles/springs-forecast"), bootstrap_unit="simulation")


def test_which_tasks_resample_samples_clusters_or_blocks():
    """The arrow tasks resample simulations or pedestrians; the tasks whose windows slide along
    a recording resample blocks in time; every other registered task has one window per sample
    or too few samples in its test split for a cluster bootstrap (docs/contract.md)."""
    from decathlon.benchmark.tasks import list_tasks

    units = {t: get_task(t).bootstrap_unit for t in list_tasks()}
    block = [f"pedestrians/eth-ucy-{s}" for s in ("eth", "hotel", "univ", "zara1", "zara2")]
    block += ["traffic/metr-la-forecast", "traffic/pems-bay-forecast"]
    block += ["cells/ctc-hela-forecast", "cells/ctc-hela-division"]
    assert {t: u for t, u in units.items() if u != "window"} == {
        ARROW: "sample",
        "arrow/forward-backward-positions": "sample",
        "arrow/pedestrians": "cluster",
        **dict.fromkeys(block, "block"),
    }


def test_cluster_unit_reads_the_windows_cluster_ids():
    """``"cluster"``: the window function's own ids (e.g. a pedestrian), numbered in order of
    first id; windows without them are refused with the fix."""
    from decathlon.benchmark.windows import Windows

    task = get_task("arrow/pedestrians")
    n = 6
    w = Windows(
        np.arange(n),
        np.zeros((n, 2, 1, 1)),
        np.zeros((n, 1)),
        np.zeros(n, int),
        np.zeros(n, int),
        ["a"],
        [],
        cluster=np.array([7, 3, 7, 9, 3, 3]),
    )
    assert resampling_units(task, w).tolist() == [1, 0, 1, 2, 0, 0]
    with pytest.raises(ValueError, match="must fill Windows.cluster"):
        resampling_units(task, dataclasses.replace(w, cluster=None))


class _KineticTrend:
    """Forward if the clip's kinetic energy falls (no training: damped clips lose energy)."""

    name = "kinetic-trend"

    def predict(self, batch):
        ke = (batch["x"][..., 3:] ** 2).sum(-1).mean(-1)  # (window, time)
        return 0.5 + 0.5 * np.tanh(5.0 * (ke[:, :1] - ke[:, -1:]))


def test_arrow_intervals_resample_simulations_and_are_wider(_isolated_cache):
    """On arrow/forward-backward the ten windows of a simulation (five clips, each both ways)
    are drawn together: every interval is wider than the window bootstrap's on the same
    predictions and resample seed (the AUROCs by more than 30 %; ``|AUROC - 1/2|`` near 0 is
    folded at 0, so by less), the values are the same, and the record says so."""
    from decathlon.benchmark.collect import collect
    from decathlon.benchmark.context import EvalConfig, prepare
    from decathlon.benchmark.evaluate import evaluate, model_predictor
    from decathlon.datasets.arrow import ARROW_TIERS, CLIPS

    prepared = prepare(ARROW, "test", "mini")
    task, w = prepared.task, prepared.windows
    n_sims = ARROW_TIERS["mini"]["test"]
    units = resampling_units(task, w)
    assert units is not None and np.bincount(units).tolist() == [2 * CLIPS] * n_sims
    rec = evaluate(_KineticTrend(), prepared, EvalConfig(n_boot=200, probes=False))
    assert rec["bootstrap"] == {"unit": "sample", "n_units": n_sims, "resamples": 200}
    stats = collect(task, w, [], model_predictor(_KineticTrend(), task, w)).stats
    by_window = PairedBootstrap(stats, len(w), 200, seed=0)
    for name in task.metrics:
        val, reps = by_window(name, "plain")
        lo, hi = ci(reps)
        got = rec["metrics"][name]
        assert got["value"] == val, name
        width = got["ci95"][1] - got["ci95"][0]
        factor = 1.3 if name.startswith("auroc@") else 1.0
        assert width > factor * (hi - lo), (name, got["ci95"], [lo, hi])


def test_streaming_refuses_a_task_that_resamples_its_own_clusters():
    """A window function's cluster ids may span the chunks streaming scores one at a time:
    refused, before touching any data, with the fix."""
    from decathlon.benchmark.stream import evaluate_stream

    task = dataclasses.replace(get_task("particles/springs-forecast"), bootstrap_unit="cluster")
    with pytest.raises(ValueError, match="bootstrap_unit='cluster'.*without --stream"):
        evaluate_stream(_KineticTrend(), task)
