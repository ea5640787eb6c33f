"""The real-recording tasks end to end: fetch (offline copies) -> prepare -> windows -> evaluate.

Fakes in the upstream formats always; the real samples in ../shared/data when present.
"""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from decathlon.benchmark import data
from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.evaluate import evaluate
from decathlon.benchmark.tasks import get_task
from decathlon.benchmark.windows import make_windows, train_sequences
from decathlon.datasets import eth_ucy

SGAN_TEST_PEDS = {"eth": 181, "hotel": 1053, "univ": 24334, "zara1": 2253, "zara2": 5833}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    return tmp_path


def place(cache: Path, dataset: str, files: dict[str, Path]) -> None:
    """Put upstream files where the fetcher caches downloads (as if downloaded)."""
    for name, src in files.items():
        dst = cache / "raw" / dataset / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def fake_eth_spec(files):
    """The eth-ucy record with the fake files' hashes (the fakes are not the pinned bytes)."""
    from decathlon.datasets.fetch import file_sha256

    spec = data.DATASETS.get("eth-ucy")
    return dataclasses.replace(
        spec,
        files=tuple(dataclasses.replace(f, sha256=file_sha256(files[f.name])) for f in spec.files),
    )


def test_eth_ucy_tasks_on_fakes(cache, tmp_path, monkeypatch, override):
    files = eth_ucy.make_fake_eth_ucy(tmp_path / "up", seed=3)
    override(data.DATASETS, "eth-ucy", fake_eth_spec(files))
    place(cache, "eth-ucy", files)
    data.materialize("eth-ucy", "mini")
    task = get_task("pedestrians/eth-ucy-zara1")
    w = make_windows(task, "test", "mini")
    assert w.x.shape[1:] == (8, w.x.shape[2], 2) and w.y.shape[1] == 12
    assert w.mask_x is not None and (w.mask_x.sum(-1) >= 2).all()  # >= 2 pedestrians per window
    for b in ("static", "constant-velocity"):
        r = evaluate(make_baseline(b, task), prepare(task), EvalConfig(n_boot=50))
        assert r["metrics"]["ade"]["value"] > 0 and r["metrics"]["fde"]["value"] >= 0


