"""Evaluator benchmark: a full evaluation against plain scripts doing the same job.

Each side runs in its own fresh Python process, so its wall time and peak resident memory
(``ru_maxrss``) are its own; the sides take turns ``repeats`` times and the medians are
reported, side by side, in one results file. The plain scripts are written the way one would
compute the numbers by hand, without this package: ``zarr`` arrays read directly, the NRI
normalization from the train arrays, the prediction, the metric, no bootstrap. Their values
must equal the evaluator's (they are recorded next to them), so both sides do the same job.

``forecast``: ``static`` on ``particles/springs-forecast`` (MSE). ``graph``: ``proximity`` on
``particles/springs-graph`` (pooled AUROC). Two pairs are timed: ``plain`` (the primary metric)
against ``evaluate_no_probes`` (the same score with its 1000-resample bootstrap interval), and
``plain_probes`` (the primary metric on every probe input as well: reversal, ten shuffles,
half, three draws each of local-2 and local-4, freeze, and the equivariance error of rot90,
reflect and permute) against ``evaluate`` (a full evaluation: probes, intervals, points). At
the full tier the figures measured before the evaluator was rewritten (issue 9, commit
1095a22) are printed beside them.
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

from .tasks import get_task

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

#: The same scripts, also scoring every probe variant the evaluator scores on these tasks
#: (reversal, 10 shuffles, half, 3 draws each of local-2 and local-4, freeze; the equivariance
#: error of rot90, reflect and permute): the hand-written job of a full evaluation, without
#: bootstrap intervals.
_PROBE_INPUTS = """
PERM = np.array(PERMUTATION)
ROTS = {"rot90": np.array([[0.0, -1.0], [1.0, 0.0]]), "reflect": np.diag([-1.0, 1.0])}
def probe_inputs(ctx, lo, hi, vel):
    c, h = ctx.shape[1], (hi - lo) / 2
    def phys(u):
        return (u.astype(np.float64) + 1) * h + lo
    def unit(p):
        return ((p - lo) / h - 1).astype(np.float32)
    rev = ctx[:, ::-1].copy()
    rev[..., vel] = unit(-phys(rev))[..., vel]      # velocities negated in physical units
    yield "reversal", rev, None
    for s in range(10):
        yield "shuffle", ctx[:, np.random.default_rng(s).permutation(c)], None
    yield "half", np.roll(ctx, -(c // 2), axis=1), None
    for b in (2, 4):                                # blocks counted back from the last frame
        edges = sorted({0, *range(c % b, c, b)}) + [c]
        for s in range(3):
            rng = np.random.default_rng(s)
            idx = np.arange(c)
            while (idx == np.arange(c)).all():
                parts = zip(edges, edges[1:])
                idx = np.concatenate([lo + rng.permutation(hi - lo) for lo, hi in parts])
            yield f"local-{b}", ctx[:, idx], None
    yield "freeze", np.repeat(ctx[:, -1:], c, axis=1), None
    for g, rot in ROTS.items():
        def sym(u, rot=rot):                        # rotate every (x, y) pair in physical units
            p = phys(u)
            for k in range(0, p.shape[-1], 2):
                p[..., k : k + 2] = p[..., k : k + 2] @ rot.T
            return unit(p)
        yield "equiv_" + g, sym(ctx), sym
    yield "equiv_permute", ctx[:, :, PERM], lambda u: u[:, :, PERM]
"""

_PROBES_MAIN = {
    "forecast": """
def main():
    feats, lo, hi = [], [], []
    for var in ("pos", "vel"):
        a, b = minmax(ROOT, var)
        feats.append(arr(ROOT, "test", var)[:, :69].astype(np.float64))
        lo, hi = lo + [a, a], hi + [b, b]
    lo, hi = np.array(lo), np.array(hi)
    x = ((np.concatenate(feats, axis=-1) - lo) / ((hi - lo) / 2) - 1).astype(np.float32)
    ctx, y = x[:, :49], x[:, 49:69]
    def static(c):
        return np.repeat(c[:, -1:], 20, axis=1)
    def mse(p):
        return float(((p - y).astype(np.float64) ** 2).mean())
    plain = static(ctx)
    out = {"plain": mse(plain)}
    for name, xv, g in probe_inputs(ctx, lo, hi, [2, 3]):
        pred = static(xv)
        if g is None:
            v = mse(pred)
            out.setdefault(name, []).append(v)     # drawn probes: the mean of their draws
        else:                                       # equivariance: f(g x) against g f(x)
            out[name] = float(((pred - g(plain)).astype(np.float64) ** 2).mean())
    return {k: float(np.mean(v)) for k, v in out.items()}
""",
    "graph": """
def proximity(pos):
    d = np.sqrt(((pos[:, :, :, None] - pos[:, :, None, :]) ** 2).sum(-1)).mean(1)
    flat = d[:, OFF]
    return 1.0 - (rankdata(flat, method="average", axis=1) - 1.0) / (flat.shape[1] - 1)
def auroc(score, y):
    r = rankdata(score.ravel())
    n_pos, n_neg = y.sum(), (~y).sum()
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
def main():
    global OFF
    feats, lo, hi = [], [], []
    for var in ("pos", "vel"):
        a, b = minmax(ROOT, var)
        feats.append(arr(ROOT, "test", var)[:, :49].astype(np.float64))
        lo, hi = lo + [a, a], hi + [b, b]
    lo, hi = np.array(lo), np.array(hi)
    ctx = ((np.concatenate(feats, axis=-1) - lo) / ((hi - lo) / 2) - 1).astype(np.float32)
    edges = arr(ROOT, "test", "edges")
    OFF = ~np.eye(edges.shape[-1], dtype=bool)
    y = edges[:, OFF].ravel() > 0.5
    plain = proximity(ctx[..., :2].astype(np.float64))
    out = {"plain": auroc(plain, y)}
    full = np.zeros(edges.shape)
    full[:, OFF] = plain
    for name, xv, g in probe_inputs(ctx, lo, hi, [2, 3]):
        s = proximity(xv[..., :2].astype(np.float64))
        if g is None:
            v = auroc(s, y)
            out.setdefault(name, []).append(v)     # drawn probes: the mean of their draws
        else:                                       # a graph output moves only with entities
            target = full[:, PERM][:, :, PERM] if name == "equiv_permute" else full
            sf = np.zeros(edges.shape)
            sf[:, OFF] = s
            out[name] = float(((sf - target) ** 2).mean())
    return {k: float(np.mean(v)) for k, v in out.items()}
""",
}

_EVALUATE = """
def main():
    from decathlon import EvalConfig, evaluate, prepare
    from decathlon.benchmark.baselines import make_baseline
    prepared = prepare(TASK, "test", TIER, build=False)
    r = evaluate(make_baseline(MODEL, prepared.task), prepared, EvalConfig(probes=PROBES))
    value = r["metrics"][prepared.task.primary]["value"]
    if not PROBES:
        return value
    out = {"plain": value, **{p: e["value"] for p, e in r["probes"].items()}}
    return out | {"equiv_" + g: e["error"] for g, e in r.get("equivariance", {}).items()}
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


#: The figures of the table in issue 9, measured on the 2-core development machine at commit
#: 1095a22, before the evaluator was rewritten (medians of 3-5 runs): ``decathlon bench``
#: prints them beside today's so the change stays visible; they are not re-measured.
BEFORE = {
    "forecast": {"commit": "1095a22", "wall_s": 11.3, "peak_mib": 1049.0, "plain_wall_s": 0.90},
    "graph": {"commit": "1095a22", "wall_s": 72.0, "peak_mib": None, "plain_wall_s": 0.92},
}

#: Each evaluator side and the hand-written script that does the same job.
SIDES = {"evaluate_no_probes": "plain", "evaluate": "plain_probes"}


def _scripts(kind: str, task: str, model: str, tier: str, root: str) -> dict[str, str]:
    """The four programs of one case: both plain scripts and both evaluator runs."""
    from .symmetries import symmetry

    t = get_task(task)
    perm = symmetry(t, "permute", 2, 5)["perm"].tolist() if "permute" in t.equivariance else []
    read = PLAIN_SCRIPTS[kind].replace("ROOT", repr(root))
    probes = (
        _READ + _PROBE_INPUTS.replace("PERMUTATION", repr(perm)) + _PROBES_MAIN[kind]
    ).replace("ROOT", repr(root))
    if kind == "graph":
        probes = "from scipy.stats import rankdata\n" + probes
    head = _START + f"TASK, MODEL, TIER = {task!r}, {model!r}, {tier!r}\n"
    return {
        "plain": _START + read + _MEASURE,
        "plain_probes": _START + probes + _MEASURE,
        "evaluate_no_probes": head + "PROBES = False\n" + _EVALUATE + _MEASURE,
        "evaluate": head + "PROBES = True\n" + _EVALUATE + _MEASURE,
    }


def _case(kind: str, tier: str, repeats: int) -> dict[str, Any]:
    from .data import DATASETS, materialize, store_dir

    task, model = CASES[kind]
    spec = DATASETS.get(get_task(task).dataset)
    materialize(spec.name, tier)  # type: ignore[arg-type]
    scripts = _scripts(kind, task, model, tier, str(store_dir(spec, tier)))
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in scripts}
    for _ in range(repeats):  # take turns, so that the machine's state is shared fairly
        for side, code in scripts.items():
            runs[side].append(_run(code))
    row: dict[str, Any] = {"kind": kind, "task": task, "model": model, "tier": tier}
    for side, rs in runs.items():
        v = rs[0]["value"]
        row[side] = {
            "wall_s": _median(rs, "wall_s"),
            "peak_mib": _median(rs, "peak_mib"),
            "value": v["plain"] if isinstance(v, dict) else v,
        }
        if isinstance(v, dict):
            row[side]["probe_values"] = v
    for side, ref in SIDES.items():
        row[side]["reference"] = ref
        row[side]["wall_ratio"] = row[side]["wall_s"] / row[ref]["wall_s"]
        row[side]["memory_ratio"] = row[side]["peak_mib"] / row[ref]["peak_mib"]
    if tier == "full":
        row["before"] = BEFORE[kind]
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
