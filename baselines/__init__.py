"""decathlon.baselines: reference models, one per file, trained through one ``fit()``.

Importing this package registers the baselines. The trivial ones are numpy-only; the learned
ones import torch only when they are first used (their modules load lazily), so the evaluator
core never imports torch.
"""

import importlib

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from . import (  # noqa: F401
    cell_age,
    chance,
    constant_velocity,
    historical_average,
    linear_fit,
    proximity,
    static,
    var,
)


def _lazy(module: str, attr: str):
    def make(task, **config):
        return getattr(importlib.import_module(f"decathlon.baselines.{module}"), attr)(
            task, **config
        )

    return make


register_baseline(
    BaselineSpec(
        "gru",
        _lazy("gru", "_make"),
        kinds=("forecast",),
        families=("trajectories",),  # trained on whole sequences; a sensor series is one
        learned=True,
        description="GRU over all entities, one-step teacher forcing, rollout",
    )
)
