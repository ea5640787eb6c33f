"""The ``decathlon`` command line.

One function per subcommand (``set_defaults(func=...)``): each parses nothing itself, calls the
library, and prints what :mod:`decathlon.benchmark.report` formats. Errors a user can fix
(unknown names, bad files, missing data) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["main"]

log = logging.getLogger("decathlon")

TIER_CHOICES = ["mini", "full", "large"]


def _at_least(minimum: int) -> Any:
    """An argparse type: an integer >= ``minimum``, with a message naming the value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum of {minimum}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value


def _out_dir(text: str) -> str:
    """An argparse type: a folder to write into (created if missing), not an existing file."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text[:200]} is a file; give a folder for the results")
    return text


def cmd_list(args: argparse.Namespace) -> int:
    from decathlon.benchmark.baselines import BASELINES
    from decathlon.benchmark.data import DATASETS
    from decathlon.benchmark.report import format_registries
    from decathlon.benchmark.tasks import TASKS

    print(
        format_registries(
            [TASKS.get(n) for n in TASKS.names()],
            [DATASETS.get(n) for n in DATASETS.names()],
            [BASELINES.get(n) for n in BASELINES.names()],
        )
    )
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from decathlon.benchmark.describe import describe
    from decathlon.benchmark.report import format_describe

    print(format_describe(describe(args.task, args.tier), as_json=args.json))
    return 0


def _dataset_of(name: str) -> str:
    from decathlon.benchmark.data import DATASETS
    from decathlon.benchmark.registry import shorten
    from decathlon.benchmark.tasks import TASKS

    if name in TASKS:
        return TASKS.get(name).dataset
    if name in DATASETS:
        return name
    raise KeyError(
        f"unknown task or dataset {shorten(name)}; tasks: {', '.join(TASKS.names())}; "
        f"datasets: {', '.join(DATASETS.names())}"
    )


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[object]:
    """A Dask client if ``--dask``, ``--workers`` or ``--scheduler`` asks for one, else None."""
    if not (args.dask or args.workers is not None or args.scheduler):
        yield None
        return
    from decathlon.benchmark.cluster import dask_client

    with dask_client(args.workers, args.scheduler) as client:
        log.info("dask: %s", client)
        yield client


def cmd_prepare(args: argparse.Namespace) -> int:
    from decathlon.benchmark.data import materialize

    ds = _dataset_of(args.name)
    if args.from_dir is not None:
        from decathlon.benchmark.data import DATASETS
        from decathlon.datasets.fetch import import_local

        spec = DATASETS.get(ds)
        if not spec.files:
            raise ValueError(f"{ds} is simulated, not downloaded; --from applies to downloads only")
        copied = import_local(spec, Path(args.from_dir))
        print(
            f"{len(copied)} files of {ds} verified and copied from {args.from_dir} into the cache"
        )
    with _client(args) as client:
        path = materialize(ds, args.tier, progress=True, force=args.force, client=client)
    print(f"{ds} ({args.tier}) ready at {path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from decathlon.benchmark.baselines import BASELINES
    from decathlon.benchmark.context import EvalConfig
    from decathlon.benchmark.report import format_table
    from decathlon.benchmark.results import save_result
    from decathlon.benchmark.suite import run_baseline
    from decathlon.benchmark.user_models import find_model

    if args.model not in BASELINES:
        find_model(args.model)  # a wrong name fails here, before any data is built
    cfg = EvalConfig(n_boot=args.n_boot, progress=True)
    r = run_baseline(
        args.model,
        args.task,
        args.split,
        args.tier,
        epochs=args.epochs,
        config=cfg,
        stream=args.stream,
    )
    print(format_table([r]))
    print(f"result: {save_result(r, args.out, overwrite=args.overwrite)}")
    return 0


def cmd_export_inputs(args: argparse.Namespace) -> int:
    from decathlon.benchmark.context import prepare
    from decathlon.benchmark.offline import export_inputs

    prepared = prepare(args.task, args.split, args.tier, progress=True)
    p = export_inputs(prepared, args.out, probes=not args.no_probes)
    print(
        f"inputs written to {p}; predict key 'pred' for 'x' and 'pred__<probe>' for each "
        "'x__<probe>', same 'ids'"
    )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from decathlon.benchmark.context import prepare
    from decathlon.benchmark.offline import score
    from decathlon.benchmark.report import format_table
    from decathlon.benchmark.results import save_result

    r = score(
        prepare(args.task, args.split, args.tier, build=False),
        args.predictions,
        model_name=args.name,
    )
    print(format_table([r]))
    print(f"result: {save_result(r, args.out, overwrite=args.overwrite)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from decathlon.benchmark.context import EvalConfig
    from decathlon.benchmark.report import format_run, plot_results
    from decathlon.benchmark.suite import DEFAULT_BASELINES, run_suite

    bl = tuple(args.baselines.split(",")) if args.baselines else DEFAULT_BASELINES
    cfg = EvalConfig(n_boot=args.n_boot, progress=not args.no_progress)
    with _client(args) as client:
        res = run_suite(
            args.tasks,
            bl,
            args.tier,
            args.out,
            epochs=args.epochs,
            config=cfg,
            client=client,
            save_predictions=args.save_predictions,
        )
    print(format_run(res))
    if res["results"]:
        fig = plot_results(res["results"], Path(args.out) / "decathlon.png")
        print(f"\n{len(res['files'])} result files in {args.out}/; figure: {fig}")
    return 0


def cmd_pin_hashes(args: argparse.Namespace) -> int:
    from decathlon.benchmark.data import DATASETS
    from decathlon.datasets.pinning import pin_hashes_source, write_pins

    spec = DATASETS.get(args.dataset)
    if args.write:
        done = write_pins(spec)
        print(
            f"pinned {len(done)} files in the source of {args.dataset}: "
            f"{', '.join(done) or '(none recorded)'}"
        )
    else:
        print(pin_hashes_source(spec))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from decathlon.benchmark.bench_eval import run_evaluator_benchmarks
    from decathlon.benchmark.bench_scale import run_scale_benchmarks
    from decathlon.benchmark.report import (
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


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``decathlon evaluate: error: ...``), exit status 2."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message[:500]} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="decathlon", description="Spacetime Decathlon: does a spatiotemporal model use time?"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)
    _add_data_commands(sub)
    _add_evaluation_commands(sub)
    _add_maintainer_commands(sub)
    from decathlon.cli_leaderboard import add_leaderboard_commands

    add_leaderboard_commands(sub)
    return p


def _add_data_commands(sub: Any) -> None:
    """``list``, ``describe``, ``prepare``."""

    s = sub.add_parser("list", help="registered tasks, datasets and baselines")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("describe", help="what a model receives and must return for a task")
    s.add_argument("task")
    s.add_argument("--tier", default="mini")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_describe)

    s = sub.add_parser(
        "prepare", help="download or simulate a task's (or dataset's) data into the cache"
    )
    s.add_argument("name", help="task or dataset name")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES)
    s.add_argument("--force", action="store_true", help="rebuild even if cached")
    s.add_argument(
        "--from",
        dest="from_dir",
        metavar="DIR",
        help="use upstream files already on disk (same names, verified by the same sha256) "
        "instead of downloading them",
    )
    _add_dask_arguments(s, "build a simulator's chunks")
    s.set_defaults(func=cmd_prepare)


def _add_dask_arguments(s: argparse.ArgumentParser, what: str) -> None:
    """``--dask``, ``--workers N``, ``--scheduler ADDRESS`` (any of them: run on Dask)."""
    g = s.add_argument_group(
        "dask", f"{what} on a Dask cluster (default without these options: serially, here)"
    )
    g.add_argument(
        "--dask",
        action="store_true",
        help="use Dask: the scheduler in the Dask configuration (DASK_SCHEDULER_ADDRESS) if "
        "set, else a local cluster of one single-threaded worker process per CPU",
    )
    g.add_argument("--workers", type=int, help="a local cluster of N worker processes")
    g.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler to connect to")


def _add_evaluation_commands(sub: Any) -> None:
    """``evaluate``, ``export-inputs``, ``score``, ``run``."""
    _add_evaluate_command(sub)

    s = sub.add_parser(
        "export-inputs", help="write a task's model inputs (every probe variant) to .npz"
    )
    s.add_argument("task")
    s.add_argument("out", help="output .npz path")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES)
    s.add_argument("--split", default="test")
    s.add_argument("--no-probes", action="store_true", help="only the plain inputs")
    s.set_defaults(func=cmd_export_inputs)

    _add_score_command(sub)

    s = sub.add_parser(
        "run", help="the demo decathlon: every task x the baselines, table, JSON, figure"
    )
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES)
    s.add_argument("--tasks", nargs="*", help="subset of tasks (default: all)")
    s.add_argument("--baselines", default=None, help="comma-separated baselines (default: all)")
    s.add_argument("--out", default="results", type=_out_dir)
    s.add_argument("--epochs", type=_at_least(1), default=20, help="epochs of learned baselines")
    s.add_argument("--n-boot", type=_at_least(0), default=1000)
    s.add_argument("--no-progress", action="store_true")
    s.add_argument(
        "--save-predictions",
        action="store_true",
        help="also write every prediction to OUT/predictions/ (what `decathlon submit` bundles)",
    )
    _add_dask_arguments(s, "build the data and run the (task, baseline) evaluations")
    s.set_defaults(func=cmd_run)


def _add_evaluate_command(sub: Any) -> None:
    """``evaluate --model MODEL --task TASK``: a baseline or the user's own model."""
    s = sub.add_parser(
        "evaluate",
        help="evaluate a baseline or your own model on a task and write its result JSON",
        description="Evaluate a model on a task and write its result JSON. MODEL is a built-in "
        "baseline (`decathlon list`), module:Class (importable), path/to/file.py:Class, or a "
        "name registered by an installed package in the entry-point group 'decathlon.models'. "
        "A class or factory is called with the task record when its first parameter is "
        "required or named `task`, else with no arguments. If the model has fit(), it is "
        "trained first with model.fit(task.train_data(tier)). Loading a file or module runs "
        "its code: name only your own.",
    )
    s.add_argument(
        "--model",
        required=True,
        help="baseline name, module:Class, path/to/file.py:Class or a decathlon.models entry "
        "point (required)",
    )
    s.add_argument("--task", required=True)
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES)
    s.add_argument("--split", default="test")
    s.add_argument("--out", default="results", type=_out_dir)
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing result file of the same model, task and tier (default: refuse)",
    )
    s.add_argument(
        "--epochs",
        type=_at_least(1),
        default=20,
        help="training epochs of the learned baselines (default: %(default)s; your own model's "
        "fit() gets the training data only)",
    )
    s.add_argument("--n-boot", type=_at_least(0), default=1000)
    s.add_argument(
        "--stream",
        type=_at_least(1),
        default=None,
        metavar="SAMPLES",
        help="evaluate SAMPLES samples at a time (splits larger than memory; Poisson bootstrap)",
    )
    s.set_defaults(func=cmd_evaluate)


