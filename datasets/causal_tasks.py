"""Temporal causal-discovery tasks: Lorenz-96 (one per forcing F and length T) and VAR(3).

``docs/protocols.md`` §8. Every sample is an independent dataset with its own graph; the model
sees the whole series of a dataset, (window, T, variable, 1) in original units, and returns a
score in [0, 1] for every ordered pair ``i -> j`` (window, variable, variable). One task per
(F, T) setting, so that each setting has its own number, as in Neural-GC's and CUTS' tables;
the T = 250 and 500 tasks read the first frames of the same series as T = 1000 (paired).

Primary metric: ``auroc_mean``, the AUROC over the **off-diagonal** pairs of each dataset,
averaged over datasets (the diagonal, self-lags that are always true, is excluded: including it
inflates AUROC). Also ``ap_mean``, the pooled ``auroc`` and ``shd`` at the threshold 0.5
(ENCO's convention: a reversed edge costs 1). Lagged graphs are collapsed by the maximum over
lags (CUTS). The reversal probe is also scored against the transposed graph
(``probes.reversal_transposed``).
"""

from __future__ import annotations

from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.benchmark.windows import series_windows

__all__ = ["L96_TASKS", "VAR_TASK"]

SPLITS = {s: Split(s) for s in ("train", "valid", "test")}
METRICS = ("auroc_mean", "ap_mean", "auroc", "shd")
NOTE = (
    "deterministic; AUROC and AP over off-diagonal pairs (self-loops excluded), per dataset, "
    "averaged over datasets; SHD at threshold 0.5, a reversed edge costs 1"
)
L96_TARGET = (
    0.9996,
    "CUTS Table 1 (Cheng et al. 2023): best Lorenz-96 AUROC, CUTS at 30 % random missing "
    "(N = 10, T = 1000, F = 10); not our protocol (complete data, p = 20, no diagonal)",
)
VAR_TARGET = (
    0.9992,
    "CUTS Table 1 (Cheng et al. 2023): best VAR AUROC, CUTS at periodic missing T_max = 2 "
    "(N = 10, lag 3); not our protocol (complete data, p = 20, T = 1000, no diagonal)",
)


def _task(
    name: str, event: str, dataset: str, context: int, target: tuple[float, str], what: str
) -> TaskSpec:
    return register_task(
        TaskSpec(
            name=name,
            version="1",
            event=event,
            kind="graph",
            dataset=dataset,
            splits=SPLITS,
            inputs=("x",),
            context=context,
            metrics=METRICS,
            primary="auroc_mean",
            trivial="chance",
            target=target[0],
            target_source=target[1],
            reversible=False,
            window_fn=series_windows,
            sequence_fn=series_windows,
            description=f"{what}; see the whole series of each dataset, score every directed "
            "pair i -> j; metrics over off-diagonal pairs (the diagonal is excluded).",
            extra={"metric_variant": NOTE, "reversal_transposed": True},
        )
    )


L96_TASKS = {
    (f, t): _task(
        f"causal/lorenz96-f{f}-t{t}",
        "causal/lorenz96",
        f"causal-lorenz96-f{f}",
        t,
        L96_TARGET,
        f"Lorenz-96, p = 20, F = {f}, T = {t}, observation noise 0.1",
    )
    for f in (10, 40)
    for t in (250, 500, 1000)
}
VAR_TASK = _task(
    "causal/var-lag3",
    "causal/var",
    "causal-var",
    1000,
    VAR_TARGET,
    "sparse stable VAR(3), p = 20, T = 1000, noise 0.1",
)
