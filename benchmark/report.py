"""Presentation: every table, line and figure the command line prints or writes.

Library functions return records (dicts); this module turns them into text and plots, so that
the CLI only parses arguments, calls the library and prints what this module formats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "format_table",
    "event_means",
    "format_run",
    "format_describe",
    "format_registries",
    "format_bench",
    "format_store_bench",
    "format_build_bench",
    "plot_results",
]


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def format_table(results: list[dict[str, Any]]) -> str:
    """A plain-text table: task, model, primary metric [95% CI], points, probe gaps and TS."""
    head = [
        "task",
        "model",
        "primary",
        "value",
        "95% CI",
        "points",
        "rev gap",
        "TS rev",
        "shuf gap",
        "TS shuf",
    ]
    rows = []
    for r in results:
        prim = r["task"]["primary"]
        m = r["metrics"][prim]
        pr = r["probes"]
        rev, shu = pr.get("reversal", {}), pr.get("shuffle", {})
        ci = m["ci95"]
        rows.append(
            [
                r["task"]["name"],
                r["model"]["name"],
                prim,
                _fmt(m["value"]),
                f"[{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]",
                _fmt(r.get("points", {}).get("value"), 3),
                _fmt(rev.get("gap"), 3),
                _fmt(rev.get("ts"), 3),
                _fmt(shu.get("gap"), 3),
                _fmt(shu.get("ts"), 3),
            ]
        )
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
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
            groups.setdefault(
                (r["task"].get("event", ""), r["model"]["name"], r["task"]["primary"]), []
            ).append(v)
    return [
        (e, m, p, float(np.mean(v)), len(v))
        for (e, m, p), v in sorted(groups.items())
        if len(v) > 1
    ]


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
    labels: list[str] = []
    probes = ["reversal", "shuffle", "freeze"]
    vals: dict[str, list[float]] = {p: [] for p in probes}
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
    ax.set_title(
        "Temporal probes: how much the score moves when the context is reversed, shuffled "
        "or frozen",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_run(run: dict[str, Any]) -> str:
    """The ``decathlon run`` report: results table, event means, decathlon scores, skips."""
    lines = [format_table(run["results"]), ""]
    for ev, m, prim, mean, n in event_means(run["results"]):
        lines.append(f"event {ev:28s} {m:18s} mean {prim} over {n} tasks: {mean:.4g}")
    for m, s in sorted(run["scores"].items()):
        lines.append(
            f"decathlon score {m:18s} {s['total']:8.1f}  "
            f"95% CI [{s['ci95'][0]:.1f}, {s['ci95'][1]:.1f}]  "
            f"over {len(s['events'])} events (max {s['max']}; a task a model cannot do scores 0)"
        )
    by_reason: dict[str, list[str]] = {}
    for t, why in run["skipped"].items():
        by_reason.setdefault(why, []).append(t)
    for why, ts in by_reason.items():
        lines.append(f"skipped {', '.join(ts)}: {why}")
    return "\n".join(lines)


def format_describe(d: dict[str, Any], as_json: bool = False) -> str:
    """``describe(task)`` as JSON or as an indented text block."""
    if as_json:
        return json.dumps(d, indent=1)
    lines = [
        f"{d['task']} (v{d['version']}, {d['kind']}, event {d['event']}) on {d['dataset']}",
        f"  {d['description']}",
        f"  normalization: {d['normalization']}; metrics: {', '.join(d['metrics'])} "
        f"(primary {d['primary']}, {d['direction']}); probes: {', '.join(d['probes']) or 'none'}; "
        f"symmetries: {', '.join(d['equivariance']) or 'none'}; "
        f"time-reversible physics: {d['time_reversible_physics']}",
        "  model receives:",
    ]
    for k, v in d["inputs"].items():
        shape = v.get("shape", "")
        extra = f" features={v['features']}" if "features" in v else ""
        lines.append(
            f"    {k:7s} dims={v['dims']} shape={shape} "
            f"{v.get('dtype', '')}{extra} {v.get('note', '')}"
        )
    o = d["output"]
    lines.append(f"  model returns: dims={o['dims']} shape={o['shape']}: {o['meaning']}")
    if not d["prepared"]:
        lines.append(f"  (entity/feature counts appear after `decathlon prepare {d['task']}`)")
    return "\n".join(lines)


def format_registries(tasks: list[Any], datasets: list[Any], baselines: list[Any]) -> str:
    """``decathlon list``: every registered task, dataset and baseline, one line each."""
    lines = ["tasks:"]
    lines += [
        f"  {t.name:36s} {t.kind:9s} primary={t.primary:14s} dataset={t.dataset}" for t in tasks
    ]
    lines.append("datasets:")
    for s in datasets:
        origin = "download" if s.files else "simulated"
        lines.append(f"  {s.name:36s} {s.domain:12s} {origin:9s} tiers={','.join(s.tiers)}")
    lines.append("baselines:")
    lines += [f"  {b.name:20s} {','.join(b.kinds):9s} {b.description}" for b in baselines]
    return "\n".join(lines)


def format_bench(rows: list[dict[str, Any]]) -> str:
    """``decathlon bench``: simulator throughput against the reference loops and compiled C.

    Columns: batch (simulations per vectorized call), the reference Python loop, the vectorized
    simulator and the compiled C loop in ms per simulation, vectorized / compiled, and the speedup
    over the reference. A skipped compiled column shows ``-`` and its reason below the table.
    """
    lines = [
        f"{'simulator':22s} {'batch':>6s} {'ref ms/sim':>11s} {'fast ms/sim':>12s} "
        f"{'C ms/sim':>9s} {'fast/C':>7s} {'speedup':>8s} {'peak MB':>8s} {'before':>7s}"
    ]
    notes = []
    for r in rows:
        c, ratio = r.get("compiled_per_sim_ms"), r.get("fast_vs_compiled")
        lines.append(
            f"{r['name']:22s} {r.get('batch', r['n_fast']):6d} "
            f"{r['reference_per_sim_ms']:11.2f} {r['fast_per_sim_ms']:12.3f} "
            f"{'-' if c is None else f'{c:.3f}':>9s} "
            f"{'-' if ratio is None else f'{ratio:.2f}x':>7s} "
            f"{r['speedup']:7.0f}x {r['fast_peak_mb']:8.1f} "
            f"{'-' if r.get('before_per_sim_ms') is None else r['before_per_sim_ms']:>7}"
        )
        if str(r.get("compiled_by", "")).startswith("skipped"):
            notes.append(f"{r['name']}: compiled column {r['compiled_by']}")
    compilers = {r["compiled_by"] for r in rows if r.get("compiled_per_sim_ms") is not None}
    notes += [f"compiled with {c}" for c in sorted(compilers)]
    if any(r.get("before_per_sim_ms") for r in rows):
        notes.append("before: fast ms/sim at batch 2000 before the rework (commit 1095a22)")
    return "\n".join(lines + notes)


def format_bench_evaluator(rows: list[dict[str, Any]]) -> str:
    """``decathlon bench`` evaluator rows: each evaluator side against the plain script doing
    the same job (``x wall``, ``x mem``), the figures before the rewrite, then the streaming
    memory rows."""
    lines = [
        f"{'evaluator':10s} {'side':20s} {'wall s':>8s} {'peak MiB':>9s} {'x wall':>7s} "
        f"{'x mem':>6s}  {'same job as':14s} value"
    ]
    for r in rows:
        if "kind" not in r:
            continue
        for side in ("plain", "plain_probes", "evaluate_no_probes", "evaluate"):
            d = r.get(side)
            if d is None:
                continue
            ratios = f"{d.get('wall_ratio', 1.0):7.2f} {d.get('memory_ratio', 1.0):6.2f}"
            lines.append(
                f"{r['kind']:10s} {side:20s} {d['wall_s']:8.2f} {d['peak_mib']:9.0f} {ratios}  "
                f"{d.get('reference', '-'):14s} {d['value']:.10g}"
            )
        b = r.get("before")
        if b:
            mem = "-" if b.get("peak_mib") is None else f"{b['peak_mib']:.0f}"
            lines.append(
                f"{r['kind']:10s} {'before (' + b['commit'] + ')':20s} {b['wall_s']:8.2f} "
                f"{mem:>9s} {b['wall_s'] / b['plain_wall_s']:7.2f} {'':6s}  plain (then)"
            )
    stream = [r for r in rows if "mode" in r]
    if stream:
        lines.append(f"{'split':10s} {'mode':20s} {'windows':>8s} {'wall s':>8s} {'peak MiB':>9s}")
        for r in stream:
            lines.append(
                f"{r['split']:10s} {r['mode']:20s} {r['n_windows']:8d} {r['wall_s']:8.2f} "
                f"{r['peak_mib']:9.0f}"
            )
    return "\n".join(lines)


def format_store_bench(row: dict[str, Any]) -> str:
    """``decathlon bench``: the "store read" row, every way of reading the split side by side."""
    ms, disk = row["ms"], row["disk_mb"]
    lines = [
        f"store read: {row['dataset']} {row['tier']} {row['part']} split, {row['mb']:.1f} MB, "
        f"chunks {tuple(row['chunks'])}; median of {row['repeats']}, page cache",
        f"  {'way':34s} {'ms':>8s} {'vs np.load':>11s}",
    ]
    for k, v in ms.items():
        lines.append(f"  {k:34s} {v:8.1f} {ms['np.load'] / v:10.2f}x")
    b = row.get("before")
    if b:
        lines.append(
            f"  {'before (' + b['commit'] + ', zarr)':34s} {b['ms']:8.1f} "
            f"{b['np_load_ms'] / b['ms']:10.2f}x  (np.load then: {b['np_load_ms']:.0f} ms)"
        )
    lines.append(
        "  on disk (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in disk.items() if k not in ("new",))
    )
    return "\n".join(lines)


def format_build_bench(rows: list[dict[str, Any]]) -> str:
    """``decathlon bench --build``: a tier's first chunks built serially and on Dask workers."""
    lines = [
        f"{'build':28s} {'workers':>7s} {'sims':>8s} {'s':>7s} {'sims/s':>8s} "
        f"{'sims/cpu-s':>10s} {'peak MiB':>9s}"
    ]
    for r in rows:
        w = "serial" if not r["workers"] else str(r["workers"])
        peak = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        lines.append(
            f"{r['dataset'] + ' ' + r['tier']:28s} {w:>7s} {r['sims']:8d} {r['seconds']:7.1f} "
            f"{r['sims_per_s']:8.0f} {r['sims_per_cpu_s']:10.0f} {peak:>9s}"
        )
    return "\n".join(lines)
