"""The leaderboard's commands: ``decathlon submit`` and ``decathlon leaderboard verify|build|
build-reference`` (kept apart from :mod:`decathlon.cli` only for its length; same conventions:
each command parses nothing itself, calls the library and prints).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from decathlon.cli import _at_least, _out_dir, _warn_off_reference, _work
from decathlon.cli_support import TIER_CHOICES

__all__ = ["add_leaderboard_commands"]


def cmd_submit(args: argparse.Namespace) -> int:
    from decathlon.benchmark.results import parse_json
    from decathlon.leaderboard.submit import submit

    meta: dict[str, Any] = {}
    if args.meta:
        meta = parse_json(Path(args.meta).read_bytes(), args.meta)
        if not isinstance(meta, dict):
            raise ValueError(f"{args.meta}: model metadata is a JSON object")
    given = {
        "version": args.model_version,
        "authors": args.authors.split(",") if args.authors else None,
        "contact": args.contact,
        "code_url": args.code_url,
        "paper": args.paper,
        "n_parameters": args.n_parameters,
    }
    meta.update({k: v for k, v in given.items() if v is not None})
    if args.challenge:
        return _submit_challenge(args, meta)
    path, verdict = submit(
        args.model, args.results, args.out, meta=meta, training_data=args.training_data
    )
    names = ", ".join(r["task"]["name"] for r in verdict.results)
    print(
        f"bundle written to {path}: {len(verdict.results)} tasks ({names}), checked as the "
        "leaderboard will check it"
    )
    _warn_off_reference(verdict.results, "submit")  # results computed through the Python API too
    return 0


def _submit_challenge(args: argparse.Namespace, meta: dict[str, Any]) -> int:
    from decathlon.leaderboard.challenge_verify import submit_challenge

    if not args.predictions:
        raise ValueError("submit --challenge needs --predictions DIR (one <task>.npz per task)")
    path, names = submit_challenge(
        args.model,
        args.challenge,
        args.predictions,
        args.out,
        meta=meta,
        training_data=args.training_data,
    )
    print(
        f"challenge bundle written to {path}: {len(names)} tasks ({', '.join(names)}); the "
        "maintainer scores it against the secret targets"
    )
    return 0


def cmd_challenge_make(args: argparse.Namespace) -> int:
    from decathlon.leaderboard.challenge import make_challenge, secret_from

    secret = secret_from(args.secret)
    with _work():
        path = make_challenge(args.out, args.tier, secret, args.tasks, args.name)
    print(f"challenge written to {path.parent}: publish the folder; keep the secret")
    return 0


def cmd_challenge_verify(args: argparse.Namespace) -> int:
    from decathlon.leaderboard.challenge import secret_from
    from decathlon.leaderboard.challenge_verify import verify_challenge

    secret = secret_from(args.secret)
    verdict = verify_challenge(args.bundle, secret, n_boot=args.n_boot, accept_into=args.accept)
    return _report(verdict)


def cmd_leaderboard_verify(args: argparse.Namespace) -> int:
    from decathlon.leaderboard.verify import verify_bundle

    return _report(verify_bundle(args.bundle, n_boot=args.n_boot, accept_into=args.accept))


def _report(verdict: Any) -> int:
    """Print a verdict: every problem (exit 1), or the re-scored numbers (exit 0)."""
    if not verdict.accepted:
        print(verdict.message(), file=sys.stderr)
        return 1
    for r in verdict.results:
        prim = r["task"]["primary"]
        pts = r.get("points", {}).get("value")
        print(
            f"{r['task']['name']:34s} re-scored  {prim}={r['metrics'][prim]['value']:.6g}"
            + ("" if pts is None else f"  points={pts:.1f}")
        )
    where = f"; entry written to {verdict.entry}" if verdict.entry else ""
    print(f"accepted: every number re-scored from the predictions (tier re-scored){where}")
    return 0


def cmd_leaderboard_build(args: argparse.Namespace) -> int:
    from decathlon.leaderboard.build import build_site

    page = build_site(args.entries, args.out)
    print(f"leaderboard written: {page} and {page.with_name('leaderboard.json')}")
    return 0


def cmd_leaderboard_build_reference(args: argparse.Namespace) -> int:
    from decathlon.leaderboard.reference import REFERENCE_BASELINES, build_reference

    baselines = tuple(args.baselines.split(",")) if args.baselines else REFERENCE_BASELINES
    made = build_reference(args.out, baselines, args.tier)
    print(f"{len(made)} reference entries written: {', '.join(str(p) for p in made)}")
    return 0


def add_leaderboard_commands(sub: Any) -> None:
    """``submit`` and ``leaderboard verify|build|build-reference``."""
    s = sub.add_parser(
        "submit", help="bundle a model's results and predictions for the leaderboard (verified)"
    )
    s.add_argument("--model", required=True, help="the model name in the result files")
    s.add_argument("--results", default="results", help="folder of `decathlon run --out`")
    s.add_argument("--out", required=True, help="new bundle: a folder, .zip, .tar or .tar.gz")
    s.add_argument(
        "--training-data",
        help="what the model was trained on (required, here or in --meta; default: none)",
    )
    s.add_argument(
        "--meta",
        help="JSON file of model metadata (keys as the options below; default: the options only)",
    )
    s.add_argument(
        "--model-version", help="the model's version (default: the results' model version)"
    )
    s.add_argument("--authors", help="comma-separated author names (default: none)")
    s.add_argument("--contact", help="an e-mail address or other contact (default: none)")
    s.add_argument("--code-url", help="where the model's code is (http/https; default: none)")
    s.add_argument("--paper", help="the model's paper (http/https URL; default: none)")
    s.add_argument(
        "--n-parameters",
        type=_at_least(0),
        help="parameter count (default: the largest in the results)",
    )
    _add_submit_challenge_options(s)
    s.set_defaults(func=cmd_submit)

    lb = sub.add_parser("leaderboard", help="verify submissions, build the leaderboard site")
    lsub = lb.add_subparsers(dest="leaderboard_cmd", required=True)
    s = lsub.add_parser("verify", help="re-score a bundle's predictions; reject any mismatch")
    s.add_argument("bundle", help="a submission bundle (folder, .zip, .tar)")
    s.add_argument(
        "--accept",
        metavar="ENTRIES",
        help="when accepted, add it to this folder (default: only report)",
    )
    s.add_argument("--n-boot", type=_at_least(0), default=1000)
    s.set_defaults(func=cmd_leaderboard_verify)

    s = lsub.add_parser("build", help="leaderboard.json and the static site from entries")
    s.add_argument("entries", help="folder of accepted entries (e.g. leaderboard/entries)")
    s.add_argument("--out", required=True, type=_out_dir, help="folder for the site")
    s.set_defaults(func=cmd_leaderboard_build)

    _add_challenge_commands(lsub)

    s = lsub.add_parser(
        "build-reference", help="maintainers: regenerate the reference baselines' entries"
    )
    s.add_argument("--out", default="leaderboard/entries", type=_out_dir)
    s.add_argument("--baselines", help="comma-separated (default: static,chance,proximity)")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES)
    s.set_defaults(func=cmd_leaderboard_build_reference)


SECRET_HELP = (
    "the challenge secret (default: $DECATHLON_CHALLENGE_SECRET; prefer the variable: a command "
    "line is visible to other users of the machine)"
)


def _add_submit_challenge_options(s: Any) -> None:
    """``submit --challenge FOLDER --predictions DIR``: a challenge bundle (no results)."""
    s.add_argument(
        "--challenge",
        metavar="FOLDER",
        help="a published challenge folder: bundle predictions for it, without results "
        "(default: a bundle of results)",
    )
    s.add_argument(
        "--predictions",
        metavar="DIR",
        help="with --challenge: folder of <task>.npz predictions, named as the challenge's "
        "inputs (default: none)",
    )


def _add_challenge_commands(lsub: Any) -> None:
    """``leaderboard challenge make|verify`` (maintainers; docs/leaderboard.md section 7)."""
    ch = lsub.add_parser("challenge", help="maintainers: the hidden-target challenge split")
    csub = ch.add_subparsers(dest="challenge_cmd", required=True)
    s = csub.add_parser("make", help="simulate a challenge from a secret; write its inputs")
    s.add_argument("--out", required=True, help="new folder to publish (challenge.json, inputs/)")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES, help="data tier")
    s.add_argument(
        "--tasks", nargs="*", metavar="TASK", help="tasks (default: every simulated task)"
    )
    s.add_argument("--name", default="challenge", help="the challenge's name")
    s.add_argument("--secret", help=SECRET_HELP)
    s.set_defaults(func=cmd_challenge_make)

    s = csub.add_parser("verify", help="score a challenge bundle against the secret targets")
    s.add_argument("bundle", help="a challenge bundle (folder, .zip, .tar)")
    s.add_argument(
        "--accept",
        metavar="ENTRIES",
        help="when accepted, add it to this folder (default: only report)",
    )
    s.add_argument("--n-boot", type=_at_least(0), default=1000, help="bootstrap resamples")
    s.add_argument("--secret", help=SECRET_HELP)
    s.set_defaults(func=cmd_challenge_verify)
