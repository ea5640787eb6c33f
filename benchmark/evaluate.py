"""The evaluator: it owns the test loop.

:func:`evaluate` takes a model and an evaluation context (:class:`PreparedTask`), hands the model
inputs only (plain and every probe variant), checks each returned prediction (shape, window ids,
finiteness), and computes every metric, probe and the decathlon points itself. The offline route
(:mod:`decathlon.benchmark.offline`) is the same loop cut in two.

The model protocol
------------------
A model is any object with ``predict(batch) -> prediction`` (:class:`Model`). ``batch`` is a dict:

* ``ids`` int64 (B,): window ids; the prediction's first axis follows this order;
* ``x`` float32 (B, context, entity, feature): the input window (see ``describe(task)``);
* ``mask`` bool (B, context, entity) or ``None``: entities present (datasets where they come
  and go);
* ``constants`` float32 (B, entity, k) or ``None``: per-entity constants (charges, ...);
* ``features`` / ``target_features``: names of the input and output feature columns;
* ``dt``: seconds between frames (``None`` if the dataset has no regular frame rate).

The prediction is a numpy array or torch tensor of the shape ``describe(task)["output"]``
states; torch tensors are detached and moved to the CPU. Optional: ``fit`` (the built-in
baselines: ``fit(tier)``; a model named on the command line: ``fit(task.train_data(tier))``, see
:mod:`decathlon.benchmark.user_models`), and attributes ``name`` (default: the class name),
``version``, ``code_url``, ``n_parameters`` (an int; default: the parameters of its torch
modules, :func:`count_parameters`) and ``config_dict()`` recorded in the result.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from . import metrics
from .baselines import make_baseline
from .bootstrap import ci, finite, task_bootstrap
from .collect import Collected, PredictFn, collect, window_stats
from .context import EvalConfig, PreparedTask, prepare
from .points import task_points
from .probes import (
    ADDED_IN_1_2,
    TRANSPOSED,
    collected_sensitivity,
    probe_of,
    probe_seeds,
    probe_variants,
    reversal_transposed,
    score_probes,
    transform,
)
from .symmetries import score_equivariance
from .tasks import TaskSpec
from .windows import Windows

__all__ = [
    "Model",
    "evaluate",
    "check_prediction",
    "score_predictions",
    "model_predictor",
    "count_parameters",
    "write_predictions",
    "EVALUATOR_VERSION",
]

#: 1.1: decathlon points are logarithmic between the trivial baseline and a per-task target
#: (points rule ``log-ratio-v2``, :mod:`.points`). 1.2: the ``half``, ``local-2`` and ``local-4``
#: temporal probes (``docs/probes.md`` §1); every earlier number is unchanged. 1.3: a task may
#: resample whole samples in the bootstrap (``TaskSpec.bootstrap_unit``, :mod:`.bootstrap`;
#: ``arrow/forward-backward`` does), recorded in the result's ``bootstrap`` block; only the
#: intervals of such tasks change, every value and every other interval is unchanged. 1.4: the
#: block bootstrap in time (``bootstrap_unit="block"``) for the tasks whose windows slide along a
#: recording (ETH/UCY, traffic, CTC); only their intervals change; streaming resamples whole
#: samples and blocks too (a Poisson weight per unit).
EVALUATOR_VERSION = "1.4"


@runtime_checkable
class Model(Protocol):
    """Anything with ``predict(batch)`` (see the module text for the batch)."""

    def predict(self, batch: dict[str, Any]) -> Any: ...


def _to_numpy(pred: Any) -> np.ndarray:
    """A prediction as a numpy array. Torch tensors (duck-typed: torch is never imported here)
    are detached from the autograd graph, moved to the CPU, and bfloat16/half widened to
    float32, whatever device they are on."""
    if hasattr(pred, "detach") and hasattr(pred, "cpu"):
        pred = pred.detach().cpu()
        if str(getattr(pred, "dtype", "")) in ("torch.bfloat16", "torch.float16"):
            pred = pred.float()  # numpy has no bfloat16
        pred = pred.numpy()
    return np.asarray(pred)


def expected_shape(task: TaskSpec, w: Windows) -> tuple[int, ...]:
    """Shape the prediction for windows ``w`` must have."""
    if task.kind == "forecast":
        return (len(w), len(task.steps), w.x.shape[2], len(w.target_features))
    if task.kind in ("classify", "regress"):
        return (len(w), w.y.shape[-1])
    n = w.y.shape[-1]
    return (len(w), n, n)


def _check_ids(where: str, ids: np.ndarray, want_ids: np.ndarray, n_windows: int) -> None:
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: window ids must be a 1-D integer array, got shape {ids.shape} "
            f"dtype {ids.dtype}"
        )
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"{where}: duplicate window ids {uniq[counts > 1][:10].tolist()}; each window once"
        )
    missing = np.setdiff1d(want_ids, ids)
    if missing.size:
        raise ValueError(
            f"{where}: {missing.size} of {len(want_ids)} window ids missing (first: "
            f"{missing[:10].tolist()}); predict every window of the exported inputs"
        )
    extra = np.setdiff1d(ids, want_ids)
    if extra.size:
        raise ValueError(
            f"{where}: unknown window ids {extra[:10].tolist()}; valid ids are 0..{n_windows - 1}"
        )


def _check_shape(where: str, task: TaskSpec, pred: np.ndarray, want: tuple[int, ...]) -> None:
    k = task.best_of
    stochastic = k > 1 and pred.ndim == len(want) + 1
    if stochastic and not 1 <= pred.shape[1] <= k:
        raise ValueError(
            f"{where} has {pred.shape[1]} samples per window; at most {k} (best-of-{k})"
        )
    if (pred.shape[:1] + pred.shape[2:] if stochastic else pred.shape) != want:
        dims = {
            "forecast": "window, horizon, entity, target_feature",
            "classify": "window, entity",
            "regress": "window, param",
        }.get(task.kind, "window, entity, entity_")
        more = f"; or window, sample, ... with at most {k} samples" if k > 1 else ""
        raise ValueError(
            f"{where} has shape {pred.shape}, expected {want} (dims: {dims}{more}); "
            "see `decathlon describe`"
        )


def check_prediction(
    task: TaskSpec,
    w: Windows,
    ids: np.ndarray,
    pred: Any,
    variant: str = "plain",
    expected_ids: np.ndarray | None = None,
) -> np.ndarray:
    """Validate a prediction and return it aligned to ``expected_ids`` (default: ``w.ids``).

    Raises
    ------
    ValueError
        Missing, duplicate or unknown window ids; wrong shape; NaN or infinite values; a
        non-numeric dtype. Each message says what was expected.
    """
    pred = _to_numpy(pred)
    ids = np.asarray(ids)
    want_ids = w.ids if expected_ids is None else expected_ids
    where = f"prediction ({variant} input) for task {task.name!r}"
    if pred.dtype.kind != "f":
        raise ValueError(
            f"{where} has dtype {pred.dtype}; expected a float array (float32 or float64): "
            "convert with .astype('float32')"
        )
    _check_ids(where, ids, want_ids, len(w))
    _check_shape(where, task, pred, (len(ids),) + expected_shape(task, w)[1:])
    pred = np.asarray(pred, dtype=np.float64)
    if not np.isfinite(pred).all():
        bad = ~np.isfinite(pred)
        first = ids[np.flatnonzero(bad.reshape(len(ids), -1).any(1))[:5]].tolist()
        raise ValueError(
            f"{where} has {int(bad.sum())} NaN/inf values (windows {first} ...); "
            "predictions must be finite"
        )
    if np.array_equal(ids, want_ids):  # already in window order (the usual case)
        return pred
    order = np.argsort(ids)
    return pred[order][np.searchsorted(ids[order], want_ids)]


def batch_of(w: Windows, inputs: dict[str, Any], sl: slice) -> dict[str, Any]:
    """The ``batch`` dict handed to ``predict`` for windows ``sl`` of one input variant."""
    consts = inputs.get("constants", w.constants)
    return {
        "ids": w.ids[sl],
        "x": inputs["x"][sl],
        "mask": None if inputs["mask"] is None else inputs["mask"][sl],
        "constants": None if consts is None else consts[sl],
        "features": w.features,
        "target_features": w.target_features,
        "dt": w.dt,
    }


def model_predictor(model: Any, task: TaskSpec, w: Windows) -> PredictFn:
    """``predict(variant, slice)`` for :func:`~decathlon.benchmark.collect.collect`: the
    variant's inputs for those windows (transformed batch by batch), the model's prediction,
    checked and aligned to the window ids."""
    if not hasattr(model, "predict"):
        raise TypeError(f"a model needs a predict(batch) method; got {type(model).__name__}")

    def predict(v: str, sl: slice) -> np.ndarray:
        sub = w.subset(sl)
        pred = model.predict(batch_of(sub, transform(task, sub, v), slice(None)))
        return check_prediction(task, w, sub.ids, pred, v, expected_ids=sub.ids)

    return predict


#: The masking convention of ``error="masked"`` tasks, stated in every result (``metric_variant``).
MASKED_VARIANT = (
    "deterministic; masked as DCRNN: a target equal to 0 is missing and excluded from MAE, "
    "RMSE and MAPE (and from their counts); metric@k at horizon step k, plain names the mean "
    "of the per-step values; MAPE in percent"
)


def _metric_variant(task: TaskSpec, w: Windows, plain: np.ndarray) -> str:
    if "metric_variant" in task.extra:  # a task's own statement (e.g. the diagonal excluded)
        return str(task.extra["metric_variant"])
    k = plain.shape[1] if task.kind == "forecast" and plain.ndim == w.y.ndim + 1 else 1
    if k == 1 and task.error == "masked":
        return MASKED_VARIANT
    if k == 1:
        return "deterministic"
    return (
        f"best-of-{k}: per-entity minimum over {k} samples (minADE_K/minFDE_K, Trajectron++ "
        "convention; Social-GAN's scene-level minimum is higher)"
    )


def score_predictions(
    prepared: PreparedTask,
    col: Collected,
    trivial_pred: np.ndarray | None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics, rollout curve, probes, symmetries and points from collected predictions.

    Confidence intervals are percentile intervals of ``n_boot`` paired bootstrap resamples of
    the windows, or of the samples they are cut from if the task says so
    (``TaskSpec.bootstrap_unit``); the same resamples for the plain score, every probe and the
    trivial baseline.
    """
    task, w = prepared.task, prepared.windows
    stats = dict(col.stats)
    boot = task_bootstrap(task, w, stats, n_boot, seed)
    if trivial_pred is not None:
        stats["trivial"] = window_stats(task, w, trivial_pred)
    if task.extra.get("reversal_transposed") and "reversal" in stats:
        stats[TRANSPOSED] = metrics.transposed_stats(stats["reversal"], w.y)
    # the replicates of a pair depend, in the last bit, on the other columns of its matrix
    # product (BLAS blocking): the pairs of evaluator 1.1 share one pass, as they did there
    old = [v for v in stats if probe_of(v)[0] not in ADDED_IN_1_2]
    boot.prefetch([(m, "plain") for m in task.metrics] + [(task.primary, v) for v in old])
    boot.prefetch([(task.primary, v) for v in stats])
    out: dict[str, Any] = {"metrics": {}, "n_windows": len(w), "bootstrap": boot.record()}
    out["metric_variant"] = _metric_variant(task, w, col.plain)
    for name in task.metrics:
        val, reps = boot(name, "plain")
        out["metrics"][name] = {"value": finite(val), "ci95": ci(reps)}
    if task.kind == "forecast":
        out["curve"] = {
            "metric": {"se": "mse", "masked": "mae"}.get(task.error, "l2"),
            "steps": list(task.steps),
            "per_step": metrics.metric_curve(stats["plain"]),
        }
    out["probes"] = score_probes(task, boot, collected_sensitivity(col, seed))
    out["probes"].update(reversal_transposed(task, boot))
    n = len(col.plain)
    scale = float((col.plain.reshape(n, -1) ** 2).mean())
    equiv_reps = boot.means(col.equivariance)
    errors = {v: (float(e.mean()), equiv_reps[v]) for v, e in col.equivariance.items()}
    equiv = score_equivariance(task, errors, scale)
    if equiv:
        out["equivariance"] = equiv
    if trivial_pred is not None:  # points against the trivial baseline on the same resamples
        out["points"] = task_points(task, boot)
    return out


