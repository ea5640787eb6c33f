"""The demo decathlon: every registered task x the baselines, a results table and a figure.

:func:`run_suite` prepares each task's data (simulated events are built on the spot; downloaded
datasets are used only when already in the cache, otherwise the task is skipped with the command
that fetches it), evaluates each applicable baseline, writes one result JSON per (model, task),
and returns the records. :func:`format_table` and :func:`plot_results` present them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .data import DATASETS, is_prepared, prepare
from .evaluate import evaluate
from .models import BASELINES, make_baseline
from .results import decathlon_score, save_result
from .tasks import get_task, list_tasks

__all__ = ["run_suite", "format_table", "plot_results", "DEFAULT_BASELINES"]

log = logging.getLogger("decathlon")

DEFAULT_BASELINES = ("static", "constant-velocity", "linear-fit", "chance", "proximity", "gru")


def run_suite(
    tasks: list[str] | None = None,
    baselines: tuple[str, ...] = DEFAULT_BASELINES,
    tier: str = "mini",
    out: str | Path = "results",
    n_boot: int = 1000,
    progress: bool = True,
    gru_epochs: int = 20,
    say: Callable[[str], None] = log.info,
) -> dict[str, Any]:
    """Run the demo decathlon and write result JSONs into ``out``.

    Returns
    -------
    dict
        ``results`` (records), ``skipped`` (task -> reason), ``files`` (written paths) and
        ``scores`` (model -> decathlon score over the tasks it ran).
    """
    names = tasks or list_tasks()
    results, skipped, files = [], {}, []
    for name in names:
        task = get_task(name)
        spec = DATASETS.get(task.dataset)
        if spec.files and not is_prepared(spec.name, tier):
            skipped[name] = (f"needs the {spec.name} download: run `decathlon prepare {spec.name}` "
                             "once with internet access (or put its files in the cache)")
            say(f"skip {name}: {skipped[name]}")
            continue
        prepare(spec.name, tier, progress=progress)
        for b in baselines:
            bs = BASELINES.get(b)
            if task.kind not in bs.kinds:
                continue
            model = make_baseline(b, task, **({"epochs": gru_epochs, "progress": progress} if bs.learned else {}))
            if bs.learned:
                try:
                    model.fit(tier)
                except ValueError as e:
                    say(f"skip {b} on {name}: {e}")
                    continue
            r = evaluate(model, task, tier=tier, n_boot=n_boot, model_name=b, progress=progress)
            results.append(r)
            files.append(save_result(r, out))
            say(f"{name:34s} {b:18s} {task.primary}={r['metrics'][task.primary]['value']:.4g}")
    by_model: dict[str, list] = {}
    for r in results:
        by_model.setdefault(r["model"]["name"], []).append(r)
    events: dict[str, list[str]] = {}
    for name in names:
        if name not in skipped:
            events.setdefault(get_task(name).event, []).append(name)
    scores = {m: decathlon_score(rs, events=events) for m, rs in by_model.items()}
    return {"results": results, "skipped": skipped, "files": files, "scores": scores}


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def format_table(results: list[dict[str, Any]]) -> str:
    """A plain-text table: task, model, primary metric [95% CI], points, probe gaps and TS."""
    head = ["task", "model", "primary", "value", "95% CI", "points", "rev gap", "TS rev", "shuf gap", "TS shuf"]
    rows = []
    for r in results:
        prim = r["task"]["primary"]
        m = r["metrics"][prim]
        pr = r["probes"]
        rev, shu = pr.get("reversal", {}), pr.get("shuffle", {})
        ci = m["ci95"]
        rows.append([
            r["task"]["name"], r["model"]["name"], prim, _fmt(m["value"]),
            f"[{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]", _fmt(r.get("points", {}).get("value"), 3),
            _fmt(rev.get("gap"), 3), _fmt(rev.get("ts"), 3), _fmt(shu.get("gap"), 3), _fmt(shu.get("ts"), 3),
        ])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([line, sep, *body])


def event_means(results: list[dict[str, Any]]) -> list[tuple[str, str, str, float, int]]:
    """``(event, model, primary, mean of the primary metric, n tasks)`` for events with several
    tasks (e.g. the five ETH/UCY scenes, whose average is the field's headline number)."""
    groups: dict[tuple[str, str, str], list[float]] = {}
    for r in results:
        v = r["metrics"][r["task"]["primary"]]["value"]
        if v is not None:
            groups.setdefault((r["task"].get("event", ""), r["model"]["name"], r["task"]["primary"]), []).append(v)
    return [(e, m, p, float(np.mean(v)), len(v)) for (e, m, p), v in sorted(groups.items()) if len(v) > 1]


def plot_results(results: list[dict[str, Any]], path: str | Path) -> Path:
    """A PNG: rollout-error curves of every forecast task, and probe gaps of every result.

    Top row: error per horizon step (log scale), one panel per forecast task, one line per
    model. Bottom: relative probe gaps ``(E_probe - E) / |E|`` of the primary metric (signed so
    that positive means worse), one bar group per (task, model).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fore = sorted({r["task"]["name"] for r in results if "curve" in r})
    ncol = max(len(fore), 1)
    fig = plt.figure(figsize=(max(5 * ncol, 10), 8.5), constrained_layout=True)
    gs = fig.add_gridspec(2, ncol)
    for i, tname in enumerate(fore):
        ax = fig.add_subplot(gs[0, i])
        for r in results:
            if r["task"]["name"] == tname:
                c = r["curve"]["per_step"]
                steps = r["curve"].get("steps") or list(range(1, len(c) + 1))
                ax.plot(steps, c, marker="o" if len(c) == 1 else ".", label=r["model"]["name"])
        ax.set_yscale("log")
        ax.set_title(tname, fontsize=9)
        ax.set_xlabel("horizon step")
        ax.set_ylabel(next(r["curve"]["metric"] for r in results if r["task"]["name"] == tname))
        ax.legend(fontsize=7)
    ax = fig.add_subplot(gs[1, :])
    labels, probes = [], ["reversal", "shuffle", "freeze"]
    vals = {p: [] for p in probes}
    for r in results:
        if not any(r["probes"].get(p, {}).get("gap") is not None for p in probes):
            continue  # e.g. one-frame contexts: no temporal probe
        base = r["metrics"][r["task"]["primary"]]["value"] or 0.0
        sign = -1.0 if r["task"].get("higher_is_better") else 1.0
        labels.append(f"{r['task']['name']}\n{r['model']['name']}")
        for p in probes:
            g = r["probes"].get(p, {}).get("gap")
            vals[p].append(np.nan if g is None else sign * g / max(abs(base), 1e-12))
    x = np.arange(len(labels))
    for k, p in enumerate(probes):
        ax.bar(x + (k - 1) * 0.27, vals[p], width=0.27, label=p)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_xticks(x, labels, fontsize=6, rotation=60, ha="right")
    ax.set_ylabel("relative probe gap (+ = worse)")
    ax.set_title("Temporal probes: how much the score moves when the context is reversed, shuffled or frozen", fontsize=9)
    ax.legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
