"""The ``decathlon`` command line.

One function per subcommand (``set_defaults(func=...)``): each parses nothing itself, calls the
library, and prints what :mod:`decathlon.benchmark.report` formats. Every option's help states
its default; ``decathlon --version`` prints the package version.

Exit status:

* **0**: done.
* **2**: a usage error, fixed by changing the command line: argparse's own errors (unknown
  option, a value outside its choices, a number below its minimum), a name that is not
  registered (task, dataset, baseline; with "did you mean"), a value or input file the user gave
  that is refused (a malformed predictions file, ``--from`` on a simulated dataset, a path that
  does not exist).
* **1**: a runtime failure, with a correct command line: a download that failed, a file that
  fails its checksum, a corrupted store, a malformed upstream file found while building,
  training that failed, a full disk. Everything that goes wrong once the work has started
  (:func:`_work`) is a runtime failure.

Either way one message (one line where it can be) names the problem and the fix, on stderr.
Progress bars are drawn only when stderr is a terminal, and log lines are printed above them
instead of through them; with output redirected there are no bars, the INFO log lines stay.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

from decathlon.cli_support import (
    THREADS_HELP,
    TIER_CHOICES,
    Failed,
)
from decathlon.cli_support import Parser as _Parser
from decathlon.cli_support import add_dask_arguments as _add_dask_arguments
from decathlon.cli_support import at_least as _at_least
from decathlon.cli_support import dask_client_for as _client
from decathlon.cli_support import exit_status as _exit_status
from decathlon.cli_support import folder as _folder
from decathlon.cli_support import message as _message
from decathlon.cli_support import out_dir as _out_dir
from decathlon.cli_support import progress_wanted as _progress
from decathlon.cli_support import work as _work

__all__ = ["main"]

log = logging.getLogger("decathlon")


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
            as_json=args.json,
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
    from decathlon.benchmark.registry import did_you_mean, shorten
    from decathlon.benchmark.tasks import TASKS

    if name in TASKS:
        return TASKS.get(name).dataset
    if name in DATASETS:
        return name
    hint = did_you_mean(name, [*TASKS.names(), *DATASETS.names()])
    raise KeyError(
        f"unknown task or dataset {shorten(name)}; tasks: {', '.join(TASKS.names())}; "
        f"datasets: {', '.join(DATASETS.names())}" + (hint and "." + hint)
    )


def cmd_prepare(args: argparse.Namespace) -> int:
    from decathlon.benchmark.data import DATASETS, data_root, materialize

    ds = _dataset_of(args.name)
    spec = DATASETS.get(ds)
    spec.resolve_tier(args.tier)  # a tier the dataset does not have is a usage error
    data_root()  # so is $DECATHLON_DATA_DIR naming a file or a dangling link
    if args.from_dir is not None:
        from decathlon.datasets.fetch import import_local

        if not spec.files:
            raise ValueError(f"{ds} is simulated, not downloaded; --from applies to downloads only")
        with _work():
            copied = import_local(spec, Path(args.from_dir))
        print(
            f"{len(copied)} files of {ds} verified and copied from {args.from_dir} into the cache"
        )
    try:
        with _client(args) as client, _work():
            path = materialize(ds, args.tier, progress=_progress(), force=args.force, client=client)
    except BaseException:  # Ctrl-C or a failure: say what a cluster build kept
        from decathlon.benchmark.data import store_dir
        from decathlon.benchmark.partial import resume_hint

        hint = resume_hint(store_dir(spec, args.tier), spec, spec.resolve_tier(args.tier))
        if hint:
            print(f"decathlon prepare: {hint}", file=sys.stderr)
        raise
    print(f"{ds} ({args.tier}) ready at {path}")
    _compare_to_reference(ds, args.tier)
    return 0


def _warn_off_reference(records: list[dict], command: str) -> None:
    """A warning on stderr for each dataset whose store, as recorded in these results, does
    not have the reference build's bits (nothing when it does or none is pinned)."""
    from decathlon.benchmark.data import DATASETS
    from decathlon.datasets.reference_builds import compare

    seen = {(t["dataset"], t["tier"], t["data_sha256"]) for t in (r["task"] for r in records)}
    for ds, tier, sha in sorted(seen):
        meta = {"dataset": ds, "version": DATASETS.get(ds).version, "tier": tier}
        verdict, sentence = compare(meta | {"data_sha256": sha})
        if verdict == "differs":
            print(f"decathlon {command}: warning: {sentence}", file=sys.stderr)


