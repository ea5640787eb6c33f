"""The compiled yardstick of ``decathlon bench``: the NRI / EGNN simulators as a plain C loop.

``reference_c/nri_loop.c`` (shipped with the package) integrates one simulation at a time with
loops over balls: the physics, clipping, wall reflection, integration order and save schedule of
:func:`decathlon.datasets.nri.simulate_reference`. :func:`load` compiles it with the system C
compiler (``$CC`` or ``cc``, ``-O2``) into the data cache on first use and opens it with
``ctypes``; :func:`simulate_c` draws the random numbers exactly as the Python simulators do and
runs the C loop. Nothing here is needed to build a dataset: it only measures how far the
vectorized numpy simulators are from compiled speed (``tests/test_sim_speed.py`` checks that
the C loop reproduces the reference, skipped when no compiler is found).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from decathlon.benchmark.data import data_root
from decathlon.datasets.speed import CompiledUnavailable

__all__ = ["CompilerUnavailable", "FLAGS", "compiler", "describe", "load", "simulate_c", "source"]

#: Compiler flags: optimised, nothing machine-specific (no ``-march=native``, no fast-math).
FLAGS = ("-O2", "-shared", "-fPIC")


class CompilerUnavailable(CompiledUnavailable):
    """No working C compiler: the compiled column of the bench is skipped."""


def source() -> str:
    """The C source text (``decathlon/datasets/reference_c/nri_loop.c``)."""
    return (resources.files("decathlon.datasets") / "reference_c" / "nri_loop.c").read_text()


def compiler() -> list[str] | None:
    """The C compiler command (``$CC``, else ``cc``), or None when it is not on the PATH."""
    cmd = shlex.split(os.environ.get("CC", "cc"))
    if not cmd or shutil.which(cmd[0]) is None:
        return None
    return cmd


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else "unknown"


@cache
def load() -> tuple[ctypes.CDLL, str]:
    """Compile (once per source, compiler and flags, into ``<data cache>/reference_c``) and open
    the C loop.

    Returns the library and a description of the compiler (``"cc -O2 ...: <version>"``).
    Raises :class:`CompilerUnavailable` when there is no compiler or it fails.
    """
    cmd = compiler()
    if cmd is None:
        raise CompilerUnavailable(f"no C compiler ({os.environ.get('CC', 'cc')!r} not on the PATH)")
    text = source()
    version = _version(cmd)
    key = hashlib.sha256("\0".join([text, *cmd, *FLAGS, version]).encode()).hexdigest()[:16]
    cache_dir = data_root() / "reference_c"  # the user's own cache, not a shared /tmp
    lib = cache_dir / f"nri_loop-{key}.so"
    if not lib.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            src, out = Path(tmp) / "nri_loop.c", Path(tmp) / "nri_loop.so"
            src.write_text(text)
            try:
                run = subprocess.run(
                    [*cmd, *FLAGS, "-o", str(out), str(src), "-lm"], capture_output=True, text=True
                )
            except OSError as e:
                raise CompilerUnavailable(f"{' '.join(cmd)} could not run: {e}") from e
            if run.returncode != 0:
                raise CompilerUnavailable(
                    f"{' '.join(cmd)} failed (exit {run.returncode}): {run.stderr.strip()[-500:]}"
                )
            os.replace(out, lib)  # atomic: concurrent benches never see a half-written library
    dll = ctypes.CDLL(str(lib))
    dbl, lng, i32 = ctypes.c_double, ctypes.c_long, ctypes.c_int
    ptr = ctypes.POINTER(ctypes.c_double)
    args: list[Any] = [lng, i32, i32, lng, lng, i32, dbl, i32, dbl, dbl, dbl] + [ptr] * 5
    dll.nri_loop.argtypes = args
    dll.nri_loop.restype = i32
    return dll, f"{' '.join([*cmd, *FLAGS])}: {version}"


def describe() -> str:
    """The compiler command, flags and version used for the C loop (compiles it if needed)."""
    return load()[1]


def simulate_c(n_sims: int, n_steps: int, sample_freq: int, params, rng=0) -> dict[str, np.ndarray]:
    """:func:`decathlon.datasets.nri.simulate_reference` with the step loop in compiled C.

    The graph and the initial state are drawn as the Python simulators draw them (same seed, same
    systems); returns ``pos`` and ``vel`` (sims, frames, balls, dim), float64.
    """
    from decathlon.datasets import nri

    dll, _ = load()
    rng = np.random.default_rng(rng)
    coupling, _ = nri._sample_graph(rng, params, n_sims)
    x0, v0 = nri._initial_state(rng, params, n_sims)
    n, d = params.n_balls, params.dim
    shape = (n_sims, n_steps // sample_freq - 1, n, d)
    pos, vel = np.empty(shape), np.empty(shape)
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (coupling, x0, v0)]
    ptr = ctypes.POINTER(ctypes.c_double)
    walls = params.box_size is not None
    status = dll.nri_loop(
        n_sims,
        n,
        d,
        n_steps,
        sample_freq,
        int(params.system == "charged"),
        params.interaction_strength,
        int(walls),
        float(params.box_size) if walls else 0.0,
        params.dt,
        params.max_force,
        *(a.ctypes.data_as(ptr) for a in (*arrays, pos, vel)),
    )
    if status != 0:
        raise ValueError(f"nri_loop failed (status {status}): dim {d} > 8 or out of memory")
    return {"pos": pos, "vel": vel}