def trivial_prediction(prepared: PreparedTask) -> np.ndarray:
    """The task's trivial baseline on the plain inputs (the 0-point anchor), checked."""
    task, w = prepared.task, prepared.windows
    model = use_tier(make_baseline(task.trivial, task), prepared.tier)
    return check_prediction(
        task, w, w.ids, model.predict(batch_of(w, transform(task, w, "plain"), slice(None)))
    )


def use_tier(model: Any, tier: str) -> Any:
    """Tell a model that reads the train split of the evaluated tier without being trained (the
    ``train-mean`` anchor of ``regress`` tasks) which tier that is: its ``use_tier(tier)`` is
    called, if it has one, before it predicts. Returns ``model``."""
    hook = getattr(model, "use_tier", None)
    if callable(hook):
        hook(tier)
    return model


def hardware(model: Any) -> dict[str, Any]:
    """Where the evaluation ran (recorded in the result)."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "device": str(getattr(model, "device", "cpu")),
    }


def count_parameters(model: Any) -> int:
    """Trainable size of ``model`` when it does not declare ``n_parameters``: the elements of
    the parameters of the model itself if it is a torch module, else of the torch modules among
    its attributes (each shared parameter counted once); 0 if there are none.

    Duck-typed (an object with ``parameters()`` and ``state_dict()``), so torch is not imported.

    Examples
    --------
    >>> class Rule:
    ...     def predict(self, batch): ...
    >>> count_parameters(Rule())
    0
    """
    found = [model] if _is_module(model) else []
    found += [v for v in getattr(model, "__dict__", {}).values() if _is_module(v)]
    seen: dict[int, int] = {}
    for m in found:
        for p in m.parameters():
            seen[id(p)] = int(p.numel())
    return sum(seen.values())


def _is_module(obj: Any) -> bool:
    return callable(getattr(obj, "parameters", None)) and callable(getattr(obj, "state_dict", None))


def _model_info(model: Any) -> dict[str, Any]:
    """The ``model`` block of a result: declared attributes, else the class name and a count of
    torch parameters (:func:`count_parameters`)."""
    n_par = getattr(model, "n_parameters", None)
    return {
        "name": getattr(model, "name", type(model).__name__),
        "version": str(getattr(model, "version", "0")),
        "code_url": getattr(model, "code_url", None),
        "n_parameters": count_parameters(model) if n_par is None else int(n_par),
        "config": getattr(model, "config_dict", lambda: {})(),
    }


def evaluate(
    model: Any,
    prepared: PreparedTask | TaskSpec | str,
    config: EvalConfig | None = None,
    *,
    save_predictions: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on a prepared task: metrics, probes and points in a result record.

    Parameters
    ----------
    model
        Anything with ``predict(batch)`` (see :class:`Model`); its ``name`` attribute (or class
        name) names it in the result.
    prepared
        The evaluation context from :func:`decathlon.prepare` (a task name or record is prepared
        on the spot for the ``test`` split at the ``mini`` tier).
    config
        Batch size, bootstrap resamples and seed, probes on/off, progress bar
        (:class:`EvalConfig`; defaults if omitted).
    save_predictions
        Also write every prediction made (plain and each probe variant) to this ``.npz`` path,
        in the format ``decathlon score`` reads (:func:`write_predictions`; for submissions).

    Returns
    -------
    dict
        A result record that validates against the published JSON schema.
    """
    from .results import make_result

    cfg = config or EvalConfig()
    prepared = prepare(prepared)
    task, w = prepared.task, prepared.windows
    t0 = time.perf_counter()
    variants = probe_variants(task) if cfg.probes else []
    predict = model_predictor(use_tier(model, prepared.tier), task, w)
    kept: dict[str, list[np.ndarray]] = {}
    if save_predictions is not None:
        predict = _recording(predict, kept)
    col = collect(task, w, variants, predict, cfg.batch_size, cfg.progress)
    wall = time.perf_counter() - t0
    if save_predictions is not None:
        write_predictions(save_predictions, w.ids, {v: np.concatenate(p) for v, p in kept.items()})
    scored = score_predictions(prepared, col, trivial_prediction(prepared), cfg.n_boot, cfg.seed)
    seeds = {
        "bootstrap": cfg.seed,
        **probe_seeds(task),
        "model": getattr(model, "seed", None),
    }
    return make_result(
        model=_model_info(model),
        task=prepared.provenance(),
        scored=scored,
        seeds=seeds,
        hardware=hardware(model),
        wall_clock_s=wall,
        predictions_sha256=col.sha256,
        verification="self-reported",
    )


