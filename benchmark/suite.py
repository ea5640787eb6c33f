"""The demo decathlon and the one sequence every evaluation of a baseline follows.

:func:`run_baseline` is that sequence: prepare the task (build or download its data), make the
baseline, train it if it learns, evaluate it. :func:`run_suite` runs it for every registered
task x the baselines (simulated events are built on the spot; downloaded datasets are used only
when already in the cache, otherwise the task is skipped with the command that fetches it),
writes one result JSON per (model, task), and returns the records; :mod:`.report` presents them.
Given a Dask client, :func:`run_suite` builds the data on the cluster and runs every
(task, baseline) evaluation as a task on its workers (:func:`.cluster.run_pairs`); the records are
gathered, saved and scored here, in the serial order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .baselines import BASELINES, make_baseline
from .context import EvalConfig, PreparedTask, prepare
from .data import DATASETS, Tier, is_prepared, materialize
from .evaluate import evaluate
from .points import decathlon_score
from .results import save_result
from .stream import evaluate_stream
from .tasks import TaskSpec, get_task, list_tasks
from .user_models import make_user_model

__all__ = ["run_baseline", "run_suite", "DEFAULT_BASELINES", "CannotTrain"]

log = logging.getLogger("decathlon")

DEFAULT_BASELINES = ("static", "constant-velocity", "linear-fit", "chance", "proximity", "gru")


class CannotTrain(ValueError):
    """A learned baseline refused the task while training (e.g. entities that come and go)."""


def run_baseline(
    baseline: str,
    task: str | PreparedTask,
    split: str = "test",
    tier: Tier = "mini",
    *,
    epochs: int = 20,
    config: EvalConfig | None = None,
    stream: int | None = None,
    save_predictions: str | Path | None = None,
) -> dict[str, Any]:
    """Prepare ``task``, make baseline ``baseline``, ``fit`` it if it learns, evaluate it.

    With ``stream`` (samples per chunk) the windows are never all in memory
    (:func:`~decathlon.benchmark.stream.evaluate_stream`).

    ``task`` is a task name or an evaluation context from :func:`~.context.prepare` (then
    ``split`` and ``tier`` are its own). Returns the result record. ``epochs`` is handed to
    learned baselines (training epochs); :class:`CannotTrain` if ``fit`` refuses the task.
    ``save_predictions``: an ``.npz`` path for every prediction made (not with ``stream``).
    """
    cfg = config or EvalConfig()
    if stream is not None and save_predictions is not None:
        raise ValueError("save_predictions needs the in-memory evaluation; leave out stream")
    if stream is not None and not isinstance(task, PreparedTask):
        spec_t = get_task(task)
        materialize(spec_t.dataset, tier, progress=cfg.progress)
        model = _trained(baseline, spec_t, tier, epochs, cfg.progress)
        return evaluate_stream(model, spec_t, split, tier, cfg, chunk=stream)
    prepared = prepare(task, split, tier, progress=cfg.progress)
    model = _trained(baseline, prepared.task, prepared.tier, epochs, cfg.progress)
    return evaluate(model, prepared, cfg, save_predictions=save_predictions)


def _trained(baseline: str, task: TaskSpec, tier: Tier, epochs: int, progress: bool) -> Any:
    """Baseline ``baseline`` made for ``task``, trained on ``tier`` if it learns; any other name
    is a user's model (:func:`~.user_models.make_user_model`: ``module:Class``, a file, an entry
    point)."""
    if baseline not in BASELINES:
        return make_user_model(baseline, task, tier)
    spec = BASELINES.get(baseline)
    extra = {"epochs": epochs, "progress": progress} if spec.learned else {}
    model = make_baseline(baseline, task, **extra)
    if spec.learned:
        try:
            model.fit(tier)
        except ValueError as e:
            raise CannotTrain(str(e)) from e
    return model


def _skip_reason(name: str, tier: Tier) -> str | None:
    spec = DATASETS.get(get_task(name).dataset)
    if tier not in spec.tiers and len(spec.tiers) > 1:
        return f"dataset {spec.name} has no {tier!r} tier (tiers: {', '.join(spec.tiers)})"
    if spec.files and not is_prepared(spec.name, tier):
        return (
            f"needs the {spec.name} download: run `decathlon prepare {spec.name}` once with "
            "internet access (or put its files in the cache)"
        )
    return None


def run_suite(
    tasks: list[str] | None = None,
    baselines: tuple[str, ...] = DEFAULT_BASELINES,
    tier: Tier = "mini",
    out: str | Path = "results",
    *,
    epochs: int = 20,
    config: EvalConfig | None = None,
    say: Callable[[str], None] = log.info,
    client: Any = None,
    save_predictions: bool = False,
) -> dict[str, Any]:
    """Run the demo decathlon and write result JSONs into ``out``.

    ``client``: a ``dask.distributed.Client`` to build the data and run the evaluations on its
    workers (the cache must be reachable from them); ``None`` runs everything here, in order.
    ``save_predictions``: also write each evaluation's predictions (every probe variant) to
    ``out/predictions/<result file name>.npz``, what ``decathlon submit`` bundles (serial runs).

    Returns
    -------
    dict
        ``results`` (records), ``skipped`` (task -> reason), ``files`` (written paths) and
        ``scores`` (model -> decathlon score over every registered event; tasks that did not
        run count 0 and are listed in its ``missing_tasks``).
    """
    cfg = config or EvalConfig(progress=True)
    names = tasks or list_tasks()
    skipped: dict[str, str] = {}
    if client is not None and save_predictions:
        raise ValueError("save_predictions runs serially: leave out the Dask client")
    run = partial(_run_here, save_predictions) if client is None else partial(_run_on, client)
    results, files = run(names, baselines, tier, out, epochs, cfg, say, skipped)
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_model.setdefault(r["model"]["name"], []).append(r)
    # over every registered event, whatever ran here: a skipped task counts 0 and the score says
    # it is incomplete, so totals from machines with different downloads stay comparable
    scores = {m: decathlon_score(rs) for m, rs in by_model.items()}
    return {"results": results, "skipped": skipped, "files": files, "scores": scores}


def _skipped(name: str, tier: Tier, skipped: dict[str, str], say: Callable[[str], None]) -> bool:
    why = _skip_reason(name, tier)
    if why:
        skipped[name] = why
        say(f"skip {name}: {why}")
    return why is not None


def _run_here(
    save_predictions: bool,
    names: list[str],
    baselines: tuple[str, ...],
    tier: Tier,
    out: str | Path,
    epochs: int,
    cfg: EvalConfig,
    say: Callable[[str], None],
    skipped: dict[str, str],
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Every (task, baseline) in this process, one after the other; each result saved at once."""
    results: list[dict[str, Any]] = []
    files: list[Path] = []
    for name in names:
        if _skipped(name, tier, skipped, say):
            continue
        prepared = prepare(name, "test", tier, progress=cfg.progress)
        task = prepared.task
        for b in baselines:
            if task.kind not in BASELINES.get(b).kinds:
                continue
            kept = Path(out) / "predictions" / f".{b}.npz" if save_predictions else None
            try:
                r = run_baseline(b, prepared, epochs=epochs, config=cfg, save_predictions=kept)
            except CannotTrain as e:
                say(f"skip {b} on {name}: {e}")
                continue
            results.append(r)
            files.append(save_result(r, out, overwrite=True))  # the demo reruns
            if kept is not None:  # named after its result file
                kept.replace(kept.parent / (files[-1].stem + ".npz"))
            say(f"{name:34s} {b:18s} {task.primary}={r['metrics'][task.primary]['value']:.4g}")
    return results, files


