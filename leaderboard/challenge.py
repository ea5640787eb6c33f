"""Hidden targets: the ``challenge`` split of the simulated events (``docs/leaderboard.md`` §7).

For a task on a simulator built in seeded chunks (:func:`~decathlon.benchmark.tasks.
supports_challenge`: springs, charged, N-body, Kuramoto) a maintainer simulates one more
test-sized part from a **secret**: the test part's recipe (sizes, lengths, physics) with a seed
derived from the secret instead of the dataset's public seed. Its windows are cut and normalized
exactly as the test split's (train-split statistics of the public data).

* :func:`make_challenge` (maintainer) writes a folder to publish: ``challenge.json`` (name, tier,
  the secret's commitment, per task its inputs file and that file's array hash) and
  ``inputs/<task>.npz`` (every input variant, as ``decathlon export-inputs`` writes them; no
  targets). Nothing else is kept: the targets are simulated again from the secret when needed.
* :func:`export_challenge_inputs` (participant) checks a published inputs file against
  ``challenge.json`` and writes it where the participant wants it; :func:`predict_inputs` runs a
  model over any inputs file and writes the predictions file ``decathlon submit`` bundles.
* :mod:`.challenge_verify`: the participant's bundle (predictions, no result) and the
  maintainer's verification against the targets simulated again from the secret.

**The secret** is never written anywhere by this module (give it with ``--secret`` or the
environment variable :data:`SECRET_ENV`). It is stretched with PBKDF2-HMAC-SHA256
(:data:`KDF_ITERATIONS` iterations, fixed salt) into a key; the published *commitment* is
HMAC-SHA256(key, ``"commitment"``), and the seed of dataset ``D`` at tier ``T`` is the first 128
bits of HMAC-SHA256(key, ``"seed/D/T"``) (RFC 2104 HMAC, RFC 8018 PBKDF2). Neither the
commitment nor the simulated inputs reveal the key or the seeds short of guessing the secret,
and each guess costs a PBKDF2 run: use a random secret of at least :data:`MIN_SECRET_CHARS`
characters (``python -c "import secrets; print(secrets.token_hex(32))"``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from decathlon.benchmark.context import PreparedTask
from decathlon.benchmark.contract import validate
from decathlon.benchmark.data import DATASETS, Tier, hash_dataset, materialize, store_meta
from decathlon.benchmark.evaluate import (
    EVALUATOR_VERSION,
    batch_of,
    check_prediction,
    write_predictions,
)
from decathlon.benchmark.lazy import xr
from decathlon.benchmark.normalization import task_stats
from decathlon.benchmark.offline import input_arrays, save_npz
from decathlon.benchmark.registry import shorten
from decathlon.benchmark.results import parse_json
from decathlon.benchmark.tasks import (
    CHALLENGE_SPLIT,
    TaskSpec,
    get_task,
    list_tasks,
    supports_challenge,
)
from decathlon.benchmark.windows import Windows, split_windows

from .bundle import member

__all__ = [
    "SECRET_ENV",
    "MIN_SECRET_CHARS",
    "KDF_ITERATIONS",
    "CHALLENGE_FILE",
    "Secret",
    "ChallengeTask",
    "secret_from",
    "challenge_tasks",
    "challenge_data",
    "prepare_challenge",
    "challenge_arrays",
    "arrays_sha256",
    "make_challenge",
    "read_challenge",
    "checked_inputs",
    "export_challenge_inputs",
    "public_task",
    "predict_inputs",
    "slug",
]

log = logging.getLogger("decathlon")

#: The environment variable the secret is read from when ``--secret`` is not given.
SECRET_ENV = "DECATHLON_CHALLENGE_SECRET"
#: A secret shorter than this is refused (guessing must be hopeless, not merely slow).
MIN_SECRET_CHARS = 16
#: PBKDF2 iterations: about 0.1-0.3 s per derivation, the cost of every guess.
KDF_ITERATIONS = 200_000
_SALT = b"spacetime-decathlon challenge v1"
#: The published description of a challenge, at the top of its folder.
CHALLENGE_FILE = "challenge.json"
#: ``challenge.json`` is at most this many bytes; an inputs file at most MAX_INPUTS_BYTES.
MAX_CHALLENGE_BYTES = 1 << 20
MAX_INPUTS_BYTES = 4 << 30
#: Keys a published inputs file has besides :func:`~decathlon.benchmark.offline.input_arrays`'.
EXTRA_KEYS = ("challenge", "commitment", "task_version", "dt")


@dataclass(frozen=True)
class Secret:
    """The stretched secret (never shown in a ``repr``); build it with :func:`secret_from`."""

    key: bytes = field(repr=False)

    @property
    def commitment(self) -> str:
        """Published in ``challenge.json``: a wrong secret is recognized without the targets."""
        return hmac.new(self.key, b"commitment", hashlib.sha256).hexdigest()

    def seed(self, dataset: str, tier: str) -> int:
        """The 128-bit simulation seed of ``dataset`` at ``tier``."""
        digest = hmac.new(self.key, f"seed/{dataset}/{tier}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:16], "big")


def secret_from(text: str | None = None, env: str = SECRET_ENV) -> Secret:
    """The challenge secret: ``text`` if given, else the environment variable ``env``.

    Raises
    ------
    ValueError
        No secret, or one shorter than :data:`MIN_SECRET_CHARS` characters.
    """
    value = text if text is not None else os.environ.get(env)
    if not value:
        raise ValueError(
            f"no challenge secret: set ${env} (or pass --secret); make one with "
            '`python -c "import secrets; print(secrets.token_hex(32))"` and keep it out of '
            "the repository"
        )
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(
            f"the challenge secret has {len(value)} characters; at least {MIN_SECRET_CHARS} "
            '(a random one: `python -c "import secrets; print(secrets.token_hex(32))"`)'
        )
    return Secret(hashlib.pbkdf2_hmac("sha256", value.encode(), _SALT, KDF_ITERATIONS))


def challenge_tasks() -> list[str]:
    """Every registered task that can have a challenge split."""
    return [t for t in list_tasks() if supports_challenge(t)]


def slug(task: str) -> str:
    """The file name stem of a task's challenge files: ``particles/springs-forecast`` ->
    ``particles-springs-forecast``."""
    return task.replace("/", "-")


def challenge_data(task: TaskSpec | str, tier: Tier, secret: Secret) -> xr.Dataset:
    """The challenge part of ``task``'s dataset: its test part simulated from the secret's seed
    (chunk by chunk as the stored part, each chunk checked against the data contract)."""
    task = get_task(task)
    if not supports_challenge(task):
        raise ValueError(
            f"task {task.name!r} has no challenge split; tasks on seeded simulators have one: "
            f"{', '.join(challenge_tasks())}"
        )
    spec = DATASETS.get(task.dataset)
    tier_built = spec.resolve_tier(tier)
    return _simulate(
        spec.name, tier_built, task.splits["test"].part, secret.seed(spec.name, tier_built)
    )


@lru_cache(maxsize=2)  # the tasks of one dataset share its challenge part
def _simulate(dataset: str, tier: str, part: str, seed: int) -> xr.Dataset:
    seeded = dataclasses.replace(DATASETS.get(dataset), seed=seed)
    build = seeded.chunk_builder()
    pieces = []
    for chunk in seeded.chunks(tier):
        if chunk.part == part:
            piece = build(seeded, tier, chunk)
            validate(piece)
            pieces.append(piece)
    if len(pieces) == 1:
        return pieces[0]
    return xr.concat(pieces, "sample", data_vars="minimal", coords="minimal", compat="override")


@dataclass(frozen=True, eq=False)
class ChallengeTask(PreparedTask):
    """A task prepared on its challenge part: ``split`` is ``challenge``, ``meta`` and
    ``stats`` are the public data's (normalization), and the result records'
    ``split_sha256`` is :attr:`challenge_sha256` (the commitment, the part's array hash and the
    window geometry), so a record names the exact secret data it was scored on."""

    challenge_sha256: str = ""

    def provenance(self) -> dict[str, Any]:
        out = super().provenance()
        out["split_sha256"] = self.challenge_sha256
        return out


def prepare_challenge(task: TaskSpec | str, tier: Tier, secret: Secret) -> ChallengeTask:
    """The evaluation context of ``task``'s challenge split at ``tier`` (the public data are
    built first if needed: they give the normalization statistics)."""
    task = get_task(task)
    ds = challenge_data(task, tier, secret)
    materialize(task.dataset, tier)
    meta = store_meta(task.dataset, tier)
    stats = task_stats(task, tier, meta)
    w = split_windows(task, CHALLENGE_SPLIT, tier, ds, stats)
    desc = {
        "commitment": secret.commitment,
        "part_sha256": hash_dataset(ds),
        "tier": meta["tier"],
        "window": [task.context, task.horizon, task.offset, task.stride, task.mini_windows],
    }
    sha = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()
    return ChallengeTask(task, CHALLENGE_SPLIT, tier, meta, stats, w, sha)


def challenge_arrays(prepared: ChallengeTask, name: str, commitment: str) -> dict[str, Any]:
    """The arrays of a published inputs file: every input variant (no targets) plus the
    challenge's name and commitment, the task version and the seconds between frames."""
    arrays = input_arrays(prepared)
    dt = prepared.windows.dt
    arrays.update(
        challenge=np.array(name),
        commitment=np.array(commitment),
        task_version=np.array(prepared.task.version),
        dt=np.array(np.nan if dt is None else dt, dtype=np.float64),
    )
    return arrays


