"""Simulator speed benchmark: each vectorized simulator against a reference loop, side by side.

Every simulator registers a :class:`SimBench` in :data:`SIM_BENCHMARKS`: a function running the
vectorized simulator on ``n`` simulations and one running the reference implementation (one
simulation at a time, a Python loop over steps, the way the original generator is written) on
``n`` simulations, with the same physics. :func:`run_benchmarks` times both (best of ``repeats``),
measures peak memory, and writes a JSON results file and a PNG bar chart. ``decathlon bench``
calls it; the test suite never times anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from decathlon.benchmark.registry import Registry

__all__ = ["SimBench", "SIM_BENCHMARKS", "register_bench"]


@dataclass(frozen=True)
class SimBench:
    """One side-by-side simulator benchmark.

    ``fast(n)`` and ``reference(n)`` each simulate ``n`` systems with identical physics and step
    counts; throughput is compared per simulation. ``n_fast`` and ``n_reference`` are the counts
    used (the reference is slow, so it runs fewer simulations).
    """

    name: str
    fast: Callable[[int], object]
    reference: Callable[[int], object]
    n_fast: int = 2000
    n_reference: int = 10
    note: str = ""


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


def _peak_mb(fn: Callable[[int], object], n: int) -> float:
    import tracemalloc

    tracemalloc.start()
    try:
        fn(n)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run_benchmarks(
    names: list[str] | None = None,
    repeats: int = 3,
    scale: float = 1.0,
    out: str | None = "results/bench_simulators.json",
) -> list[dict]:
    """Time every (or the named) simulator benchmark, vectorized vs reference, in one run.

    ``scale`` multiplies the simulation counts (``< 1`` for a quick look). Writes ``out`` (JSON)
    and a bar chart next to it (``.png``) unless ``out`` is None. Per-simulation seconds are
    compared, so the two sides may run different counts.
    """
    import json
    import os
    import platform
    from pathlib import Path

    rows = []
    for name in names or SIM_BENCHMARKS.names():
        b = SIM_BENCHMARKS.get(name)
        nf, nr = max(1, int(b.n_fast * scale)), max(1, int(b.n_reference * scale))
        tf = _time(b.fast, nf, repeats)
        tr = _time(b.reference, nr, 1)
        rows.append(
            {
                "name": name,
                "note": b.note,
                "n_fast": nf,
                "n_reference": nr,
                "fast_seconds": tf,
                "reference_seconds": tr,
                "fast_per_sim_ms": 1e3 * tf / nf,
                "reference_per_sim_ms": 1e3 * tr / nr,
                "speedup": (tr / nr) / (tf / nf),
                "fast_peak_mb": _peak_mb(b.fast, nf),
            }
        )
    if out:
        p = Path(out)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "machine": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "repeats": repeats,
        }
        p.write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
        _plot(rows, p.with_suffix(".png"))
    return rows


def _plot(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(1.8 * len(rows) + 3, 4), constrained_layout=True)
    x = np.arange(len(rows))
    ax.bar(
        x - 0.2, [r["reference_per_sim_ms"] for r in rows], 0.4, label="reference (one at a time)"
    )
    ax.bar(x + 0.2, [r["fast_per_sim_ms"] for r in rows], 0.4, label="decathlon (vectorized)")
    for i, r in enumerate(rows):
        ax.text(i, r["reference_per_sim_ms"], f"{r['speedup']:.0f}x", ha="center", va="bottom")
    ax.set_yscale("log")
    ax.set_xticks(x, [r["name"] for r in rows])
    ax.set_ylabel("ms per simulation")
    ax.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)
