"""Evaluator benchmark: a full evaluation against a plain script computing the same metric.

Each side runs in its own fresh Python process, so its wall time and peak resident memory
(``ru_maxrss``) are its own; the two sides take turns ``repeats`` times and the medians are
reported, side by side, in one results file. The plain scripts are written the way one would
compute the number by hand, without this package: ``zarr`` arrays read directly, the NRI
normalization from the train arrays, the prediction, one metric, no bootstrap, no probes. Their
value must equal the evaluator's (it is recorded next to it), so both sides do the same job.

``forecast``: ``static`` on ``particles/springs-forecast`` (MSE). ``graph``: ``proximity`` on
``particles/springs-graph`` (pooled AUROC). The evaluator side is timed twice: the full
evaluation (probes and 1000 bootstrap resamples) and the plain score with its bootstrap interval
(``probes=False``), which does exactly the script's job plus the interval.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["run_evaluator_benchmarks", "PLAIN_SCRIPTS"]

_START = "import time\nt0 = time.perf_counter()  # imports count, on both sides\n"

_MEASURE = """
import json, resource, sys
value = main()
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sys.stdout.write(json.dumps({"wall_s": wall, "peak_mib": rss, "value": value}) + "\\n")
"""

_READ = """
import numpy as np, zarr
def arr(root, part, var):
    return np.asarray(zarr.open_array(f"{root}/{part}.zarr/{var}", mode="r")[...])
def minmax(root, var):
    z = zarr.open_array(f"{root}/train.zarr/{var}", mode="r")
    lo, hi = np.inf, -np.inf
    for s in range(0, z.shape[0], 5000):  # chunk by chunk: the train split need not fit
        a = z[s : s + 5000]
        lo, hi = min(lo, float(a.min())), max(hi, float(a.max()))
    return lo, hi
"""

#: The hand-written reference scripts, by task kind (each defines ``main(root) -> value``).
PLAIN_SCRIPTS = {
    "forecast": _READ
    + """
def main():
    feats = []
    for var in ("pos", "vel"):
        lo, hi = minmax(ROOT, var)
        a = arr(ROOT, "test", var)[:, :69].astype(np.float64)
        feats.append(((a - lo) / ((hi - lo) / 2) - 1).astype(np.float32))
    x = np.concatenate(feats, axis=-1)          # (sims, 99, 5, 4), NRI's [-1, 1] scaling
    last = x[:, 48:49]                          # static: the last context frame, repeated
    err = ((x[:, 49:69] - last).astype(np.float64) ** 2).mean()
    return float(err)
""",
    "graph": _READ
    + """
from scipy.stats import rankdata
def main():
    pos = arr(ROOT, "test", "pos")[:, :49].astype(np.float64)   # (sims, 49, 5, 2)
    edges = arr(ROOT, "test", "edges")
    d = np.sqrt(((pos[:, :, :, None] - pos[:, :, None, :]) ** 2).sum(-1)).mean(1)
    off = ~np.eye(d.shape[-1], dtype=bool)
    flat = d[:, off]
    score = 1.0 - (rankdata(flat, method="average", axis=1) - 1.0) / (flat.shape[1] - 1)
    y = edges[:, off].ravel() > 0.5
    r = rankdata(score.ravel())                 # Mann-Whitney AUROC, ties count one half
    n_pos, n_neg = y.sum(), (~y).sum()
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
""",
}

_EVALUATE = """
def main():
    from decathlon import EvalConfig, evaluate, prepare
    from decathlon.benchmark.baselines import make_baseline
    prepared = prepare(TASK, "test", TIER, build=False)
    r = evaluate(make_baseline(MODEL, prepared.task), prepared, EvalConfig(probes=PROBES))
    return r["metrics"][prepared.task.primary]["value"]