def arrays_sha256(arrays: dict[str, Any]) -> str:
    """sha256 of named arrays (names, dtypes, shapes and bytes, in name order): the same for
    the same values whatever the file's compression or timestamps."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def make_challenge(
    out: str | Path,
    tier: Tier,
    secret: Secret,
    tasks: list[str] | None = None,
    name: str = "challenge",
) -> Path:
    """Write the publishable folder of a challenge (see the module text); returns
    ``out/challenge.json``. ``tasks``: default every task with a challenge split."""
    from decathlon import __version__

    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"challenge name {shorten(str(name))}: expected [A-Za-z0-9_.-]{{1,64}}")
    out = Path(out)
    if (out / CHALLENGE_FILE).exists():
        raise ValueError(f"{out / CHALLENGE_FILE} exists; give a new folder for the challenge")
    entries: list[dict[str, Any]] = []
    for t in tasks or challenge_tasks():
        prepared = prepare_challenge(t, tier, secret)
        arrays = challenge_arrays(prepared, name, secret.commitment)
        rel = f"inputs/{slug(prepared.task.name)}.npz"
        save_npz(out / rel, arrays)
        entries.append(
            {
                "name": prepared.task.name,
                "version": prepared.task.version,
                "inputs": rel,
                "inputs_sha256": arrays_sha256(arrays),
                "n_windows": len(prepared.windows),
            }
        )
        log.info("challenge %s: %s, %d windows", name, rel, len(prepared.windows))
    doc = {
        "format": "decathlon-challenge",
        "format_version": 1,
        "name": name,
        "tier": DATASETS.get(get_task(entries[0]["name"]).dataset).resolve_tier(tier),
        "commitment": secret.commitment,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {"decathlon": __version__, "evaluator": EVALUATOR_VERSION},
        "tasks": entries,
    }
    _check_challenge(doc, out / CHALLENGE_FILE)
    path = out / CHALLENGE_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(path)
    return path


_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SHA = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_CHALLENGE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "format_version", "name", "tier", "commitment", "created"]
    + ["versions", "tasks"],
    "properties": {
        "format": {"const": "decathlon-challenge"},
        "format_version": {"const": 1},
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        "tier": {"enum": ["mini", "full", "large"]},
        "commitment": _SHA,
        "created": {"type": "string", "maxLength": 40},
        "versions": {
            "type": "object",
            "maxProperties": 8,
            "additionalProperties": {"type": "string", "pattern": "^[0-9A-Za-z.+-]{1,32}$"},
        },
        "tasks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "version", "inputs", "inputs_sha256", "n_windows"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9_./-]{1,128}$"},
                    "version": {"type": "string", "pattern": "^[0-9A-Za-z.+-]{1,32}$"},
                    "inputs": {"type": "string", "pattern": "^inputs/[A-Za-z0-9_.-]{1,200}$"},
                    "inputs_sha256": _SHA,
                    "n_windows": {"type": "integer", "minimum": 1, "maximum": 100_000_000},
                },
            },
        },
    },
}


def _check_challenge(doc: Any, where: Path) -> dict[str, Any]:
    import jsonschema

    errors = list(jsonschema.Draft202012Validator(_CHALLENGE_SCHEMA).iter_errors(doc))
    if errors:
        e = errors[0]
        raise ValueError(
            f"{where} is not a challenge description: {'/'.join(map(str, e.path)) or '(root)'}: "
            f"{e.message[:200]}"
        )
    return dict(doc)


def read_challenge(folder: str | Path) -> dict[str, Any]:
    """The validated ``challenge.json`` of a published challenge folder."""
    path = member(Path(folder), CHALLENGE_FILE, MAX_CHALLENGE_BYTES)
    return _check_challenge(parse_json(path.read_bytes(), str(path)), path)


def _entry(doc: dict[str, Any], task: str) -> dict[str, Any]:
    for e in doc["tasks"]:
        if e["name"] == task:
            return dict(e)
    names = ", ".join(e["name"] for e in doc["tasks"])
    raise KeyError(f"challenge {doc['name']!r} has no task {shorten(task)}; its tasks: {names}")


def checked_inputs(folder: str | Path, task: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(entry, arrays)``: the task's entry of ``challenge.json`` and its published inputs,
    read without unpickling and checked: the array hash is the one ``challenge.json`` lists,
    the file names this challenge, task and commitment, the task version is the one in force.

    Raises
    ------
    ValueError
        A tampered or foreign inputs file, or a task version no longer in force.
    """
    doc = read_challenge(folder)
    entry = _entry(doc, get_task(task).name)
    path = member(Path(folder), entry["inputs"], MAX_INPUTS_BYTES)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    got = arrays_sha256(arrays)
    if got != entry["inputs_sha256"]:
        raise ValueError(
            f"challenge inputs {path} were altered: the sha256 of their arrays is {got}, "
            f"{CHALLENGE_FILE} lists {entry['inputs_sha256']}; download the challenge again"
        )
    want = {"task": entry["name"], "split": CHALLENGE_SPLIT, "challenge": doc["name"]}
    want |= {"commitment": doc["commitment"], "tier": doc["tier"]}
    for key, value in want.items():
        if key not in arrays or str(arrays[key]) != value:
            raise ValueError(f"{path}: {key} is not {value!r}; it belongs to another challenge")
    spec = get_task(entry["name"])
    if entry["version"] != spec.version:
        raise ValueError(
            f"challenge {doc['name']!r} was made for task {spec.name!r} version "
            f"{entry['version']!r}; this decathlon has version {spec.version!r}: install the "
            f"decathlon version the challenge names ({doc['versions'].get('decathlon')})"
        )
    return entry, arrays


