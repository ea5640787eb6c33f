"""The decathlon figure (``decathlon.png``): points, totals, errors and temporal probes.

One page a person can read at a glance (``docs/probes.md`` §2 and §4):

* **points per event** for every model (grouped bars) and, beside them, each model's **total**
  with its interval, marked *incomplete* with the events that had no data;
* the **primary metric**: rollout-error curves for multi-step forecasts (log scale), a dot with
  its 95 % interval per model for one-step forecasts (the N-body task) and one panel of AUROC
  with intervals against chance for every graph task, and one of mean R^2 against the train
  mean for every parameter-regression task;
* the **temporal probes** as a heatmap, one row per result and one column per probe, colored and
  labelled with exactly the relative gaps of the table (:func:`~.report.probe_cells`).

Matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .points import decathlon_score
from .probes import PROBES
from .report import PROBE_LABELS, probe_cells

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_decathlon", "build_figure", "event_totals", "heat_value"]

#: The heatmap's color range in decades of the error ratio ``E_probe / E``: x0.1 to x100.
HEAT_RANGE = (-1.0, 2.0)
#: Colorbar ticks of the heatmap: (error ratio, label).
_HEAT_TICKS = (
    (0.1, "-90%"),
    (0.5, "-50%"),
    (1.0, "0"),
    (3.0, "+200%"),
    (10.0, "x10"),
    (100, "x100"),
)


def heat_value(rel: float | None) -> float:
    """Heatmap color of a relative gap: ``log10(1 + rel)`` clipped to :data:`HEAT_RANGE` (NaN
    when undefined). Monotone in the table's number, so equal colors mean equal text.

    Examples
    --------
    >>> [round(heat_value(v), 3) for v in (0.0, 9.0, -0.5)]
    [0.0, 1.0, -0.301]
    >>> heat_value(1e6), heat_value(-1.0)
    (2.0, -1.0)
    """
    if rel is None:
        return float("nan")
    with np.errstate(divide="ignore"):
        return float(np.clip(np.log10(max(1.0 + rel, 0.0)), *HEAT_RANGE))


def _short(name: str) -> str:
    """``particles/springs-forecast`` -> ``springs-forecast``."""
    return name.split("/", 1)[-1]


def _registered_events(results: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Every registered event with its tasks, plus any event only the records name."""
    from .tasks import get_task, list_tasks

    events: dict[str, list[str]] = {}
    for name in list_tasks():
        events.setdefault(get_task(name).event, []).append(name)
    for r in results:
        ev = r["task"].get("event") or r["task"]["name"]
        if r["task"]["name"] not in events.setdefault(ev, []):
            events[ev].append(r["task"]["name"])
    return events