def _recording(predict: PredictFn, kept: dict[str, list[np.ndarray]]) -> PredictFn:
    """``predict`` that also keeps each checked batch, per variant, in the order it is called
    (:func:`~decathlon.benchmark.collect.collect` walks each variant's windows in order)."""

    def recorded(v: str, sl: slice) -> np.ndarray:
        p = predict(v, sl)
        kept.setdefault(v, []).append(p)
        return p

    return recorded


def write_predictions(path: str | Path, ids: np.ndarray, preds: dict[str, np.ndarray]) -> Path:
    """Write predictions in the offline format: ``ids``, ``pred`` and ``pred__<variant>``.

    float32 when that loses nothing (re-scoring then gives the very same numbers), else float64;
    compressed; written to a temporary name and renamed when complete.

    Examples
    --------
    >>> import os, tempfile
    >>> p = write_predictions(os.path.join(tempfile.mkdtemp(), "p.npz"), np.arange(2),
    ...                       {"plain": np.zeros((2, 3))})
    >>> sorted(np.load(p)), np.load(p)["pred"].dtype
    (['ids', 'pred'], dtype('float32'))
    """
    arrays: dict[str, np.ndarray] = {"ids": np.asarray(ids, dtype=np.int64)}
    for v, a in preds.items():
        small = a.astype(np.float32)
        arrays["pred" if v == "plain" else f"pred__{v}"] = small if np.array_equal(small, a) else a
    from .safe_npz import write_npz

    return write_npz(path, arrays)
