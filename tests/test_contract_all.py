"""The contract test: every registered dataset and task, end to end, on tiny data.

Simulators run at a tiny tier (a few simulations per split); downloaded datasets are built from
their fakes in the upstream format, placed where the fetcher caches downloads. Then, for every
task: windows, ``describe``, every applicable non-learned baseline through ``evaluate`` (probes
and symmetries included) and a valid result record; the trivial baseline scores 0 points.
"""

import contextlib
import dataclasses
import shutil

import numpy as np
import pytest

from decathlon.benchmark import data
from decathlon.benchmark.baselines import BASELINES, make_baseline
from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.contract import validate
from decathlon.benchmark.describe import describe
from decathlon.benchmark.evaluate import evaluate
from decathlon.benchmark.points import metric_error
from decathlon.benchmark.probes import not_applicable, probe_variants
from decathlon.benchmark.results import validate_result
from decathlon.benchmark.store_view import open_part_view
from decathlon.benchmark.tasks import get_task, list_tasks
from decathlon.benchmark.windows import make_windows
from decathlon.datasets.fetch import file_sha256

TINY = {"train": 14, "valid": 7, "test": 7}  # 7: one simulation per arrow-of-time source


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    """Every dataset prepared at a tiny size in a private cache (specs swapped for the module)."""
    import os

    root = tmp_path_factory.mktemp("contract")
    old_env = os.environ.get("DECATHLON_DATA_DIR")
    os.environ["DECATHLON_DATA_DIR"] = str(root)
    try:
        with contextlib.ExitStack() as stack:  # every swapped record is restored on exit
            for name in data.DATASETS.names():
                spec = _tiny(data.DATASETS.get(name), root)
                stack.enter_context(data.DATASETS.override(name, spec))
                data.materialize(name, "mini")
            yield root
    finally:
        if old_env is None:
            os.environ.pop("DECATHLON_DATA_DIR", None)
        else:
            os.environ["DECATHLON_DATA_DIR"] = old_env


def _tiny(spec, root):
    """A simulator shrunk to the tiny tier, or a download served by its fake (in the cache)."""
    if not spec.files:
        return dataclasses.replace(spec, tiers={"mini": TINY})
    assert spec.fake is not None, f"downloaded dataset {spec.name!r} registers no fake generator"
    files = spec.fake(root / "upstream" / spec.name, 1)
    for fname, src in files.items():
        dst = root / "raw" / spec.name / fname
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    pinned = tuple(dataclasses.replace(f, sha256=file_sha256(files[f.name])) for f in spec.files)
    return dataclasses.replace(spec, files=pinned)


@pytest.mark.parametrize("name", data.DATASETS.names())
def test_dataset_contract(tiny_cache, name):
    spec = data.DATASETS.get(name)
    assert spec.card, f"{name} has no data card"
    from importlib import resources

    card = resources.files("decathlon.datasets").joinpath("cards", spec.card)
    assert card.is_file() and len(card.read_text()) > 500, f"data card {spec.card} missing or empty"
    assert spec.license and spec.citation and spec.source
    for part in spec.parts:
        ds = data.open_part(name, "mini", part, verify=True)
        validate(ds)


