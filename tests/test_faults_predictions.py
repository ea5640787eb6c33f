"""Hostile and unlucky prediction files and command lines (issue "Faults and untrusted input")."""

import io
import tracemalloc
import zipfile

import numpy as np
import pytest

from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.context import EvalConfig, prepare
from decathlon.benchmark.evaluate import evaluate
from decathlon.benchmark.offline import load_predictions, score
from decathlon.cli import main

TASK = "particles/springs-forecast"
SHAPE = (500, 20, 5, 4)


def _npy_header(shape, dtype) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf,
        {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
            "fortran_order": False,
            "shape": shape,
        },
    )
    return buf.getvalue()  # the magic string and the header


def _bomb(path, members: dict, zero_bytes: int, bomb_key: str, shape=None, dtype="u1"):
    """An npz whose ``bomb_key`` member inflates to ``zero_bytes`` zeros (a few MB on disk)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for k, a in members.items():
            buf = io.BytesIO()
            np.save(buf, a)
            zf.writestr(f"{k}.npy", buf.getvalue())
        with zf.open(f"{bomb_key}.npy", "w", force_zip64=True) as f:
            f.write(_npy_header(shape or (zero_bytes,), dtype))
            chunk = bytes(1 << 24)
            for _ in range(zero_bytes // len(chunk)):
                f.write(chunk)
    return path


@pytest.fixture(scope="module")
def prepared(springs_mini):
    return prepare(TASK)


def test_zip_bomb_in_an_unknown_key_is_refused_without_inflating(prepared, tmp_path):
    ok = {"ids": np.arange(500), "pred": np.zeros(SHAPE, np.float32)}
    path = _bomb(tmp_path / "bomb.npz", ok, 1 << 30, "junk")
    assert path.stat().st_size < 5 << 20  # about 1 MB on disk, 1 GiB inflated
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"unknown member 'junk'; valid names: ids, pred"):
            load_predictions(path, prepared)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 << 20, f"{peak / 2**20:.0f} MiB traced while refusing a zip bomb"


def test_zip_bomb_in_pred_is_refused_from_the_directory(prepared, tmp_path):
    path = _bomb(
        tmp_path / "bomb.npz", {"ids": np.arange(500)}, 1 << 30, "pred", shape=SHAPE, dtype="f4"
    )
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"member 'pred' declares \d+ bytes uncompressed"):
            load_predictions(path, prepared)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 << 20


def test_a_huge_declared_shape_is_refused_from_the_header(prepared, tmp_path):
    path = tmp_path / "p.npz"
    with zipfile.ZipFile(path, "w") as zf:
        buf = io.BytesIO()
        np.save(buf, np.arange(500))
        zf.writestr("ids.npy", buf.getvalue())
        zf.writestr("pred.npy", _npy_header((10**9, 20, 5, 4), "f4"))  # header only
    with pytest.raises(ValueError, match=r"member 'pred' has shape \(1000000000, 20, 5, 4\)"):
        load_predictions(path, prepared)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_non_float_predictions_are_refused(prepared, tmp_path, dtype):
    np.savez(tmp_path / "p.npz", ids=np.arange(500), pred=np.zeros(SHAPE, dtype))
    with pytest.raises(ValueError, match=r"member 'pred' has dtype (int64|bool); expected a float"):
        score(prepared, tmp_path / "p.npz")

    class IntModel:
        def predict(self, batch):
            return np.zeros((len(batch["ids"]), 20, 5, 4), dtype)

    with pytest.raises(ValueError, match=r"has dtype (int64|bool); expected a float array"):
        evaluate(IntModel(), prepared, EvalConfig(n_boot=0, probes=False))


def test_overflowing_predictions_fail_clearly(prepared, tmp_path, capsys):
    np.savez(tmp_path / "p.npz", ids=np.arange(500), pred=np.full(SHAPE, 1e308))
    with pytest.raises(ValueError, match=r"errors overflow float64 \(windows \[0, 1, 2, 3, 4\]"):
        score(prepared, tmp_path / "p.npz", EvalConfig(n_boot=0))
    assert main(["score", TASK, str(tmp_path / "p.npz"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("decathlon score: error: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, match",
    [
        (
            ["evaluate", "--model", "static", "--task", TASK, "--n-boot", "-5"],
            "-5 is below the minimum of 0",
        ),
        (
            ["evaluate", "--model", "gru", "--task", TASK, "--epochs", "-1"],
            "-1 is below the minimum of 1",
        ),
        (["run", "--out", "README.md"], "README.md is a file; give a folder"),
        (["bench", "--repeats", "0"], "0 is below the minimum of 1"),
    ],
)
def test_bad_arguments_get_one_line(capsys, argv, match):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_a_huge_task_name_is_not_echoed_whole(capsys):
    assert main(["describe", "x" * 100_000]) == 2
    err = capsys.readouterr().err
    assert err.startswith("decathlon describe: error: unknown task 'xxx") and len(err) < 2000


def test_an_honest_file_still_scores(prepared, tmp_path):
    w = prepared.windows
    pred = make_baseline("static", prepared.task).predict(
        {"x": w.x, "mask": None, "features": w.features, "target_features": w.target_features}
    )
    np.savez_compressed(tmp_path / "p.npz", ids=w.ids, pred=pred.astype(np.float32))
    r = score(prepared, tmp_path / "p.npz", EvalConfig(n_boot=10))
    assert r["points"]["value"] == 0


@pytest.mark.parametrize("victim", [".zmetadata", "pos/first-chunk"])
def test_describe_calls_a_damaged_store_corrupt(springs_mini, tmp_path, capsys, victim):
    """A prepared store missing a file is corrupt (exit 2, with the fix), not 'not prepared'."""
    import shutil

    from decathlon.benchmark.data import DATASETS, store_dir

    d = store_dir(DATASETS.get("nri-springs"), "mini") / "test.zarr"
    backup = tmp_path / "test.zarr"
    shutil.copytree(d, backup)
    try:
        target = d / victim
        if victim == "pos/first-chunk":
            target = sorted(p for p in (d / "pos").iterdir() if not p.name.startswith("."))[0]
        if target.is_file():
            target.unlink()
        else:
            shutil.rmtree(target)
        import os
        import subprocess
        import sys

        r = subprocess.run(  # a fresh process, as a user runs it (nothing verified yet)
            [sys.executable, "-m", "decathlon", "describe", TASK],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        assert r.returncode == 1  # a corrupted store is a runtime failure (issue 11)
        err = r.stderr
        assert "corrupt" in err and "`decathlon prepare nri-springs --tier mini` again" in err
        assert err.count("\n") == 1
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(backup, d)