def test_best_of_k_takes_the_minimum_per_pedestrian(cache, tmp_path, monkeypatch, override):
    files = eth_ucy.make_fake_eth_ucy(tmp_path / "up", seed=4)
    override(data.DATASETS, "eth-ucy", fake_eth_spec(files))
    place(cache, "eth-ucy", files)
    data.materialize("eth-ucy", "mini")
    task = get_task("pedestrians/eth-ucy-hotel")
    w = make_windows(task, "test", "mini")

    class TwoGuesses:
        """Sample 0 is right for even pedestrian slots, sample 1 for odd; both 1 m off elsewhere."""

        def predict(self, batch):
            y = w.y[batch["ids"]]
            off = y + np.array([1.0, 0.0])
            n = y.shape[2]
            even = (np.arange(n) % 2 == 0)[None, None, :, None]
            return np.stack([np.where(even, y, off), np.where(even, off, y)], axis=1)

    r = evaluate(TwoGuesses(), prepare(task), EvalConfig(n_boot=20, probes=False))
    assert r["metrics"]["ade"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert r["metrics"]["fde"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert r["metric_variant"].startswith("best-of-2: per-entity minimum")

    class TooMany:
        def predict(self, batch):
            return np.zeros((len(batch["ids"]), 21, 12, w.x.shape[2], 2))

    with pytest.raises(ValueError, match="21 samples per window; at most 20"):
        evaluate(TooMany(), prepare(task), EvalConfig(n_boot=0, probes=False))


def test_eth_ucy_real_windows_match_social_gan(cache, real_data):
    REAL = real_data
    files = {f.name: REAL / "eth_ucy" / f.name for f in data.DATASETS.get("eth-ucy").files}
    place(cache, "eth-ucy", files)
    data.materialize("eth-ucy", "full")
    for scene, peds in SGAN_TEST_PEDS.items():
        w = make_windows(f"pedestrians/eth-ucy-{scene}", "test", "full")
        assert int(w.mask_y[:, 0].sum()) == peds, scene
    task = get_task("pedestrians/eth-ucy-eth")
    r = evaluate(
        make_baseline("constant-velocity", task), prepare(task, tier="full"), EvalConfig(n_boot=100)
    )
    assert 0.5 < r["metrics"]["ade"]["value"] < 1.5  # metres; constant velocity on eth


def test_cmu_walking_task_on_real_trial(cache, monkeypatch, real_data, override):
    """Every trial file is a copy of the real 35_01.amc (the only trial available offline)."""
    REAL = real_data
    spec = data.DATASETS.get("cmu-mocap-35")
    src = REAL / "cmu_mocap" / "35"

    def download(url, output_file, pup):
        name = url.rsplit("/", 1)[-1]
        shutil.copyfile(src / ("35.asf" if name.endswith(".asf") else "35_01.amc"), output_file)

    from decathlon.datasets import fetch

    copies = {f.name: f for f in spec.files}
    pinned = {"35.asf", "35_01.amc"}
    real = {
        n: dataclasses.replace(f, sha256=None) if n not in pinned else f for n, f in copies.items()
    }
    spec2 = dataclasses.replace(spec, files=tuple(real.values()))
    override(data.DATASETS, "cmu-mocap-35", spec2)
    fetch.fetch(spec2, downloader=download)
    data.materialize("cmu-mocap-35", "full")
    task = get_task("mocap/cmu-walking-forecast")
    w = make_windows(task, "test", "full")
    assert w.x.shape == (7 * 3, 50, 31, 3) and w.y.shape == (
        21,
        48,
        31,
        3,
    )  # 358 frames -> 3 windows of 100
    tr = train_sequences(task, "train", "full")
    assert tr.x.shape == (12 * 7, 50, 31, 3)  # non-overlapping 50-frame windows
    r_s = evaluate(make_baseline("static", task), prepare(task, tier="full"), EvalConfig(n_boot=50))
    r_cv = evaluate(
        make_baseline("constant-velocity", task), prepare(task, tier="full"), EvalConfig(n_boot=50)
    )
    assert r_cv["metrics"]["l2@1"]["value"] < r_s["metrics"]["l2@1"]["value"]
    assert 0 < r_s["metrics"]["l2@1"]["value"] < 0.05  # metres moved in 1/120 s


def test_pin_hashes_command_prints_recorded(cache, monkeypatch, real_data, capsys, override):
    from decathlon.cli import main
    from decathlon.datasets import fetch

    spec = data.DATASETS.get("cmu-mocap-35")
    few = dataclasses.replace(
        spec, files=(spec.files[0], dataclasses.replace(spec.files[2], sha256=None))
    )
    override(data.DATASETS, "cmu-mocap-35", few)

    def download(url, output_file, pup):
        shutil.copyfile(
            real_data / "cmu_mocap" / "35" / ("35.asf" if url.endswith(".asf") else "35_01.amc"),
            output_file,
        )

    fetch.fetch(few, downloader=download)
    assert main(["pin-hashes", "cmu-mocap-35"]) == 0
    out = capsys.readouterr().out
    assert (
        "35_02.amc" in out
        and "0743f4ea48e7e199cd56b2810b5ce81f8ede08d32ff79aa4e363c44cc4fe33aa" in out
    )


def test_run_includes_recordings_only_when_cached(cache, tmp_path, monkeypatch, override):
    from decathlon.benchmark.suite import run_suite

    files = eth_ucy.make_fake_eth_ucy(tmp_path / "up", seed=5)
    override(data.DATASETS, "eth-ucy", fake_eth_spec(files))
    tasks = ["pedestrians/eth-ucy-zara1", "mocap/cmu-walking-forecast"]
    res = run_suite(tasks, ("static",), out=tmp_path / "r", config=EvalConfig(n_boot=10))
    assert res["results"] == [] and set(res["skipped"]) == set(tasks)
    assert "run `decathlon prepare eth-ucy`" in res["skipped"]["pedestrians/eth-ucy-zara1"]
    place(cache, "eth-ucy", files)
    data.materialize("eth-ucy", "mini")
    res = run_suite(tasks, ("static",), out=tmp_path / "r", config=EvalConfig(n_boot=10))
    assert [r["task"]["name"] for r in res["results"]] == ["pedestrians/eth-ucy-zara1"]
    assert list(res["skipped"]) == ["mocap/cmu-walking-forecast"]
