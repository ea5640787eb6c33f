"""``decathlon submit``: a model's results and predictions bundled with its provenance.

:func:`submit` collects, for every task a model was run on, the result record and the
predictions file that ``decathlon run --save-predictions`` (or ``evaluate(...,
save_predictions=...)``) wrote, adds the model metadata and the versions in force, and checks
the bundle exactly as the leaderboard will (:func:`~.verify.verify_bundle`) before writing it:
a bundle that would be rejected is never written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from decathlon.benchmark.evaluate import EVALUATOR_VERSION
from decathlon.benchmark.results import SCHEMA_VERSION, load_result

from .bundle import MANIFEST, file_sha256, validate_manifest, write_bundle
from .verify import Verdict, verify_bundle

__all__ = ["submit", "model_metadata", "manifest_for", "METADATA_KEYS"]

#: Model metadata a submission declares (``--meta FILE`` keys; command-line options override).
METADATA_KEYS = ("version", "authors", "contact", "code_url", "paper", "n_parameters")


def _results_of(model: str, results: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The result files of ``model`` in folder ``results`` (each validated), one per task."""
    found, others = [], set()
    for p in sorted(results.glob("*.json")):
        rec = load_result(p)
        if rec["model"]["name"] != model:
            others.add(rec["model"]["name"])
            continue
        found.append((p, rec))
    if not found:
        raise ValueError(
            f"no result of model {model!r} in {results}; models there: {sorted(others) or 'none'}"
        )
    names = [r["task"]["name"] for _, r in found]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(
            f"{results} holds several results of {model!r} for {dup} (tiers or splits); a "
            "bundle holds one per task: move the others out"
        )
    return found


def model_metadata(
    model: str, recs: list[dict[str, Any]], meta: dict[str, Any], training_data: str | None
) -> dict[str, Any]:
    """The manifest's ``model`` block: ``meta`` over what the result records say (a challenge
    submission has no records: then ``meta`` gives everything, and the parameter count must be
    declared)."""
    unknown = sorted(set(meta) - set(METADATA_KEYS) - {"training_data"})
    if unknown:
        raise ValueError(f"unknown model metadata {unknown}; valid: {list(METADATA_KEYS)}")
    training = training_data or meta.get("training_data")
    if not training:
        raise ValueError(
            "declare the model's training data (--training-data TEXT), e.g. 'the train split of "
            "each task' or 'none (not trained)'"
        )
    none: dict[str, Any] = {"model": {"version": "0"}, "hardware": {}, "seeds": {}}
    first = recs[0] if recs else none
    walls = [r["wall_clock_s"] for r in recs if r["wall_clock_s"] is not None]
    n_par = meta.get("n_parameters", max((r["model"]["n_parameters"] for r in recs), default=None))
    if n_par is None:
        raise ValueError("declare the model's parameter count (--n-parameters N; 0 for a rule)")
    return {
        "name": model,
        "version": str(meta.get("version", first["model"]["version"])),
        "authors": list(meta.get("authors", [])),
        "contact": meta.get("contact"),
        "code_url": meta.get("code_url", first["model"].get("code_url")),
        "paper": meta.get("paper"),
        "n_parameters": int(n_par),
        "training_data": training,
        "hardware": first["hardware"],
        "seeds": first["seeds"],
        "wall_clock_s": round(sum(walls), 4) if walls else None,
    }


def submit(
    model: str,
    results: str | Path,
    out: str | Path,
    *,
    meta: dict[str, Any] | None = None,
    training_data: str | None = None,
    n_boot: int = 100,
) -> tuple[Path, Verdict]:
    """Bundle ``model``'s results from folder ``results`` into ``out`` (a new folder, or a
    ``.zip`` / ``.tar`` / ``.tar.gz``), verified first.

    Predictions are looked up as ``results/predictions/<result file name>.npz``.

    Raises
    ------
    ValueError
        No result of ``model``, a missing predictions file, undeclared training data, a manifest
        outside the schema, or the bundle would be rejected (each problem named).
    """
    results = Path(results)
    found = _results_of(model, results)
    with tempfile.TemporaryDirectory(prefix="decathlon-submit-") as tmp:
        root = Path(tmp) / "bundle"
        tasks = []
        for path, rec in found:
            pred = results / "predictions" / f"{path.stem}.npz"
            if not pred.is_file():
                raise ValueError(
                    f"{pred} is missing: write predictions with `decathlon run "
                    "--save-predictions` (or evaluate(..., save_predictions=PATH))"
                )
            for sub, src in (("results", path), ("predictions", pred)):
                (root / sub).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, root / sub / src.name)
            t = rec["task"]
            tasks.append(
                {
                    "name": t["name"],
                    "version": t["version"],
                    "tier": t["tier"],
                    "split": t["split"],
                    "result": f"results/{path.name}",
                    "predictions": f"predictions/{pred.name}",
                    "predictions_file_sha256": file_sha256(pred),
                }
            )
        manifest = manifest_for(model, [r for _, r in found], tasks, meta or {}, training_data)
        (root / MANIFEST).write_text(json.dumps(manifest, indent=1))
        verdict = verify_bundle(root, n_boot=n_boot)
        if not verdict.accepted:
            raise ValueError(verdict.message())
        return write_bundle(root, Path(out)), verdict


def manifest_for(
    model: str,
    recs: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    meta: dict[str, Any],
    training_data: str | None,
    challenge: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The validated manifest of a bundle of ``tasks`` (with ``challenge``: a submission to
    that challenge, :mod:`.challenge_verify`)."""
    from decathlon import __version__

    manifest = {
        "format": "decathlon-submission",
        "format_version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model_metadata(model, recs, meta, training_data),
        "versions": {
            "decathlon": __version__,
            "evaluator": EVALUATOR_VERSION,
            "result_schema": SCHEMA_VERSION,
        },
        "tasks": tasks,
    }
    if challenge is not None:
        manifest["challenge"] = challenge
    validate_manifest(manifest)
    return manifest
