"""Paired bootstrap over windows: one set of resamples for every score of an evaluation.

The plain score, every probe variant and the trivial baseline are resampled with the *same*
window multiplicities, so gaps and ratios between them get paired intervals. Intervals are
percentile intervals (2.5 %, 97.5 %) of the replicates.

Examples
--------
>>> ci(np.arange(101.0))
[2.5, 97.5]
>>> finite(float("inf")) is None, finite(-0.0)
(True, 0.0)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .metrics import Stats, finalize_stats, metric_value

__all__ = ["PairedBootstrap", "ci", "finite"]


def ci(a: np.ndarray) -> list[float | None]:
    """The 95 % percentile interval of the finite replicates ``a`` (``[None, None]`` if none)."""
    a = a[np.isfinite(a)]
    if a.size == 0:
        return [None, None]
    lo, hi = np.percentile(a, [2.5, 97.5])
    return [float(lo) + 0.0, float(hi) + 0.0]


def finite(x: float) -> float | None:
    """``x`` as a JSON number, ``None`` if not finite (``+ 0.0`` turns -0.0 into 0.0)."""
    return float(x) + 0.0 if np.isfinite(x) else None


class PairedBootstrap:
    """Point values and bootstrap replicates of metrics on per-window statistics.

    ``stats`` maps a variant name (``plain``, ``reversal``, ``shuffle3``, ``trivial`` ...) to
    its per-window statistics; ``n_boot`` multinomial resamples of the ``n_windows`` windows
    are drawn once from ``seed`` and kept as int32 multiplicities (4 bytes per window and
    resample). Replicates are computed ``rows`` weightings at a time in float64, so memory stays
    bounded; every replicate is exact (the same numbers as one big float64 weight matrix).
    """

    def __init__(self, stats: Mapping[str, Stats], n_windows: int, n_boot: int, seed: int) -> None:
        self.n = n_windows
        self.weights = multinomial_weights(n_windows, n_boot, seed) if n_boot else None
        self.stats = stats
        self._cache: dict[tuple[str, str], tuple[float, np.ndarray]] = {}

    def __contains__(self, variant: str) -> bool:
        return variant in self.stats

    def __call__(self, name: str, variant: str) -> tuple[float, np.ndarray]:
        """Point value and bootstrap replicates of metric ``name`` on ``variant``'s predictions."""
        if (name, variant) not in self._cache:
            st = finalize_stats(self.stats[variant])
            val = float(metric_value(name, st)[0])
            w = self.weights
            reps = np.array([val]) if w is None else _replicates(name, st, w)
            self._cache[name, variant] = (val, reps)
        return self._cache[name, variant]

    def prefetch(self, pairs: list[tuple[str, str]], rows: int = 100) -> None:
        """Compute the replicates of every ``(metric, variant)`` pair in one pass over the
        resamples: each block of ``rows`` weightings is converted to float64 once for all pairs.
        The values are the ones :meth:`__call__` would compute one pair at a time."""
        todo = [(m, v) for m, v in dict.fromkeys(pairs) if (m, v) not in self._cache and v in self]
        w = self.weights
        if w is None or not todo:
            return
        stats = {v: finalize_stats(self.stats[v]) for _, v in todo}
        blocks: dict[tuple[str, str], list[np.ndarray]] = {p: [] for p in todo}
        for i in range(0, len(w), rows):
            wi = w[i : i + rows].astype(np.float64)
            for m, v in todo:
                blocks[m, v].append(metric_value(m, stats[v], wi))
        for m, v in todo:
            val = float(metric_value(m, stats[v])[0])
            self._cache[m, v] = (val, np.concatenate(blocks[m, v]))

    def mean(self, per_window: np.ndarray) -> np.ndarray:
        """Replicates of the mean of a per-window quantity (the point value when ``n_boot=0``)."""
        w = self.weights
        if w is None:
            return np.array([per_window.mean()])
        rows = 100
        return np.concatenate(
            [
                (w[i : i + rows].astype(np.float64) @ per_window) / self.n
                for i in range(0, len(w), rows)
            ]
        )


def multinomial_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` multinomial resamples of ``n`` windows, as int32 multiplicities (n_boot, n).

    Drawing them is the evaluator's largest fixed cost (about 0.5 s for 1000 x 10 000), and they
    depend only on ``(n, n_boot, seed)``: large draws are kept in the data cache
    (``<cache>/bootstrap/``, written atomically) and read back on later evaluations. A cached
    file is used only if its shape and dtype are right and every row sums to ``n``; otherwise
    (or if the cache cannot be written) the weights are drawn again, with the same values.
    """
    path = _weights_path(n, n_boot, seed) if n * n_boot >= 1_000_000 else None
    if path is not None and path.is_file():
        try:
            w = np.load(path, allow_pickle=False)
            if w.shape == (n_boot, n) and w.dtype == np.int32 and (w.sum(1) == n).all():
                return w
        except (OSError, ValueError):
            pass
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.int32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, w)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the draw
    return w


def _weights_path(n: int, n_boot: int, seed: int) -> Path | None:
    from .cache import data_root

    try:
        return data_root() / "bootstrap" / f"multinomial-n{n}-b{n_boot}-s{seed}.npy"
    except ValueError:
        return None


def _replicates(name: str, st: Stats, w: np.ndarray, rows: int = 100) -> np.ndarray:
    """Bootstrap replicates of a metric, ``rows`` weightings at a time (bounded memory)."""
    return np.concatenate(
        [metric_value(name, st, w[i : i + rows].astype(np.float64)) for i in range(0, len(w), rows)]
    )
