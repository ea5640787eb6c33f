"""The one training loop shared by every learned baseline.

``fit(module, train, valid, config)`` trains a ``torch.nn.Module`` that defines
``loss(batch) -> scalar tensor`` on dicts of tensors, with Adam, mini-batches, early stopping on
the validation loss (the best weights are restored), a progress bar, and CUDA when available
(``config.device="auto"``), the CPU otherwise.

On the CPU, torch's thread count is capped once per process (:func:`cap_torch_threads`) so that
training does not oversubscribe a machine other jobs are using: by default torch starts one
thread per physical core whatever the load (issue 11: on a busy 2-core machine the demo took
14.5 minutes instead of 53 s, the GRU on charged alone 8 minutes). ``DECATHLON_THREADS=N``
sets the number; ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS``) set by the user is honoured as it
is.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
import torch

from decathlon.benchmark.windows import Windows

__all__ = [
    "FitConfig",
    "cap_torch_threads",
    "choose_threads",
    "fit",
    "pick_device",
    "to_tensors",
]

log = logging.getLogger("decathlon")

#: The thread count chosen by :func:`cap_torch_threads` in this process (None: not yet).
_CHOSEN: int | None = None


def choose_threads(
    cores: int, load: float | None, env: Mapping[str, str], current: int
) -> tuple[int, str]:
    """How many threads torch should use here, and why (a pure function of its arguments).

    Parameters
    ----------
    cores : int
        CPUs this process may run on (``len(os.sched_getaffinity(0))``).
    load : float or None
        The 1-minute load average (``os.getloadavg()[0]``); None where the OS has none.
    env : mapping
        The environment: ``DECATHLON_THREADS`` decides when set; ``OMP_NUM_THREADS`` or
        ``MKL_NUM_THREADS`` set by the user keep torch's own setting.
    current : int
        ``torch.get_num_threads()`` now (one per physical core unless someone changed it).

    Returns
    -------
    (int, str)
        The thread count, never above ``current`` unless ``DECATHLON_THREADS`` asks for it,
        and a few words saying where it comes from. Otherwise it is the free cores: ``cores``
        less the load of other processes (the load average less one for this process),
        rounded, at least 1.

    Raises
    ------
    ValueError
        ``DECATHLON_THREADS`` is not a whole number >= 1.

    Examples
    --------
    >>> choose_threads(16, 0.5, {}, 8)  # idle: torch's default (physical cores)
    (8, 'free cores: 16 CPUs, load 0.5')
    >>> choose_threads(2, 3.0, {}, 2)  # two other jobs on a 2-core machine
    (1, 'free cores: 2 CPUs, load 3.0')
    >>> choose_threads(8, 3.2, {}, 8)
    (6, 'free cores: 8 CPUs, load 3.2')
    >>> choose_threads(2, 9.0, {"DECATHLON_THREADS": "2"}, 2)
    (2, 'DECATHLON_THREADS=2')
    >>> choose_threads(8, 9.0, {"OMP_NUM_THREADS": "4"}, 4)
    (4, "OMP_NUM_THREADS=4 is set: torch's setting kept")
    """
    wanted = env.get("DECATHLON_THREADS", "").strip()
    if wanted:
        if not wanted.isdigit() or int(wanted) < 1:
            raise ValueError(
                f"DECATHLON_THREADS={wanted[:20]!r} is not a whole number >= 1; set it to the "
                "number of threads torch may use (e.g. DECATHLON_THREADS=2), or unset it"
            )
        return int(wanted), f"DECATHLON_THREADS={int(wanted)}"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if env.get(var, "").strip():
            return current, f"{var}={env[var].strip()} is set: torch's setting kept"
    cores = max(1, cores)
    if load is None:
        return max(1, min(current, cores)), f"{cores} CPUs (no load average here)"
    free = int(math.floor(cores - max(0.0, load - 1.0) + 0.5))
    return max(1, min(current, cores, free)), f"free cores: {cores} CPUs, load {load:.1f}"


def cap_torch_threads() -> int:
    """Set torch's thread count once per process (:func:`choose_threads`); log it once.

    Later calls return the number chosen first. Called by :func:`fit` before training.
    """
    global _CHOSEN
    if _CHOSEN is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        try:
            load: float | None = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = None
        n, why = choose_threads(cores, load, os.environ, torch.get_num_threads())
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        _CHOSEN = n
        log.info("torch uses %d CPU threads (%s; DECATHLON_THREADS=N to choose)", n, why)
    return _CHOSEN


@dataclass
class FitConfig:
    """Training settings shared by all learned baselines."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 5
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"
    max_minutes: float = 30.0
    progress: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA if available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def to_tensors(w: Windows, idx: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
    """Windows at ``idx`` as float tensors on ``device``.

    Keys ``x``, ``y`` and, where the windows have them, ``mask`` and ``constants``.
    """
    out = {
        "x": torch.as_tensor(w.x[idx], dtype=torch.float32, device=device),
        "y": torch.as_tensor(w.y[idx], dtype=torch.float32, device=device),
    }
    if w.mask_x is not None:
        out["mask"] = torch.as_tensor(w.mask_x[idx], device=device)
    if w.constants is not None:
        out["constants"] = torch.as_tensor(w.constants[idx], dtype=torch.float32, device=device)
    return out


LossFn = Callable[[dict[str, torch.Tensor]], torch.Tensor]


def _train_epoch(
    module: torch.nn.Module,
    loss_of: LossFn,
    opt: torch.optim.Optimizer,
    train: Windows,
    order: np.ndarray,
    config: FitConfig,
    epoch: int,
) -> float:
    """One pass over ``train`` in the order ``order``; the mean training loss."""
    device = next(module.parameters()).device
    tot = 0.0
    for s in range(0, len(order), config.batch_size):
        batch = to_tensors(train, order[s : s + config.batch_size], device)
        loss = loss_of(batch)
        if not torch.isfinite(loss):
            raise ValueError(
                f"training loss became {loss.item()} at epoch {epoch}; lower the learning rate"
            )
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
        opt.step()
        tot += loss.item() * len(batch["x"])
    return tot / len(train)


def _valid_loss(loss_of: LossFn, valid: Windows, device: torch.device, chunk: int = 1024) -> float:
    """The mean loss over ``valid``, without gradients, ``chunk`` windows at a time."""
    with torch.no_grad():
        return sum(
            loss_of(to_tensors(valid, np.arange(s, min(s + chunk, len(valid))), device)).item()
            * (min(s + chunk, len(valid)) - s)
            for s in range(0, len(valid), chunk)
        ) / len(valid)


def fit(
    module: torch.nn.Module, train: Windows, valid: Windows, config: FitConfig
) -> dict[str, Any]:
    """Train ``module`` (which defines ``loss(batch)``); return the history.

    Returns
    -------
    dict
        ``train_loss`` and ``valid_loss`` per epoch, ``best_epoch``, ``seconds``, ``device``.
    """
    if len(train) == 0 or len(valid) == 0:
        raise ValueError(
            f"fit() needs training and validation windows; got {len(train)} and {len(valid)}"
        )
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = pick_device(config.device)
    if device.type == "cpu":
        cap_torch_threads()
    module.to(device)
    opt = torch.optim.Adam(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    hist: dict[str, Any] = {"train_loss": [], "valid_loss": [], "device": str(device)}
    best, best_state, bad = math.inf, None, 0
    loss_of = cast(LossFn, module.loss)
    t0 = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(
        range(config.epochs),
        desc=f"fit {type(module).__name__}",
        unit="epoch",
        disable=not config.progress,
    )
    for epoch in bar:
        module.train()
        order = rng.permutation(len(train))
        hist["train_loss"].append(_train_epoch(module, loss_of, opt, train, order, config, epoch))
        module.train(False)  # inference mode
        vl = _valid_loss(loss_of, valid, device)
        hist["valid_loss"].append(vl)
        bar.set_postfix(train=f"{hist['train_loss'][-1]:.3g}", valid=f"{vl:.3g}")
        if vl < best - 1e-12:
            best, bad, hist["best_epoch"] = vl, 0, epoch
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            bad += 1
            if bad >= config.patience:
                break
        if time.perf_counter() - t0 > 60 * config.max_minutes:
            log.warning("fit stopped after %.1f min (max_minutes)", config.max_minutes)
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    hist["seconds"] = time.perf_counter() - t0
    return hist