def event_totals(
    results: list[dict[str, Any]], scores: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Per model: ``total``, ``ci95``, ``max``, ``events`` (event -> points) and ``missing``
    (events without data, sorted), over every registered event.

    ``scores`` are :func:`decathlon.benchmark.points.decathlon_score` records (``decathlon run``
    passes its own); without them they are computed here over every registered event. Their
    ``missing`` list is used when present, else the events no result at all reaches.
    """
    events = _registered_events(results)
    if scores is None:
        by_model: dict[str, list[dict[str, Any]]] = {}
        for r in results:
            by_model.setdefault(r["model"]["name"], []).append(r)
        scores = {m: decathlon_score(rs, events=events) for m, rs in by_model.items()}
    seen = {r["task"]["name"] for r in results}
    no_data = sorted(ev for ev, names in events.items() if not seen & set(names))
    out = {}
    for m, s in scores.items():
        missing = s.get("missing")
        out[m] = {
            "total": s["total"],
            "ci95": s["ci95"],
            "max": s.get("max", 1000 * len(s["events"])),
            "events": s["events"],
            "missing": sorted(missing) if missing is not None else no_data,
        }
    return out


def _colors(models: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(models)}


def _points_panel(ax: Axes, totals: dict[str, Any], colors: dict[str, Any]) -> None:
    """Grouped bars: points of every event (x) for every model (bars), events without data
    shaded and labelled."""
    events = sorted({ev for t in totals.values() for ev in t["events"]})
    missing = set.intersection(*(set(t["missing"]) for t in totals.values())) if totals else set()
    models = list(totals)
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(events))
    for k, m in enumerate(models):
        vals = [totals[m]["events"].get(ev, 0.0) for ev in events]
        bars = ax.bar(x - 0.4 + (k + 0.5) * width, vals, width, color=colors[m], label=m)
        ax.bar_label(bars, [f"{v:.0f}" if v > 0 else "" for v in vals], fontsize=6, padding=1)
    for i, ev in enumerate(events):
        if ev in missing:
            ax.axvspan(i - 0.45, i + 0.45, color="0.92", zorder=0)
            ax.text(i, 500, "no result", ha="center", va="center", fontsize=7, rotation=90)
    ax.set_xticks(x, [_short(ev) for ev in events], fontsize=8, rotation=30, ha="right")
    ax.set_xlim(-0.5, len(events) - 0.5)
    ax.set_ylim(0, 1050)
    ax.set_ylabel("points (0 = trivial baseline, 1000 = target)")
    ax.set_title(
        "Points per event: mean over the event's tasks, a task not done counts 0"
        + ("\n(shaded: no result, the data not prepared or the task not run)" if missing else ""),
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)


def _totals_panel(ax: Axes, totals: dict[str, Any], colors: dict[str, Any]) -> None:
    """One horizontal bar per model: the decathlon score with its 95 % interval, out of the
    maximum over every registered event; incomplete totals hatched and named."""
    models = sorted(totals, key=lambda m: totals[m]["total"])
    top = max((t["max"] for t in totals.values()), default=1000)
    for i, m in enumerate(models):
        t = totals[m]
        lo, hi = (t["total"] if v is None else v for v in t["ci95"])
        inc = bool(t["missing"])
        ax.barh(i, t["total"], color=colors[m], hatch="//" if inc else None, edgecolor="white")
        err = [[max(t["total"] - lo, 0.0)], [max(hi - t["total"], 0.0)]]
        ax.errorbar(t["total"], i, xerr=err, color="k", lw=1)
        ax.text(hi + top * 0.01, i, f"{t['total']:.0f}", va="center", fontsize=8)
    ax.set_yticks(range(len(models)), models, fontsize=8)
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(0, top)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_xlabel(f"decathlon score (max {top})")
    sets = [set(t["missing"]) for t in totals.values()]
    nowhere = sorted(set.intersection(*sets)) if sets else []  # no model has a result there
    note = (
        "incomplete totals hatched: a task a model cannot do counts 0"
        + (f"; no result at all for {', '.join(_short(e) for e in nowhere)}" if nowhere else "")
        if any(sets)
        else "complete: every event has a result"
    )
    ax.set_title("Total with 95% interval\n" + "\n".join(textwrap.wrap(note, 50)), fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def _curve_panel(ax: Axes, task: str, rs: list[dict[str, Any]], colors: dict[str, Any]) -> None:
    """Rollout error per horizon step, one line per model, log scale."""
    for r in rs:
        c = r["curve"]["per_step"]
        steps = r["curve"].get("steps") or list(range(1, len(c) + 1))
        ax.plot(steps, c, marker=".", color=colors[r["model"]["name"]], label=r["model"]["name"])
    ax.set_yscale("log")
    ax.set_xlabel("horizon step")
    ax.set_ylabel(f"{rs[0]['curve']['metric']} (log)")
    ax.set_title(f"{_short(task)}: rollout error", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)


def _interval_dots(
    ax: Axes, rs: list[dict[str, Any]], y0: float, colors: dict[str, Any], spread: float
) -> None:
    """Each record's primary value with its 95 % interval as a dot on a horizontal line."""
    n = len(rs)
    for k, r in enumerate(rs):
        m = r["metrics"][r["task"]["primary"]]
        v, (lo, hi) = m["value"], m["ci95"]
        if v is None:
            continue
        y = y0 + (k - (n - 1) / 2) * spread / max(n, 1)
        err = None if lo is None or hi is None else [[v - lo], [hi - v]]
        ax.errorbar(v, y, xerr=err, fmt="o", color=colors[r["model"]["name"]], capsize=3, ms=5)


def _one_step_panel(ax: Axes, task: str, rs: list[dict[str, Any]], colors: dict[str, Any]) -> None:
    """A one-step forecast: each model's error with its interval, the trivial baseline dashed."""
    rs = sorted(rs, key=lambda r: -(r["metrics"][r["task"]["primary"]]["value"] or 0.0))
    for i, r in enumerate(rs):
        _interval_dots(ax, [r], i, colors, 0.0)
    trivial = next((r["points"] for r in rs if "points" in r), None)
    if trivial is not None and trivial.get("trivial_value") is not None:
        ax.axvline(trivial["trivial_value"], color="0.4", ls="--", lw=1)
        ax.text(
            trivial["trivial_value"],
            len(rs) - 0.5,
            f" {trivial['trivial_baseline']}",
            fontsize=7,
            color="0.3",
            va="center",
        )
    ax.set_yticks(range(len(rs)), [r["model"]["name"] for r in rs], fontsize=8)
    ax.set_ylim(-0.6, len(rs) - 0.2)
    ax.set_xlabel(f"{rs[0]['task']['primary']} with 95% interval (lower is better)")
    step = (rs[0].get("curve") or {}).get("steps") or ["?"]
    ax.set_title(f"{_short(task)}: one step ({step[-1]} frames ahead)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)


#: Reference line of the primary metric of one-number-per-task panels: (value, label).
_REFERENCE = {"auroc": (0.5, " chance"), "r2": (0.0, " train mean")}


def _graph_panel(
    ax: Axes,
    by_task: dict[str, list[dict[str, Any]]],
    colors: Any,
    title: str = "Graph and classification tasks",
) -> None:
    """Every task's primary score (AUROC of graphs, R^2 of parameter regression) per model with
    its interval, against its trivial level (chance, the train mean)."""
    tasks = sorted(by_task)
    for i, t in enumerate(tasks):
        _interval_dots(ax, by_task[t], i, colors, 0.6)
    prim = by_task[tasks[0]][0]["task"]["primary"]
    if prim in _REFERENCE:
        ref, label = _REFERENCE[prim]
        ax.axvline(ref, color="0.4", ls="--", lw=1)
        ax.text(ref, len(tasks) - 0.55, label, fontsize=7, color="0.3")
        ax.set_xlim(min(0.0, ax.get_xlim()[0]) if prim == "r2" else 0, 1)
    ax.set_yticks(range(len(tasks)), [_short(t) for t in tasks], fontsize=8)
    ax.set_ylim(-0.6, len(tasks) - 0.4)
    ax.set_xlabel(f"{prim} with 95% interval (higher is better)")
    ax.set_title(title, fontsize=9)
    models = dict.fromkeys(r["model"]["name"] for rs in by_task.values() for r in rs)
    handles = [ax.plot([], [], "o", color=colors[m])[0] for m in models]
    ax.legend(handles, list(models), fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)


def _heat_rows(results: list[dict[str, Any]]) -> tuple[list[str], np.ndarray, list[list[Any]]]:
    """Row labels, color values (rows x probes) and the cells of every result, by task."""
    rs = sorted(results, key=lambda r: (r["task"]["name"], r["model"]["name"]))
    labels = [f"{_short(r['task']['name'])} · {r['model']['name']}" for r in rs]
    cells = [[probe_cells(r)[p] for p in PROBES] for r in rs]
    vals = np.array([[heat_value(c.rel_gap) for c in row] for row in cells]).reshape(
        -1, len(PROBES)
    )
    return labels, vals, cells


def _probe_panel(fig: Figure, ax: Axes, results: list[dict[str, Any]]) -> None:
    """The heatmap of relative probe gaps: one row per result, one column per probe, each cell
    colored by :func:`heat_value` and labelled with the table's text; a row where no probe
    applies carries one ``n/a`` marker with the reason, a missing probe is hatched."""
    import matplotlib
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    labels, vals, cells = _heat_rows(results)
    norm = TwoSlopeNorm(vmin=HEAT_RANGE[0], vcenter=0.0, vmax=HEAT_RANGE[1])
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.93")
    im = ax.imshow(np.ma.masked_invalid(vals), cmap=cmap, norm=norm, aspect="auto")
    for i, row in enumerate(cells):
        if all(c.status == "n/a" for c in row):
            mid = (len(PROBES) - 1) / 2
            ax.text(
                mid, i, f"n/a: {row[0].note.split(':')[0]}", ha="center", va="center", fontsize=7
            )
            continue
        for j, c in enumerate(row):
            strong = abs(vals[i, j]) > 0.9 if np.isfinite(vals[i, j]) else False
            if c.status == "missing":
                box = Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", ec="0.6", lw=0)
                ax.add_patch(box)
            ax.text(
                j,
                i,
                c.text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if strong else "black",
            )
    ax.set_xticks(range(len(PROBES)), [PROBE_LABELS[p] for p in PROBES], fontsize=7)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(1, len(labels)):
        if labels[i].split(" · ")[0] != labels[i - 1].split(" · ")[0]:
            ax.axhline(i - 0.5, color="k", lw=0.8)
    ax.set_title(
        "Temporal probes: change of the error when the context is\nreversed, shuffled, "
        "half-swapped, permuted in blocks of 2 or 4, frozen\n"
        "(+ = worse; same numbers as the table)",
        fontsize=9,
    )
    bar = fig.colorbar(im, ax=ax, orientation="horizontal", fraction=0.03, pad=0.02)
    bar.set_ticks([np.log10(t) for t, _ in _HEAT_TICKS], labels=[s for _, s in _HEAT_TICKS])
    bar.ax.tick_params(labelsize=7)
    bar.set_label("error under the probe vs the plain error", fontsize=8)


def _metric_panels(results: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The panels of the metric rows: ``(kind, payload)`` for curves, one-step dots and the
    graph tasks together."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_task.setdefault(r["task"]["name"], []).append(r)
    panels: list[tuple[str, Any]] = []
    graphs, regress = {}, {}
    for t, rs in sorted(by_task.items()):
        if rs[0]["task"].get("kind") == "regress":
            regress[t] = rs
        elif rs[0]["task"].get("kind") == "graph" or "curve" not in rs[0]:
            graphs[t] = rs
        elif len(rs[0]["curve"]["per_step"]) > 1:
            panels.append(("curve", (t, rs)))
        else:
            panels.append(("one_step", (t, rs)))
    order = {"curve": 0, "one_step": 1}
    panels.sort(key=lambda p: order[p[0]])  # stable: by task name within a kind
    if graphs:
        panels.append(("graph", graphs))
    if regress:
        panels.append(("regress", regress))
    return panels


def build_figure(
    results: list[dict[str, Any]], scores: dict[str, dict[str, Any]] | None = None
) -> Figure:
    """The decathlon figure of ``results`` (see the module docstring); ``scores`` as in
    :func:`event_totals`."""
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"]["name"] for r in results))
    colors = _colors(models)
    totals = event_totals(results, scores)
    panels = _metric_panels(results)
    ncol = 2 if len(panels) <= 4 else 3
    nrow = max(1, -(-len(panels) // ncol))
    fig = plt.figure(figsize=(19, 4.6 + 3.8 * nrow), layout="constrained")
    outer = fig.add_gridspec(1, 2, width_ratios=[3.2, 1])
    left = outer[0].subgridspec(2, 1, height_ratios=[1.15, nrow])
    top = left[0].subgridspec(1, 2, width_ratios=[2.4, 1])
    ax = fig.add_subplot(top[0])
    _points_panel(ax, totals, colors)
    ax.legend(ncol=min(len(models), 6), fontsize=8, loc="upper right")
    _totals_panel(fig.add_subplot(top[1]), totals, colors)
    grid = left[1].subgridspec(nrow, ncol)
    for k, (kind, payload) in enumerate(panels):
        ax = fig.add_subplot(grid[k // ncol, k % ncol])
        if kind == "graph":
            _graph_panel(ax, payload, colors)
        elif kind == "regress":
            _graph_panel(ax, payload, colors, "Parameter regression: mean R^2")
        elif kind == "curve":
            _curve_panel(ax, payload[0], payload[1], colors)
        else:
            _one_step_panel(ax, payload[0], payload[1], colors)
    _probe_panel(fig, fig.add_subplot(outer[1]), results)
    tiers = ", ".join(sorted({str(r["task"].get("tier", "?")) for r in results}))
    fig.suptitle(
        f"Spacetime Decathlon ({tiers} tier): {len(results)} results of {len(models)} models",
        fontsize=12,
    )
    return fig


def plot_decathlon(
    results: list[dict[str, Any]],
    path: str | Path,
    scores: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write :func:`build_figure` as a PNG at ``path`` (atomically: a temporary name, then a
    rename) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = build_figure(results, scores)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, dpi=100, format="png")
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path
