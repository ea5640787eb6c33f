"""The plain store reader (``decathlon.benchmark.store_view``): what it reads, when it steps
aside for xarray, and that an evaluation through it imports neither xarray nor Dask. Its
equality with the xarray reader on every registered dataset and task is in
tests/test_contract_all.py."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from decathlon.benchmark.data import DATASETS, StoreError, open_part, store_dir
from decathlon.benchmark.store_view import open_part_view, open_view
from decathlon.benchmark.stores import compressor, encoding
from decathlon.benchmark.tasks import get_task, load_split_view


@pytest.fixture
def test_part(springs_mini, tmp_path):
    """A private copy of the springs mini test part."""
    src = store_dir(DATASETS.get("nri-springs"), "mini") / "test.zarr"
    dst = tmp_path / "test.zarr"
    shutil.copytree(src, dst)
    return dst


def test_reads_the_stored_arrays(test_part):
    ds = open_part("nri-springs", "mini", "test", verify=True)
    view = open_view(test_part)
    assert view is not None
    np.testing.assert_array_equal(view["pos"].values, ds["pos"].values)
    assert view["pos"].dims == ("sample", "time", "entity", "space")
    assert view.sizes == dict(ds.sizes) and "edges" in view.data_vars and "time" in view.coords
    sub = view.isel(sample=[3, 1])
    np.testing.assert_array_equal(sub["edges"].values, ds["edges"].values[[3, 1]])
    assert sub["time"].values.shape == view["time"].values.shape  # untouched by a sample index


def test_a_compressed_store_takes_the_xarray_path(springs_mini, tmp_path):
    ds = open_part("nri-springs", "mini", "test", verify=True)
    out = tmp_path / "compressed.zarr"
    from numcodecs import Blosc

    plain = encoding(ds, 250)  # how stores are written: by sample, uncompressed
    ds.drop_encoding().to_zarr(out, zarr_format=2, consolidated=True, encoding=plain)
    assert open_view(out) is not None
    packed = plain | {"pos": plain["pos"] | compressor(Blosc())}
    ds.drop_encoding().to_zarr(out, zarr_format=2, consolidated=True, mode="w", encoding=packed)
    assert open_view(out) is None


@pytest.mark.parametrize("damage", ["truncate", "remove", "metadata"])
def test_damaged_stores_are_left_to_the_xarray_path(test_part, damage):
    chunk = test_part / "pos" / "0.0.0.0"
    if damage == "truncate":
        chunk.write_bytes(chunk.read_bytes()[:100])
    elif damage == "remove":
        chunk.unlink()
    else:
        (test_part / ".zmetadata").write_text("{not json")
    assert open_view(test_part) is None


def test_a_corrupted_part_is_refused_by_its_hash(springs_mini, tmp_path, monkeypatch):
    """Same size, other bytes: the plain reader reads it, and the recorded sha256 refuses it."""
    cache = tmp_path / "cache"
    src = store_dir(DATASETS.get("nri-springs"), "mini").parents[2]
    shutil.copytree(src, cache / "stores" / src.name)
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(cache))
    part = store_dir(DATASETS.get("nri-springs"), "mini") / "valid.zarr"
    chunk = part / "vel" / "0.0.0.0"
    raw = bytearray(chunk.read_bytes())
    raw[64] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="sha256"):
        open_part_view("nri-springs", "mini", "valid")


def test_split_selection_matches(springs_mini):
    task = get_task("particles/springs-forecast")
    view = load_split_view(task, "test", "mini")
    assert view is not None and view.sizes["sample"] == 500


def test_evaluation_imports_neither_xarray_nor_dask(springs_mini):
    code = (
        "import sys, decathlon, decathlon.datasets, decathlon.baselines\n"
        "before = sorted(m for m in ('xarray', 'dask', 'pandas') if m in sys.modules)\n"
        "from decathlon import EvalConfig, evaluate, prepare\n"
        "from decathlon.benchmark.baselines import make_baseline\n"
        "p = prepare('particles/springs-forecast', 'test', 'mini', build=False)\n"
        "evaluate(make_baseline('static', p.task), p, EvalConfig(n_boot=5, probes=False))\n"
        "after = sorted(m for m in ('xarray', 'dask', 'pandas') if m in sys.modules)\n"
        "print(before, after)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"
