"""The offline route: the evaluator's loop cut in two around a predictions file.

:func:`export_inputs` writes every input variant of a prepared task to an ``.npz`` file keyed by
window id; the user writes predictions the same way; :func:`score` checks and scores them
exactly as :func:`~decathlon.benchmark.evaluate.evaluate` would. Nothing is ever unpickled:
``.npz`` files are read with ``allow_pickle=False``.

Prediction file format (``.npz``): ``ids`` int64 (W,) and ``pred`` (W, ...) for the plain input,
plus ``pred__<variant>`` for each probe variant (``reversal``, ``shuffle0`` ..., ``half``,
``local2_0`` ..., ``local4_0`` ..., ``freeze``, ``equiv_<g>``) in the same id order; probe
predictions may be left out (the probes are then reported missing).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .collect import collect
from .context import EvalConfig, PreparedTask, prepare
from .evaluate import (
    check_prediction,
    expected_shape,
    hardware,
    score_predictions,
    trivial_prediction,
)
from .probes import probe_seeds, probe_variants, transform
from .safe_npz import Member, read_npz, write_npz
from .tasks import TaskSpec

__all__ = [
    "export_inputs",
    "input_arrays",
    "save_npz",
    "load_predictions",
    "score",
    "MAX_PREDICTION_BYTES",
]

MAX_PREDICTION_BYTES = 4 << 30  # refuse absurd prediction files before loading them

log = logging.getLogger("decathlon")


def export_inputs(
    prepared: PreparedTask | TaskSpec | str, path: str | Path, probes: bool = True
) -> Path:
    """Write every input variant of the prepared split to ``path`` (``.npz``, compressed).

    The arrays are :func:`input_arrays`'; written to a temporary file and renamed when complete
    (:func:`save_npz`).
    """
    return save_npz(path, input_arrays(prepared, probes))


def input_arrays(prepared: PreparedTask | TaskSpec | str, probes: bool = True) -> dict[str, Any]:
    """Every input variant of the prepared split, as :func:`export_inputs` writes them.

    Keys: ``ids``; ``x`` and ``x__<variant>``; ``mask``/``mask__<variant>`` and ``constants``
    (``constants__<variant>``) where the task has them; ``features``, ``target_features``
    (string arrays), ``task``, ``tier``, ``split``, and ``output_shape`` (the prediction shape
    expected for ``pred``). No targets.
    """
    prepared = prepare(prepared)
    task, w = prepared.task, prepared.windows
    arrays: dict[str, np.ndarray] = {
        "ids": w.ids,
        "features": np.array(w.features),
        "target_features": np.array(w.target_features, dtype=str),
        "task": np.array(task.name),
        "tier": np.array(prepared.tier),
        "split": np.array(prepared.split),
        "output_shape": np.array(expected_shape(task, w), dtype=np.int64),
    }
    for v in ["plain"] + (probe_variants(task) if probes else []):
        inp = transform(task, w, v)
        key = "" if v == "plain" else f"__{v}"
        arrays["x" + key] = inp["x"].astype(np.float32)
        if inp["mask"] is not None:
            arrays["mask" + key] = inp["mask"]
        if inp.get("constants") is not None:
            arrays["constants" + key] = inp["constants"]
    if w.constants is not None:
        arrays["constants"] = w.constants
    return arrays


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` (``.npz`` added when missing), compressed, under a temporary
    name renamed when complete; returns the path written."""
    path = Path(path)
    return write_npz(path if path.suffix == ".npz" else path.with_suffix(".npz"), arrays)


