"""Streaming evaluation: splits larger than memory, scored chunk by chunk in bounded memory.

:func:`evaluate_stream` builds the windows ``chunk`` samples at a time
(:func:`~decathlon.benchmark.windows.iter_windows`), runs the model on every variant of a chunk
(:func:`~decathlon.benchmark.collect.collect`), folds the chunk's per-window statistics into
running totals and drops them. Memory therefore depends on the chunk size, the number of
bootstrap resamples and the output size, never on the number of windows.

What differs from the in-memory evaluator, and why:

* **Point values** are the same sums, accumulated chunk by chunk (equal up to float round-off).
* **Intervals** use the Poisson bootstrap: each window gets an independent Poisson(1) weight per
  resample, drawn per chunk from ``default_rng([seed, chunk])``. The multinomial bootstrap needs
  every window's weight in every resample at once; the Poisson one is its standard streaming
  approximation (Hanley & MacGibbon, Comput. Methods Programs Biomed. 83, 2006; Chamandy et
  al., "Estimating uncertainty for massive data streams", Google, 2012): weights of different
  windows are independent and the total weight is n only on average, which widens intervals by
  a factor ``1 + O(1/n)``.
* **AUROC** is computed from score histograms with :data:`AUROC_BINS` equal bins on [0, 1]
  (graph scores are in [0, 1] by the task contract). Binning can only turn a positive-negative
  pair that lands in one bin into a half-counted tie, so the error is at most half the fraction
  of such pairs; that bound is computed and reported (``evaluation.auroc_bin_error_bound``;
  scores on a grid of fewer than 1024 levels, like the proximity baseline's, give 0 error).
* **Tasks that resample whole samples or blocks in time** (``TaskSpec.bootstrap_unit`` of
  ``"sample"`` or ``"block"``, :mod:`.bootstrap`) get the Poisson cluster bootstrap: one
  Poisson(1) weight per unit and resample, drawn per chunk from ``default_rng([seed, chunk])``,
  given to every window of the unit. A chunk holds whole samples, so a unit never spans two
  chunks. ``"cluster"`` units (a window function's own ids) may, and are refused.
* **Sensitivity** compares each window with a partner drawn within its chunk.
* **Predictions hash**: sha256 over the chunks' hashes (each as in the in-memory evaluator).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from .baselines import make_baseline
from .bootstrap import ci, finite, resampling_units
from .collect import Collected, collect, rms_distance, window_stats
from .context import EvalConfig, provenance
from .data import Tier, store_meta
from .evaluate import _model_info, batch_of, check_prediction, hardware, model_predictor
from .metrics import get_metric, metric_curve
from .normalization import task_stats
from .points import points_block
from .probes import probe_seeds, probe_variants, score_probes, transform
from .ranking import _auroc_from_groups
from .symmetries import score_equivariance
from .tasks import TaskSpec, get_task
from .windows import Windows, iter_windows

__all__ = ["evaluate_stream", "StreamScores", "AUROC_BINS"]

AUROC_BINS = 1024


def _linear_stats(task: TaskSpec, st: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-window quantities whose weighted sums give every metric of the task's kind."""
    if task.kind == "forecast":
        return {k: st[k] for k in ("sum", "count", "fde_sum", "fde_count") if k in st}
    n = len(st["correct"])
    out = {k: st[k] for k in ("correct", "pairs", "shd", "tp", "fp", "fn")}
    out["windows"] = np.ones(n)
    scores, labels = st["scores"], st["labels"]
    idx = np.minimum((scores * AUROC_BINS).astype(np.int64), AUROC_BINS - 1)
    flat = (np.arange(n)[:, None] * AUROC_BINS + idx).ravel()
    size = n * AUROC_BINS
    lab = labels.ravel()
    out["pos"] = _sparse_rows(np.bincount(flat[lab], minlength=size), n)
    out["neg"] = _sparse_rows(np.bincount(flat[~lab], minlength=size), n)
    return out


def _sparse_rows(counts: np.ndarray, n: int) -> Any:
    from scipy.sparse import csr_matrix

    return csr_matrix(counts.reshape(n, AUROC_BINS).astype(np.float64))