def _compare_to_reference(name: str, tier: str) -> None:
    """Say whether the store has the reference build's bits (a warning on stderr if not)."""
    from decathlon.benchmark.data import store_meta
    from decathlon.datasets.reference_builds import compare

    verdict, sentence = compare(store_meta(name, tier))
    if verdict == "differs":
        print(f"decathlon prepare: warning: {sentence}", file=sys.stderr)
    else:
        print(sentence)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from decathlon.benchmark.baselines import BASELINES
    from decathlon.benchmark.context import EvalConfig
    from decathlon.benchmark.report import format_table
    from decathlon.benchmark.results import save_result
    from decathlon.benchmark.suite import run_baseline
    from decathlon.benchmark.user_models import find_model

    if args.model not in BASELINES:
        find_model(args.model)  # a wrong name fails here, before any data is built
    cfg = EvalConfig(n_boot=args.n_boot, progress=_progress())
    r = run_baseline(
        args.model,
        args.task,
        args.split,
        _tier(args),
        epochs=args.epochs,
        config=cfg,
        stream=args.stream,
        budget=args.budget,
    )
    print(format_table([r]))
    print(f"result: {save_result(r, args.out, overwrite=args.overwrite)}")
    _warn_off_reference([r], "evaluate")
    return 0


def cmd_export_inputs(args: argparse.Namespace) -> int:
    from decathlon.benchmark.context import prepare
    from decathlon.benchmark.offline import export_inputs

    if args.split == "challenge" or args.challenge:
        from decathlon.leaderboard.challenge import export_challenge_inputs

        if args.split != "challenge" or not args.challenge:
            raise ValueError(
                "the challenge split is read from its published folder: pass both --split "
                "challenge and --challenge FOLDER"
            )
        p = export_challenge_inputs(args.challenge, args.task, args.out, args.tier)
    else:
        prepared = prepare(args.task, args.split, args.tier, progress=_progress())
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
    _warn_off_reference([r], "score")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from decathlon.benchmark.baselines import BASELINES
    from decathlon.benchmark.context import EvalConfig
    from decathlon.benchmark.data import data_root
    from decathlon.benchmark.report import format_run, plot_results
    from decathlon.benchmark.suite import DEFAULT_BASELINES, run_suite
    from decathlon.benchmark.tasks import get_task

    bl = tuple(b.strip() for b in args.baselines.split(",")) if args.baselines else None
    for name in args.tasks or []:  # names a user typed: usage errors, before any work
        get_task(name)
    for b in bl or ():
        BASELINES.get(b)
    data_root()  # $DECATHLON_DATA_DIR naming a file or a dangling link: a usage error
    cfg = EvalConfig(n_boot=args.n_boot, progress=_progress(args))
    with _client(args) as client, _work():
        res = run_suite(
            args.tasks,
            bl or DEFAULT_BASELINES,
            _tier(args),
            args.out,
            epochs=args.epochs,
            budget=args.budget,
            config=cfg,
            client=client,
            force=args.force,
            save_predictions=args.save_predictions,
        )
    print(format_run(res))
    if res["results"]:
        fig = plot_results(res["results"], Path(args.out) / "decathlon.png", res["scores"])
        print(f"\n{len(res['files'])} result files in {args.out}/; figure: {fig}")
    _warn_off_reference(res["results"], "run")
    return 0


def _parser() -> argparse.ArgumentParser:
    from decathlon import __version__

    p = _Parser(
        prog="decathlon",
        description="Spacetime Decathlon: does a spatiotemporal model use time?",
        epilog="Exit status: 0 done, 2 usage error (fix the command line), 1 runtime failure "
        "(download, checksum, corrupted data, training).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)
    _add_data_commands(sub)
    _add_evaluation_commands(sub)
    from decathlon.cli_maintainer import add_maintainer_commands

    add_maintainer_commands(sub)
    from decathlon.cli_leaderboard import add_leaderboard_commands

    add_leaderboard_commands(sub)
    return p


def _add_data_commands(sub: Any) -> None:
    """``list``, ``describe``, ``prepare``."""

    s = sub.add_parser("list", help="registered tasks, datasets and baselines")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("describe", help="what a model receives and must return for a task")
    s.add_argument("task", help="task name (see `decathlon list`)")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES, help="data tier")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_describe)

    s = sub.add_parser(
        "prepare", help="download or simulate a task's (or dataset's) data into the cache"
    )
    s.add_argument("name", help="task or dataset name")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES, help="data tier")
    s.add_argument("--force", action="store_true", help="rebuild even if cached")
    s.add_argument(
        "--from",
        dest="from_dir",
        metavar="DIR",
        type=_folder,
        help="use upstream files already on disk (same names, verified by the same sha256) "
        "instead of downloading them (default: download)",
    )
    _add_dask_arguments(s, "build a simulator's chunks")
    s.set_defaults(func=cmd_prepare)


