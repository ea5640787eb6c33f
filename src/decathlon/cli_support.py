"""The conventions every ``decathlon`` subcommand shares (used by :mod:`decathlon.cli`).

Exit statuses and the split between them (documented in :mod:`decathlon.cli`), the help
formatter that states every option's default, argparse value types, and when progress bars are
drawn. Nothing here prints.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "USAGE_ERROR",
    "RUNTIME_FAILURE",
    "THREADS_HELP",
    "TIER_CHOICES",
    "Failed",
    "HelpFormatter",
    "Parser",
    "add_dask_arguments",
    "at_least",
    "dask_client_for",
    "exit_status",
    "folder",
    "message",
    "out_dir",
    "positive_float",
    "progress_wanted",
    "work",
]

#: Exit status of a usage error (fix the command line) and of a runtime failure.
USAGE_ERROR, RUNTIME_FAILURE = 2, 1

#: The data tiers a ``--tier`` option accepts: ``decathlon.benchmark.data.Tier``'s values, written
#: out here so that parsing the command line imports no data code (a test keeps them equal).
TIER_CHOICES = ["mini", "full", "large"]

THREADS_HELP = (
    "Learned baselines train with torch on the CPU using at most the free cores (the cores "
    "this process may use less the load average of other processes, at least 1), so a busy "
    "machine is not oversubscribed; DECATHLON_THREADS=N sets the number, and OMP_NUM_THREADS "
    "set by you is kept as it is. The number chosen is logged once."
)


class Failed(Exception):
    """A runtime failure (exit status 1): raised by :func:`work` around the work itself."""


@contextlib.contextmanager
def work() -> Iterator[None]:
    """Within the block, the arguments are checked and the work runs: an error is a runtime
    failure (exit status 1), whatever its type."""
    try:
        yield
    except (KeyError, ValueError, TypeError) as e:
        raise Failed(message(e)) from e


def message(e: BaseException) -> str:
    """The text of an exception (a KeyError's without the quotes ``str`` adds)."""
    return str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)


def progress_wanted(args: argparse.Namespace | None = None) -> bool:
    """Progress bars only on a terminal (redirected output gets the log lines, not bars), and
    not with ``--no-progress``."""
    if args is not None and getattr(args, "no_progress", False):
        return False
    return sys.stderr.isatty()


def at_least(minimum: int) -> Any:
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


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value


def out_dir(text: str) -> str:
    """An argparse type: a folder to write into (created if missing), not an existing file."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text[:200]} is a file; give a folder for the results")
    return text


def folder(text: str) -> str:
    """An argparse type: an existing folder."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text[:200]} is not a folder")
    return text


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default: ``(default: X)``, ``(default: off)`` for a
    flag, unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.nargs == 0:  # a flag
            return f"{text} (default: {'on' if action.default else 'off'})"
        if action.default is None:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (``decathlon evaluate: error: ...``), exit status 2; every
    option's help with its default (:class:`HelpFormatter`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message[:500]} (see `{self.prog} --help`)\n")


def exit_status(e: BaseException, args: argparse.Namespace) -> int:
    """2 for a usage error, 1 for a runtime failure (the split of :mod:`decathlon.cli`).

    Runtime failures: :class:`Failed` (anything raised once the work started), a corrupted or
    missing store, a baseline that cannot train, a checksum mismatch, any ``OSError`` (network,
    disk) except a missing file whose path the user typed (``file.py`` of ``file.py:Class``
    included) and a result file that exists (``--overwrite``). Everything else that reaches
    :func:`decathlon.cli.main` (unknown names, refused values or input files) is a usage error.

    Examples
    --------
    >>> args = argparse.Namespace(predictions="p.npz")
    >>> exit_status(KeyError("unknown task 'x'"), args), exit_status(OSError("offline"), args)
    (2, 1)
    >>> exit_status(FileNotFoundError("predictions file p.npz does not exist"), args)
    2
    """
    from decathlon.benchmark.data import StoreError
    from decathlon.benchmark.suite import CannotTrain
    from decathlon.datasets.fetch import ChecksumError

    if isinstance(e, (Failed, StoreError, CannotTrain, ChecksumError)):
        return RUNTIME_FAILURE
    if isinstance(e, FileExistsError):  # a result that would be overwritten: --overwrite
        return USAGE_ERROR
    if isinstance(e, FileNotFoundError):  # a path the user typed, or one the work needed
        typed = {v for v in vars(args).values() if isinstance(v, str) and ("." in v or "/" in v)}
        typed |= {v.rpartition(":")[0] for v in typed if ":" in v}  # file.py:Class
        typed.discard("")
        named = e.filename is not None and str(e.filename) in typed
        return USAGE_ERROR if named or any(v in str(e) for v in typed) else RUNTIME_FAILURE
    if isinstance(e, OSError):
        return RUNTIME_FAILURE
    return USAGE_ERROR


@contextlib.contextmanager
def dask_client_for(args: argparse.Namespace) -> Iterator[object]:
    """A Dask client if ``--dask``, ``--workers`` or ``--scheduler`` asks for one, else None."""
    if not (args.dask or args.workers is not None or args.scheduler):
        yield None
        return
    from decathlon.benchmark.cluster import dask_client

    with dask_client(args.workers, args.scheduler) as client:
        logging.getLogger("decathlon").info("dask: %s", client)
        yield client


def add_dask_arguments(s: argparse.ArgumentParser, what: str) -> None:
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
    g.add_argument(
        "--workers", type=int, help="a local cluster of N worker processes (default: no cluster)"
    )
    g.add_argument(
        "--scheduler", metavar="ADDRESS", help="the Dask scheduler to connect to (default: none)"
    )