def load_predictions(path: str | Path, prepared: PreparedTask) -> dict[str, np.ndarray]:
    """Read a predictions file (``.npz``) for ``prepared`` without unpickling anything.

    The zip directory and every member's ``.npy`` header are checked before any array is
    decompressed (:mod:`decathlon.benchmark.safe_npz`): only the keys ``ids``, ``pred`` and
    ``pred__<variant>`` of the task's probe variants, with the expected shapes (best-of-K tasks:
    up to K samples per window), float predictions and integer ids, and no more uncompressed
    bytes than those shapes need. So a hostile file costs no more memory than an honest one.

    Raises
    ------
    ValueError
        Not an npz file, too large, an unknown key, a wrong dtype, shape or declared size, object
        arrays, or no ``ids``/``pred`` keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {path} does not exist")
    size = path.stat().st_size
    if size > MAX_PREDICTION_BYTES:
        raise ValueError(
            f"predictions file {path} is {size / 2**30:.1f} GiB; the limit is "
            f"{MAX_PREDICTION_BYTES >> 30} GiB"
        )
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] != b"PK":
        raise ValueError(
            f"{path} is not a readable .npz predictions file (not a zip archive); "
            "write it with np.savez"
        )
    return read_npz(path, _expected_members(prepared))


def _expected_members(prepared: PreparedTask) -> dict[str, Member | tuple[Member, ...]]:
    task, w = prepared.task, prepared.windows
    shape = expected_shape(task, w)
    pred: tuple[Member, ...] = (Member(shape, "f"),)
    if task.best_of > 1:  # or up to K stochastic samples per window
        pred += (Member((shape[0], None, *shape[1:]), "f", max_extent=task.best_of),)
    out: dict[str, Member | tuple[Member, ...]] = {"ids": Member((len(w),), "iu"), "pred": pred}
    for v in probe_variants(task):
        out[f"pred__{v}"] = tuple(Member(m.shape, "f", False, m.max_extent) for m in pred)
    return out


def score(
    prepared: PreparedTask | TaskSpec | str,
    predictions: str | Path | dict[str, np.ndarray],
    config: EvalConfig | None = None,
    *,
    model_name: str | None = None,
) -> dict[str, Any]:
    """Score a predictions file (the offline half of ``evaluate``), returning a result record.

    ``model_name`` names the model in the record and in the file :func:`~.results.save_result`
    writes; by default the predictions file's name without its suffix (``gru_preds.npz`` ->
    ``gru_preds``), or ``"offline"`` for predictions given as a dict. Probe predictions that
    are left out are reported missing, with a warning that lists them and how to make them.
    """
    from .results import make_result

    cfg = config or EvalConfig()
    prepared = prepare(prepared)
    task, w = prepared.task, prepared.windows
    if model_name is None:
        model_name = "offline" if isinstance(predictions, dict) else Path(predictions).stem
    data = predictions if isinstance(predictions, dict) else load_predictions(predictions, prepared)
    preds = {"plain": check_prediction(task, w, data["ids"], data["pred"], "plain")}
    known = set(probe_variants(task))
    for k in data:
        if k.startswith("pred__"):
            v = k[len("pred__") :]
            if v not in known:
                raise ValueError(
                    f"predictions key {k!r}: unknown probe variant; valid: {sorted(known)}"
                )
            preds[v] = check_prediction(task, w, data["ids"], data[k], v)
    _warn_missing(task, [v for v in probe_variants(task) if v not in preds])
    variants = [v for v in probe_variants(task) if v in preds]
    col = collect(task, w, variants, lambda v, sl: preds[v][sl], cfg.batch_size)
    scored = score_predictions(prepared, col, trivial_prediction(prepared), cfg.n_boot, cfg.seed)
    return make_result(
        model={
            "name": model_name,
            "version": "0",
            "code_url": None,
            "n_parameters": 0,
            "config": {},
        },
        task=prepared.provenance(),
        scored=scored,
        seeds={"bootstrap": cfg.seed, **probe_seeds(task), "model": None},
        hardware=hardware(None),
        wall_clock_s=None,
        predictions_sha256=col.sha256,
        verification="self-reported",
    )


def _warn_missing(task: TaskSpec, missing: list[str]) -> None:
    """One warning naming the probe variants without predictions and how to produce them."""
    if not missing:
        return
    log.warning(
        "predictions for %s have no probe predictions for %d of %d variants (%s): those probes "
        "are reported missing. `decathlon export-inputs %s inputs.npz` writes the input of "
        "each as 'x__<variant>'; predict each into 'pred__<variant>' (same 'ids') and score "
        "again",
        task.name,
        len(missing),
        len(probe_variants(task)),
        ", ".join(missing),
        task.name,
    )
