"""Store layout, chunk-level builds and Dask: a store built on workers is the serial one."""

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr

from decathlon.benchmark import data, stores
from decathlon.benchmark.bench_scale import store_read
from decathlon.benchmark.report_bench import format_store_bench
from decathlon.benchmark.suite import skip_reason
from decathlon.cli import TIER_CHOICES, _parser


def _files(path):
    return {
        str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()
    }


def _tiny(name, chunk_size=5):
    """A registered simulator shrunk to a tier of a few chunks, the last ones partial."""
    spec = data.DATASETS.get(name)
    tiers = {"tiny": {"train": 12, "valid": 5, "test": 7}}
    return dataclasses.replace(spec, name=f"{name}-tiny", tiers=tiers, chunk_size=chunk_size)


def test_store_layout_whole_samples_uncompressed_and_versioned(springs_mini):
    assert springs_mini.parent.name == f"f{stores.STORE_FORMAT}" and stores.STORE_FORMAT == 2
    for part, frames in (("train", 49), ("test", 99)):
        z = json.loads((springs_mini / f"{part}.zarr" / "pos" / ".zarray").read_text())
        n = 2000 if part == "train" else 500
        assert z["chunks"] == [n, frames, 5, 2] and z["compressor"] is None
    lazy = xr.open_zarr(springs_mini / "test.zarr", consolidated=True, chunks=None)
    fast = stores.load(lazy, springs_mini / "test.zarr")
    plain = xr.open_zarr(springs_mini / "test.zarr", consolidated=True).load()
    xr.testing.assert_identical(fast, plain)


def test_sample_chunk_is_a_divisor_of_the_build_chunk_within_the_byte_budget():
    def like(frames):
        return xr.Dataset({"pos": (("sample", "time"), np.zeros((2, frames * 10), np.float32))})

    # springs test samples are 3960 bytes: 4236 fit in 16 MiB, 2500 is the largest divisor
    assert stores.sample_chunk(like(99), 10000, 5000) == 2500
    assert stores.sample_chunk(like(49), 10000, 5000) == 5000
    assert stores.sample_chunk(like(49), 700, 5000) == 700
    assert stores.sample_chunk(like(99), 10**6) == stores.CHUNK_BYTES // 3960


def test_load_reads_compressed_or_decoded_arrays_through_zarr(tmp_path):
    from numcodecs import Zstd

    ds = xr.Dataset(
        {
            "a": (("sample", "t"), np.arange(12, dtype=np.float32).reshape(4, 3)),
            "b": (("sample",), np.array([True, False, True, True])),
            "c": (("sample",), np.arange(4, dtype=np.int64)),
        }
    )
    enc = stores.encoding(ds, 3)
    enc["a"].update(stores.compressor(Zstd(1)))
    ds.to_zarr(tmp_path / "s.zarr", mode="w", consolidated=True, encoding=enc, zarr_format=2)
    lazy = xr.open_zarr(tmp_path / "s.zarr", consolidated=True, chunks=None)
    xr.testing.assert_identical(stores.load(lazy, tmp_path / "s.zarr"), ds)


def test_chunk_plan_and_the_large_tier():
    spec = data.DATASETS.get("nri-springs")
    large, full = spec.chunks("large"), spec.chunks("full")
    assert "large" in data.TIERS and "large" in TIER_CHOICES
    assert sum(c.size for c in large if c.part == "train") == 1_000_000 and len(large) == 204
    # valid, test and the head of train are the full tier's chunks (seeded by part and index)
    assert [c for c in large if c.part != "train"] == [c for c in full if c.part != "train"]
    assert [c for c in large if c.part == "train"][:10] == [c for c in full if c.part == "train"]
    tiny = _tiny("nri-springs")
    assert [(c.part, c.index, c.start, c.size) for c in tiny.chunks("tiny")] == [
        ("train", 0, 0, 5),
        ("train", 1, 5, 5),
        ("train", 2, 10, 2),
        ("valid", 0, 0, 5),
        ("test", 0, 0, 5),
        ("test", 1, 5, 2),
    ]
    pieces = list(tiny.build(tiny, "tiny", False))
    assert [p.sizes["sample"] for _, p in pieces] == [5, 5, 2, 5, 5, 2]
    with pytest.raises(ValueError, match="not built in chunks"):
        dataclasses.replace(tiny, build_chunk=None).chunks("tiny")


