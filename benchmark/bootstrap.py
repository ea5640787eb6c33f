"""Paired bootstrap over windows or over clusters of windows: one set of resamples for every
score of an evaluation.

The plain score, every probe variant and the trivial baseline are resampled with the *same*
multiplicities, so gaps and ratios between them get paired intervals. Intervals are percentile
intervals (2.5 %, 97.5 %) of the replicates.

**The unit of resampling** is the task's ``bootstrap_unit``. ``"window"``: each resample draws
``n`` windows with replacement (multinomial multiplicities). ``"sample"``: a cluster bootstrap
(Davison & Hinkley, *Bootstrap Methods and their Application*, 1997, §3.8, "multi-stage
sampling", strategy 1: resample the clusters, keep each cluster whole; Field & Welsh, JRSS B 69,
2007): each resample draws the ``k`` samples (simulations or recordings) the windows are cut
from with replacement, and every window weighs its sample's draw count. Windows of one sample
are correlated (the arrow of time shows each clip of a simulation forward and reversed), so
resampling them one by one treats correlated windows as independent and gives intervals that
are too narrow. ``"cluster"``: the same with the window function's own units
(``Windows.cluster``). ``"block"``: a non-overlapping block bootstrap in time (Carlstein, Ann.
Stat. 14, 1986; Kuensch, Ann. Stat. 17, 1989; Lahiri, *Resampling Methods for Dependent Data*,
2003, §2.5) for windows sliding along a long recording (stride 1: neighbouring windows share
all but one frame): the windows of a sample whose start frames fall in the same span of
``L = context + horizon`` frames form one block, ``(sample, start // L)``, and the blocks are
resampled whole. Windows whose starts are ``L`` or more frames apart share no frame, so
correlation is left only between neighbouring blocks. Every unit is the same weight matrix
(resample, window) fed to the same matrix product; the window bootstrap is the cluster
bootstrap with one window per cluster, and its weights are exactly those of earlier evaluator
versions.

Examples
--------
>>> ci(np.arange(101.0))
[2.5, 97.5]
>>> finite(float("inf")) is None, finite(-0.0)
(True, 0.0)
>>> w = resample_weights(4, 3, seed=0, clusters=np.array([0, 0, 1, 1]))
>>> bool((w[:, 0] == w[:, 1]).all() and (w[:, 2] == w[:, 3]).all()), w.sum(1).tolist()
(True, [4, 4, 4])
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .metrics import Metric, Stats, finalize_stats, get_metric, metric_value

if TYPE_CHECKING:
    from .tasks import TaskSpec
    from .windows import Windows

__all__ = [
    "PairedBootstrap",
    "ci",
    "finite",
    "resample_weights",
    "resampling_units",
    "unit_text",
    "task_bootstrap",
    "FEW_UNITS",
]

log = logging.getLogger("decathlon")

#: Below this many clusters a cluster bootstrap's percentile interval is unreliable (it
#: under-covers; the literature asks for dozens of clusters: Cameron, Gelbach & Miller, Rev.
#: Econ. Stat. 90, 2008): the evaluator logs a warning.
FEW_UNITS = 20


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


def _block_span(task: TaskSpec) -> int:
    """Frames per block of the block bootstrap: one window span, ``context + horizon``."""
    return max(int(task.context) + int(task.horizon), 1)


def resampling_units(task: TaskSpec, w: Windows) -> np.ndarray | None:
    """The cluster of each window under ``task.bootstrap_unit``: ``None`` for ``"window"``
    (every window its own unit), else the index (0..k-1, in sorted order of the ids) of the
    sample each window of ``w`` is cut from (``"sample"``), of its ``w.cluster`` id
    (``"cluster"``) or of its block ``(sample, start // (context + horizon))`` (``"block"``).

    >>> from types import SimpleNamespace as N
    >>> t = N(name="t", bootstrap_unit="block", context=3, horizon=1)
    >>> w = N(sample=np.array([0, 0, 0, 0, 0, 1]), start=np.array([0, 1, 3, 4, 9, 0]))
    >>> resampling_units(t, w).tolist()  # blocks of 4 frames: starts 0-3, 4-7, 8-11
    [0, 0, 0, 1, 2, 3]
    """
    if task.bootstrap_unit == "window":
        return None
    if task.bootstrap_unit == "sample":
        ids = w.sample
    elif task.bootstrap_unit == "block":
        ids = np.stack([np.asarray(w.sample), np.asarray(w.start) // _block_span(task)], axis=1)
        return np.unique(ids, axis=0, return_inverse=True)[1].reshape(-1)
    elif task.bootstrap_unit == "cluster":
        if w.cluster is None or len(w.cluster) != len(w):
            raise ValueError(
                f"task {task.name!r} resamples clusters but its windows carry "
                f"{'no' if w.cluster is None else len(w.cluster)} cluster ids for {len(w)} "
                "windows; its window function must fill Windows.cluster (one id per window)"
            )
        ids = w.cluster
    else:
        raise ValueError(
            f"task {task.name!r}: bootstrap_unit {task.bootstrap_unit!r} is not 'window', "
            "'sample', 'cluster' or 'block'; fix the task record"
        )
    return np.unique(np.asarray(ids), return_inverse=True)[1].reshape(-1)


def unit_text(task: TaskSpec) -> str:
    """What the intervals of ``task`` resample, in words (``decathlon describe``).

    >>> from types import SimpleNamespace as N
    >>> unit_text(N(bootstrap_unit="block", context=8, horizon=12))
    'blocks of 20 frames in time (windows of a recording whose starts fall in one span)'
    """
    if task.bootstrap_unit == "block":
        return (
            f"blocks of {_block_span(task)} frames in time (windows of a recording whose starts "
            "fall in one span)"
        )
    return {
        "window": "test windows, each on its own",
        "sample": "whole samples (simulations or recordings), all their windows together",
        "cluster": "the window function's clusters (e.g. one pedestrian's clips), whole",
    }[task.bootstrap_unit]


def task_bootstrap(
    task: TaskSpec, w: Windows, stats: Mapping[str, Stats], n_boot: int, seed: int
) -> PairedBootstrap:
    """The :class:`PairedBootstrap` of ``task``'s windows ``w``, resampling its declared unit."""
    return PairedBootstrap(
        stats, len(w), n_boot, seed, resampling_units(task, w), unit=task.bootstrap_unit
    )


class PairedBootstrap:
    """Point values and bootstrap replicates of metrics on per-window statistics.

    ``stats`` maps a variant name (``plain``, ``reversal``, ``shuffle3``, ``trivial`` ...) to
    its per-window statistics; ``n_boot`` resamples are drawn once from ``seed``
    (:func:`resample_weights`: of the ``n_windows`` windows, or of the clusters ``clusters``
    gives each window, named ``unit`` in the record) and kept as int32 window multiplicities
    (4 bytes per window and resample). Replicates are computed ``rows`` weightings at a time in
    float64, so memory stays bounded; every replicate is exact (the same numbers as one big
    float64 weight matrix).
    """

    def __init__(
        self,
        stats: Mapping[str, Stats],
        n_windows: int,
        n_boot: int,
        seed: int,
        clusters: np.ndarray | None = None,
        unit: str = "window",
    ) -> None:
        self.n = n_windows
        self.n_boot = n_boot
        self.unit = unit
        self.n_units = n_windows if clusters is None else len(np.unique(clusters))
        if n_boot and clusters is not None and self.n_units < FEW_UNITS:
            log.warning(
                "bootstrap over %d %ss: fewer than %d units, the intervals are unreliable",
                self.n_units,
                unit,
                FEW_UNITS,
            )
        self.weights = resample_weights(n_windows, n_boot, seed, clusters) if n_boot else None
        self.stats = stats
        self._cache: dict[tuple[str, str], tuple[float, np.ndarray]] = {}

    def __contains__(self, variant: str) -> bool:
        return variant in self.stats

    def record(self) -> dict[str, Any]:
        """The ``bootstrap`` block of a result: the unit resampled, how many units, resamples.

        Examples
        --------
        >>> PairedBootstrap({}, 6, 10, 0, np.array([0, 0, 0, 1, 1, 1]), "sample").record()
        {'unit': 'sample', 'n_units': 2, 'resamples': 10}
        """
        return {"unit": self.unit, "n_units": self.n_units, "resamples": self.n_boot}

    def __call__(self, name: str, variant: str) -> tuple[float, np.ndarray]:
        """Point value and bootstrap replicates of metric ``name`` on ``variant``'s predictions."""
        if (name, variant) not in self._cache:
            if variant not in self.stats:
                raise KeyError(f"no statistics of variant {variant!r}; have: {sorted(self.stats)}")
            self.prefetch([(name, variant)])
        return self._cache[name, variant]

    def prefetch(self, pairs: list[tuple[str, str]], rows: int = 100) -> None:
        """Compute the replicates of every ``(metric, variant)`` pair in one pass over the
        resamples. The per-window columns of every linear metric (:mod:`.metrics`) are stacked
        into one (windows, K) matrix, so each block of ``rows`` weightings costs one matrix
        product (BLAS-3) instead of one matrix-vector product per pair and column, which is
        many times slower when the machine is busy (threaded GEMV stalls on every call).
        Replicates equal the one-at-a-time definition ``(w @ num) / (w @ den)`` up to the
        round-off of the summation order (about 1e-15 relative); the resamples are the same."""
        todo = [(m, v) for m, v in dict.fromkeys(pairs) if (m, v) not in self._cache and v in self]
        if not todo:
            return
        stats = {v: finalize_stats(self.stats[v]) for _, v in todo}
        w = self.weights
        if w is None:
            for m, v in todo:
                val = float(metric_value(m, stats[v])[0])
                self._cache[m, v] = (val, np.array([val]))
            return
        cols = _Columns(self.n)
        spans: dict[tuple[str, str], tuple[Metric, list[int]]] = {}
        for m, v in todo:
            row, step = get_metric(m)
            if row.columns is not None:
                spans[m, v] = (row, [cols.index(c) for c in row.columns(stats[v], step)])
        mat = cols.matrix()
        blocks: dict[tuple[str, str], list[np.ndarray]] = {p: [] for p in todo}
        for i in range(0, len(w), rows):
            wi = w[i : i + rows].astype(np.float64)
            sums = wi @ mat
            for m, v in todo:
                if (m, v) in spans:
                    row, idx = spans[m, v]
                    blocks[m, v].append(row.combine([sums[:, j] for j in idx]))
                else:
                    blocks[m, v].append(metric_value(m, stats[v], wi))
        for m, v in todo:
            val = float(metric_value(m, stats[v])[0])
            self._cache[m, v] = (val, np.concatenate(blocks[m, v]))

    def means(self, per_window: dict[str, np.ndarray], rows: int = 100) -> dict[str, np.ndarray]:
        """Replicates of the (weighted) mean of each per-window quantity (the point value when
        ``n_boot=0``), all weighted in one matrix product per block of resamples. Each is
        divided by its resample's total weight: ``n`` for windows, the windows drawn for
        clusters of unequal sizes."""
        w = self.weights
        if w is None:
            return {k: np.array([a.mean()]) for k, a in per_window.items()}
        keys = list(per_window)
        if not keys:
            return {}
        mat = np.stack([np.asarray(per_window[k], np.float64) for k in keys], axis=1)
        blocks = []
        for i in range(0, len(w), rows):
            wi = w[i : i + rows].astype(np.float64)
            blocks.append((wi @ mat) / wi.sum(1, keepdims=True))
        reps = np.concatenate(blocks)
        return {k: reps[:, j] for j, k in enumerate(keys)}

    def mean(self, per_window: np.ndarray) -> np.ndarray:
        """Replicates of the mean of one per-window quantity (see :meth:`means`)."""
        return self.means({"": per_window})[""]


class _Columns:
    """Distinct per-window columns for one matrix product. Equal columns (the plain score and a
    probe that leaves the predictions unchanged, a model equal to the trivial baseline, the
    shared window counts) are stored once, so their replicates are bitwise equal and their
    paired gaps exactly zero (a matrix product may round a column differently by position)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.cols: list[np.ndarray] = []
        self.seen: dict[bytes, list[int]] = {}

    def index(self, c: np.ndarray) -> int:
        c = np.ascontiguousarray(c, dtype=np.float64)
        key = hashlib.blake2b(c.tobytes(), digest_size=16).digest()
        for j in self.seen.get(key, []):
            if np.array_equal(self.cols[j], c):
                return j
        self.seen.setdefault(key, []).append(len(self.cols))
        self.cols.append(c)
        return len(self.cols) - 1

    def matrix(self) -> np.ndarray:
        return np.stack(self.cols, axis=1) if self.cols else np.zeros((self.n, 0))


def resample_weights(
    n: int, n_boot: int, seed: int, clusters: np.ndarray | None = None
) -> np.ndarray:
    """Window multiplicities (n_boot, n), int32, of ``n_boot`` resamples drawn from ``seed``.

    ``clusters`` ``None``: every window is a unit, the multinomial resamples of ``n`` windows
    (:func:`multinomial_weights`). Else ``clusters`` (n,) gives each window's cluster as an
    index 0..k-1: the multinomial resamples of the ``k`` clusters, each window weighted by its
    cluster's draw count (a row then sums to the windows drawn, ``n`` only on average).
    The window bootstrap is the special case ``clusters = arange(n)``, with the same weights.

    Raises
    ------
    ValueError
        ``clusters`` is not ``n`` integers forming the indices 0..k-1 (every index used).
    """
    if clusters is None:
        return multinomial_weights(n, n_boot, seed)
    c = np.asarray(clusters)
    k = int(c.max()) + 1 if c.size else 0
    if c.shape != (n,) or c.dtype.kind not in "iu" or c.min(initial=0) < 0:
        raise ValueError(
            f"clusters of shape {c.shape} dtype {c.dtype}; expected ({n},) non-negative "
            "integers, one cluster index per window (see resampling_units)"
        )
    if len(np.unique(c)) != k:
        raise ValueError(
            f"clusters use {len(np.unique(c))} of the indices 0..{k - 1}; expected every index "
            "used (number clusters with np.unique(..., return_inverse=True))"
        )
    return multinomial_weights(k, n_boot, seed)[:, c]


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
