"""Challenge submissions: predictions without a result, scored only by the maintainer.

A participant cannot score the challenge split (its targets are secret), so a challenge bundle
(:func:`submit_challenge`, ``decathlon submit --challenge FOLDER --predictions DIR``) holds
the predictions, the model metadata and the versions, and per task the sha256 of the inputs the
predictions were made for; its manifest has a ``challenge`` block (name, tier, commitment) and
every task's ``result`` is ``null``. It is checked before it is written as far as that can be
done without the targets: the published inputs are the ones ``challenge.json`` lists, and every
prediction has the right keys, ids, shape and finite values.

The maintainer verifies it (:func:`verify_challenge`, ``decathlon leaderboard challenge verify
BUNDLE``) with the secret: the secret must open the bundle's commitment; for every task the
challenge part is simulated again from the secret, the inputs hash must be the bundle's (else
the participant predicted altered or foreign inputs), the predictions are read through the safe
reader and scored, and the record (tier ``re-scored``) is written into the accepted entry's
``verified.json``: the only numbers a challenge entry has.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from decathlon.benchmark.context import EvalConfig
from decathlon.benchmark.evaluate import check_prediction
from decathlon.benchmark.offline import load_predictions, score
from decathlon.benchmark.results import validate_result
from decathlon.benchmark.tasks import CHALLENGE_SPLIT, get_task

from .bundle import MANIFEST, file_sha256, predictions_member, write_bundle
from .challenge import (
    Secret,
    arrays_sha256,
    challenge_arrays,
    checked_inputs,
    prepare_challenge,
    public_task,
    read_challenge,
    slug,
)
from .submit import manifest_for
from .verify import Verdict, check_bundle

__all__ = ["submit_challenge", "verify_challenge", "check_predictions"]


def check_predictions(path: Path, arrays: dict[str, Any]) -> None:
    """A challenge predictions file read through the safe reader and checked against the
    published inputs ``arrays``: keys, ids (each window once), shapes, finite float values."""
    prepared = public_task(arrays)
    task, w = prepared.task, prepared.windows
    data = load_predictions(path, prepared)
    for key, pred in data.items():
        if key.startswith("pred"):
            variant = "plain" if key == "pred" else key[len("pred__") :]
            check_prediction(task, w, data["ids"], pred, variant)


def submit_challenge(
    model: str,
    challenge: str | Path,
    predictions: str | Path,
    out: str | Path,
    *,
    meta: dict[str, Any] | None = None,
    training_data: str | None = None,
) -> tuple[Path, list[str]]:
    """Bundle ``model``'s predictions for the published challenge folder ``challenge`` into
    ``out`` (a new folder, ``.zip``, ``.tar`` or ``.tar.gz``); returns it and the tasks bundled.

    ``predictions`` is a folder of ``<task>.npz`` files named as the challenge's inputs
    (``particles-springs-forecast.npz`` ...); tasks without one are left out.

    Raises
    ------
    ValueError
        No predictions for any task, altered inputs, a predictions file the leaderboard would
        refuse, undeclared training data or parameter count (each named).
    """
    doc = read_challenge(challenge)
    pred_dir = Path(predictions)
    with tempfile.TemporaryDirectory(prefix="decathlon-submit-") as tmp:
        root = Path(tmp) / "bundle"
        (root / "predictions").mkdir(parents=True)
        tasks = []
        for entry in doc["tasks"]:
            src = pred_dir / f"{slug(entry['name'])}.npz"
            if not src.is_file():
                continue
            entry, arrays = checked_inputs(challenge, entry["name"])
            try:
                check_predictions(src, arrays)
            except (ValueError, KeyError) as e:
                raise ValueError(f"{src}: {e}") from None
            shutil.copyfile(src, root / "predictions" / src.name)
            tasks.append(_task_entry(entry, doc["tier"], src))
        if not tasks:
            want = ", ".join(f"{slug(e['name'])}.npz" for e in doc["tasks"])
            raise ValueError(
                f"no predictions for challenge {doc['name']!r} in {pred_dir}; expected files "
                f"named after its tasks: {want}"
            )
        block = {k: doc[k] for k in ("name", "tier", "commitment")}
        manifest = manifest_for(model, [], tasks, meta or {}, training_data, challenge=block)
        (root / MANIFEST).write_text(json.dumps(manifest, indent=1))
        return write_bundle(root, Path(out)), [t["name"] for t in tasks]


def _task_entry(entry: dict[str, Any], tier: str, src: Path) -> dict[str, Any]:
    return {
        "name": entry["name"],
        "version": entry["version"],
        "tier": tier,
        "split": CHALLENGE_SPLIT,
        "result": None,
        "predictions": f"predictions/{src.name}",
        "predictions_file_sha256": file_sha256(src),
        "inputs_sha256": entry["inputs_sha256"],
    }


def verify_challenge(
    path: str | Path,
    secret: Secret,
    *,
    n_boot: int = 1000,
    accept_into: str | Path | None = None,
) -> Verdict:
    """Verify the challenge bundle at ``path`` against the targets simulated again from
    ``secret`` (see the module text); ``accept_into`` as :func:`~.verify.verify_bundle`.

    Raises
    ------
    ValueError
        Not a challenge bundle, a manifest outside the schema, or a secret that does not open
        the bundle's commitment. Per-task problems are in :attr:`Verdict.problems`.
    """

    def opens(block: dict[str, Any]) -> None:
        if block["commitment"] != secret.commitment:
            raise ValueError(
                f"the secret does not open challenge {block['name']!r}: its commitment is "
                f"{block['commitment'][:16]}..., this secret's is {secret.commitment[:16]}...; "
                "give the secret the challenge was made with"
            )

    def check(root: Path, manifest: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        return _verify_task(root, manifest, entry, secret, n_boot)

    return check_bundle(path, check, challenge=opens, accept_into=accept_into)


def _verify_task(
    root: Path, manifest: dict[str, Any], entry: dict[str, Any], secret: Secret, n_boot: int
) -> dict[str, Any]:
    """One task of a challenge bundle: versions, hashes, re-simulated inputs, the score."""
    spec, block = get_task(entry["name"]), manifest["challenge"]
    if entry["version"] != spec.version:
        raise ValueError(
            f"task version {entry['version']!r} is not the one in force ({spec.version!r})"
        )
    if entry["tier"] != block["tier"]:
        raise ValueError(f"tier {entry['tier']!r} is not the challenge's {block['tier']!r}")
    path = predictions_member(root, entry)
    prepared = prepare_challenge(spec, block["tier"], secret)
    got = arrays_sha256(challenge_arrays(prepared, block["name"], block["commitment"]))
    if got != entry["inputs_sha256"]:
        raise ValueError(
            f"the predictions were made for inputs with sha256 {entry['inputs_sha256']}, but "
            f"challenge {block['name']!r}'s inputs (simulated again from the secret) have "
            f"{got}: the inputs were altered or belong to another challenge or version; "
            "predict the published inputs again"
        )
    model = manifest["model"]
    redo = score(
        prepared,
        load_predictions(path, prepared),
        EvalConfig(n_boot=n_boot),
        model_name=model["name"],
    )
    redo["model"] = {
        "name": model["name"],
        "version": model["version"] or "0",
        "code_url": model["code_url"],
        "n_parameters": model["n_parameters"],
        "config": {},
    }
    redo["hardware"] = model["hardware"] or redo["hardware"]
    redo["wall_clock_s"] = model["wall_clock_s"]
    redo["verification"] = "re-scored"
    return validate_result(redo)
