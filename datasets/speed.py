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


SIM_BENCHMARKS: Registry[SimBench] = Registry("simulator benchmark", plugins=("decathlon.datasets",))


def register_bench(b: SimBench) -> SimBench:
    """Add ``b`` to :data:`SIM_BENCHMARKS`."""
    return SIM_BENCHMARKS.register(b.name, b)
