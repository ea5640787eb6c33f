"""The reference baselines' leaderboard entries (``leaderboard/entries/``), regenerated here.

``decathlon leaderboard build-reference`` runs the deterministic reference baselines on every
simulated task at the ``mini`` tier with their predictions saved, submits each baseline
(:func:`~.submit.submit`), verifies the bundle and accepts it into the entries folder, replacing
that baseline's previous entry. Run it whenever the points formula, a task or the evaluator
changes; the test suite re-scores the committed entries and fails when they are stale.

The default baselines are the ones whose predictions compress well enough to keep the committed
entries small (about 2.8 MB together, predictions of every probe variant included): ``static``
(persistence: 0 points by definition), ``chance`` and ``proximity``. ``constant-velocity``
predictions do not compress (about 11 MB per forecast task with every probe), so it is left out
of the committed entries; pass it explicitly to build a larger local set.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from decathlon.benchmark.context import EvalConfig
from decathlon.benchmark.data import DATASETS
from decathlon.benchmark.suite import run_suite
from decathlon.benchmark.tasks import get_task, list_tasks

from .bundle import open_bundle, read_manifest
from .submit import submit
from .verify import verify_bundle

__all__ = ["REFERENCE_BASELINES", "build_reference", "simulated_tasks"]

log = logging.getLogger("decathlon")

REFERENCE_BASELINES = ("static", "chance", "proximity")
_META = {
    "authors": ["Spacetime Decathlon maintainers"],
    "code_url": "https://github.com/spacetime-decathlon/spacetime-decathlon",
}


def simulated_tasks() -> list[str]:
    """Every registered task on a simulated dataset (built offline, in seconds at ``mini``)."""
    return [t for t in list_tasks() if not DATASETS.get(get_task(t).dataset).files]


def build_reference(
    entries: str | Path,
    baselines: tuple[str, ...] = REFERENCE_BASELINES,
    tier: str = "mini",
    tasks: list[str] | None = None,
) -> list[Path]:
    """Regenerate the entries of ``baselines`` in folder ``entries``; returns the new folders.

    Each baseline's old entry (an entry folder whose manifest names that model) is removed only
    once its new one has been accepted.
    """
    entries = Path(entries)
    entries.mkdir(parents=True, exist_ok=True)
    out = []
    with tempfile.TemporaryDirectory(prefix="decathlon-reference-") as tmp:
        results = Path(tmp) / "results"
        run_suite(
            tasks or simulated_tasks(),
            baselines,
            tier,  # type: ignore[arg-type]  # checked by the dataset's tiers
            results,
            config=EvalConfig(progress=False),
            save_predictions=True,
        )
        for b in baselines:
            old = [p for p in entries.iterdir() if _model_of(p) == b]
            bundle, _ = submit(
                b, results, Path(tmp) / f"bundle-{b}", meta=_META, training_data=_training(b)
            )
            verdict = verify_bundle(bundle, accept_into=entries)
            if not verdict.accepted or verdict.entry is None:
                raise ValueError(verdict.message())
            for p in old:
                shutil.rmtree(p)
            out.append(verdict.entry)
            log.info("entry of %s: %s", b, verdict.entry)
    return out


def _training(baseline: str) -> str:
    from decathlon.benchmark.baselines import BASELINES

    if BASELINES.get(baseline).learned:
        return "the train split of each task (valid split for early stopping), nothing else"
    return "none: a fixed rule, not trained"


def _model_of(entry: Path) -> str | None:
    if entry.name.startswith(".") or not entry.is_dir():
        return None
    try:  # the manifest only: stale results must not keep an old entry alive
        with open_bundle(entry) as root:
            return str(read_manifest(root)["model"]["name"])
    except (ValueError, KeyError, TypeError):
        return None
