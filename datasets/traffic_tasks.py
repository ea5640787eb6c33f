"""Task records of the traffic event: ``traffic/metr-la`` and ``traffic/pems-bay``.

DCRNN's protocol (Li et al., ICLR 2018; ``scripts/generate_training_data.py``;
``docs/protocols.md`` §5): 12 readings in (one hour), the next 12 out; every window of 24
consecutive frames (stride 1), split chronologically 70/10/20 by window; masked MAE, RMSE and
MAPE (a zero target is missing) at horizons 3, 6 and 12 (15, 30, 60 minutes) and averaged over
the 12 steps. The model sees speed (mph, 0 where missing, with the presence mask) plus the time
of day (DCRNN's ``add_time_in_day``) and the day of week; it returns speed in mph. Train-split
normalization statistics (DCRNN's ``StandardScaler``) come from :func:`train_scaler`.

Windows are views cut on the fly from the stored series (:func:`sensor_windows`): the test
split of PEMS-BAY is never copied into a (window, 24, 325) array.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from decathlon.benchmark.data import Tier
from decathlon.benchmark.lazy import xr
from decathlon.benchmark.tasks import Split, TaskSpec, get_task, load_split, register_task
from decathlon.benchmark.windows import Windows, feature_names

__all__ = ["sensor_windows", "sensor_sequence", "train_scaler", "TRAFFIC_TASKS"]

CONTEXT, HORIZON = 12, 12
SHARES = (0.7, 0.1, 0.2)


def _series(task: TaskSpec, ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The split as one (time, node, feature) float32 array (the task's inputs: node values,
    then per-step covariates broadcast over nodes), its (time, node) mask, the feature names."""
    n_t, n_n = ds.sizes["time"], ds.sizes["node"]
    cols, names = [], []
    for v in task.inputs:
        a = np.asarray(ds[v].values, dtype=np.float32)
        a = np.broadcast_to(a[:, None], (n_t, n_n, a.shape[-1])) if "node" not in ds[v].dims else a
        cols.append(a)
        names += feature_names(ds, v)
    mask = np.asarray(ds["mask"].values, dtype=bool) if "mask" in ds else np.ones((n_t, n_n), bool)
    return np.ascontiguousarray(np.concatenate(cols, axis=-1)), mask, names


def sensor_windows(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """Every window of ``context + horizon`` consecutive frames of the split ``ds`` (stride 1),
    as read-only views of one stored (time, node, feature) array: ``x`` (window, context, node,
    feature) and ``y`` (window, horizon, node, target_feature) share its memory."""
    series, mask, feats = _series(task, ds)
    length = task.context + task.horizon
    if series.shape[0] < length:
        raise ValueError(
            f"task {task.name!r}: the split has {series.shape[0]} frames, fewer than one window "
            f"of {length}; the recording is too short for this task"
        )
    view = np.moveaxis(sliding_window_view(series, length, axis=0), -1, 1)  # (W, L, N, F)
    mview = np.moveaxis(sliding_window_view(mask, length, axis=0), -1, 1)  # (W, L, N)
    tfeats = task.targets_features(feats)
    cols = [feats.index(f) for f in tfeats]
    if cols != list(range(len(cols))):
        raise ValueError(f"task {task.name!r}: target features {tfeats} must come first")
    steps = np.asarray(task.steps) - 1 + task.context
    contiguous = steps.tolist() == list(range(task.context, length))
    sel = slice(task.context, length) if contiguous else steps
    n_w = view.shape[0]
    return Windows(
        ids=np.arange(n_w, dtype=np.int64),
        x=view[:, : task.context],
        y=view[:, sel, :, : len(cols)],
        sample=np.zeros(n_w, dtype=np.int64),
        start=np.arange(n_w, dtype=np.int64),
        features=feats,
        target_features=tfeats,
        mask_x=mview[:, : task.context],
        mask_y=mview[:, sel],
    )


def sensor_sequence(task: TaskSpec, ds: xr.Dataset) -> Windows:
    """The split as one training sequence: ``x`` (1, time, node, feature), ``mask_x`` (1, time,
    node); :meth:`TrainData.windows` cuts (input, target) windows from it."""
    series, mask, feats = _series(task, ds)
    return Windows(
        ids=np.zeros(1, dtype=np.int64),
        x=series[None],
        y=np.zeros((1, 0), np.float32),
        sample=np.zeros(1, dtype=np.int64),
        start=np.zeros(1, dtype=np.int64),
        features=feats,
        target_features=task.targets_features(feats),
        mask_x=mask[None],
    )


def train_scaler(task: TaskSpec | str, tier: Tier = "full") -> tuple[float, float]:
    """DCRNN's ``StandardScaler`` of the task: mean and standard deviation of the speeds of the
    train split, zeros (missing readings) included as in DCRNN.

    Models that work on standardized speeds use these, so that no test statistic leaks in.
    """
    task = get_task(task)
    ds = load_split(task, "train", tier)
    v = np.asarray(ds["value"].values, dtype=np.float64)
    return float(v.mean()), float(v.std())


#: Points targets: Graph WaveNet's 60-minute masked MAE (Wu et al., IJCAI 2019, Table 2), the
#: best published value for this protocol we have a source for (docs/probes.md §4).
GWN_MAE_60 = {"metr-la": 3.53, "pems-bay": 1.95}


def _traffic_task(dataset: str) -> TaskSpec:
    metrics = tuple(f"{m}@{k}" for m in ("mae", "rmse", "mape") for k in (3, 6, 12))
    return TaskSpec(
        name=f"traffic/{dataset}-forecast",
        version="1",
        event=f"traffic/{dataset}",
        kind="forecast",
        dataset=dataset,
        splits={
            k: Split("all", shares=SHARES, share=i)
            for i, k in enumerate(("train", "valid", "test"))
        },
        inputs=("value", "covariates"),
        targets=("value",),
        context=CONTEXT,
        horizon=HORIZON,
        stride=1,
        normalize=None,
        error="masked",
        metrics=(*metrics, "mae", "rmse", "mape"),
        primary="mae@12",
        trivial="static",
        target=GWN_MAE_60[dataset],
        target_source="Graph WaveNet masked MAE at 60 min (Wu et al., IJCAI 2019, Table 2)",
        mini_windows=2016,
        window_fn=sensor_windows,
        sequence_fn=sensor_sequence,
        bootstrap_unit="block",  # stride 1 along one series: 24-step (2 h) blocks in time
        reversible=False,
        description=(
            f"{dataset.upper()} speed forecasting (DCRNN protocol): 12 five-minute readings of "
            "every sensor in, the next 12 out; chronological 70/10/20 split of windows; masked "
            "MAE/RMSE/MAPE (zero targets are missing) at 15/30/60 min and averaged. Inputs: "
            "speed (mph), time of day, day of week; the graph is the dataset's adjacency."
        ),
    )


TRAFFIC_TASKS = [register_task(_traffic_task(d)) for d in ("metr-la", "pems-bay")]
