"""Simulator speed benchmark: each vectorized simulator against a reference loop, side by side.

Every simulator registers a :class:`SimBench` in :data:`SIM_BENCHMARKS`: a function running the
vectorized simulator on ``n`` simulations and one running the reference implementation (one
simulation at a time, a Python loop over steps, the way the original generator is written) on
``n`` simulations, with the same physics; optionally a third running the same physics as a plain
compiled loop (:mod:`decathlon.datasets.c_reference`), the yardstick of "compiled speed".
:func:`run_benchmarks` times them (vectorized and compiled alternately, then the reference, each
best of ``repeats``), measures peak memory, and writes a JSON results file (with the batch sizes
and the machine) and a PNG bar chart. ``decathlon bench`` calls it; the test suite never times
anything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from decathlon.benchmark.registry import Registry

__all__ = [
    "SimBench",
    "SIM_BENCHMARKS",
    "CompiledUnavailable",
    "machine_info",
    "numba_fma",
    "numba_jit",
    "register_bench",
    "run_benchmarks",
]


class CompiledUnavailable(RuntimeError):
    """Raised by a ``SimBench.compiled`` that cannot run here (no compiler): column skipped."""


@dataclass(frozen=True)
class SimBench:
    """One side-by-side simulator benchmark.

    ``fast(n)``, ``reference(n)`` and ``compiled(n)`` each simulate ``n`` systems with identical
    physics and step counts; throughput is compared per simulation. ``n_fast`` (the vectorized
    batch, also used for the compiled loop) and ``n_reference`` are the counts used (the
    reference is slow, so it runs fewer simulations). ``compiler()`` describes the compiled
    implementation (compiler, flags) for the results file.
    """

    name: str
    fast: Callable[[int], object]
    reference: Callable[[int], object]
    n_fast: int = 2000
    n_reference: int = 10
    note: str = ""
    compiled: Callable[[int], object] | None = None
    compiler: Callable[[], str] | None = None


SIM_BENCHMARKS: Registry[SimBench] = Registry(
    "simulator benchmark", plugins=("decathlon.datasets",)
)


def register_bench(b: SimBench) -> SimBench:
    """Add ``b`` to :data:`SIM_BENCHMARKS`."""
    return SIM_BENCHMARKS.register(b.name, b)


def _time(fn: Callable[[int], object], n: int, repeats: int) -> float:
    import time

    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t0)
    return best


def _time_pair(
    a: Callable[[int], object], b: Callable[[int], object] | None, n: int, repeats: int
) -> tuple[float, float | None]:
    """Best-of-``repeats`` seconds of ``a(n)`` and ``b(n)``, run alternately (a, b, a, b, ...) so
    that both see the same machine load."""
    ta, tb = float("inf"), float("inf")
    for _ in range(repeats):
        ta = min(ta, _time(a, n, 1))
        if b is not None:
            tb = min(tb, _time(b, n, 1))
    return ta, (tb if b is not None else None)


def _peak_mb(fn: Callable[[int], object], n: int) -> float:
    import tracemalloc

    tracemalloc.start()
    try:
        fn(n)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _compiled(b: SimBench) -> tuple[Callable[[int], object] | None, str]:
    """The compiled runner, warmed up (compiled once), and its description or why it is skipped."""
    if b.compiled is None:
        return None, "no compiled implementation"
    try:
        b.compiled(1)
        return b.compiled, (b.compiler() if b.compiler else "compiled")
    except CompiledUnavailable as e:
        return None, f"skipped: {e}"


#: Vectorized ms per simulation at a batch of 2000, measured on the 2-core development machine
#: at commit 1095a22 before the simulators were reworked (issue 9; charged: "3.6x the CPU of
#: springs", i.e. 3.6 x 0.39). ``decathlon bench`` prints them beside today's; not re-measured.
BEFORE_MS_PER_SIM = {"nri-springs": 0.39, "nri-charged": 1.40}


def _ms(seconds: float | None, n: int) -> float | None:
    return None if seconds is None else 1e3 * seconds / n


def _row(b: SimBench, scale: float, repeats: int) -> dict:
    """Time one benchmark: vectorized and compiled alternately, then the reference, each best
    of ``repeats`` (a reference timed once made the ratio swing with the load, and in the
    ratio's favour: one slow run counted against a best of three)."""
    nf, nr = max(1, int(b.n_fast * scale)), max(1, int(b.n_reference * scale))
    compiled, how = _compiled(b)
    b.fast(1)  # warm-up: a numba kernel compiles (or loads from its cache) once per process
    tf, tc = _time_pair(b.fast, compiled, nf, repeats)
    tr = _time(b.reference, nr, repeats)
    return {
        "name": b.name,
        "note": b.note,
        "batch": nf,
        "n_fast": nf,
        "n_reference": nr,
        "n_compiled": nf if tc is not None else None,
        "fast_seconds": tf,
        "reference_seconds": tr,
        "compiled_seconds": tc,
        "fast_per_sim_ms": _ms(tf, nf),
        "reference_per_sim_ms": _ms(tr, nr),
        "compiled_per_sim_ms": _ms(tc, nf),
        "speedup": (tr / nr) / (tf / nf),
        "fast_vs_compiled": None if tc is None else tf / tc,
        "compiled_by": how,
        "fast_peak_mb": _peak_mb(b.fast, nf),
        "before_per_sim_ms": BEFORE_MS_PER_SIM.get(b.name),
    }


def _cpu_model() -> str | None:
    """The CPU's model name on Linux (``/proc/cpuinfo``), else None."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """This machine: platform, CPU, Python, numpy and its BLAS, numba (recorded with benchmark
    results and with reference builds, :mod:`decathlon.datasets.reference_builds`)."""
    import os
    import platform

    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_name = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # show_config's layout is not a stable API
        blas_name = "unknown"
    return {
        "machine": platform.platform(),
        "processor": _cpu_model() or platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_name,
        "numba": _numba_version(),
    }


def _numba_version() -> str:
    """numba's version when the simulators' compiled kernels are on (the ``fast`` extra)."""
    import importlib.metadata

    if _numba_off():
        return "off (DECATHLON_NUMBA=0)"
    try:
        return importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _numba_off() -> bool:
    import os

    return os.environ.get("DECATHLON_NUMBA", "").strip() == "0"


def numba_jit(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """``fn`` compiled by numba, or None when numba (the ``fast`` extra) is not installed or
    ``DECATHLON_NUMBA=0``: the caller then runs its numpy code, which must give the same bits
    (each kernel has a test saying so).

    Compiled at the first call (0.6-4 s) with ``nogil`` and numpy's division semantics (no
    ``ZeroDivisionError`` check, which would keep divisions from vectorizing), and cached by
    numba (``__pycache__`` beside the module, else ``$NUMBA_CACHE_DIR`` or the user's cache;
    written through a temporary file and a rename), so later processes load it in
    milliseconds. Where numba finds no writable place it compiles once per process."""
    if _numba_off():
        return None
    try:
        import numba
    except ImportError:
        return None
    try:
        return numba.njit(nogil=True, error_model="numpy", cache=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, error_model="numpy")(fn)


@functools.cache
def numba_fma() -> Callable[..., float] | None:
    """numba's fused multiply-add ``fma(a, b, c) = a b + c`` rounded once (LLVM's
    ``llvm.fma.f64``: the CPU's FMA instruction, or the C library's correctly rounded ``fma``
    where there is none, so the same bits everywhere), for loops compiled by :func:`numba_jit`;
    None without numba or with ``DECATHLON_NUMBA=0``. numba fuses nothing by itself."""
    if _numba_off():
        return None
    try:
        from llvmlite import ir
        from numba.core import cgutils, types
        from numba.extending import intrinsic
    except ImportError:
        return None

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(d, [d, d, d]), "llvm.fma.f64"
        )
        return builder.call(fn, args)

    def fma(typingctx, a, b, c):
        return types.float64(types.float64, types.float64, types.float64), codegen

    return intrinsic(fma)


def run_benchmarks(
    names: list[str] | None = None,
    repeats: int = 3,
    scale: float = 1.0,
    out: str | None = "results/bench_simulators.json",
) -> list[dict]:
    """Time every (or the named) simulator benchmark, vectorized vs reference vs compiled.

    ``scale`` multiplies the simulation counts (``< 1`` for a quick look). Writes ``out`` (JSON:
    ``meta`` with the machine, ``results`` with one row per simulator including its batch size)
    and a bar chart next to it (``.png``) unless ``out`` is None. Per-simulation seconds are
    compared, so the sides may run different counts. A compiled column that cannot run here (no C
    compiler) is left empty, with the reason in ``compiled_by``.
    """
    import json
    from pathlib import Path

    rows = [
        _row(SIM_BENCHMARKS.get(name), scale, repeats) for name in names or SIM_BENCHMARKS.names()
    ]
    if out:
        p = Path(out)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = machine_info() | {"repeats": repeats}
        p.write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
        title = f"{meta['processor']}, {meta['cpus']} CPUs; numba kernels: {meta['numba']}"
        _plot(rows, p.with_suffix(".png"), title)
    return rows


#: The bars of the figure: (row key, legend label).
BARS = (
    ("reference_per_sim_ms", "reference (Python, one at a time)"),
    ("fast_per_sim_ms", "decathlon (vectorized)"),
    ("compiled_per_sim_ms", "compiled C loop (cc -O2)"),
)


def _bar_series(rows: list[dict]) -> list[tuple[str, list[int], list[int]]]:
    """Per bar kind that some row has: its legend label, the rows that have it and the rows
    that do not (drawn as "n/a"). A kind no row has (no simulator with a C loop, or no
    compiler) is left out, legend entry included.

    Examples
    --------
    >>> rows = [{"fast_per_sim_ms": 1.0, "reference_per_sim_ms": 9.0, "compiled_per_sim_ms": None}]
    >>> [label for label, _, _ in _bar_series(rows)]
    ['reference (Python, one at a time)', 'decathlon (vectorized)']
    >>> _bar_series(rows + [dict(rows[0], compiled_per_sim_ms=0.5)])[2]
    ('compiled C loop (cc -O2)', [1], [0])
    """
    out = []
    for key, label in BARS:
        have = [i for i, r in enumerate(rows) if r.get(key) is not None]
        if have:
            out.append((label, have, [i for i in range(len(rows)) if i not in have]))
    return out


def _plot(rows: list[dict], path, title: str | None = None) -> None:
    """The bar chart of ``rows`` (log scale), ``title`` above it (the machine and whether the
    vectorized bars ran numba's kernels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.transforms import blended_transform_factory

    fig, ax = plt.subplots(figsize=(2.4 * len(rows) + 3, 4.5), constrained_layout=True)
    x = np.arange(len(rows))
    keys = dict((label, key) for key, label in BARS)
    foot = blended_transform_factory(ax.transData, ax.transAxes)  # x in data, y in axes
    series = _bar_series(rows)
    for k, (label, have, absent) in enumerate(series):
        at = x + 0.27 * (k - (len(series) - 1) / 2)  # the bars of a simulator centred on it
        ax.bar(at[have], [rows[i][keys[label]] for i in have], 0.27, label=label)
        for i in absent:
            ax.text(at[i], 0.02, "n/a", transform=foot, ha="center", fontsize=7, rotation=90)
    for i, r in enumerate(rows):
        text = f"{r['speedup']:.0f}x faster than reference"
        if r.get("fast_vs_compiled") is not None:
            text += f"\n{r['fast_vs_compiled']:.2f}x the C time"
        ax.text(i, 1.3 * r["reference_per_sim_ms"], text, ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(x, [f"{r['name']}\n(batch {r.get('batch', r['n_fast'])})" for r in rows])
    ax.set_ylabel("ms per simulation")
    low = min(r[key] for key, _ in BARS for r in rows if r.get(key) is not None)
    ax.set_ylim(0.3 * low, 30 * max(r["reference_per_sim_ms"] for r in rows))
    ax.set_xlim(-0.5, len(rows) - 0.5)  # room for an "n/a" at the edge
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
