"""Presentation of ``decathlon bench``: the speed and memory tables, each measurement side by
side with its reference implementation (and, where recorded, the figure before the rework)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_bench", "format_bench_evaluator", "format_store_bench", "format_build_bench"]


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
