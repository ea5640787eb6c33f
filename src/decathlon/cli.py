"""The ``decathlon`` command line. Subcommands only parse arguments and call library functions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

__all__ = ["main"]

log = logging.getLogger("decathlon")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="decathlon", description="Spacetime Decathlon: does a spatiotemporal model use time?")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)

    sub.add_parser("list", help="registered tasks, datasets and baselines")

    s = sub.add_parser("describe", help="what a model receives and must return for a task")
    s.add_argument("task")
    s.add_argument("--tier", default="mini")
    s.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("prepare", help="download or simulate a task's (or dataset's) data into the cache")
    s.add_argument("name", help="task or dataset name")
    s.add_argument("--tier", default="mini", choices=["mini", "full"])
    s.add_argument("--force", action="store_true", help="rebuild even if cached")

    s = sub.add_parser("evaluate", help="evaluate a baseline on a task and write its result JSON")
    s.add_argument("--model", required=True, help="baseline name (see `decathlon list`)")
    s.add_argument("--task", required=True)
    s.add_argument("--tier", default="mini", choices=["mini", "full"])
    s.add_argument("--split", default="test")
    s.add_argument("--out", default="results")
    s.add_argument("--epochs", type=int, default=20, help="training epochs (learned baselines)")
    s.add_argument("--n-boot", type=int, default=1000)

    s = sub.add_parser("export-inputs", help="write a task's model inputs (every probe variant) to .npz")
    s.add_argument("task")
    s.add_argument("out", help="output .npz path")
    s.add_argument("--tier", default="mini", choices=["mini", "full"])
    s.add_argument("--split", default="test")
    s.add_argument("--no-probes", action="store_true", help="only the plain inputs")

    s = sub.add_parser("score", help="score a predictions .npz (keys ids, pred, pred__<probe>)")
    s.add_argument("task")
    s.add_argument("predictions")
    s.add_argument("--tier", default="mini", choices=["mini", "full"])
    s.add_argument("--split", default="test")
    s.add_argument("--name", default="offline", help="model name for the result")
    s.add_argument("--out", default="results")

    s = sub.add_parser("run", help="the demo decathlon: every task x the baselines, table, JSON, figure")
    s.add_argument("--tier", default="mini", choices=["mini", "full"])
    s.add_argument("--tasks", nargs="*", help="subset of tasks (default: all)")
    s.add_argument("--baselines", default=None, help="comma-separated baselines (default: all)")
    s.add_argument("--out", default="results")
    s.add_argument("--epochs", type=int, default=20, help="epochs of learned baselines")
    s.add_argument("--n-boot", type=int, default=1000)
    s.add_argument("--no-progress", action="store_true")

    s = sub.add_parser("pin-hashes", help="maintainers: print (or --write) the sha256 recorded for unpinned files")
    s.add_argument("dataset")
    s.add_argument("--write", action="store_true", help="write them into the dataset module's source")

    s = sub.add_parser("bench", help="simulator throughput: vectorized vs reference loop (writes JSON + PNG)")
    s.add_argument("names", nargs="*", help="simulators (default: all)")
    s.add_argument("--scale", type=float, default=1.0, help="multiply simulation counts")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--out", default="results/bench_simulators.json")
    return p


def _dataset_of(name: str) -> str:
    from decathlon.benchmark.data import DATASETS
    from decathlon.benchmark.tasks import TASKS

    if name in TASKS:
        return TASKS.get(name).dataset
    if name in DATASETS:
        return name
    raise KeyError(f"unknown task or dataset {name!r}; tasks: {', '.join(TASKS.names())}; datasets: {', '.join(DATASETS.names())}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return _dispatch(args)
    except (KeyError, ValueError, TypeError, FileNotFoundError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"decathlon {args.cmd}: error: {msg}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    from decathlon.benchmark import data, tasks

    if args.cmd == "list":
        from decathlon.benchmark.models import BASELINES

        print("tasks:")
        for n in tasks.list_tasks():
            t = tasks.get_task(n)
            print(f"  {n:36s} {t.kind:9s} primary={t.primary:14s} dataset={t.dataset}")
        print("datasets:")
        for n in data.DATASETS.names():
            s = data.DATASETS.get(n)
            origin = "download" if s.files else "simulated"
            print(f"  {n:36s} {s.domain:12s} {origin:9s} tiers={','.join(s.tiers)}")
        print("baselines:")
        for n in BASELINES.names():
            b = BASELINES.get(n)
            print(f"  {n:20s} {','.join(b.kinds):9s} {b.description}")
        return 0
    if args.cmd == "describe":
        d = tasks.describe(args.task, args.tier)
        if args.json:
            print(json.dumps(d, indent=1))
        else:
            print(f"{d['task']} (v{d['version']}, {d['kind']}, event {d['event']}) on {d['dataset']}")
            print(f"  {d['description']}")
            print(f"  normalization: {d['normalization']}; metrics: {', '.join(d['metrics'])} "
                  f"(primary {d['primary']}, {d['direction']}); probes: {', '.join(d['probes']) or 'none'}; "
                  f"symmetries: {', '.join(d['equivariance']) or 'none'}; "
                  f"time-reversible physics: {d['time_reversible_physics']}")
            print("  model receives:")
            for k, v in d["inputs"].items():
                shape = v.get("shape", "")
                extra = f" features={v['features']}" if "features" in v else ""
                print(f"    {k:7s} dims={v['dims']} shape={shape} {v.get('dtype', '')}{extra} {v.get('note', '')}")
            o = d["output"]
            print(f"  model returns: dims={o['dims']} shape={o['shape']}: {o['meaning']}")
            if not d["prepared"]:
                print(f"  (entity/feature counts appear after `decathlon prepare {d['task']}`)")
        return 0
    if args.cmd == "prepare":
        ds = _dataset_of(args.name)
        path = data.prepare(ds, args.tier, progress=True, force=args.force)
        print(f"{ds} ({args.tier}) ready at {path}")
        return 0
    if args.cmd == "evaluate":
        from decathlon.benchmark.evaluate import evaluate
        from decathlon.benchmark.models import BASELINES, make_baseline
        from decathlon.benchmark.results import save_result
        from decathlon.benchmark.suite import format_table

        task = tasks.get_task(args.task)
        data.prepare(task.dataset, args.tier, progress=True)
        learned = BASELINES.get(args.model).learned
        model = make_baseline(args.model, task, **({"epochs": args.epochs, "progress": True} if learned else {}))
        if learned:
            model.fit(args.tier)
        r = evaluate(model, task, split=args.split, tier=args.tier, n_boot=args.n_boot, model_name=args.model, progress=True)
        print(format_table([r]))
        print(f"result: {save_result(r, args.out)}")
        return 0
    if args.cmd == "export-inputs":
        from decathlon.benchmark.evaluate import export_inputs

        task = tasks.get_task(args.task)
        data.prepare(task.dataset, args.tier, progress=True)
        p = export_inputs(task, args.out, args.tier, args.split, probes=not args.no_probes)
        print(f"inputs written to {p}; predict key 'pred' for 'x' and 'pred__<probe>' for each 'x__<probe>', same 'ids'")
        return 0
    if args.cmd == "score":
        from decathlon.benchmark.evaluate import score
        from decathlon.benchmark.results import save_result
        from decathlon.benchmark.suite import format_table

        r = score(args.task, args.predictions, args.tier, args.split, model_name=args.name)
        print(format_table([r]))
        print(f"result: {save_result(r, args.out)}")
        return 0
    if args.cmd == "run":
        from decathlon.benchmark.suite import (
            DEFAULT_BASELINES,
            format_table,
            plot_results,
            run_suite,
        )

        bl = tuple(args.baselines.split(",")) if args.baselines else DEFAULT_BASELINES
        res = run_suite(args.tasks, bl, args.tier, args.out, args.n_boot, progress=not args.no_progress,
                        gru_epochs=args.epochs)
        print(format_table(res["results"]))
        print()
        from decathlon.benchmark.suite import event_means

        for ev, m, prim, mean, n in event_means(res["results"]):
            print(f"event {ev:28s} {m:18s} mean {prim} over {n} tasks: {mean:.4g}")
        for m, s in sorted(res["scores"].items()):
            print(f"decathlon score {m:18s} {s['total']:8.1f}  95% CI [{s['ci95'][0]:.1f}, {s['ci95'][1]:.1f}]  "
                  f"over {len(s['events'])} events (max {s['max']}; a task a model cannot do scores 0)")
        by_reason: dict[str, list[str]] = {}
        for t, why in res["skipped"].items():
            by_reason.setdefault(why, []).append(t)
        for why, ts in by_reason.items():
            print(f"skipped {', '.join(ts)}: {why}")
        if res["results"]:
            fig = plot_results(res["results"], Path(args.out) / "decathlon.png")
            print(f"\n{len(res['files'])} result files in {args.out}/; figure: {fig}")
        return 0
    if args.cmd == "pin-hashes":
        from decathlon.datasets.pinning import pin_hashes_source, write_pins

        spec = data.DATASETS.get(args.dataset)
        if args.write:
            done = write_pins(spec)
            print(f"pinned {len(done)} files in the source of {args.dataset}: {', '.join(done) or '(none recorded)'}")
        else:
            print(pin_hashes_source(spec))
        return 0
    if args.cmd == "bench":
        from decathlon.datasets.speed import run_benchmarks

        rows = run_benchmarks(args.names or None, args.repeats, args.scale, args.out)
        print(f"{'simulator':22s} {'ref ms/sim':>11s} {'fast ms/sim':>12s} {'speedup':>8s} {'peak MB':>8s}")
        for r in rows:
            print(f"{r['name']:22s} {r['reference_per_sim_ms']:11.2f} {r['fast_per_sim_ms']:12.3f} "
                  f"{r['speedup']:7.0f}x {r['fast_peak_mb']:8.1f}")
        print(f"results: {args.out} and {Path(args.out).with_suffix('.png')}")
        return 0
    raise ValueError(f"unknown command {args.cmd}")