class StreamScores:
    """Running totals of every variant's metric statistics, point and per Poisson resample.

    Implements the ``Scores`` protocol of :mod:`decathlon.benchmark.probes`:
    ``scores(metric, variant)`` gives the point value and the replicates.
    """

    def __init__(self, task: TaskSpec, n_boot: int, seed: int) -> None:
        self.task, self.n_boot, self.seed = task, max(n_boot, 1), seed
        self.point: dict[str, dict[str, np.ndarray]] = {}
        self.reps: dict[str, dict[str, np.ndarray]] = {}
        self.weight_total = np.zeros(self.n_boot)
        self.n = 0
        self.n_units = 0  # units of a cluster bootstrap, counted chunk by chunk

    def weights(self, chunk: int, n: int, units: np.ndarray | None = None) -> np.ndarray:
        """Poisson(1) weights (resample, window) of chunk number ``chunk``, ``n`` windows: one
        per window, or one per unit given to each of its windows when ``units`` (n,) names each
        window's unit as an index 0..k-1 (:func:`~.bootstrap.resampling_units`)."""
        rng = np.random.default_rng([self.seed, chunk])
        if units is None:
            return rng.poisson(1.0, (self.n_boot, n)).astype(float)
        k = int(units.max()) + 1 if len(units) else 0
        self.n_units += k
        return rng.poisson(1.0, (self.n_boot, k)).astype(float)[:, units]

    def add(self, variant: str, per_window: dict[str, Any], w: np.ndarray) -> None:
        """Fold one chunk's per-window statistics of ``variant`` in, with weights ``w``."""
        p, r = self.point.setdefault(variant, {}), self.reps.setdefault(variant, {})
        for k, a in _linear_stats(self.task, per_window).items():
            if isinstance(a, np.ndarray):
                tot, rep = np.asarray(a.sum(0)), w @ a
            else:  # a sparse (window, bin) histogram
                tot, rep = np.asarray(a.sum(0)).ravel(), np.asarray((a.T @ w.T).T)
            p[k] = p[k] + tot if k in p else tot
            r[k] = r[k] + rep if k in r else rep

    def __contains__(self, variant: str) -> bool:
        return variant in self.point

    def __call__(self, name: str, variant: str) -> tuple[float, np.ndarray]:
        val = float(_value(name, {k: v[None] for k, v in self.point[variant].items()})[0])
        return val, _value(name, self.reps[variant])

    def curve(self) -> list[float]:
        """Error per horizon step over all windows (forecast tasks)."""
        p = self.point["plain"]
        return metric_curve({"sum": p["sum"][None], "count": p["count"][None]})

    def auroc_bound(self, variant: str = "plain") -> float:
        """Upper bound of the AUROC error from binning: half the same-bin pair fraction."""
        p = self.point[variant]
        den = p["pos"].sum() * p["neg"].sum()
        return float(0.5 * (p["pos"] * p["neg"]).sum() / den) if den > 0 else 0.0


def _value(name: str, t: dict[str, np.ndarray]) -> np.ndarray:
    """Metric ``name`` from weighted totals ``t`` (each with a leading resample axis)."""
    row, step = get_metric(name)
    with np.errstate(invalid="ignore", divide="ignore"):
        if name in ("mse", "ade"):
            return t["sum"].sum(1) / np.maximum(t["count"].sum(1), 1e-300)
        if step is not None:
            return t["sum"][:, step] / np.maximum(t["count"][:, step], 1e-300)
        if name == "fde":
            s, c = (t["fde_sum"], t["fde_count"]) if "fde_sum" in t else (t["sum"], t["count"])
            s, c = (s, c) if s.ndim == 1 else (s[:, -1], c[:, -1])
            return s / np.maximum(c, 1e-300)
        if name == "auroc":
            return _auroc_from_groups(t["pos"], t["neg"])
        if name == "edge_accuracy":
            return t["correct"] / t["pairs"]
        if name == "shd":
            return t["shd"] / t["windows"]
        tp, fp, fn = t["tp"], t["fp"], t["fn"]
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        rec = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    return {"precision": prec, "recall": rec, "f1": f1}[name]


class _Extras:
    """Running sums for the label-free sensitivity and the equivariance errors."""

    def __init__(self, n_boot: int) -> None:
        self.dist: dict[str, float] = {}
        self.spread = 0.0
        self.sq = 0.0
        self.err: dict[str, float] = {}
        self.err_reps: dict[str, np.ndarray] = {}
        self.n_boot = n_boot

    def add(self, col: Collected, w: np.ndarray, chunk_seed: list[int]) -> None:
        n = len(col.plain)
        for v, d in col.distance.items():
            self.dist[v] = self.dist.get(v, 0.0) + float(d.sum())
        if n > 1:
            perm = np.random.default_rng(chunk_seed).permutation(n)
            partner = np.empty(n, dtype=np.int64)
            partner[perm] = np.roll(perm, -1)
            self.spread += float(rms_distance(col.plain, col.plain[partner]).sum())
        self.sq += float((col.plain.reshape(n, -1) ** 2).mean(1).sum())
        for v, e in col.equivariance.items():
            self.err[v] = self.err.get(v, 0.0) + float(e.sum())
            self.err_reps[v] = self.err_reps.get(v, np.zeros(self.n_boot)) + w @ e