@pytest.mark.parametrize("name", list_tasks())
def test_task_contract(tiny_cache, name):
    task = get_task(name)
    d = describe(task)
    assert d["prepared"] and d["output"]["dims"]
    w = make_windows(task, "test", "mini")
    assert len(w) > 0 and np.isfinite(w.x).all() and np.isfinite(w.y).all()
    want = d["inputs"]["x"]["shape"][1:]
    assert [a for a, b in zip(want, w.x.shape[1:], strict=True) if a != b] in ([], ["P"])
    assert task.trivial in BASELINES
    ran = []
    for b in BASELINES.names():
        spec = BASELINES.get(b)
        if not spec.serves(task) or spec.learned:  # learned ones: tests/test_learned_*.py
            continue
        model = make_baseline(b, task)
        r = evaluate(model, prepare(task), EvalConfig(n_boot=20))
        validate_result(r)
        assert set(r["metrics"]) == set(task.metrics)
        runs = [p for p in task.probes if not_applicable(p, task.context) is None]
        assert all(p in r["probes"] and "status" not in r["probes"][p] for p in runs)
        extra = {"reversal_transposed"} if task.extra.get("reversal_transposed") else set()
        assert set(r["probes"]) - set(runs) == extra  # a probe too long for the context: n/a
        assert set(r.get("equivariance", {})) == set(task.equivariance)
        if b == task.trivial:
            assert r["points"]["value"] == 0
            # the declared points target is better than the trivial baseline's measured value
            err = [
                metric_error(r["points"][k], task.perfect, task.higher_is_better)
                for k in ("target_value", "trivial_value")
            ]
            assert err[0] < err[1], (name, r["points"])
        ran.append(b)
    assert task.trivial in ran
    assert len(probe_variants(task)) == len(set(probe_variants(task)))


@pytest.mark.parametrize("name", [t for t in list_tasks() if get_task(t).normalize])
def test_stored_statistics_equal_the_computed_ones(tiny_cache, name):
    """Normalization statistics read from the ranges recorded at build time are exactly the
    ones computed from the loaded train split."""
    from decathlon.benchmark.normalization import _stats_cached, task_stats

    task = get_task(name)
    meta = data.store_meta(task.dataset, "mini")
    assert "ranges" in meta["parts"][task.splits["train"].part]
    computed = _stats_cached.__wrapped__(task.name, "mini", meta["data_sha256"])
    assert task_stats(task, "mini", meta) == computed


@pytest.mark.parametrize("name", data.DATASETS.names())
def test_plain_reader_equals_xarray(tiny_cache, name):
    """Every stored part read without xarray (:mod:`decathlon.benchmark.store_view`) has the
    variables, dims, dtypes, values, coordinates and attributes xarray gives, and hashes to
    the recorded sha256; a part it cannot read plainly must say so (None), never differ."""
    for part in data.DATASETS.get(name).parts:
        view = open_part_view(name, "mini", part)
        if view is None:
            continue
        ds = data.open_part(name, "mini", part, verify=True)
        assert set(view.variables) == set(map(str, ds.variables)), (name, part)
        assert set(view.coords) == set(map(str, ds.coords))
        assert view.attrs == ds.attrs and view.sizes == dict(ds.sizes)
        for k, v in view.variables.items():
            want = ds[k]
            assert v.dims == want.dims and v.dtype == want.dtype, (name, part, k)
            np.testing.assert_array_equal(v.values, want.values)
            assert v.attrs == want.attrs, (name, part, k)


@pytest.mark.parametrize("name", [t for t in list_tasks() if get_task(t).window_fn is None])
def test_windows_identical_through_both_readers(tiny_cache, name):
    """``make_windows`` (the plain reader for tasks without a window_fn) gives exactly the
    windows cut from the xarray-loaded split, for every split."""
    from decathlon.benchmark.normalization import task_stats
    from decathlon.benchmark.tasks import load_split, load_split_view
    from decathlon.benchmark.windows import split_windows

    task = get_task(name)
    stats = task_stats(task, "mini")
    for split in [s for s in task.splits if s != "challenge"]:
        assert load_split_view(task, split, "mini") is not None, (name, split)
        try:
            slow = split_windows(task, split, "mini", load_split(task, split, "mini"), stats)
        except ValueError as e:  # e.g. NRI training sequences are shorter than a test window
            with pytest.raises(ValueError) as got:
                make_windows(task, split, "mini")
            assert str(got.value) == str(e)
            continue
        fast = make_windows(task, split, "mini")
        for f in dataclasses.fields(fast):
            a, b = getattr(fast, f.name), getattr(slow, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                assert a.dtype == b.dtype, (name, split, f.name)
                np.testing.assert_array_equal(a, b)
            else:  # lists of names, the normalization ranges (tuples of arrays), dt
                np.testing.assert_equal(a, b, err_msg=f"{name} {split} {f.name}")