"""

_STREAM = """
def main():
    from decathlon import EvalConfig, evaluate, prepare
    from decathlon.benchmark.baselines import make_baseline
    from decathlon.benchmark.stream import evaluate_stream
    from decathlon.benchmark.tasks import get_task
    task = get_task(TASK)
    model = make_baseline(MODEL, task)
    if CHUNK:
        r = evaluate_stream(model, task, SPLIT, TIER, EvalConfig(), chunk=CHUNK)
    else:
        r = evaluate(model, prepare(task, SPLIT, TIER, build=False), EvalConfig())
    return r["n_windows"]
"""

CASES = {
    "forecast": ("particles/springs-forecast", "static"),
    "graph": ("particles/springs-graph", "proximity"),
}


def _run(code: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rows))


def _case(kind: str, tier: str, repeats: int) -> dict[str, Any]:
    from .data import DATASETS, materialize, store_dir
    from .tasks import get_task

    task, model = CASES[kind]
    spec = DATASETS.get(get_task(task).dataset)
    materialize(spec.name, tier)  # type: ignore[arg-type]
    root = store_dir(spec, tier)
    plain = _START + PLAIN_SCRIPTS[kind].replace("ROOT", repr(str(root))) + _MEASURE
    head = _START + f"TASK, MODEL, TIER = {task!r}, {model!r}, {tier!r}\n"
    full = head + "PROBES = True\n" + _EVALUATE + _MEASURE
    bare = head + "PROBES = False\n" + _EVALUATE + _MEASURE
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "evaluate": [], "evaluate_no_probes": []}
    for _ in range(repeats):  # take turns, so that the machine's state is shared fairly
        runs["plain"].append(_run(plain))
        runs["evaluate"].append(_run(full))
        runs["evaluate_no_probes"].append(_run(bare))
    row: dict[str, Any] = {"kind": kind, "task": task, "model": model, "tier": tier}
    for side, rs in runs.items():
        row[side] = {
            "wall_s": _median(rs, "wall_s"),
            "peak_mib": _median(rs, "peak_mib"),
            "value": rs[0]["value"],
        }
    for side in ("evaluate", "evaluate_no_probes"):
        row[side]["wall_ratio"] = row[side]["wall_s"] / row["plain"]["wall_s"]
        row[side]["memory_ratio"] = row[side]["peak_mib"] / row["plain"]["peak_mib"]
    return row


def _streaming(tier: str, repeats: int, chunk: int = 2000) -> list[dict[str, Any]]:
    """Peak memory of streaming vs in-memory evaluation at two split sizes (the graph task's
    valid split, 10 000 windows at the full tier, and its train split, 50 000)."""
    rows = []
    for split in ("valid", "train"):
        for mode, c in (("in-memory", 0), ("streaming", chunk)):
            head = _START + f"TASK, MODEL, TIER, SPLIT, CHUNK = {CASES['graph'][0]!r}, "
            head += f"{CASES['graph'][1]!r}, {tier!r}, {split!r}, {c}\n"
            rs = [_run(head + _STREAM + _MEASURE) for _ in range(repeats)]
            rows.append(
                {
                    "split": split,
                    "mode": mode,
                    "chunk": c or None,
                    "n_windows": rs[0]["value"],
                    "wall_s": _median(rs, "wall_s"),
                    "peak_mib": _median(rs, "peak_mib"),
                }
            )
    return rows


def run_evaluator_benchmarks(
    tier: str = "full", repeats: int = 3, out: str | None = "results/bench_evaluator.json"
) -> list[dict[str, Any]]:
    """Benchmark the evaluator against the plain scripts on ``tier``; write ``out`` (JSON).

    The dataset is materialized first if needed (the full springs tier takes about half a
    minute to simulate).
    """
    rows = [_case(kind, tier, repeats) for kind in CASES]
    stream_rows = _streaming(tier, repeats)
    if out:
        p = Path(out)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "machine": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "repeats": repeats,
            "statistic": "median of the repeats; sides take turns; one fresh process per run",
        }
        doc = {"meta": meta, "results": rows, "streaming": stream_rows}
        p.write_text(json.dumps(doc, indent=1))
    return rows + stream_rows
