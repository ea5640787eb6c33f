"""The evaluator: it owns the test loop.

:func:`evaluate` builds the windows, hands the model inputs only (plain and every probe
variant), checks each returned prediction (shape, window ids, finiteness), and computes every
metric, probe and the decathlon points itself. The offline route is the same loop cut in two:
:func:`export_inputs` writes every input variant to an ``.npz`` file keyed by window id, the user
writes predictions the same way, and :func:`score` scores them. Nothing is ever unpickled:
``.npz`` files are read with ``allow_pickle=False``.

Prediction file format (``.npz``): ``ids`` int64 (W,) and ``pred`` (W, ...) for the plain input,
plus ``pred__<variant>`` for each probe variant (``reversal``, ``shuffle0`` ..., ``freeze``) in
the same id order; probe predictions may be left out (the probes are then reported missing).
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics as M
from .data import store_meta
from .models import make_baseline
from .probes import equivariance_target, probe_variants, transform
from .tasks import TaskSpec, Windows, get_task, make_windows, split_hash, task_stats

__all__ = ["evaluate", "export_inputs", "score", "load_predictions", "check_prediction", "score_predictions"]

log = logging.getLogger("decathlon")

EVALUATOR_VERSION = "1.0"
MAX_PREDICTION_BYTES = 4 << 30  # refuse absurd prediction files before loading them


def _to_numpy(pred: Any) -> np.ndarray:
    if hasattr(pred, "detach"):  # a torch tensor; torch itself is never imported here
        pred = pred.detach().cpu().numpy()
    return np.asarray(pred)


def expected_shape(task: TaskSpec, w: Windows) -> tuple[int, ...]:
    """Shape the prediction for windows ``w`` must have."""
    if task.kind == "forecast":
        return (len(w), len(task.steps), w.x.shape[2], len(w.target_features))
    n = w.y.shape[-1]
    return (len(w), n, n)


def check_prediction(task: TaskSpec, w: Windows, ids: np.ndarray, pred: Any, variant: str = "plain",
                     expected_ids: np.ndarray | None = None) -> np.ndarray:
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
    if pred.dtype.kind not in "fiub":
        raise ValueError(f"{where} has dtype {pred.dtype}; expected a float array")
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"{where}: window ids must be a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{where}: duplicate window ids {uniq[counts > 1][:10].tolist()}; each window once")
    missing = np.setdiff1d(want_ids, ids)
    if missing.size:
        raise ValueError(
            f"{where}: {missing.size} of {len(want_ids)} window ids missing (first: {missing[:10].tolist()}); "
            "predict every window of the exported inputs"
        )
    extra = np.setdiff1d(ids, want_ids)
    if extra.size:
        raise ValueError(f"{where}: unknown window ids {extra[:10].tolist()}; valid ids are 0..{len(w) - 1}")
    want = (len(want_ids),) + expected_shape(task, w)[1:]
    stochastic = task.samples > 1 and pred.ndim == len(want) + 1
    if stochastic and not 1 <= pred.shape[1] <= task.samples:
        raise ValueError(f"{where} has {pred.shape[1]} samples per window; at most {task.samples} (best-of-{task.samples})")
    if (pred.shape[:1] + pred.shape[2:] if stochastic else pred.shape) != (len(ids),) + want[1:]:
        raise ValueError(
            f"{where} has shape {pred.shape}, expected {want} (dims: "
            f"{'window, horizon, entity, target_feature' if task.kind == 'forecast' else 'window, entity, entity_'}"
            f"{f'; or window, sample, ... with at most {task.samples} samples' if task.samples > 1 else ''});"
            " see `decathlon describe`"
        )
    pred = pred.astype(np.float64)
    bad = ~np.isfinite(pred)
    if bad.any():
        first = ids[np.flatnonzero(bad.reshape(len(ids), -1).any(1))[:5]].tolist()
        raise ValueError(f"{where} has {int(bad.sum())} NaN/inf values (windows {first} ...); predictions must be finite")
    order = np.argsort(ids)
    return pred[order][np.searchsorted(ids[order], want_ids)]


def _batch(w: Windows, inputs: dict[str, np.ndarray], sl: slice) -> dict[str, Any]:
    return {
        "ids": w.ids[sl],
        "x": inputs["x"][sl],
        "mask": None if inputs["mask"] is None else inputs["mask"][sl],
        "static": (inputs["static"] if "static" in inputs else w.static)[sl] if w.static is not None else None,
        "features": w.features,
        "target_features": w.target_features,
    }


def run_model(model: Any, task: TaskSpec, w: Windows, variants: list[str], batch_size: int = 512,
              progress: bool = False) -> dict[str, np.ndarray]:
    """Run ``model.predict`` over every variant's inputs in batches; checked, aligned outputs."""
    from tqdm.auto import tqdm

    if not hasattr(model, "predict"):
        raise TypeError(f"a model needs a predict(batch) method; got {type(model).__name__}")
    out = {}
    n_batches = -(-len(w) // batch_size)
    with tqdm(total=n_batches * len(variants), desc=f"evaluate {task.name}", unit="batch",
              disable=not progress, leave=False) as bar:
        for v in variants:
            inputs = transform(task, w, v)
            parts = []
            for s in range(0, len(w), batch_size):
                sl = slice(s, s + batch_size)
                parts.append(check_prediction(task, w, w.ids[sl], model.predict(_batch(w, inputs, sl)), v,
                                              expected_ids=w.ids[sl]))
                bar.update(1)
            out[v] = np.concatenate(parts)
    return out


def _stats(task: TaskSpec, w: Windows, pred: np.ndarray) -> dict[str, np.ndarray]:
    if task.kind == "forecast":
        return M.forecast_stats(pred, w.y, w.mask_y, task.error)
    return M.graph_stats(pred, w.y)


def _ci(a: np.ndarray) -> list[float | None]:
    a = a[np.isfinite(a)]
    if a.size == 0:
        return [None, None]
    lo, hi = np.percentile(a, [2.5, 97.5])
    return [float(lo) + 0.0, float(hi) + 0.0]


def _f(x: float) -> float | None:
    return float(x) + 0.0 if np.isfinite(x) else None  # + 0.0 turns -0.0 into 0.0


def points(value: np.ndarray, trivial: np.ndarray, perfect: float) -> np.ndarray:
    """Decathlon points: 0 at the trivial baseline, 1000 at a perfect score, clipped to [0, 1000].

    ``points = 1000 * clip((trivial - value) / (trivial - perfect), 0, 1)``; the same formula
    serves higher-is-better metrics (both differences change sign).

    Examples
    --------
    >>> points(np.array([0.5]), np.array([1.0]), 0.0).tolist()
    [500.0]
    >>> points(np.array([0.75]), np.array([0.5]), 1.0).tolist()
    [500.0]
    """
    den = np.asarray(trivial, dtype=np.float64) - perfect
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(np.abs(den) > 0, (trivial - np.asarray(value)) / den, 0.0)
    return 1000.0 * np.clip(np.nan_to_num(frac, nan=0.0), 0.0, 1.0) + 0.0


def score_predictions(task: TaskSpec, w: Windows, preds: dict[str, np.ndarray], trivial_pred: np.ndarray | None,
                      n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Metrics, rollout curve, probes and points from aligned predictions.

    Confidence intervals are percentile intervals of ``n_boot`` paired bootstrap resamples of
    the windows (the same resamples for the plain score, every probe and the trivial baseline).
    """
    stats = {v: _stats(task, w, p) for v, p in preds.items()}
    rng = np.random.default_rng(seed)
    n = len(w)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64) if n_boot else None

    if trivial_pred is not None:
        stats["trivial"] = _stats(task, w, trivial_pred)
    cache: dict[tuple[str, str], tuple[float, np.ndarray]] = {}

    def boot(name: str, variant: str) -> tuple[float, np.ndarray]:
        """Point value and bootstrap replicates of metric ``name`` on ``variant``'s predictions."""
        if (name, variant) not in cache:
            st = stats[variant]
            val = float(M.metric_value(name, st)[0])
            reps = _chunked(name, st, weights) if weights is not None else np.array([val])
            cache[name, variant] = (val, reps)
        return cache[name, variant]

    out: dict[str, Any] = {"metrics": {}, "n_windows": n}
    k = preds["plain"].shape[1] if task.kind == "forecast" and preds["plain"].ndim == w.y.ndim + 1 else 1
    out["metric_variant"] = (f"best-of-{k}: per-entity minimum over {k} samples (minADE_K/minFDE_K, Trajectron++ "
                             "convention; Social-GAN's scene-level minimum is higher)" if k > 1 else "deterministic")
    for name in task.metrics:
        val, reps = boot(name, "plain")
        out["metrics"][name] = {"value": _f(val), "ci95": _ci(reps)}
    if task.kind == "forecast":
        out["curve"] = {"metric": "mse" if task.error == "se" else "l2", "steps": list(task.steps),
                        "per_step": M.metric_curve(stats["plain"])}
    # probes
    prim = task.primary
    base_val, base_reps = boot(prim, "plain")
    triv = boot(prim, "trivial") if trivial_pred is not None else None
    probes: dict[str, Any] = {}
    have_freeze = "freeze" in stats
    if have_freeze:
        fz_val, fz_reps = boot(prim, "freeze")
    for p in task.probes:
        vs = [v for v in probe_variants(task) if v in stats and (v.startswith("shuffle") if p == "shuffle" else v == p)]
        if not vs or (p == "shuffle" and len(vs) != len(task.shuffle_seeds)):
            probes[p] = {"status": "missing", "note": "no predictions for this probe's inputs"}
            continue
        vals = np.mean([boot(prim, v)[0] for v in vs])
        reps = np.mean([boot(prim, v)[1] for v in vs], axis=0)
        if abs(vals - base_val) <= 1e-12 * max(1.0, abs(base_val)):  # averaging round-off, not a gap
            vals = base_val
        reps = np.where(np.abs(reps - base_reps) <= 1e-12 * np.maximum(1.0, np.abs(base_reps)), base_reps, reps)
        gap_reps = reps - base_reps
        entry = {"metric": prim, "value": _f(vals), "gap": _f(vals - base_val), "gap_ci95": _ci(gap_reps)}
        if p == "shuffle":
            entry["per_draw"] = [_f(boot(prim, v)[0]) for v in vs]
        sens = _sensitivity(preds["plain"], [preds[v] for v in vs], seed)
        if sens is not None:
            entry["sensitivity"] = sens
        if have_freeze and p != "freeze":
            den = fz_val - base_val
            scale = max(abs(base_val), abs(fz_val), 1e-12)
            if abs(den) > 1e-9 * scale:
                with np.errstate(invalid="ignore", divide="ignore"):
                    ts_reps = gap_reps / (fz_reps - base_reps)
                entry["ts"] = _f((vals - base_val) / den)
                entry["ts_ci95"] = _ci(ts_reps)
            else:
                entry["ts"] = None
                entry["ts_note"] = "undefined: the freeze probe does not change the score"
        if triv is not None:  # PROTOCOLS §10.2: the time-agnostic reference of a forecaster is its trivial baseline
            den = triv[0] - base_val
            if abs(den) > 1e-9 * max(abs(base_val), abs(triv[0]), 1e-12):
                with np.errstate(invalid="ignore", divide="ignore"):
                    entry["ts_trivial"] = _f((vals - base_val) / den)
                    entry["ts_trivial_ci95"] = _ci(gap_reps / (triv[1] - base_reps))
        probes[p] = entry
    out["probes"] = probes
    equiv = {}
    for g in task.equivariance:
        v = f"equiv_{g}"
        if v not in preds:
            equiv[g] = {"status": "missing", "note": "no predictions for this symmetry's inputs"}
            continue
        diff = preds[v] - equivariance_target(task, w, preds["plain"], v)
        per_w = (diff.reshape(n, -1) ** 2).mean(1)
        reps = (weights @ per_w) / n if weights is not None else np.array([per_w.mean()])
        scale = float((preds["plain"].reshape(n, -1) ** 2).mean())
        equiv[g] = {"error": _f(per_w.mean()), "ci95": _ci(reps), "relative": _f(per_w.mean() / scale) if scale > 0 else None}
    if equiv:
        out["equivariance"] = equiv
    # points against the trivial baseline on the same windows and resamples
    if triv is not None:
        tv, treps = triv
        perfect = M.perfect_value(prim)
        pts = points(np.array([base_val]), np.array([tv]), perfect)[0]
        pts_reps = points(base_reps, treps, perfect)
        out["points"] = {"value": float(pts), "ci95": _ci(pts_reps), "trivial_baseline": task.trivial,
                         "trivial_value": _f(tv), "perfect_value": perfect}
    return out


def _sensitivity(plain: np.ndarray, probed: list[np.ndarray], seed: int) -> float | None:
    """Prediction-level sensitivity ``S = E_w D(f(x_w), f(pi x_w)) / E_w D(f(x_w), f(x_w'))``.

    ``D`` is the root-mean-square difference of two predictions (every output element), and
    ``w'`` another window (a fixed, seeded derangement), so the denominator is the spread of
    predictions between inputs. Needs no labels; 0 when the output ignores the transformation,
    about 1 when it changes as much as between unrelated inputs (PROTOCOLS §10.2, definition 2).
    """
    n = len(plain)
    if n < 2:
        return None
    flat = plain.reshape(n, -1)
    perm = np.random.default_rng(seed).permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[perm] = np.roll(perm, -1)  # one cycle through all windows: partner[w] != w
    den = np.sqrt(((flat - flat[partner]) ** 2).mean(1)).mean()
    num = np.mean([np.sqrt(((flat - q.reshape(n, -1)) ** 2).mean(1)).mean() for q in probed])
    return _f(num / den) if den > 0 else None


def _chunked(name: str, st: dict[str, np.ndarray], weights: np.ndarray, rows: int = 100) -> np.ndarray:
    """Bootstrap replicates of a metric, ``rows`` weightings at a time (bounded memory)."""
    return np.concatenate([M.metric_value(name, st, weights[i : i + rows]) for i in range(0, len(weights), rows)])


def _pred_hash(preds: dict[str, np.ndarray], ids: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
    for v in sorted(preds):
        h.update(v.encode())
        h.update(np.ascontiguousarray(preds[v], dtype=np.float32).tobytes())
    return h.hexdigest()


def _trivial_prediction(task: TaskSpec, w: Windows) -> np.ndarray:
    model = make_baseline(task.trivial, task)
    return check_prediction(task, w, w.ids, model.predict(_batch(w, transform(task, w, "plain"), slice(None))))


def _provenance(task: TaskSpec, tier: str, split: str) -> dict[str, Any]:
    meta = store_meta(task.dataset, tier)
    return {"name": task.name, "version": task.version, "event": task.event, "kind": task.kind,
            "dataset": task.dataset, "tier": meta["tier"], "split": split,
            "data_sha256": meta["data_sha256"], "split_sha256": split_hash(task, tier),
            "primary": task.primary, "higher_is_better": task.higher_is_better, "reversible": task.reversible,
            "normalization": {"method": task.normalize, "train_stats": task_stats(task, tier)} if task.normalize else None}


def _hardware(model: Any) -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(), "device": str(getattr(model, "device", "cpu"))}


def _model_info(model: Any, name: str | None) -> dict[str, Any]:
    n_par = getattr(model, "n_parameters", None)
    if callable(n_par):
        n_par = n_par()
    return {"name": name or getattr(model, "name", type(model).__name__),
            "version": str(getattr(model, "version", "0")),
            "code_url": getattr(model, "code_url", None),
            "n_parameters": int(n_par) if n_par is not None else 0,
            "config": getattr(model, "config_dict", lambda: {})()}


def evaluate(model: Any, task: TaskSpec | str, split: str = "test", tier: str = "mini", *,
             batch_size: int = 512, n_boot: int = 1000, seed: int = 0, probes: bool = True,
             model_name: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Evaluate ``model`` on ``task``: metrics, probes and points in a result record.

    Parameters
    ----------
    model
        Anything with ``predict(batch)`` (see :mod:`decathlon.benchmark.models`).
    task
        A task name or :class:`TaskSpec`.
    split, tier
        Which windows (``test`` by default) at which data tier (``mini`` or ``full``). The data
        must be prepared (``decathlon prepare``).
    batch_size, n_boot, seed
        Windows per ``predict`` call; bootstrap resamples and their seed.
    probes
        Run the temporal probes (the default; leave on for leaderboard results).

    Returns
    -------
    dict
        A result record that validates against the published JSON schema.
    """
    from .results import make_result

    task = get_task(task)
    t0 = time.perf_counter()
    w = make_windows(task, tier, split)
    variants = ["plain"] + (probe_variants(task) if probes else [])
    preds = run_model(model, task, w, variants, batch_size, progress)
    wall = time.perf_counter() - t0
    scored = score_predictions(task, w, preds, _trivial_prediction(task, w), n_boot, seed)
    return make_result(
        model=_model_info(model, model_name), task=_provenance(task, tier, split), scored=scored,
        seeds={"bootstrap": seed, "shuffle": list(task.shuffle_seeds), "model": getattr(model, "seed", None)},
        hardware=_hardware(model), wall_clock_s=wall, predictions_sha256=_pred_hash(preds, w.ids),
        tier="self-reported",
    )


def export_inputs(task: TaskSpec | str, path: str | Path, tier: str = "mini", split: str = "test",
                  probes: bool = True) -> Path:
    """Write every input variant of ``split`` to ``path`` (``.npz``, compressed, no pickle).

    Keys: ``ids``; ``x`` and ``x__<variant>``; ``mask``/``mask__<variant>`` and ``static``
    where the task has them; ``features``, ``target_features`` (string arrays), ``task``,
    ``tier``, ``split``, and ``output_shape`` (the prediction shape expected for ``pred``).
    Written to a temporary file and renamed when complete.
    """
    task = get_task(task)
    w = make_windows(task, tier, split)
    arrays: dict[str, np.ndarray] = {"ids": w.ids, "features": np.array(w.features),
                                     "target_features": np.array(w.target_features, dtype=str),
                                     "task": np.array(task.name), "tier": np.array(tier), "split": np.array(split),
                                     "output_shape": np.array(expected_shape(task, w), dtype=np.int64)}
    for v in ["plain"] + (probe_variants(task) if probes else []):
        inp = transform(task, w, v)
        key = "" if v == "plain" else f"__{v}"
        arrays["x" + key] = inp["x"].astype(np.float32)
        if inp["mask"] is not None:
            arrays["mask" + key] = inp["mask"]
        if inp.get("static") is not None:
            arrays["static" + key] = inp["static"]
    if w.static is not None:
        arrays["static"] = w.static
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    tmp.replace(path)
    return path


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """Read a predictions file (``.npz``) without unpickling anything.

    Raises
    ------
    ValueError
        Not an npz file, too large, object arrays, or no ``ids``/``pred`` keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {path} does not exist")
    size = path.stat().st_size
    if size > MAX_PREDICTION_BYTES:
        raise ValueError(f"predictions file {path} is {size / 2**30:.1f} GiB; the limit is {MAX_PREDICTION_BYTES >> 30} GiB")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] != b"PK":
        raise ValueError(f"{path} is not a readable .npz predictions file (not a zip archive); write it with np.savez")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as e:
        raise ValueError(f"{path}: cannot read without unpickling ({e}); save plain numeric arrays with np.savez") from None
    except Exception as e:
        raise ValueError(f"{path} is not a readable .npz predictions file ({type(e).__name__}: {e})") from None
    for k in ("ids", "pred"):
        if k not in data:
            raise ValueError(f"{path}: missing key {k!r}; a predictions file has 'ids', 'pred' and optional 'pred__<probe>' arrays")
    return data


def score(task: TaskSpec | str, predictions: str | Path | dict[str, np.ndarray], tier: str = "mini",
          split: str = "test", *, n_boot: int = 1000, seed: int = 0, model_name: str = "offline") -> dict[str, Any]:
    """Score a predictions file (the offline half of :func:`evaluate`), returning a result record."""
    from .results import make_result

    task = get_task(task)
    data = predictions if isinstance(predictions, dict) else load_predictions(predictions)
    w = make_windows(task, tier, split)
    preds = {"plain": check_prediction(task, w, data["ids"], data["pred"], "plain")}
    known = set(probe_variants(task))
    for k in data:
        if k.startswith("pred__"):
            v = k[len("pred__"):]
            if v not in known:
                raise ValueError(f"predictions key {k!r}: unknown probe variant; valid: {sorted(known)}")
            preds[v] = check_prediction(task, w, data["ids"], data[k], v)
    scored = score_predictions(task, w, preds, _trivial_prediction(task, w), n_boot, seed)
    return make_result(
        model={"name": model_name, "version": "0", "code_url": None, "n_parameters": 0, "config": {}},
        task=_provenance(task, tier, split), scored=scored,
        seeds={"bootstrap": seed, "shuffle": list(task.shuffle_seeds), "model": None},
        hardware=_hardware(None), wall_clock_s=None, predictions_sha256=_pred_hash(preds, w.ids),
        tier="self-reported",
    )
