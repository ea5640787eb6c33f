"""What the learned baselines share: budgets, the training record, the factory.

A learned baseline is a :class:`Learned` subclass with a model-config dataclass and a table
``budgets`` of preset settings per training budget (``cpu``: the ``mini`` tier, minutes on two
cores; ``paper``: the ``full`` tier and the paper's schedule; ``decathlon.benchmark.baselines``
:data:`~decathlon.benchmark.baselines.BUDGETS`). :func:`make_learned` is every learned
baseline's factory: budget presets, then the caller's settings, split between the model's
config and :class:`~decathlon.baselines.fit.FitConfig`; at the ``paper`` budget the run is
checkpointed in the cache (``checkpoints/<model>/<task>/``) so that an interrupted training
continues when the same command is run again, and may take a day (``max_minutes``; the ``cpu``
budget keeps ``FitConfig``'s 30 minutes).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, ClassVar

import numpy as np
import torch

from decathlon.benchmark.baselines import budget_tier
from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import Windows

from .base import Baseline
from .fit import FitConfig, fit, pick_device

__all__ = ["Learned", "make_learned", "checkpoint_path", "select_outputs", "PAPER_MAX_MINUTES"]

#: Wall-clock limit of one ``paper`` run (a day); a stopped run resumes from its checkpoint.
PAPER_MAX_MINUTES = 24 * 60.0


class Learned(Baseline):
    """Base of the learned baselines: the network, its configs and the training record."""

    #: Preset settings per budget (model-config and FitConfig keys together).
    budgets: ClassVar[dict[str, dict[str, Any]]] = {"cpu": {}, "paper": {}}

    def __init__(self, task: Any, config: Any, fit_config: FitConfig) -> None:
        self.task = task
        self.config = config
        self.fit_config = fit_config
        self.net: torch.nn.Module | None = None
        self.history: dict[str, Any] = {}
        self.device = pick_device(fit_config.device)
        self.seed = fit_config.seed

    @property
    def n_parameters(self) -> int:
        return 0 if self.net is None else sum(p.numel() for p in self.net.parameters())

    def config_dict(self) -> dict[str, Any]:
        """Model and training settings, and (once trained) the training record: device,
        epochs, wall-clock, samples/s, seed, budget, parameter count."""
        h = self.history
        keys = ("device", "epochs", "seconds", "samples_per_s", "seed", "budget", "n_parameters")
        return {
            "model": asdict(self.config),
            "fit": self.fit_config.to_dict(),
            "best_epoch": h.get("best_epoch"),
            "training": {k: _plain(h.get(k)) for k in keys} if h else None,
        }

    def training_windows(self, tier: Tier, split: str) -> Windows:
        """The windows the model trains on (``train``) or is selected on (``valid``)."""
        raise NotImplementedError

    def build_net(self, train: Windows) -> torch.nn.Module:
        """A fresh network for the shapes of ``train`` (a module with ``loss(batch)``)."""
        raise NotImplementedError

    def fit(self, tier: Tier = "mini") -> dict[str, Any]:
        """Train on the task's train split at ``tier`` with the one
        :func:`~decathlon.baselines.fit.fit` (model selection on its valid split)."""
        train = self.training_windows(tier, "train")
        valid = self.training_windows(tier, "valid")
        torch.manual_seed(self.fit_config.seed)
        self.net = self.build_net(train)
        self.history = fit(self.net, train, valid, self.fit_config)
        self.device = torch.device(self.history["device"])
        return self.history

    def _inference(self) -> torch.nn.Module:
        if self.net is None:
            raise RuntimeError("call fit() before predict()")
        self.net.train(False)  # inference mode
        return self.net


def _plain(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v


def checkpoint_path(name: str, task: Any, budget: str, seed: int) -> str:
    """Where the ``paper`` budget checkpoints a run: in the data cache, per model and task."""
    from decathlon.benchmark.cache import data_root

    tier = budget_tier(budget)
    folder = data_root() / "checkpoints" / name / task.name.replace("/", "--")
    return str(folder / f"{budget}-{tier}-seed{seed}.pt")


def make_learned(
    cls: type[Learned], config_cls: type, task: Any, budget: str = "cpu", **config: Any
) -> Learned:
    """A learned baseline ``cls`` for ``task``: the ``budget``'s presets, overridden by
    ``config`` (model-config keys of ``config_cls`` and :class:`FitConfig` keys).

    Raises
    ------
    ValueError
        An unknown budget, or a setting that is neither a model nor a training setting.
    """
    budget_tier(budget)  # an unknown budget fails here with the list of budgets
    if budget not in cls.budgets:
        raise ValueError(
            f"baseline {cls.name!r} has no {budget!r} budget; budgets: {', '.join(cls.budgets)}"
        )
    preset = {**cls.budgets[budget], **config}
    fit_keys = {f.name for f in fields(FitConfig)}
    model_keys = {f.name for f in fields(config_cls)}
    unknown = sorted(set(preset) - fit_keys - model_keys)
    if unknown:
        raise ValueError(
            f"baseline {cls.name!r} has no setting {', '.join(unknown)}; model settings: "
            f"{', '.join(sorted(model_keys))}; training settings: {', '.join(sorted(fit_keys))}"
        )
    fit_cfg = FitConfig(budget=budget, **{k: v for k, v in preset.items() if k in fit_keys})
    if budget == "paper" and "checkpoint" not in preset:
        fit_cfg.checkpoint = checkpoint_path(cls.name, task, budget, fit_cfg.seed)
    if budget == "paper" and "max_minutes" not in preset:
        fit_cfg.max_minutes = PAPER_MAX_MINUTES
    return cls(task, config_cls(**{k: v for k, v in preset.items() if k in model_keys}), fit_cfg)


def select_outputs(y: torch.Tensor, task: Any, batch: dict[str, Any], rolled: bool) -> np.ndarray:
    """The task's steps and target columns of a forecast, as numpy.

    ``y`` is (window, step, entity, feature): every step ``1..horizon`` of every input feature
    when ``rolled`` (a rollout), else already the task's steps and target features.
    """
    if rolled:
        y = y[:, [k - 1 for k in task.steps]]
        cols = [batch["features"].index(c) for c in batch["target_features"]]
        y = y[..., cols]
    return y.float().cpu().numpy()