def _add_score_command(sub: Any) -> None:
    """``score TASK PREDICTIONS``: the offline route's second half."""
    s = sub.add_parser("score", help="score a predictions .npz (keys ids, pred, pred__<probe>)")
    s.add_argument("task")
    s.add_argument("predictions")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES)
    s.add_argument("--split", default="test")
    s.add_argument(
        "--name",
        default=None,
        help="model name for the result and its file name (default: the predictions file's "
        "name without .npz)",
    )
    s.add_argument("--out", default="results", type=_out_dir)
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing result file of the same name, task and tier (default: refuse)",
    )
    s.set_defaults(func=cmd_score)


def _add_maintainer_commands(sub: Any) -> None:
    """``pin-hashes``, ``bench``."""
    s = sub.add_parser(
        "pin-hashes", help="maintainers: print (or --write) the sha256 recorded for unpinned files"
    )
    s.add_argument("dataset")
    s.add_argument(
        "--write", action="store_true", help="write them into the dataset module's source"
    )
    s.set_defaults(func=cmd_pin_hashes)

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
        "serially and on local clusters of --build-workers workers",
    )
    s.add_argument(
        "--build-workers",
        type=lambda t: [_at_least(1)(w) for w in t.split(",")],
        default=[1, 2],
        help="comma-separated cluster sizes (default 1,2)",
    )
    s.add_argument(
        "--build-chunks", type=_at_least(1), default=8, help="training chunks (5000 sims each)"
    )
    s.set_defaults(func=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except (KeyError, ValueError, TypeError, FileNotFoundError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"decathlon {args.cmd}: error: {msg}", file=sys.stderr)
        return 2
