"""Streaming evaluation: the same numbers as in memory, windows built chunk by chunk."""

import numpy as np
import pytest

from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.data import DATASETS, StoreError, store_dir
from decathlon.benchmark.evaluate import evaluate
from decathlon.benchmark.stream import evaluate_stream
from decathlon.benchmark.tasks import get_task
from decathlon.benchmark.windows import iter_windows, make_windows

CASES = [
    ("particles/springs-forecast", "constant-velocity"),
    ("particles/springs-graph", "proximity"),
]


@pytest.mark.parametrize("task", [c[0] for c in CASES])
def test_chunks_concatenate_to_the_windows(springs_mini, task):
    whole = make_windows(task, "test", "mini")
    chunks = list(iter_windows(task, "test", "mini", chunk=96))
    assert len(chunks) == 6  # 500 samples in chunks of 96
    for field in ("ids", "x", "y", "sample", "start"):
        joined = np.concatenate([getattr(c, field) for c in chunks])
        np.testing.assert_array_equal(joined, getattr(whole, field), err_msg=field)
    assert chunks[0].ranges is not None and chunks[0].dt == whole.dt


@pytest.mark.parametrize("task, model", CASES)
def test_streaming_gives_the_in_memory_numbers(springs_mini, task, model):
    t = get_task(task)
    m = make_baseline(model, t)
    mem = evaluate(m, prepare(t), EvalConfig(n_boot=100))
    st = evaluate_stream(m, t, "test", "mini", EvalConfig(n_boot=100), chunk=128)
    assert st["n_windows"] == mem["n_windows"] and st["evaluation"]["mode"] == "streaming"
    for name, v in mem["metrics"].items():
        assert st["metrics"][name]["value"] == pytest.approx(v["value"], rel=1e-12), name
        lo, hi = st["metrics"][name]["ci95"]
        assert lo <= st["metrics"][name]["value"] <= hi
    for p, v in mem["probes"].items():
        for key in ("value", "gap", "ts", "ts_trivial"):
            if v.get(key) is not None:
                assert st["probes"][p][key] == pytest.approx(v[key], rel=1e-9, abs=1e-15), (p, key)
    for g, v in mem.get("equivariance", {}).items():
        assert st["equivariance"][g]["error"] == pytest.approx(v["error"], rel=1e-9, abs=1e-30)
    assert st["points"]["value"] == pytest.approx(mem["points"]["value"], rel=1e-9)
    if t.kind == "graph":  # proximity scores sit on a grid of 39 levels: binning is exact
        assert st["evaluation"]["auroc_bins"] == 1024


def test_streaming_checks_the_store(springs_mini, tmp_path):
    """A corrupted chunk is caught by the hash computed as the split streams by."""
    import shutil

    import zarr

    t = get_task("particles/springs-graph")
    d = store_dir(DATASETS.get(t.dataset), "mini")
    backup = tmp_path / "test.zarr"
    shutil.copytree(d / "test.zarr", backup)
    try:
        z = zarr.open_array(str(d / "test.zarr" / "pos"), mode="r+")
        z[3, 0, 0, 0] = z[3, 0, 0, 0] + 1.0
        with pytest.raises(StoreError, match=r"corrupted: sha256 .* delete .* `decathlon prepare"):
            evaluate_stream(
                make_baseline("chance", t), t, "test", "mini", EvalConfig(n_boot=5), 200
            )
    finally:
        shutil.rmtree(d / "test.zarr")
        shutil.copytree(backup, d / "test.zarr")


def test_streaming_records_the_units_of_a_block_task(springs_mini, override):
    """A task resampling blocks in time streams with one Poisson weight per block; here every
    sample holds one window, so the 500 test simulations are 500 blocks."""
    import dataclasses

    from decathlon.benchmark.tasks import TASKS

    t = dataclasses.replace(get_task("particles/springs-forecast"), bootstrap_unit="block")
    override(TASKS, t.name, t)
    cfg = EvalConfig(n_boot=50, probes=False)
    st = evaluate_stream(make_baseline("constant-velocity", t), t, "test", "mini", cfg, chunk=128)
    assert st["bootstrap"] == {"unit": "block", "n_units": 500, "resamples": 50}
