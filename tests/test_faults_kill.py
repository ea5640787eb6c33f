"""Fault injection: builds killed at several points, concurrent builders and readers.

After each fault the next ``prepare`` + ``evaluate`` succeed, the cache holds no orphan
(``.tmp-*``, ``.old-*``), and no reader is told to delete a good store.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

PREPARE = [sys.executable, "-m", "decathlon", "prepare", "kuramoto-5"]
STORE = ("stores", "kuramoto-5")


def _env(cache):
    return {**os.environ, "DECATHLON_DATA_DIR": str(cache)}


def _orphans(cache):
    root = cache.joinpath(*STORE)
    return [p for p in root.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]


def _prepare_then_evaluate(cache):
    env = _env(cache)
    subprocess.run(PREPARE, env=env, check=True, capture_output=True)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "decathlon",
            "evaluate",
            "--model",
            "chance",
            "--task",
            "particles/kuramoto-graph",
            "--n-boot",
            "5",
            "--out",
            str(cache / "results"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert _orphans(cache) == []


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("after", [0.8, 1.6, 2.4])
def test_a_killed_build_leaves_nothing_that_breaks_the_next(tmp_path, force, after):
    cache = tmp_path / "cache"
    if force:  # a complete store that --force rebuilds
        subprocess.run(PREPARE, env=_env(cache), check=True, capture_output=True)
    p = subprocess.Popen(
        PREPARE + (["--force"] if force else []),
        env=_env(cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(after)
    p.send_signal(signal.SIGKILL)
    p.wait()
    _prepare_then_evaluate(cache)


def test_concurrent_force_builds_and_readers(tmp_path):
    cache = tmp_path / "cache"
    env = _env(cache)
    subprocess.run(PREPARE, env=env, check=True, capture_output=True)
    builders = [
        subprocess.Popen(PREPARE + ["--force"], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom decathlon.benchmark.data import open_part\n"
            "t = time.time()\n"
            "while time.time() - t < 6:\n"
            "    try:\n"
            "        open_part('kuramoto-5', 'mini', 'test', verify=True)\n"
            "    except Exception as e:\n"
            "        print(e)\n",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    for b in builders:
        _, err = b.communicate(timeout=300)
        assert b.returncode == 0, err
    out, _ = reader.communicate(timeout=300)
    assert "delete" not in out, out  # never advised to delete a good store
    _prepare_then_evaluate(cache)