def test_tasks_without_the_tier_are_skipped_and_cli_takes_dask_options():
    assert "no 'large' tier" in skip_reason("particles/kuramoto-graph", "large")
    assert skip_reason("particles/springs-graph", "large") is None
    args = _parser().parse_args(["run", "--tier", "large", "--workers", "2"])
    assert (args.tier, args.workers, args.scheduler, args.dask) == ("large", 2, None, False)
    args = _parser().parse_args(["prepare", "nri-springs", "--scheduler", "tcp://h:8786"])
    assert args.scheduler == "tcp://h:8786"


def test_zero_workers_is_one_clear_line(capsys):
    from decathlon.cli import main

    assert main(["prepare", "nri-springs", "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_store_read_bench_row(springs_mini):
    row = store_read(tier="mini", repeats=1)
    assert row["mb"] == pytest.approx(4.01, rel=1e-3)  # pos, vel (500, 99, 5, 2), edges (.npy)
    assert set(row["ms"]) >= {"format 1 (xarray, dask)", "store (decathlon load)", "np.load"}
    assert row["chunks"] == [500, 99, 5, 2] and row["speed_vs_np_load"] > 0
    assert "store (decathlon load)" in format_store_bench(row)


@pytest.fixture(scope="module")
def two_workers():
    """A local Dask cluster of two worker processes, shared by the tests of this module."""
    from decathlon.benchmark.cluster import dask_client

    with dask_client(2) as client:
        yield client


@pytest.mark.parametrize("name", ["nri-springs", "kuramoto-5"])
def test_store_built_on_two_workers_equals_the_serial_store(
    name, two_workers, tmp_path, monkeypatch, override
):
    spec = _tiny(name)
    override(data.DATASETS, spec.name, spec)
    built = {}
    for how, client in (("serial", None), ("dask", two_workers)):
        monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / how))
        built[how] = _files(data.materialize(spec.name, "tiny", client=client))
    marker = {k: json.loads(v.pop("COMPLETE.json")) for k, v in built.items()}
    assert built["serial"].keys() == built["dask"].keys() and len(built["serial"]) > 20
    for path, content in built["serial"].items():  # every array chunk and metadata file
        assert built["dask"][path] == content, path
    for m in marker.values():
        m.pop("build_seconds"), m.pop("created")
    summary = marker["dask"].pop("cluster_build")  # a cluster build also counts its chunks
    assert summary["chunks"] == len(spec.chunks("tiny")) and summary["chunk_seconds"] > 0
    assert summary["chunks_from_earlier_runs"] == 0 and "cluster_build" not in marker["serial"]
    assert marker["dask"] == marker["serial"]  # data_sha256, per-array hashes, ranges


def test_run_suite_on_two_workers_equals_serial(springs_mini, two_workers, tmp_path):
    from decathlon.benchmark.context import EvalConfig
    from decathlon.benchmark.suite import run_suite

    tasks = ["particles/springs-forecast", "particles/springs-graph"]
    kw = dict(config=EvalConfig(n_boot=20), say=lambda s: None)
    bl = ("static", "constant-velocity", "proximity")
    here = run_suite(tasks, bl, "mini", tmp_path / "here", **kw)
    there = run_suite(tasks, bl, "mini", tmp_path / "there", client=two_workers, **kw)
    assert [f.name for f in there["files"]] == [f.name for f in here["files"]]
    for a, b in zip(here["results"], there["results"], strict=True):
        assert (a["metrics"], a["probes"]) == (b["metrics"], b["probes"])
    assert here["scores"] == there["scores"]


@pytest.mark.slow
def test_build_bench_rows_agree_on_the_data(override):
    from decathlon.benchmark.bench_scale import build_throughput
    from decathlon.benchmark.report_bench import format_build_bench

    spec = _tiny("nri-springs")
    override(data.DATASETS, spec.name, spec)
    rows = build_throughput(spec.name, "tiny", workers=(2,), n_chunks=1)
    assert [r["workers"] for r in rows] == [0, 2] and [r["sims"] for r in rows] == [17, 17]
    assert len({h for r in rows for h in r["data_sha256"]}) == 1  # serial and Dask: same data
    assert rows[0]["peak_mib"] is None and 0 < rows[1]["peak_mib"] < 1024
    assert "serial" in format_build_bench(rows)