def _add_evaluation_commands(sub: Any) -> None:
    """``evaluate``, ``export-inputs``, ``score``, ``run``."""
    _add_evaluate_command(sub)

    s = sub.add_parser(
        "export-inputs", help="write a task's model inputs (every probe variant) to .npz"
    )
    s.add_argument("task", help="task name")
    s.add_argument("out", help="output .npz path")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES, help="data tier")
    s.add_argument("--split", default="test", help="split to export (or challenge)")
    s.add_argument(
        "--challenge",
        metavar="FOLDER",
        help="with --split challenge: the published challenge folder (default: none)",
    )
    s.add_argument("--no-probes", action="store_true", help="only the plain inputs")
    s.set_defaults(func=cmd_export_inputs)

    _add_score_command(sub)
    _add_run_command(sub)


def _add_run_command(sub: Any) -> None:
    """``run``."""
    s = sub.add_parser(
        "run",
        help="the demo decathlon: every task x the baselines, table, JSON, figure",
        description="The demo decathlon: every task x the baselines, a table, one result JSON "
        "per evaluation and a figure. It says up front what it will compute and about how long "
        "that takes here. Results are cached in --out: an evaluation whose model, task, data "
        "and evaluator settings are unchanged is reused, not recomputed (--force recomputes).",
        epilog=THREADS_HELP,
    )
    _add_budget_arguments(s)
    s.add_argument(
        "--tasks", nargs="*", metavar="TASK", help="subset of tasks (default: all registered)"
    )
    s.add_argument(
        "--baselines",
        default=None,
        help="comma-separated baselines (default: static,constant-velocity,linear-fit,chance,"
        "proximity,gru,train-mean,order-params,xcorr,granger-ridge,arrow-features)",
    )
    s.add_argument(
        "--out",
        default="results",
        type=_out_dir,
        help="folder for the result JSONs, the figure and the results cache",
    )
    s.add_argument("--n-boot", type=_at_least(0), default=1000, help="bootstrap resamples")
    s.add_argument(
        "--force", action="store_true", help="recompute every evaluation, even when cached"
    )
    s.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (there are none anyway when stderr is not a terminal)",
    )
    s.add_argument(
        "--save-predictions",
        action="store_true",
        help="also write every prediction to OUT/predictions/ (what `decathlon submit` bundles)",
    )
    _add_dask_arguments(s, "build the data and run the (task, baseline) evaluations")
    s.set_defaults(func=cmd_run)


def _add_budget_arguments(s: argparse.ArgumentParser) -> None:
    """``--tier``, ``--budget`` and ``--epochs`` of ``run`` and ``evaluate``."""
    s.add_argument(
        "--tier",
        default=None,
        choices=TIER_CHOICES,
        help="data tier; --budget paper uses full unless a tier is given (default: mini)",
    )
    s.add_argument(
        "--budget",
        default="cpu",
        choices=["cpu", "paper"],
        help="training budget of the learned baselines: cpu (minutes on a laptop) or paper "
        "(the paper's schedule; checkpointed, resumes when rerun) (default: %(default)s)",
    )
    s.add_argument(
        "--epochs",
        type=_at_least(1),
        default=None,
        help="training epochs of the learned baselines (default: the budget's, 20 at cpu; "
        "your own model's fit() gets the training data only)",
    )


def _tier(args: argparse.Namespace) -> Any:
    """``--tier``, else the tier of ``--budget``."""
    from decathlon.benchmark.baselines import budget_tier

    return args.tier or budget_tier(args.budget)


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
        epilog=THREADS_HELP,
    )
    s.add_argument(
        "--model",
        required=True,
        help="baseline name, module:Class, path/to/file.py:Class or a decathlon.models entry "
        "point (required)",
    )
    s.add_argument("--task", required=True)
    _add_budget_arguments(s)
    s.add_argument("--split", default="test")
    s.add_argument("--out", default="results", type=_out_dir)
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing result file of the same model, task and tier (default: refuse)",
    )
    s.add_argument("--n-boot", type=_at_least(0), default=1000)
    s.add_argument(
        "--stream",
        type=_at_least(1),
        default=None,
        metavar="SAMPLES",
        help="evaluate SAMPLES samples at a time (splits larger than memory; Poisson bootstrap) "
        "(default: the whole split in memory)",
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


def main(argv: list[str] | None = None) -> int:
    """Run ``decathlon ARGV``; the exit status (module docstring: 0, 2 usage, 1 runtime)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    redirect: Any = contextlib.nullcontext()
    if _progress():  # bars on a terminal: log lines go above them, not through them
        from tqdm.contrib.logging import logging_redirect_tqdm

        redirect = logging_redirect_tqdm()
    try:
        with redirect:
            return int(args.func(args))
    except (Failed, KeyError, ValueError, TypeError, OSError) as e:
        print(f"decathlon {args.cmd}: error: {_message(e)}", file=sys.stderr)
        return _exit_status(e, args)
