"""The demo decathlon and the one sequence every evaluation of a baseline follows.

:func:`run_baseline` is that sequence: prepare the task (build or download its data), make the
baseline, train it if it learns, evaluate it. :func:`run_suite` runs it for every registered
task x the baselines (simulated events are built on the spot; downloaded datasets are used only
when already in the cache, otherwise the task is skipped with the command that fetches it),
writes one result JSON per (model, task), and returns the records; :mod:`.report` presents them.
Given a Dask client, :func:`run_suite` builds the data on the cluster and runs every
(task, baseline) evaluation as a task on its workers (:func:`.cluster.run_pairs`); the records are
gathered, saved and scored here, in the serial order.

Before it starts, :func:`run_suite` says what it will do and about how long it will take
(:func:`plan_suite`, :func:`.runcache.estimate`). A (task, baseline) pair whose stored result
was made from the same model, task, data and evaluator (:mod:`.runcache`) is reused instead of
recomputed, unless ``force=True``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .baselines import BASELINES, make_baseline
from .context import EvalConfig, PreparedTask, prepare
from .data import DATASETS, Tier, is_prepared, materialize, store_meta
from .evaluate import evaluate
from .points import decathlon_score
from .results import save_result
from .runcache import (
    cached_refusal,
    cached_result,
    estimate,
    pair_key,
    record_pair,
    record_refusal,
)
from .stream import evaluate_stream
from .tasks import TaskSpec, get_task, list_tasks
from .user_models import make_user_model

__all__ = [
    "run_baseline",
    "run_suite",
    "plan_suite",
    "trained_baseline",
    "skip_reason",
    "Pair",
    "DEFAULT_BASELINES",
    "CannotTrain",
]

log = logging.getLogger("decathlon")

DEFAULT_BASELINES = (
    "static",
    "constant-velocity",
    "linear-fit",
    "chance",
    "proximity",
    "gru",
    "train-mean",
    "order-params",
    "xcorr",
    "granger-ridge",
    "arrow-features",
)


class CannotTrain(ValueError):
    """A learned baseline refused the task while training (e.g. entities that come and go)."""


def run_baseline(
    baseline: str,
    task: str | PreparedTask,
    split: str = "test",
    tier: Tier = "mini",
    *,
    epochs: int | None = None,
    config: EvalConfig | None = None,
    stream: int | None = None,
    save_predictions: str | Path | None = None,
    budget: str = "cpu",
) -> dict[str, Any]:
    """Prepare ``task``, make baseline ``baseline``, ``fit`` it if it learns, evaluate it.

    With ``stream`` (samples per chunk) the windows are never all in memory
    (:func:`~decathlon.benchmark.stream.evaluate_stream`).

    ``task`` is a task name or an evaluation context from :func:`~.context.prepare` (then
    ``split`` and ``tier`` are its own). Returns the result record. ``epochs`` (default: the
    budget's) and ``budget`` (:data:`~.baselines.BUDGETS`: ``cpu`` or ``paper``) are handed to
    learned baselines; :class:`CannotTrain` if ``fit`` refuses the task.
    ``save_predictions``: an ``.npz`` path for every prediction made (not with ``stream``).
    """
    cfg = config or EvalConfig()
    if stream is not None and save_predictions is not None:
        raise ValueError("save_predictions needs the in-memory evaluation; leave out stream")
    if stream is not None and not isinstance(task, PreparedTask):
        spec_t = get_task(task)
        materialize(spec_t.dataset, tier, progress=cfg.progress)
        model = trained_baseline(baseline, spec_t, tier, (epochs, budget), cfg.progress)
        return evaluate_stream(model, spec_t, split, tier, cfg, chunk=stream)
    prepared = prepare(task, split, tier, progress=cfg.progress)
    model = trained_baseline(baseline, prepared.task, prepared.tier, (epochs, budget), cfg.progress)
    return evaluate(model, prepared, cfg, save_predictions=save_predictions)


#: How learned baselines train: (epochs or None for the budget's, budget).
Training = tuple[int | None, str]


def _make(baseline: str, task: TaskSpec, training: Training, progress: bool) -> Any:
    """Baseline ``baseline`` made for ``task`` (learned ones get the epochs, the budget and
    ``progress``)."""
    epochs, budget = training
    extra: dict[str, Any] = {}
    if BASELINES.get(baseline).learned:
        extra = {"budget": budget, "progress": progress}
        if epochs is not None:
            extra["epochs"] = epochs
    return make_baseline(baseline, task, **extra)


def trained_baseline(
    baseline: str, task: TaskSpec, tier: Tier, training: Training, progress: bool = False
) -> Any:
    """Baseline ``baseline`` made for ``task``, trained on ``tier`` if it learns (the one way a
    suite run, ``decathlon evaluate`` and the temporal necessity make and fit a model); any
    other name is a user's model (:func:`~.user_models.make_user_model`: ``module:Class``, a
    file, an entry point). ``training``: (epochs or None for the budget's, budget).
    :class:`CannotTrain` when ``fit`` refuses the task."""
    if baseline not in BASELINES:
        return make_user_model(baseline, task, tier)
    model = _make(baseline, task, training, progress)
    if BASELINES.get(baseline).learned:
        try:
            model.fit(tier)
        except ValueError as e:
            raise CannotTrain(str(e)) from e
    return model


def skip_reason(name: str, tier: Tier) -> str | None:
    """Why task ``name`` cannot run at ``tier`` here (its dataset has no such tier, or its
    download is not in the cache, with the command that fetches it), or None."""
    spec = DATASETS.get(get_task(name).dataset)
    if tier not in spec.tiers and len(spec.tiers) > 1:
        return f"dataset {spec.name} has no {tier!r} tier (tiers: {', '.join(spec.tiers)})"
    if spec.files and not is_prepared(spec.name, tier):
        return (
            f"needs the {spec.name} download: run `decathlon prepare {spec.name}` once with "
            f"internet access, or `decathlon prepare {spec.name} --from DIR` with its files"
        )
    return None


@dataclass
class Pair:
    """One (task, baseline) evaluation of a suite run and what is known about it in advance.

    ``key`` is its cache key (None until its dataset is built); ``hit`` the stored result and
    its path when the key matches an intact stored result (:func:`.runcache.cached_result`);
    ``refused`` the reason the baseline refused the task under the same key in an earlier run
    (:func:`.runcache.cached_refusal`).
    """

    task: str
    baseline: str
    key: dict[str, Any] | None = None
    hit: tuple[dict[str, Any], Path] | None = field(default=None, repr=False)
    refused: str | None = None


def _key(pair: Pair, tier: Tier, training: Training, cfg: EvalConfig) -> dict[str, Any]:
    """The cache key of ``pair`` (its dataset must be built)."""
    task = get_task(pair.task)
    model = _make(pair.baseline, task, training, progress=False)
    meta = store_meta(task.dataset, tier)
    version = DATASETS.get(task.dataset).version
    return pair_key(model, pair.baseline, task, tier, meta, version, cfg)


def _look_up(pair: Pair, tier: Tier, out: str | Path, training: Training, cfg: EvalConfig) -> None:
    """Fill ``pair.key`` and ``pair.hit`` (its dataset must be built)."""
    if pair.key is None:
        pair.key = _key(pair, tier, training, cfg)
    pair.hit = cached_result(out, pair.baseline, pair.task, tier, pair.key)
    pair.refused = cached_refusal(out, pair.baseline, pair.task, tier, pair.key)


def plan_suite(
    names: list[str],
    baselines: tuple[str, ...],
    tier: Tier,
    out: str | Path,
    epochs: int | None,
    cfg: EvalConfig,
    force: bool = False,
    budget: str = "cpu",
) -> list[Pair]:
    """Every (task, baseline) pair to run, in the serial order, with its cached result if any.

    Only pairs whose dataset is already built can be looked up now (the key holds the data's
    hash); the others are looked up once their data is built. ``force``: look nothing up.
    """
    pairs = [Pair(n, b) for n in names for b in baselines if BASELINES.get(b).serves(get_task(n))]
    if not force:
        for p in pairs:
            if is_prepared(get_task(p.task).dataset, tier):
                _look_up(p, tier, out, (epochs, budget), cfg)
    return pairs


def run_suite(
    tasks: list[str] | None = None,
    baselines: tuple[str, ...] = DEFAULT_BASELINES,
    tier: Tier = "mini",
    out: str | Path = "results",
    *,
    epochs: int | None = None,
    config: EvalConfig | None = None,
    say: Callable[[str], None] = log.info,
    client: Any = None,
    force: bool = False,
    save_predictions: bool = False,
    budget: str = "cpu",
) -> dict[str, Any]:
    """Run the demo decathlon and write result JSONs into ``out``.

    ``client``: a ``dask.distributed.Client`` to build the data and run the evaluations on its
    workers (the cache must be reachable from them); ``None`` runs everything here, in order.
    ``say`` receives the plan and estimate before anything runs, then one line per evaluation.
    A pair whose stored result in ``out`` has the same cache key (:mod:`.runcache`) is reused;
    ``force=True`` recomputes every pair. ``save_predictions``: also write each evaluation's
    predictions (every probe variant) to ``out/predictions/<result file name>.npz``, what
    ``decathlon submit`` bundles (serial runs; a cached pair without its file is recomputed).

    Returns
    -------
    dict
        ``results`` (records), ``skipped`` (task -> reason), ``skipped_pairs``
        (``(task, baseline)`` -> reason a learned baseline refused the task), ``files`` (written
        or reused paths), ``scores`` (model -> decathlon score over every registered event; tasks
        that did not run count 0 and are listed in its ``missing_tasks``),
        ``estimate`` (what was said up front: :func:`.runcache.estimate`), ``cached`` and
        ``computed`` (numbers of pairs) and ``seconds`` (wall time of the run).
    """
    t0 = time.perf_counter()
    if client is not None and save_predictions:
        raise ValueError("save_predictions runs serially: leave out the Dask client")
    cfg = config or EvalConfig(progress=True)
    names = tasks or list_tasks()
    skipped = {n: why for n in names if (why := skip_reason(n, tier))}
    todo = [n for n in names if n not in skipped]
    pairs = plan_suite(todo, baselines, tier, out, epochs, cfg, force, budget)
    est = estimate(pairs, tier, out, skipped)
    from .report import format_estimate

    say(format_estimate(est))
    run = _run_here if client is None else partial(_run_on, client)
    ctx = _Run(tier, out, (epochs, budget), cfg, say, force, save_predictions)
    results, files = run(pairs, ctx)
    return {
        "results": results,
        "skipped": skipped,
        "skipped_pairs": ctx.refused,
        "files": files,
        "scores": scores_by_model(results),
        "estimate": est,
        "cached": ctx.cached,
        "computed": ctx.computed,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def scores_by_model(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each model's decathlon score over every registered event, whatever ran here: a task that
    did not run counts 0 and the score says it is incomplete, so totals from machines with
    different downloads stay comparable."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_model.setdefault(r["model"]["name"], []).append(r)
    return {m: decathlon_score(rs) for m, rs in by_model.items()}


@dataclass
class _Run:
    """What every pair of one suite run shares, and its tallies."""

    tier: Tier
    out: str | Path
    training: Training
    cfg: EvalConfig
    say: Callable[[str], None]
    force: bool
    save_predictions: bool = False
    cached: int = 0
    computed: int = 0
    refused: dict[tuple[str, str], str] = field(default_factory=dict)

    def reuse(self, pair: Pair) -> tuple[dict[str, Any], Path] | None:
        """The stored result of ``pair`` when it can be reused (looked up now if not yet)."""
        if self.force:
            return None
        if pair.key is None:
            _look_up(pair, self.tier, self.out, self.training, self.cfg)
        if pair.hit is not None and self.save_predictions:
            if not self.predictions_file(pair.hit[1]).is_file():
                return None  # its predictions were not kept: compute it again, keeping them
        if pair.hit is not None:
            self.cached += 1
            self.line(pair, pair.hit[0], "cached")
        return pair.hit

    def refuse(self, pair: Pair, reason: str | None = None) -> bool:
        """Record that the baseline refuses the task: ``reason`` now (remembered for the next
        run), or the one an earlier run recorded under the same key. Whether it refuses."""
        if reason is None:
            if self.force or pair.refused is None:
                return False
            reason = pair.refused
        else:
            key = pair.key or _key(pair, self.tier, self.training, self.cfg)
            record_refusal(self.out, pair.baseline, pair.task, self.tier, key, reason)
        self.refused[(pair.task, pair.baseline)] = reason
        return True

    def keep(self, pair: Pair, r: dict[str, Any], seconds: float | None) -> Path:
        """Save a computed result and its cache key; count it."""
        path = save_result(r, self.out, overwrite=True)  # the demo reruns
        key = pair.key or _key(pair, self.tier, self.training, self.cfg)
        record_pair(self.out, pair.baseline, pair.task, self.tier, key, path, seconds)
        self.computed += 1
        self.line(pair, r, f"{seconds:.1f} s" if seconds is not None else "")
        return path

    def predictions_file(self, result_file: Path) -> Path:
        """Where the predictions of the result in ``result_file`` are kept."""
        return Path(self.out) / "predictions" / (result_file.stem + ".npz")

    def line(self, pair: Pair, r: dict[str, Any], note: str) -> None:
        prim = get_task(pair.task).primary
        value = r["metrics"][prim]["value"]
        self.say(f"{pair.task:34s} {pair.baseline:18s} {prim}={value:.4g}  {note}".rstrip())


def _run_here(pairs: list[Pair], ctx: _Run) -> tuple[list[dict[str, Any]], list[Path]]:
    """Every pair in this process, one after the other; each result saved at once."""
    results: list[dict[str, Any]] = []
    files: list[Path] = []
    prepared: PreparedTask | None = None
    for pair in pairs:
        materialize(get_task(pair.task).dataset, ctx.tier, progress=ctx.cfg.progress)
        hit = ctx.reuse(pair)
        if hit is not None:
            results.append(hit[0])
            files.append(hit[1])
            continue
        if ctx.refuse(pair):
            continue
        if prepared is None or prepared.task.name != pair.task:
            prepared = prepare(pair.task, "test", ctx.tier, progress=ctx.cfg.progress)
        t0 = time.perf_counter()
        kept: Path | None = None
        if ctx.save_predictions:
            kept = Path(ctx.out) / "predictions" / f".{pair.baseline}.npz"
        try:
            r = run_baseline(
                pair.baseline,
                prepared,
                epochs=ctx.training[0],
                config=ctx.cfg,
                save_predictions=kept,
                budget=ctx.training[1],
            )
        except CannotTrain as e:
            ctx.refuse(pair, str(e))
            continue
        results.append(r)
        files.append(ctx.keep(pair, r, time.perf_counter() - t0))
        if kept is not None:  # named after its result file
            kept.replace(ctx.predictions_file(files[-1]))
    return results, files


def _run_on(client: Any, pairs: list[Pair], ctx: _Run) -> tuple[list[dict[str, Any]], list[Path]]:
    """The data built on ``client``'s cluster, then every pair not reused as a task there;
    results saved here in the serial order."""
    from .cluster import run_pairs

    for dataset in dict.fromkeys(get_task(p.task).dataset for p in pairs):
        materialize(dataset, ctx.tier, progress=ctx.cfg.progress, client=client)
    reused = {id(p): ctx.reuse(p) for p in pairs}
    refused = {id(p) for p in pairs if reused[id(p)] is None and ctx.refuse(p)}
    todo = [p for p in pairs if reused[id(p)] is None and id(p) not in refused]
    outcomes = dict(
        zip(
            [id(p) for p in todo],
            run_pairs(
                client, [(p.task, p.baseline) for p in todo], ctx.tier, ctx.training, ctx.cfg
            ),
            strict=True,
        )
    )
    results: list[dict[str, Any]] = []
    files: list[Path] = []
    for pair in pairs:
        hit = reused[id(pair)]
        if hit is not None:
            results.append(hit[0])
            files.append(hit[1])
            continue
        if id(pair) in refused:
            continue
        ok, r = outcomes[id(pair)]
        if not ok:
            ctx.refuse(pair, str(r))
            continue
        results.append(r)
        files.append(ctx.keep(pair, r, None))
    return results, files
