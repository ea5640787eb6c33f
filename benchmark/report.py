"""Presentation: every table, line and figure the command line prints or writes.

Library functions return records (dicts); this module turns them into text and plots, so that
the CLI only parses arguments, calls the library and prints what this module formats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import get_metric
from .probes import PROBES, relative_gap

__all__ = [
    "format_table",
    "probe_cells",
    "ProbeCell",
    "gap_text",
    "event_means",
    "format_run",
    "format_score",
    "format_describe",
    "necessity_text",
    "format_necessity",
    "format_registries",
    "plot_results",
]


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def _points(x: Any) -> str:
    """Points (0..1000) as a whole number: ``1000``, not ``1e+03``."""
    return "-" if x is None else f"{float(x):.0f}"


#: Relative gaps from this error ratio on are shown as the ratio (``x51``) instead of a percent.
RATIO_FROM = 10.0
#: Error ratios from this one on are shown as ``>x1000``: a plain error near its perfect value
#: makes the ratio explode (x4.5e7 for order-params on the full Vicsek tier), and the digits then
#: say nothing a reader can use; the result files and the sortable leaderboard keep the value.
RATIO_CAP = 1000.0
#: The temporal probes as the table and the figure name them (what happened to the context).
PROBE_LABELS = {
    "reversal": "reversed",
    "shuffle": "shuffled",
    "half": "half-swap",
    "local-2": "local-2",
    "local-4": "local-4",
    "freeze": "frozen",
}
#: One line per displayed quantity, printed under the table (``docs/probes.md`` §2 and §4).
PROBE_LEGEND = (
    "points: 0 at the task's trivial baseline, 1000 at its target (docs/probes.md §4)",
    "reversed/shuffled/half-swap/local-b/frozen: change of the error when the context is played "
    "backwards, shuffled, its two halves exchanged, its frames permuted within blocks of b, or "
    "frozen to its last frame, (E_probe - E) / (E - E_perfect) (error = 1 - AUROC for graphs); "
    "+ = worse, x21 = 21 times the error, >x1000 = a thousand times or more",
    "TS in the result files = a probe's change / frozen's; it explodes when freezing barely "
    "moves the error, as with position+velocity inputs (docs/probes.md §2)",
)


def gap_text(rel: float | None) -> str:
    """The displayed relative gap: ``+12%``, ``-3.1%``, ``0%``, ``+850%`` or, from a tenfold
    error on, the error ratio ``x51``, and from a thousandfold one on ``>x1000``
    (:data:`RATIO_CAP`); ``n/d`` when undefined (a perfect plain score).

    Examples
    --------
    >>> [gap_text(v) for v in (0.1234, -0.031, 0.0, 8.5, 50.0, 4.5e7, None)]
    ['+12%', '-3.1%', '0%', '+850%', 'x51', '>x1000', 'n/d']
    """
    if rel is None:
        return "n/d"
    if rel == 0.0:
        return "0%"
    if 1.0 + rel >= RATIO_CAP:
        return f">x{RATIO_CAP:.0f}"
    if 1.0 + rel >= RATIO_FROM:
        return f"x{1.0 + rel:.0f}"
    pct = 100.0 * rel
    return f"{pct:+.0f}%" if abs(pct) >= 9.95 else f"{pct:+.1f}%"


@dataclass(frozen=True)
class ProbeCell:
    """What the table and the figure show for one temporal probe of one result.

    ``status`` is ``ok``, ``missing`` (the probe's predictions were not supplied), ``n/a``
    (the probe does not apply to the task; ``note`` says why) or ``not run``; ``rel_gap`` is
    :func:`decathlon.benchmark.probes.relative_gap` of an ``ok`` probe.
    """

    status: str
    rel_gap: float | None = None
    note: str = ""

    @property
    def text(self) -> str:
        """The cell's text: :func:`gap_text` of the relative gap, else the status."""
        return gap_text(self.rel_gap) if self.status == "ok" else self.status


def _not_applied(task_name: str, probe: str) -> str | None:
    from .describe import probe_applicability

    try:
        return probe_applicability(task_name).get(probe)
    except KeyError:  # a record of a task this installation does not register
        return None


def probe_cells(r: dict[str, Any]) -> dict[str, ProbeCell]:
    """The displayed temporal probe cells of result ``r``, one per probe of
    :data:`~decathlon.benchmark.probes.PROBES` (the one helper behind
    :func:`format_table` and :func:`plot_results`, so both show the same numbers)."""
    prim = r["task"]["primary"]
    plain = r["metrics"][prim]["value"]
    perfect = r.get("points", {}).get("perfect_value")
    if perfect is None:
        perfect = get_metric(prim)[0].perfect
    out: dict[str, ProbeCell] = {}
    for p in PROBES:
        e = r["probes"].get(p)
        if e is None:
            why = _not_applied(r["task"]["name"], p)
            out[p] = ProbeCell("n/a", note=why) if why else ProbeCell("not run")
        elif e.get("status") == "missing":
            out[p] = ProbeCell("missing", note=e.get("note", ""))
        else:
            out[p] = ProbeCell("ok", relative_gap(e, plain, perfect))
    return out


def _probe_row(cells: dict[str, ProbeCell]) -> list[str]:
    na = [c for c in cells.values() if c.status == "n/a"]
    if len(na) == len(cells):  # one marker for the row, e.g. "n/a: one-frame context"
        return [f"n/a: {na[0].note.split(':')[0]}"]
    return [cells[p].text for p in PROBES]


def format_table(results: list[dict[str, Any]]) -> str:
    """A plain-text table: task, model, primary metric [95% CI], points and the probes.

    The probe columns are the relative gaps of :func:`probe_cells`, the numbers the figure shows;
    one line per quantity under the table says what it is, and a note names the probes that do
    not apply or were not supplied.
    """
    head = ["task", "model", "primary", "value", "95% CI", "points"]
    head += [PROBE_LABELS[p] for p in PROBES]
    rows: list[list[str]] = []
    notes: dict[tuple[str, str, str], list[str]] = {}
    for r in results:
        prim = r["task"]["primary"]
        m = r["metrics"][prim]
        ci = m["ci95"]
        cells = probe_cells(r)
        for p, c in cells.items():
            if c.status in ("n/a", "missing") and c.note:
                notes.setdefault((c.status, r["task"]["name"], c.note), []).append(p)
        rows.append(
            [
                r["task"]["name"],
                r["model"]["name"],
                prim,
                _fmt(m["value"]),
                f"[{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]",
                _points(r.get("points", {}).get("value")),
                *_probe_row(cells),
            ]
        )
    legend = [*PROBE_LEGEND]
    legend += [
        f"{st} on {task}: {', '.join(dict.fromkeys(ps))} ({note})"
        for (st, task, note), ps in notes.items()
    ]
    return "\n".join([*_columns(head, rows), *legend])


def _columns(head: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns; a row shorter than ``head`` ends in one free-running cell."""

    def width(i: int) -> int:
        cells = [len(r[i]) for r in rows if i < len(r) - (len(r) < len(head))]
        return max([len(head[i]), *cells])

    widths = [width(i) for i in range(len(head))]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())
    return out


def event_means(results: list[dict[str, Any]]) -> list[tuple[str, str, str, float, int]]:
    """``(event, model, primary, mean of the primary metric, n tasks)`` for events with several
    tasks (e.g. the five ETH/UCY scenes, whose average is the field's headline number)."""
    groups: dict[tuple[str, str, str], list[float]] = {}
    for r in results:
        v = r["metrics"][r["task"]["primary"]]["value"]
        if v is not None:
            groups.setdefault(
                (r["task"].get("event", ""), r["model"]["name"], r["task"]["primary"]), []
            ).append(v)
    return [
        (e, m, p, float(np.mean(v)), len(v))
        for (e, m, p), v in sorted(groups.items())
        if len(v) > 1
    ]


def plot_results(
    results: list[dict[str, Any]],
    path: str | Path,
    scores: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """The decathlon figure (``decathlon.png``): points per event and totals, the primary metric
    of every task, and the temporal probes with the table's numbers.

    ``scores`` maps a model to its :func:`decathlon.benchmark.points.decathlon_score` record
    (default: computed over every registered event). Drawn by
    :func:`decathlon.benchmark.figure.plot_decathlon`.
    """
    from .figure import plot_decathlon

    return plot_decathlon(results, path, scores)


def format_run(run: dict[str, Any]) -> str:
    """The ``decathlon run`` report: results table, event means, skips, what was reused, and
    last the decathlon scores."""
    lines = [format_table(run["results"]), ""]
    for ev, m, prim, mean, n in event_means(run["results"]):
        lines.append(f"event {ev:28s} {m:18s} mean {prim} over {n} tasks: {mean:.4g}")
    by_reason: dict[str, list[str]] = {}
    for t, why in run["skipped"].items():
        by_reason.setdefault(why, []).append(t)
    lines += [f"skipped {', '.join(ts)}: {why}" for why, ts in by_reason.items()]
    lines += _refused_lines(run.get("skipped_pairs", {}))
    if "cached" in run:
        lines.append(
            f"{run['cached']} cached, {run['computed']} computed in {run['seconds']:.0f} s "
            f"(estimated {run['estimate']['seconds']:.0f} s; `decathlon run --force` recomputes "
            "every result)"
        )
    return "\n".join(lines + [format_score(m, s) for m, s in sorted(run["scores"].items())])


def format_score(model: str, s: dict[str, Any]) -> str:
    """One decathlon-score line: total, interval, events scored of all registered events.

    Examples
    --------
    >>> s = {"total": 812.5, "ci95": [790.0, 830.0], "max": 2000, "complete": False,
    ...      "events": {"a/x": 812.5, "b/y": 0.0}, "missing_events": ["b/y"],
    ...      "missing_tasks": ["b/y-graph"], "missing": ["b/y"]}
    >>> print(format_score("gru", s))  # doctest: +NORMALIZE_WHITESPACE
    decathlon score gru 812.5 of 2000  95% CI [790.0, 830.0]  1 of 2 events;
    incomplete: missing b/y (counted 0)
    """
    n_all = len(s["events"])
    missing = s.get("missing", s.get("missing_tasks", []))
    n_run = n_all - len(s.get("missing_events", []))
    head = (
        f"decathlon score {model:18s} {s['total']:8.1f} of {s['max']}  "
        f"95% CI [{s['ci95'][0]:.1f}, {s['ci95'][1]:.1f}]  {n_run} of {n_all} events"
    )
    if missing:
        return f"{head}; incomplete: missing {', '.join(missing)} (counted 0)"
    return f"{head}; complete (a task a model cannot do scores 0)"


def _refused_lines(refused: dict[tuple[str, str], str]) -> list[str]:
    """One line per (baseline, reason) of the pairs a learned baseline refused; the task's name
    in a reason is replaced by "the task" so that one reason covers every task it applies to."""
    groups: dict[tuple[str, str], list[str]] = {}
    for (task, baseline), why in refused.items():
        general = why.replace(f"task {task!r}", "the task").replace(repr(task), "the task")
        general = general.replace(task, "the task")
        groups.setdefault((baseline, general), []).append(task)
    return [f"skipped {b} on {', '.join(ts)}: {why}" for (b, why), ts in groups.items()]


def format_estimate(est: dict[str, Any]) -> str:
    """The plan ``decathlon run`` says before it starts: what is cached, what will be computed,
    about how long it will take here and what dominates (:func:`.runcache.estimate`)."""
    text = (
        f"plan: {est['pairs']} evaluations ({est['tasks']} task{'s' * (est['tasks'] != 1)} x "
        "the baselines that serve them)"
        f": {est['cached']} cached, {est['to_compute']} to compute"
    )
    if est["builds"]:
        text += f", data to build for {', '.join(est['builds'])}"
    if est["seconds"] <= 0:
        return text + "; nothing to compute."
    parts = est["by_part"]
    top = next(iter(parts))
    text += (
        f". About {est['seconds']:.0f} s on this machine, mostly {top} "
        f"({parts[top]:.0f} s of {sum(parts.values()):.0f} s at full speed)"
    )
    n = est["to_compute"]
    text += (
        f"; timings of the last run here for {est['recorded']} of {n} evaluations, "
        "built-in ones (an idle 2-vCPU machine) for the rest"
        if est["recorded"] < n
        else "; timings of the last run here"
    )
    if est["busy"] > 1:
        text += (
            f"; the machine is busy (load {est['load']:.1f} on {est['cores']} CPUs): "
            f"x{est['busy']:.1f}"
        )
    if est["skipped"]:
        text += f". {est['skipped']} task{'s' * (est['skipped'] != 1)} skipped (listed at the end)"
    return text + "."


def format_describe(d: dict[str, Any], as_json: bool = False) -> str:
    """``describe(task)`` as JSON or as an indented text block."""
    if as_json:
        return json.dumps(d, indent=1)
    lines = [
        f"{d['task']} (v{d['version']}, {d['kind']}, event {d['event']}) on {d['dataset']}",
        f"  {d['description']}",
        f"  normalization: {d['normalization']}; metrics: {', '.join(d['metrics'])} "
        f"(primary {d['primary']}, {d['direction']}); "
        f"time-reversible physics: {d['time_reversible_physics']}",
        f"  probes: {', '.join(d['probes']) or 'none'}; "
        f"symmetries: {', '.join(d['equivariance']) or 'none'}",
    ]
    why_not: dict[str, list[str]] = {}
    for probe, why in d.get("probes_not_applied", {}).items():
        why_not.setdefault(why, []).append(probe)
    lines += [f"  n/a: {', '.join(ps)} ({why})" for why, ps in why_not.items()]
    if "intervals" in d:
        lines.append(f"  95 % intervals: paired bootstrap over {d['intervals']['resamples']}")
    if "temporal_necessity" in d:
        lines.append(f"  {necessity_text(d['temporal_necessity'])}")
    lines.append("  model receives:")
    for k, v in d["inputs"].items():
        shape = v.get("shape", "")
        extra = f" features={v['features']}" if "features" in v else ""
        lines.append(
            f"    {k:7s} dims={v['dims']} shape={shape} "
            f"{v.get('dtype', '')}{extra} {v.get('note', '')}"
        )
    o = d["output"]
    lines.append(f"  model returns: dims={o['dims']} shape={o['shape']}: {o['meaning']}")
    src = d.get("shapes_from", "store" if d["prepared"] else "")
    if not d["prepared"]:
        lines.append(
            "  (the store is not built: counts from one simulated sample)"
            if src == "one simulated sample"
            else f"  (entity/feature counts appear after `decathlon prepare {d['dataset']}`)"
        )
    if "upstream_files" in d:
        pinned, tofu = d["upstream_files"]["pinned"], d["upstream_files"]["trust_on_first_use"]
        lines.append(
            f"  upstream files: {len(pinned)} pinned (sha256 published in the package)"
            + (
                f", {len(tofu)} trust-on-first-use (sha256 recorded at first download): "
                f"{', '.join(tofu)}"
                if tofu
                else ""
            )
        )
    return "\n".join(lines)


def necessity_text(n: dict[str, Any]) -> str:
    """The temporal necessity line of ``describe`` (``docs/probes.md`` §2, definition 3): ``N``,
    its interval, the best order-aware and order-agnostic reference and every reference's value.

    Examples
    --------
    >>> n = {"status": "computed", "N": 0.0123, "ci95": [0.011, 0.0135], "metric": "mse",
    ...      "best_aware": "gru", "best_agnostic": "gru-shuffled", "tier": "mini",
    ...      "budget": "cpu", "aware": ["gru"], "agnostic": ["gru-shuffled"],
    ...      "values": {"gru": 0.002, "gru-shuffled": 0.0143}}
    >>> print(necessity_text(n))  # doctest: +NORMALIZE_WHITESPACE
    temporal necessity N = 0.0123 [0.011, 0.0135] mse (best order-aware gru vs best
    order-agnostic gru-shuffled; mini, cpu budget; order-aware: gru 0.002; order-agnostic:
    gru-shuffled 0.0143)
    >>> necessity_text(n | {"N": 0.001, "ci95": [-0.002, 0.004], "values": {}})[-74:]
    'references do as well (this task cannot test temporal modelling with them)'
    >>> necessity_text({"status": "not computed", "reason": "needs the eth-ucy download"})
    'temporal necessity N: not computed (needs the eth-ucy download)'
    """
    if n.get("status") != "computed":
        return f"temporal necessity N: not computed ({n.get('reason', 'no value')})"
    lo, hi = n.get("ci95") or [None, None]
    interval = f" [{_fmt(lo, 3)}, {_fmt(hi, 3)}]" if lo is not None else ""
    values = n.get("values", {})
    sets = "".join(
        f"; order-{side}: "
        + ", ".join(f"{m} {_fmt(values[m], 3)}" if m in values else m for m in n.get(side, []))
        for side in ("aware", "agnostic")
        if values
    )
    best = ""
    if "best_aware" in n:
        best = f"best order-aware {n['best_aware']} vs best order-agnostic {n['best_agnostic']}; "
    text = (
        f"temporal necessity N = {_fmt(n['N'], 3)}{interval} {n['metric']} "
        f"({best}{n['tier']}, {n['budget']} budget{sets})"
    )
    if n.get("note"):
        return f"{text}; {n['note']}"
    if lo is not None and hi is not None and lo <= 0.0 <= hi:
        text += "; N is not above 0: order-agnostic references do as well (this task cannot test "
        text += "temporal modelling with them)"
    return text


def format_necessity(data: dict[str, Any]) -> str:
    """``decathlon necessity``: one line per task, computed or not (and why)."""
    lines = []
    for name, n in data["tasks"].items():
        lines.append(f"{name:30s} {necessity_text({'status': 'computed', **n})}")
    for name, why in data["not_computed"].items():
        lines.append(f"{name:30s} {necessity_text({'status': 'not computed', 'reason': why})}")
    return "\n".join(lines)


def format_registries(
    tasks: list[Any], datasets: list[Any], baselines: list[Any], as_json: bool = False
) -> str:
    """``decathlon list``: every registered task, dataset and baseline, one line each (or, with
    ``as_json``, one JSON object with a list of records per registry)."""
    if as_json:
        return json.dumps(
            {
                "tasks": [
                    {
                        "name": t.name,
                        "version": t.version,
                        "event": t.event,
                        "kind": t.kind,
                        "primary": t.primary,
                        "dataset": t.dataset,
                    }
                    for t in tasks
                ],
                "datasets": [
                    {
                        "name": s.name,
                        "version": s.version,
                        "domain": s.domain,
                        "origin": "download" if s.files else "simulated",
                        "tiers": list(s.tiers),
                        "files": len(s.files),
                        "pinned_files": sum(1 for f in s.files if f.sha256),
                    }
                    for s in datasets
                ],
                "baselines": [
                    {
                        "name": b.name,
                        "kinds": list(b.kinds),
                        "learned": b.learned,
                        "description": b.description,
                    }
                    for b in baselines
                ],
            },
            indent=1,
        )
    lines = ["tasks:"]
    lines += [
        f"  {t.name:36s} {t.kind:9s} primary={t.primary:14s} dataset={t.dataset}" for t in tasks
    ]
    lines.append("datasets:")
    for s in datasets:
        origin = "download" if s.files else "simulated"
        pins = sum(1 for f in s.files if f.sha256)
        files = f" files={len(s.files)} ({pins} pinned)" if s.files else ""
        lines.append(f"  {s.name:36s} {s.domain:12s} {origin:9s} tiers={','.join(s.tiers)}{files}")
    lines.append("baselines:")
    width = max((len(",".join(b.kinds)) for b in baselines), default=9)
    lines += [f"  {b.name:20s} {','.join(b.kinds):{width}s} {b.description}" for b in baselines]
    return "\n".join(lines)