def test_a_stopped_cluster_build_resumes_from_its_finished_chunks(
    two_workers, tmp_path, monkeypatch, override
):
    """A cluster build stopped with some chunks written and marked, one half-written, resumes:
    the finished chunks are reused (their markers' ranges reach COMPLETE.json), the others are
    built again, and the store is the serial one, byte for byte."""
    from decathlon.benchmark.cluster import build_parts
    from decathlon.benchmark.partial import CHUNKS_DIR, open_partial, partial_dir, resume_hint

    spec = _tiny("nri-springs")
    override(data.DATASETS, spec.name, spec)
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "serial"))
    want = _files(data.materialize(spec.name, "tiny"))
    want_meta = json.loads(want.pop("COMPLETE.json"))
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "resumed"))
    final = data.store_dir(spec, "tiny")
    final.parent.mkdir(parents=True)
    d = open_partial(final, spec, "tiny")
    build_parts(spec, "tiny", d, two_workers, progress=False)  # stopped before hashing
    # as if killed while writing chunk 1 of train; test's chunk 0 unmarked: its arrays are made
    # anew, so its marked chunk 1 is built again too
    for part, i in (("train", 1), ("test", 0)):
        (d / CHUNKS_DIR / f"{part}.{i}.json").unlink()
        for f in (d / f"{part}.zarr").glob(f"*/{i}.*"):
            f.write_bytes(b"\0" * 7)
    n_chunks = len(spec.chunks("tiny"))
    hint = resume_hint(final, spec, "tiny")
    assert f"with {n_chunks - 2} of {n_chunks} chunks finished" in hint and str(d) in hint
    kept = d / CHUNKS_DIR / "valid.0.json"
    rec = json.loads(kept.read_text())
    rec["ranges"]["pos"]["min"][0] = -1234.5  # only a reused marker can bring this value
    rec["seconds"] = 1000.0  # nor this one
    kept.write_text(json.dumps(rec))
    got = _files(data.materialize(spec.name, "tiny", client=two_workers))
    meta = json.loads(got.pop("COMPLETE.json"))
    assert not partial_dir(final).exists() and got.keys() == want.keys()
    assert resume_hint(final, spec, "tiny") is None
    for path, content in want.items():
        assert got[path] == content, path
    assert meta["data_sha256"] == want_meta["data_sha256"]
    assert meta["parts"]["valid"]["ranges"]["pos"]["min"][0] == -1234.5
    assert meta["parts"]["train"]["ranges"] == want_meta["parts"]["train"]["ranges"]
    # build_seconds is this run's; cluster_build counts the chunks and seconds of both runs
    reused = n_chunks - 1 - sum(c.part == "test" for c in spec.chunks("tiny"))
    summary = meta["cluster_build"]
    assert (summary["chunks"], summary["chunks_from_earlier_runs"]) == (n_chunks, reused)
    assert 1000.0 < summary["chunk_seconds"] < 1100.0  # the earlier run's seconds are counted


def test_a_partial_build_of_other_settings_is_not_reused(tmp_path, monkeypatch, override):
    from decathlon.benchmark.partial import CHUNKS_DIR, PARTIAL_FILE, open_partial, partial_dir

    spec = _tiny("nri-springs")
    override(data.DATASETS, spec.name, spec)
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    final = data.store_dir(spec, "tiny")
    final.parent.mkdir(parents=True)
    d = open_partial(final, spec, "tiny")
    (d / CHUNKS_DIR / "train.0.json").write_text("{}")
    assert open_partial(final, spec, "tiny") == d and (d / CHUNKS_DIR / "train.0.json").exists()
    other = dataclasses.replace(spec, seed=spec.seed + 1)
    assert open_partial(final, other, "tiny") == d  # made anew: the old chunks are gone
    assert not any((d / CHUNKS_DIR).iterdir())
    assert json.loads((d / PARTIAL_FILE).read_text())["seed"] == spec.seed + 1
    data.materialize(spec.name, "tiny")  # a serial build drops the partial folder
    assert not partial_dir(final).exists() and data.is_prepared(spec.name, "tiny")


def test_a_stopped_prepare_says_what_it_kept(tmp_path, monkeypatch, override, capsys):
    from decathlon.benchmark.partial import mark_done, open_partial
    from decathlon.benchmark.stores import RangeTracker
    from decathlon.cli import main

    spec = dataclasses.replace(
        _tiny("nri-springs"), tiers={"full": {"train": 12, "valid": 5, "test": 7}}
    )
    override(data.DATASETS, spec.name, spec)
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    final = data.store_dir(spec, "full")

    def stopped(*a, **k):  # a cluster build stopped by Ctrl-C after one chunk
        final.parent.mkdir(parents=True)
        d = open_partial(final, spec, "full")
        mark_done(d, spec.chunks("full")[0], ["pos"], RangeTracker())
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "materialize", stopped)
    with pytest.raises(KeyboardInterrupt):
        main(["prepare", spec.name, "--tier", "full"])
    err = capsys.readouterr().err
    n = len(spec.chunks("full"))
    assert f"stopped with 1 of {n} chunks finished" in err and "run the same command" in err
