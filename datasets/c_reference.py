"""The compiled yardstick of ``decathlon bench``: simulators as plain C loops.

``reference_c/nri_loop.c`` (shipped with the package) integrates the NRI / EGNN systems one
simulation at a time with loops over balls: the physics, clipping, wall reflection, integration
order and save schedule of :func:`decathlon.datasets.nri.simulate_reference`.
``reference_c/swarm_loop.c`` does the same for the Vicsek and D'Orsogna swarms of
:mod:`decathlon.datasets.swarms_reference` (loops over particles and pairs). :func:`library`
compiles a source with the system C compiler (``$CC`` or ``cc``, ``-O2``) into the data cache on
first use and opens it with ``ctypes``; :func:`simulate_c` and :func:`simulate_swarm_c` draw the
random numbers exactly as the Python simulators do and run the C loop. Nothing here is needed to
build a dataset: it only measures how far the vectorized simulators are from compiled speed
(``tests/test_sim_speed.py`` checks that the C loops reproduce the references, skipped when no
compiler is found).
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

__all__ = [
    "CompilerUnavailable",
    "FLAGS",
    "compiler",
    "describe",
    "library",
    "load",
    "simulate_c",
    "simulate_swarm_c",
    "source",
]

#: Compiler flags: optimised, nothing machine-specific (no ``-march=native``, no fast-math).
FLAGS = ("-O2", "-shared", "-fPIC")


class CompilerUnavailable(CompiledUnavailable):
    """No working C compiler: the compiled column of the bench is skipped."""


def source(name: str = "nri_loop") -> str:
    """The C source text of ``decathlon/datasets/reference_c/<name>.c``."""
    return (resources.files("decathlon.datasets") / "reference_c" / f"{name}.c").read_text()


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
def library(name: str) -> tuple[ctypes.CDLL, str]:
    """Compile ``reference_c/<name>.c`` (once per source, compiler and flags, into ``<data
    cache>/reference_c``) and open it.

    Returns the library and a description of the compiler (``"cc -O2 ...: <version>"``).
    Raises :class:`CompilerUnavailable` when there is no compiler or it fails.
    """
    cmd = compiler()
    if cmd is None:
        raise CompilerUnavailable(f"no C compiler ({os.environ.get('CC', 'cc')!r} not on the PATH)")
    text = source(name)
    version = _version(cmd)
    key = hashlib.sha256("\0".join([text, *cmd, *FLAGS, version]).encode()).hexdigest()[:16]
    cache_dir = data_root() / "reference_c"  # the user's own cache, not a shared /tmp
    lib = cache_dir / f"{name}-{key}.so"
    if not lib.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            src, out = Path(tmp) / f"{name}.c", Path(tmp) / f"{name}.so"
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
    return ctypes.CDLL(str(lib)), f"{' '.join([*cmd, *FLAGS])}: {version}"


_DBL, _LNG, _I32 = ctypes.c_double, ctypes.c_long, ctypes.c_int
_PTR = ctypes.POINTER(ctypes.c_double)
_FPTR = ctypes.POINTER(ctypes.c_float)
#: The argument types of every C function, by (source, function).
_SIGNATURES: dict[tuple[str, str], list[Any]] = {
    ("nri_loop", "nri_loop"): [_LNG, _I32, _I32, _LNG, _LNG, _I32, _DBL, _I32, _DBL, _DBL, _DBL]
    + [_PTR] * 5,
    ("swarm_loop", "vicsek_loop"): [_LNG, _I32, _LNG, _I32, _DBL, _DBL] + [_PTR] * 6,
    ("swarm_loop", "dorsogna_loop"): [_LNG, _I32, _LNG, _I32, _DBL] + [_FPTR] * 5,
}


def _function(name: str, fn: str) -> tuple[Any, str]:
    """The C function ``fn`` of ``reference_c/<name>.c`` with its argument types set."""
    dll, how = library(name)
    f = getattr(dll, fn)
    f.argtypes, f.restype = _SIGNATURES[(name, fn)], _I32
    return f, how


def load() -> tuple[ctypes.CDLL, str]:
    """The NRI C loop (:func:`library` of ``nri_loop``) with its argument types set."""
    _function("nri_loop", "nri_loop")
    return library("nri_loop")


def describe() -> str:
    """The compiler command, flags and version used for the C loops (compiles one if needed)."""
    return library("nri_loop")[1]


def simulate_c(n_sims: int, n_steps: int, sample_freq: int, params, rng=0) -> dict[str, np.ndarray]:
    """:func:`decathlon.datasets.nri.simulate_reference` with the step loop in compiled C.

    The graph and the initial state are drawn as the Python simulators draw them (same seed, same
    systems); returns ``pos`` and ``vel`` (sims, frames, balls, dim), float64.
    """
    from decathlon.datasets import nri

    fn, _ = _function("nri_loop", "nri_loop")
    rng = np.random.default_rng(rng)
    coupling, _ = nri._sample_graph(rng, params, n_sims)
    x0, v0 = nri._initial_state(rng, params, n_sims)
    n, d = params.n_balls, params.dim
    shape = (n_sims, n_steps // sample_freq - 1, n, d)
    pos, vel = np.empty(shape), np.empty(shape)
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (coupling, x0, v0)]
    walls = params.box_size is not None
    status = fn(
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
        *(_ptr(a) for a in (*arrays, pos, vel)),
    )
    if status != 0:
        raise ValueError(f"nri_loop failed (status {status}): dim {d} > 8 or out of memory")
    return {"pos": pos, "vel": vel}


def simulate_swarm_c(
    system: str, rng: Any, n_sims: int, *, n_particles: int = 200, steps: int = 1000
) -> dict[str, np.ndarray]:
    """:mod:`decathlon.datasets.swarms_reference`'s ``system`` (``"vicsek"`` or
    ``"dorsogna"``) with the loops in compiled C: the same draws (parameters, initial state,
    then Vicsek's normal block per step), NPD's ``dt`` and save schedule; returns ``pos``,
    ``vel`` (sims, frames, particles, 3) and ``params``. D'Orsogna runs in float32 (data version
    3: sisyphe's precision), Vicsek in float64."""
    from decathlon.datasets import swarms

    sysm = swarms.SWARMS[system]
    rng = np.random.default_rng(rng)
    p = sysm.check(None, rng, n_sims)
    low, high = (0.0, swarms.VICSEK_BOX) if system == "vicsek" else (-0.5, 0.5)
    p, pos0, vel0 = sysm.in_precision(p, *swarms._init(rng, n_sims, n_particles, low, high))
    every = swarms.SAVE_EVERY
    shape = (n_sims, len(swarms._saved(steps, every)), n_particles, 3)
    pos, vel = np.empty(shape, sysm.dtype), np.empty(shape, sysm.dtype)
    head = (n_sims, n_particles, steps, every)
    if system == "vicsek":
        noise = np.stack([rng.standard_normal((n_sims, n_particles, 3)) for _ in range(steps)])
        fn, _ = _function("swarm_loop", "vicsek_loop")
        ins = (p, pos0, vel0, noise, pos, vel)
        status = fn(*head, swarms.VICSEK_BOX, swarms.DT, *(_ptr(a) for a in ins))
    else:
        fn, _ = _function("swarm_loop", "dorsogna_loop")
        status = fn(*head, swarms.DT, *(_ptr(a) for a in (p, pos0, vel0, pos, vel)))
    if status != 0:
        raise MemoryError(f"{system}_loop could not allocate its state for {n_particles} particles")
    return {"pos": pos, "vel": vel, "params": p.astype(np.float64)}


def _ptr(a: np.ndarray) -> Any:
    """A C pointer to ``a``'s data (float64 or float32, C-contiguous: checked, never copied
    silently)."""
    if a.dtype not in (np.float64, np.float32) or not a.flags.c_contiguous:
        raise TypeError(
            f"C loop arrays must be C-contiguous float64 or float32, got {a.dtype} {a.flags}"
        )
    return a.ctypes.data_as(_PTR if a.dtype == np.float64 else _FPTR)
