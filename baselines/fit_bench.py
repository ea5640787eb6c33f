"""What the shared ``fit()`` costs: a learned baseline's training loop against a minimal
hand-written torch loop training the same network on the same windows.

The hand loop is what anyone would write: the windows as tensors, a ``randperm`` per epoch,
slice, ``loss``, ``backward``, clip, ``step``. ``fit()`` adds the validation pass after every
epoch (model selection and early stopping), the device-resident arrays, the progress bar and
the record. Both train the same number of epochs, alternating, ``repeats`` times; the report
gives training windows per second of each, the best of the repeats as ``timeit`` does (on a
shared machine the other jobs only ever slow a run down), for fit both of its training passes
and of the whole call with the validation passes, and fit's overhead in per cent of the hand
loop's time per window (the issue's bound: under 20 %). Numbers are in docs/baselines.md.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.data import Tier
from decathlon.benchmark.tasks import get_task
from decathlon.benchmark.windows import Windows

from .fit import cap_torch_threads, device_arrays, fit

__all__ = ["hand_loop", "bench_fit", "bench_compile"]


def hand_loop(
    net: torch.nn.Module, train: Windows, epochs: int, batch_size: int, lr: float, clip: float
) -> float:
    """Train ``net`` for ``epochs`` with the plainest loop; the seconds it took."""
    data = device_arrays(train, torch.device("cpu"))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(train))
        for s in range(0, len(train), batch_size):
            idx = perm[s : s + batch_size]
            loss = net.loss({k: v[idx] for k, v in data.items()})  # type: ignore[operator]
            opt.zero_grad()
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
    return time.perf_counter() - t0


def bench_fit(
    name: str, task: str, tier: Tier = "mini", epochs: int = 2, repeats: int = 3, **config: Any
) -> dict[str, Any]:
    """Training windows per second of baseline ``name``'s ``fit()`` and of :func:`hand_loop`
    on ``task`` (CPU, best of ``repeats`` runs in turns).

    Returns
    -------
    dict
        ``windows`` (per epoch), ``hand_per_s``, ``fit_train_per_s`` (fit's training passes),
        ``fit_call_per_s`` (the whole call, validation passes included), ``overhead_pct``
        (training passes) and ``overhead_call_pct`` (whole call), relative to the hand loop.
    """
    cap_torch_threads()
    settings = {"epochs": epochs, "device": "cpu", "patience": epochs, **config}
    model = make_baseline(name, get_task(task), **settings)
    train = model.training_windows(tier, "train")
    valid = model.training_windows(tier, "valid")
    fc = model.fit_config
    hand, inside, call = [], [], []
    for _ in range(repeats):
        torch.manual_seed(0)
        secs = hand_loop(model.build_net(train), train, epochs, fc.batch_size, fc.lr, fc.grad_clip)
        hand.append(len(train) * epochs / secs)
        torch.manual_seed(0)
        t0 = time.perf_counter()
        h = fit(model.build_net(train), train, valid, fc)
        call.append(len(train) * h["epochs"] / (time.perf_counter() - t0))
        inside.append(h["samples_per_s"])
    med = {k: max(v) for k, v in (("h", hand), ("i", inside), ("c", call))}
    return {
        "model": name,
        "task": task,
        "windows": len(train),
        "epochs": epochs,
        "threads": torch.get_num_threads(),
        "hand_per_s": round(med["h"], 1),
        "fit_train_per_s": round(med["i"], 1),
        "fit_call_per_s": round(med["c"], 1),
        "overhead_pct": round(100 * (med["h"] / med["i"] - 1), 1),
        "overhead_call_pct": round(100 * (med["h"] / med["c"] - 1), 1),
    }


def bench_compile(
    name: str, task: str, tier: Tier = "mini", epochs: int = 3, **config: Any
) -> dict[str, Any]:
    """Training windows per second of ``fit()`` for baseline ``name`` on ``task`` with and
    without ``torch.compile`` (CPU), from the epochs after the first; the first epoch's
    seconds (which include the compilation) are reported apart.

    Returns
    -------
    dict
        ``eager_per_s``, ``compiled_per_s``, ``speedup`` (compiled over eager), and
        ``eager_first_s``, ``compiled_first_s`` (the first epoch's seconds).
    """
    if epochs < 2:
        raise ValueError(f"bench_compile needs epochs >= 2 (one to compile); got {epochs}")
    cap_torch_threads()
    out: dict[str, Any] = {"model": name, "task": task, "epochs": epochs}
    for label, on in (("eager", False), ("compiled", True)):
        settings = {"epochs": epochs, "device": "cpu", "patience": epochs, **config}
        model = make_baseline(name, get_task(task), compile=on, **settings)
        train = model.training_windows(tier, "train")
        torch.manual_seed(0)
        h = fit(
            model.build_net(train), train, model.training_windows(tier, "valid"), model.fit_config
        )
        rest = h["epoch_s"][1:]
        out[f"{label}_per_s"] = round(len(train) * len(rest) / sum(rest), 1)
        out[f"{label}_first_s"] = round(h["epoch_s"][0], 1)
    out["speedup"] = round(out["compiled_per_s"] / out["eager_per_s"], 3)
    return out