def _run_on(
    client: Any,
    names: list[str],
    baselines: tuple[str, ...],
    tier: Tier,
    out: str | Path,
    epochs: int,
    cfg: EvalConfig,
    say: Callable[[str], None],
    skipped: dict[str, str],
) -> tuple[list[dict[str, Any]], list[Path]]:
    """The data built on ``client``'s cluster, then every (task, baseline) as a task there;
    results saved here in the serial order."""
    from .cluster import run_pairs

    names = [n for n in names if not _skipped(n, tier, skipped, say)]
    for dataset in dict.fromkeys(get_task(n).dataset for n in names):
        materialize(dataset, tier, progress=cfg.progress, client=client)
    pairs = [(n, b) for n in names for b in baselines if get_task(n).kind in BASELINES.get(b).kinds]
    outcomes = run_pairs(client, pairs, tier, epochs, cfg)
    results: list[dict[str, Any]] = []
    files: list[Path] = []
    for (name, b), (ok, r) in zip(pairs, outcomes, strict=True):
        if not ok:
            say(f"skip {b} on {name}: {r}")
            continue
        results.append(r)
        files.append(save_result(r, out, overwrite=True))  # the demo reruns
        prim = get_task(name).primary
        say(f"{name:34s} {b:18s} {prim}={r['metrics'][prim]['value']:.4g}")
    return results, files
