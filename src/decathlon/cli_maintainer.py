"""The maintainers' subcommands of ``decathlon``: ``pin-hashes``, ``bench`` and ``necessity``.

Kept apart from :mod:`decathlon.cli` (which stays under the house's 500-line limit); the same
rules hold: each command parses nothing itself, calls the library and prints what
:mod:`decathlon.benchmark.report` formats.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from decathlon.cli_support import TIER_CHOICES
from decathlon.cli_support import at_least as _at_least
from decathlon.cli_support import out_dir as _out_dir
from decathlon.cli_support import positive_float as _positive_float

__all__ = ["add_maintainer_commands"]


def cmd_pin_hashes(args: argparse.Namespace) -> int:
    from decathlon.benchmark.data import DATASETS
    from decathlon.datasets.pinning import pin_hashes_source, write_pins

    spec = DATASETS.get(args.dataset)
    if args.tier is not None:
        return _pin_store(args.dataset, args.tier, args.write)
    if args.write:
        done = write_pins(spec)
        print(
            f"pinned {len(done)} files in the source of {args.dataset}: "
            f"{', '.join(done) or '(none recorded)'}"
        )
    else:
        print(pin_hashes_source(spec))
    return 0


def _pin_store(name: str, tier: str, write: bool) -> int:
    """``pin-hashes NAME --tier TIER``: the prepared store against its reference build, and with
    ``--write`` made the reference build."""
    from decathlon.benchmark.data import store_meta
    from decathlon.datasets.reference_builds import REFERENCE_FILE, compare, pin

    if write:
        entry = pin(name, tier)
        print(f"pinned {name} ({tier}) data_sha256 {entry['data_sha256']} in {REFERENCE_FILE}")
    else:
        print(compare(store_meta(name, tier))[1])
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from decathlon.benchmark.bench_eval import run_evaluator_benchmarks
    from decathlon.benchmark.bench_scale import run_scale_benchmarks
    from decathlon.benchmark.report_bench import (
        format_bench,
        format_bench_evaluator,
        format_build_bench,
        format_store_bench,
    )

    parts = args.part or ["simulators", "evaluator", "stores"]
    out = Path(args.out)
    if "simulators" in parts:
        from decathlon.datasets.speed import run_benchmarks

        sim_out = out / "bench_simulators.json"
        print(
            format_bench(run_benchmarks(args.names or None, args.repeats, args.scale, str(sim_out)))
        )
        print(f"results: {sim_out} and {sim_out.with_suffix('.png')}")
    if "evaluator" in parts:
        ev_out = out / "bench_evaluator.json"
        print(
            format_bench_evaluator(run_evaluator_benchmarks(args.tier, args.repeats, str(ev_out)))
        )
        print(f"results: {ev_out}")
    if "stores" in parts or args.build:
        scale_out = out / "bench_scale.json"
        res = run_scale_benchmarks(
            str(scale_out),
            stores_tier=args.tier if "stores" in parts else None,
            build_tier=args.build,
            build_workers=args.build_workers,
            build_chunks=args.build_chunks,
            build_repeats=args.repeats,
        )
        if "stores" in res:
            print(format_store_bench(res["stores"]))
        if "build" in res:
            print(format_build_bench(res["build"]))
        print(f"results: {scale_out}")
    return 0


def cmd_necessity(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from decathlon.benchmark.necessity import NECESSITY_FILE, compute_necessity
    from decathlon.benchmark.report import format_necessity

    out = Path(args.out) if args.out else NECESSITY_FILE
    command = "decathlon " + shlex.join(sys.argv[1:])
    data = compute_necessity(
        args.tasks or None, args.tier, args.budget, args.epochs, args.n_boot, command, out
    )
    print(format_necessity(data))
    print(f"written: {out}")
    return 0


def _add_pin_hashes(sub: Any) -> None:
    """``pin-hashes``."""
    s = sub.add_parser(
        "pin-hashes",
        help="maintainers: print (or --write) the sha256 recorded for unpinned files, or with "
        "--tier the prepared store's data_sha256 as the reference build",
    )
    s.add_argument("dataset", help="dataset name")
    s.add_argument(
        "--tier",
        choices=TIER_CHOICES,
        help="pin the prepared store of this tier (reference_builds.json) instead of upstream "
        "files (default: upstream files)",
    )
    s.add_argument(
        "--write",
        action="store_true",
        help="write them into the dataset module's source (with --tier: into the package's "
        "reference_builds.json)",
    )
    s.set_defaults(func=cmd_pin_hashes)


def add_maintainer_commands(sub: Any) -> None:
    """``pin-hashes``, ``bench``, ``necessity``."""
    _add_pin_hashes(sub)

    s = sub.add_parser(
        "bench",
        help="speed and memory, side by side with reference implementations: simulators vs "
        "their reference loop and a compiled C loop, the evaluator vs plain scripts, reading a "
        "split from its store vs np.load, optionally a tier's build on 1, 2, ... Dask workers",
    )
    s.add_argument("names", nargs="*", help="simulators (default: all)")
    s.add_argument(
        "--part",
        action="append",
        choices=["simulators", "evaluator", "stores"],
        help="what to measure (repeatable; default: all three)",
    )
    s.add_argument("--scale", type=_positive_float, default=1.0, help="multiply simulation counts")
    s.add_argument(
        "--repeats", type=_at_least(1), default=3, help="timings per case (medians reported)"
    )
    s.add_argument(
        "--tier", default="full", choices=TIER_CHOICES, help="tier of the evaluator and store rows"
    )
    s.add_argument("--out", default="results", type=_out_dir, help="folder for the results files")
    s.add_argument(
        "--build",
        metavar="TIER",
        choices=TIER_CHOICES,
        help="also time building the springs TIER's first --build-chunks training chunks, "
        "serially and on local clusters of --build-workers workers (default: not timed)",
    )
    s.add_argument(
        "--build-workers",
        type=lambda t: [_at_least(1)(w) for w in t.split(",")],
        default="1,2",  # argparse applies the type to a string default
        help="comma-separated cluster sizes",
    )
    s.add_argument(
        "--build-chunks", type=_at_least(1), default=8, help="training chunks (5000 sims each)"
    )
    s.set_defaults(func=cmd_bench)
    _add_necessity(sub)


def _add_necessity(sub: Any) -> None:
    """``necessity``."""
    s = sub.add_parser(
        "necessity",
        help="maintainers: the temporal necessity N of each task (its best order-aware reference "
        "baseline against the best order-agnostic one: the same models trained and tested on "
        "shuffled input frames, and order-free ones), written to the package's necessity.json "
        "that `decathlon describe` shows",
    )
    s.add_argument(
        "--tasks",
        nargs="*",
        help="subset of tasks, updated in the file, the others' entries kept (default: every "
        "registered task, the file replaced)",
    )
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES, help="data tier")
    s.add_argument("--budget", default="cpu", choices=["cpu", "paper"], help="training budget")
    s.add_argument("--epochs", type=_at_least(1), help="training epochs (default: the budget's)")
    s.add_argument("--n-boot", type=_at_least(0), default=1000, help="bootstrap resamples")
    s.add_argument("--out", help="file to write (default: the package's necessity.json)")
    s.set_defaults(func=cmd_necessity)