def export_challenge_inputs(
    folder: str | Path, task: str, out: str | Path, tier: str | None = None
) -> Path:
    """``decathlon export-inputs TASK OUT --split challenge --challenge FOLDER``: the task's
    published inputs, checked (:func:`checked_inputs`), written to ``out``. ``tier``, when
    given, must be the challenge's."""
    doc = read_challenge(folder)
    if tier is not None and tier != doc["tier"]:
        raise ValueError(
            f"challenge {doc['name']!r} is at tier {doc['tier']!r}, not {tier!r}; pass --tier "
            f"{doc['tier']}"
        )
    _, arrays = checked_inputs(folder, task)
    return save_npz(out, arrays)


def public_task(arrays: dict[str, Any]) -> PreparedTask:
    """An inputs file's task as the model and the prediction checks see it: the windows'
    inputs, ids and features; the targets are withheld (``y`` is a read-only zero
    placeholder of the prediction's shape, never scored)."""
    task = get_task(str(arrays["task"]))
    shape = tuple(int(s) for s in arrays["output_shape"])
    n = len(arrays["ids"])
    dt = float(arrays["dt"]) if "dt" in arrays and np.isfinite(arrays["dt"]) else None
    w = Windows(
        ids=np.asarray(arrays["ids"]),
        x=arrays["x"],
        y=np.broadcast_to(np.float32(0), shape),
        sample=np.zeros(n, np.int64),
        start=np.zeros(n, np.int64),
        features=[str(f) for f in arrays["features"]],
        target_features=[str(f) for f in arrays["target_features"]],
        mask_x=arrays.get("mask"),
        constants=arrays.get("constants"),
        dt=dt,
    )
    return PreparedTask(task, str(arrays["split"]), str(arrays["tier"]), {}, {}, w)  # type: ignore[arg-type]


def predict_inputs(model: Any, inputs: str | Path, out: str | Path, batch_size: int = 512) -> Path:
    """Run ``model`` (anything with ``predict(batch)``) over every input variant of an inputs
    file (``decathlon export-inputs``, a challenge's included) and write the predictions file
    (``ids``, ``pred``, ``pred__<variant>``) that ``decathlon score`` and ``submit`` read."""
    with np.load(inputs, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    prepared = public_task(arrays)
    task, w = prepared.task, prepared.windows
    preds = {}
    for key in sorted(k for k in arrays if k == "x" or k.startswith("x__")):
        v, sfx = ("plain", "") if key == "x" else (key[3:], key[1:])
        inp = {"x": arrays[key], "mask": arrays.get("mask" + sfx)}
        if "constants" + sfx in arrays:
            inp["constants"] = arrays["constants" + sfx]
        parts = []
        for a in range(0, len(w), batch_size):
            sl = slice(a, a + batch_size)
            pred = model.predict(batch_of(w, inp, sl))
            parts.append(check_prediction(task, w, w.ids[sl], pred, v, expected_ids=w.ids[sl]))
        preds[v] = np.concatenate(parts)
    return write_predictions(out, w.ids, preds)