def _trivial_stats(task: TaskSpec, w: Windows) -> dict[str, Any]:
    pred = make_baseline(task.trivial, task).predict(
        batch_of(w, transform(task, w, "plain"), slice(None))
    )
    return window_stats(task, w, check_prediction(task, w, w.ids, pred))


def _score(task: TaskSpec, sc: StreamScores, ex: _Extras) -> dict[str, Any]:
    """The scored blocks of a result (metrics, curve, probes, symmetries, points)."""
    n = sc.n
    out: dict[str, Any] = {"n_windows": n, "metric_variant": "deterministic", "metrics": {}}
    unit = task.bootstrap_unit
    k = n if unit == "window" else sc.n_units
    out["bootstrap"] = {"unit": unit, "n_units": k, "resamples": sc.n_boot}
    for name in task.metrics:
        val, reps = sc(name, "plain")
        out["metrics"][name] = {"value": finite(val), "ci95": ci(reps)}
    if task.kind == "forecast":
        steps = list(task.steps)
        metric = "mse" if task.error == "se" else "l2"
        out["curve"] = {"metric": metric, "steps": steps, "per_step": sc.curve()}

    def sens_of(vs: list[str]) -> float | None:
        if n < 2 or ex.spread <= 0:
            return None
        return finite(float(np.mean([ex.dist[v] for v in vs])) / ex.spread)

    out["probes"] = score_probes(task, sc, sens_of)
    errors = {v: (e / n, ex.err_reps[v] / sc.weight_total) for v, e in ex.err.items()}
    equiv = score_equivariance(task, errors, ex.sq / n)
    if equiv:
        out["equivariance"] = equiv
    base, base_reps = sc(task.primary, "plain")
    tv, treps = sc(task.primary, "trivial")
    out["points"] = points_block(task, base, base_reps, tv, treps)
    return out


def _check_streamable(task: TaskSpec) -> None:
    """``ValueError`` for a task streaming cannot score as the in-memory evaluator would."""
    if task.bootstrap_unit == "cluster":
        raise ValueError(
            f"task {task.name!r} resamples its window function's clusters in its bootstrap "
            "(bootstrap_unit='cluster'), which may span the chunks streaming scores one at a "
            "time: evaluate it in memory (without --stream)"
        )
    if task.best_of > 1 or task.kind in ("classify", "regress"):
        what = {"classify": "per-entity probabilities", "regress": "parameter vectors"}.get(
            task.kind, "best-of-K samples"
        )
        raise ValueError(
            f"task {task.name!r} scores {what}, which are not streamed; evaluate it in memory "
            "(without --stream)"
        )


def evaluate_stream(
    model: Any,
    task: TaskSpec | str,
    split: str = "test",
    tier: Tier = "mini",
    config: EvalConfig | None = None,
    chunk: int = 1000,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``task`` ``chunk`` samples at a time (see the module text).

    Returns a result record like :func:`~decathlon.benchmark.evaluate.evaluate`'s, with an
    ``evaluation`` block saying how it was streamed. Stochastic (best-of-K) outputs are not
    streamed.
    """
    from .results import make_result

    cfg, task = config or EvalConfig(), get_task(task)
    _check_streamable(task)
    meta = store_meta(task.dataset, tier)
    stats = task_stats(task, tier, meta)
    variants = probe_variants(task) if cfg.probes else []
    sc, ex = StreamScores(task, cfg.n_boot, cfg.seed), _Extras(max(cfg.n_boot, 1))
    h, t0 = hashlib.sha256(), time.perf_counter()
    for c, w in enumerate(iter_windows(task, split, tier, chunk, stats=stats, meta=meta)):
        col = collect(task, w, variants, model_predictor(model, task, w), cfg.batch_size)
        wts = sc.weights(c, len(w), resampling_units(task, w))
        for v, st in col.stats.items():
            sc.add(v, st, wts)
        sc.add("trivial", _trivial_stats(task, w), wts)
        ex.add(col, wts, [cfg.seed, c, 1])
        sc.weight_total += wts.sum(1)
        sc.n += len(w)
        h.update(col.sha256.encode())
    wall = time.perf_counter() - t0
    scored = _score(task, sc, ex)
    evaluation = {"mode": "streaming", "chunk_samples": chunk, "bootstrap": "poisson"}
    if task.kind == "graph":
        evaluation |= {"auroc_bins": AUROC_BINS, "auroc_bin_error_bound": sc.auroc_bound()}
    model_seed = getattr(model, "seed", None)
    seeds = {"bootstrap": cfg.seed, **probe_seeds(task), "model": model_seed}
    rec = make_result(
        model=_model_info(model),
        task=provenance(task, split, tier, meta, stats),
        scored=scored,
        seeds=seeds,
        hardware=hardware(model),
        wall_clock_s=wall,
        predictions_sha256=h.hexdigest(),
        verification="self-reported",
        evaluation=evaluation,
    )
    return rec
