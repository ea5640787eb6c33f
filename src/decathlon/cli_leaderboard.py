"""The leaderboard's commands: ``decathlon submit`` and ``decathlon leaderboard verify|build|
build-reference`` (kept apart from :mod:`decathlon.cli` only for its length; same conventions:
each command parses nothing itself, calls the library and prints).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from decathlon.cli import TIER_CHOICES, _at_least, _out_dir

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
    path, verdict = submit(
        args.model, args.results, args.out, meta=meta, training_data=args.training_data
    )
    names = ", ".join(r["task"]["name"] for r in verdict.results)
    print(
        f"bundle written to {path}: {len(verdict.results)} tasks ({names}), checked as the "
        "leaderboard will check it"
    )
    return 0


def cmd_leaderboard_verify(args: argparse.Namespace) -> int:
    from decathlon.leaderboard.verify import verify_bundle

    verdict = verify_bundle(args.bundle, n_boot=args.n_boot, accept_into=args.accept)
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

    s = lsub.add_parser(
        "build-reference", help="maintainers: regenerate the reference baselines' entries"
    )
    s.add_argument("--out", default="leaderboard/entries", type=_out_dir)
    s.add_argument("--baselines", help="comma-separated (default: static,chance,proximity)")
    s.add_argument("--tier", default="mini", choices=TIER_CHOICES)
    s.set_defaults(func=cmd_leaderboard_build_reference)
