"""The one training loop shared by every learned baseline.

``fit(module, train, valid, config)`` trains a ``torch.nn.Module`` that defines
``loss(batch) -> scalar tensor`` on dicts of tensors, with Adam, mini-batches, early stopping and
model selection on the validation loss (the best weights are restored; the test split is never
seen), seeded and recorded, a progress bar (epoch, loss, samples/s), CUDA when available
(``config.device="auto"``) with bfloat16 autocast there, the CPU otherwise. The training arrays
are moved to the device once and batches are cut from them by one indexing per array. With a
``checkpoint`` path the run is saved after every epoch as tensors and plain values
(:mod:`decathlon.baselines.checkpoint`) and resumed from there when interrupted.

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

from decathlon.benchmark.runcache import machine_load
from decathlon.benchmark.windows import Windows

from .checkpoint import fingerprint, load_checkpoint, save_checkpoint

__all__ = [
    "FitConfig",
    "cap_torch_threads",
    "choose_threads",
    "device_arrays",
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
        cores, load = machine_load()
        n, why = choose_threads(cores, load, os.environ, torch.get_num_threads())
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        _CHOSEN = n
        log.info("torch uses %d CPU threads (%s; DECATHLON_THREADS=N to choose)", n, why)
    return _CHOSEN


@dataclass
class FitConfig:
    """Training settings shared by all learned baselines.

    ``epochs`` is the most epochs in total (a resumed run counts the epochs it already did);
    ``patience`` stops after that many epochs without a better validation loss; ``grad_clip``
    caps the gradient norm (0: no clipping). ``device``: ``auto`` (CUDA when available) or a
    torch device name. ``bf16``: bfloat16 autocast on a GPU (never on the CPU). ``compile``:
    ``torch.compile`` the loss (off by default: see docs/baselines.md). ``checkpoint``: a file
    to save the run to after every epoch and to resume from (``None``: no file). ``budget`` is
    recorded only (the model's factory turns a budget into these settings). ``lr_decay``: the
    learning rate is multiplied by ``lr_gamma`` every ``lr_decay`` epochs (a step schedule, as
    NRI's ``StepLR(step_size=200, gamma=0.5)``; 0: constant rate).
    """

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
    bf16: bool = True
    compile: bool = False
    checkpoint: str | None = None
    budget: str = "cpu"
    lr_decay: int = 0
    lr_gamma: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def run_settings(self) -> dict[str, Any]:
        """The settings that make a run what it is (a checkpoint of other ones is refused):
        all but ``epochs``, ``max_minutes``, ``progress``, ``device``, ``checkpoint``, and the
        schedule's keys while there is no schedule (so checkpoints of constant-rate runs made
        before the schedule existed still resume)."""
        skip = {"epochs", "max_minutes", "progress", "device", "checkpoint"}
        if self.lr_decay == 0:
            skip |= {"lr_decay", "lr_gamma"}
        return {k: v for k, v in self.to_dict().items() if k not in skip}

    def lr_at(self, epoch: int) -> float:
        """The learning rate of 0-based ``epoch`` under the step schedule.

        Examples
        --------
        >>> c = FitConfig(lr=5e-4, lr_decay=200)
        >>> c.lr_at(0), c.lr_at(199), c.lr_at(200), c.lr_at(450)
        (0.0005, 0.0005, 0.00025, 0.000125)
        """
        return self.lr * self.lr_gamma ** (epoch // self.lr_decay) if self.lr_decay else self.lr


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA if available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def to_tensors(w: Windows, idx: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
    """Windows at ``idx`` as tensors on ``device``.

    Keys ``x``, ``y`` and, where the windows have them, ``mask`` (of the inputs), ``mask_y``
    and ``constants``.
    """
    out = {
        "x": torch.as_tensor(w.x[idx], dtype=torch.float32, device=device),
        "y": torch.as_tensor(w.y[idx], dtype=torch.float32, device=device),
    }
    if w.mask_x is not None:
        out["mask"] = torch.as_tensor(w.mask_x[idx], device=device)
    if w.mask_y is not None:
        out["mask_y"] = torch.as_tensor(w.mask_y[idx], device=device)
    if w.constants is not None:
        out["constants"] = torch.as_tensor(w.constants[idx], dtype=torch.float32, device=device)
    return out


def device_arrays(w: Windows, device: torch.device) -> dict[str, torch.Tensor]:
    """All of ``w`` as tensors on ``device`` at once (:func:`to_tensors`); a batch is then one
    indexing per array, no Python loop over samples and no copy from numpy per batch."""
    return {
        k: torch.as_tensor(getattr(w, a), dtype=dt, device=device)
        for k, a, dt in (
            ("x", "x", torch.float32),
            ("y", "y", torch.float32),
            ("mask", "mask_x", torch.bool),
            ("mask_y", "mask_y", torch.bool),
            ("constants", "constants", torch.float32),
        )
        if getattr(w, a) is not None
    }


LossFn = Callable[[dict[str, torch.Tensor]], torch.Tensor]


@dataclass
class _Run:
    """What one training run carries from epoch to epoch (and into its checkpoint)."""

    module: torch.nn.Module
    loss_of: LossFn
    opt: torch.optim.Optimizer
    config: FitConfig
    device: torch.device
    rng: np.random.Generator
    hist: dict[str, Any]
    best: float = math.inf
    best_state: dict[str, torch.Tensor] | None = None
    bad: int = 0
    stopped: bool = False
    fingerprint: str = ""

    def autocast(self) -> Any:
        on = self.device.type == "cuda" and self.config.bf16
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=on)


def _train_epoch(run: _Run, data: dict[str, torch.Tensor], epoch: int) -> tuple[float, float]:
    """One pass over the training arrays in a fresh random order; (mean loss, seconds)."""
    t0 = time.perf_counter()
    n = len(data["x"])
    order = torch.as_tensor(run.rng.permutation(n), device=run.device)
    tot = torch.zeros((), dtype=torch.float64, device=run.device)
    params = list(run.module.parameters())
    for s in range(0, n, run.config.batch_size):
        idx = order[s : s + run.config.batch_size]
        with run.autocast():
            loss = run.loss_of({k: v[idx] for k, v in data.items()})
        run.opt.zero_grad()
        loss.backward()
        if run.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, run.config.grad_clip)
        run.opt.step()
        tot += loss.detach().double() * len(idx)
    mean = float(tot) / n  # one device sync per epoch, not one per batch
    if not math.isfinite(mean):
        raise ValueError(
            f"training loss became {mean} at epoch {epoch}; lower the learning rate (lr="
            f"{run.config.lr})"
        )
    return mean, time.perf_counter() - t0


def _valid_loss(run: _Run, valid: Windows, chunk: int = 1024) -> float:
    """The mean loss over ``valid``, without gradients, ``chunk`` windows at a time."""
    tot = 0.0
    with torch.no_grad(), run.autocast():
        for s in range(0, len(valid), chunk):
            idx = np.arange(s, min(s + chunk, len(valid)))
            tot += float(run.loss_of(to_tensors(valid, idx, run.device))) * len(idx)
    return tot / len(valid)


def _checkpoint_state(run: _Run) -> dict[str, Any]:
    return {
        "fingerprint": run.fingerprint,
        "model": run.module.state_dict(),
        "opt": run.opt.state_dict(),
        "best": run.best,
        "best_state": run.best_state or {},
        "bad": run.bad,
        "stopped": run.stopped,
        "hist": {k: run.hist[k] for k in ("train_loss", "valid_loss", "best_epoch", "train_s")},
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if run.device.type == "cuda" else [],
        "np_rng": run.rng.bit_generator.state,
    }


def _resume(run: _Run, state: dict[str, Any]) -> int:
    """Restore ``run`` from a checkpoint's ``state``; the number of epochs already done."""
    run.module.load_state_dict(state["model"])
    run.opt.load_state_dict(state["opt"])
    run.best, run.bad, run.stopped = float(state["best"]), int(state["bad"]), state["stopped"]
    run.best_state = dict(state["best_state"]) or None
    run.hist.update(state["hist"])
    torch.set_rng_state(state["torch_rng"])
    if run.device.type == "cuda" and state.get("cuda_rng"):
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    run.rng.bit_generator.state = state["np_rng"]
    done = len(run.hist["train_loss"])
    log.info("fit resumes %s after epoch %d", run.config.checkpoint, done)
    return done


def _end_of_epoch(run: _Run, epoch: int, valid_loss: float) -> None:
    """Model selection and early stopping on the validation loss (never the test split)."""
    run.hist["valid_loss"].append(valid_loss)
    if valid_loss < run.best - 1e-12:
        run.best, run.bad, run.hist["best_epoch"] = valid_loss, 0, epoch
        run.best_state = {k: v.detach().clone() for k, v in run.module.state_dict().items()}
    else:
        run.bad += 1
        run.stopped = run.bad >= run.config.patience
    if run.config.checkpoint is not None:
        save_checkpoint(run.config.checkpoint, _checkpoint_state(run))


def _start(module: torch.nn.Module, config: FitConfig) -> _Run:
    """Seed, device, optimizer and (when a checkpoint exists) the state to continue from."""
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    if device.type == "cpu":
        cap_torch_threads()
    module.to(device)
    opt = torch.optim.Adam(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_of = cast(LossFn, module.loss)
    if config.compile:
        loss_of = cast(LossFn, torch.compile(loss_of))
    hist: dict[str, Any] = {"train_loss": [], "valid_loss": [], "train_s": 0.0}
    run = _Run(module, loss_of, opt, config, device, np.random.default_rng(config.seed), hist)
    run.fingerprint = fingerprint(module, config.run_settings())
    return run


def fit(
    module: torch.nn.Module, train: Windows, valid: Windows, config: FitConfig
) -> dict[str, Any]:
    """Train ``module`` (which defines ``loss(batch) -> scalar tensor``); return the history.

    Adam on mini-batches of ``train`` in a seeded random order; after every epoch the loss on
    ``valid`` decides model selection (the best weights are restored at the end) and early
    stopping (``patience``). With ``config.checkpoint`` the run is saved after every epoch and
    a later call with the same path continues it (same weights, optimizer, random states and
    history as an uninterrupted run).

    Returns
    -------
    dict
        ``train_loss`` and ``valid_loss`` per epoch, ``best_epoch``, ``epochs`` (done in
        total), ``seconds`` (this call), ``train_s`` (training passes, all calls),
        ``samples_per_s`` (training windows per second of training pass), ``device``, ``seed``,
        ``budget``, ``n_parameters``, ``resumed_from`` (epochs found in the checkpoint).

    Raises
    ------
    ValueError
        No training or validation windows; a non-finite training loss; a checkpoint of another
        run (:func:`~decathlon.baselines.checkpoint.load_checkpoint`).
    """
    if len(train) == 0 or len(valid) == 0:
        raise ValueError(
            f"fit() needs training and validation windows; got {len(train)} and {len(valid)}"
        )
    t0 = time.perf_counter()
    run = _start(module, config)
    done = 0
    if config.checkpoint is not None:
        state = load_checkpoint(config.checkpoint, run.fingerprint)
        done = 0 if state is None else _resume(run, state)
    _epochs(run, device_arrays(train, run.device), valid, done, t0)
    if run.best_state is not None:
        module.load_state_dict(run.best_state)
    return _summary(run, len(train), done, time.perf_counter() - t0)


def _epochs(run: _Run, data: dict[str, torch.Tensor], valid: Windows, done: int, t0: float) -> None:
    """Epochs ``done`` .. ``config.epochs - 1`` (fewer after early stopping or the time limit)."""
    from tqdm.auto import tqdm

    config = run.config
    bar = tqdm(
        range(done, config.epochs),
        desc=f"fit {type(run.module).__name__}",
        unit="epoch",
        disable=not config.progress,
        initial=done,
        total=config.epochs,
    )
    for epoch in bar:
        if run.stopped:
            break
        for group in run.opt.param_groups:  # a function of the epoch: resumes exactly
            group["lr"] = config.lr_at(epoch)
        run.module.train()
        loss, secs = _train_epoch(run, data, epoch)
        run.hist["train_loss"].append(loss)
        run.hist["train_s"] += secs
        run.hist.setdefault("epoch_s", []).append(secs)  # this call's epochs (not checkpointed)
        run.module.train(False)  # inference mode
        vl = _valid_loss(run, valid)
        _end_of_epoch(run, epoch, vl)
        speed = f"{len(data['x']) / secs:.0f}"
        bar.set_postfix(
            {"epoch": epoch, "loss": f"{loss:.3g}", "valid": f"{vl:.3g}", "samples/s": speed}
        )
        if time.perf_counter() - t0 > 60 * config.max_minutes:
            log.warning("fit stopped after %.1f min (max_minutes)", config.max_minutes)
            break


def _summary(run: _Run, n_train: int, resumed: int, seconds: float) -> dict[str, Any]:
    hist = run.hist
    epochs = len(hist["train_loss"])
    return {
        **hist,
        "epochs": epochs,
        "seconds": seconds,
        "samples_per_s": n_train * epochs / hist["train_s"] if hist["train_s"] > 0 else None,
        "device": str(run.device),
        "seed": run.config.seed,
        "budget": run.config.budget,
        "n_parameters": sum(p.numel() for p in run.module.parameters()),
        "resumed_from": resumed,
    }
