"""decathlon.baselines: reference models, one per file, trained through one ``fit()``.

Importing this package registers the baselines. The trivial ones are numpy-only; the learned
ones import torch only when they are first used (their modules load lazily), so the evaluator
core never imports torch.
"""

import importlib

from decathlon.benchmark.baselines import BaselineSpec, register_baseline

from . import (  # noqa: F401
    arrow_features,
    cell_age,
    chance,
    constant_velocity,
    context_mean,
    granger_ridge,
    historical_average,
    linear_fit,
    order_params,
    proximity,
    static,
    train_mean,
    var,
    xcorr,
)


def _lazy(module: str, attr: str):
    def make(task, **config):
        return getattr(importlib.import_module(f"decathlon.baselines.{module}"), attr)(
            task, **config
        )

    return make


BUDGETS = ("cpu", "paper")

register_baseline(
    BaselineSpec(
        "gru",
        _lazy("gru", "_make"),
        kinds=("forecast",),
        families=("trajectories",),  # trained on whole sequences; a sensor series is one
        learned=True,
        description="GRU over all entities, one-step teacher forcing, rollout",
        budgets=BUDGETS,
    )
)
register_baseline(
    BaselineSpec(
        "gru-shuffled",
        _lazy("gru", "_make_shuffled"),
        kinds=("forecast",),
        families=("trajectories",),
        learned=True,
        description="the GRU trained and tested on shuffled context frames: order-agnostic",
        budgets=BUDGETS,
    )
)
register_baseline(
    BaselineSpec(
        "attention",
        _lazy("attention", "_make"),
        kinds=("forecast",),
        families=("trajectories",),  # sensor networks: not yet (one long series)
        learned=True,
        description="Transformer encoder over time per entity, sinusoidal positions",
        budgets=BUDGETS,
    )
)
register_baseline(
    BaselineSpec(
        "attention-nopos",
        _lazy("attention", "_make_nopos"),
        kinds=("forecast",),
        families=("trajectories",),  # sensor networks: not yet (one long series)
        learned=True,
        description="the same without positional encoding: blind to frame order",
        budgets=BUDGETS,
    )
)
register_baseline(
    BaselineSpec(
        "egnn",
        _lazy("egnn", "_make"),
        kinds=("forecast",),
        learned=True,
        description="E(n)-equivariant graph network (Satorras et al. 2021), particles",
        tasks=(
            "particles/nbody-forecast",
            "particles/springs-forecast",
            "particles/charged-forecast",
        ),
        budgets=BUDGETS,
    )
)
register_baseline(
    BaselineSpec(
        "nri",
        _lazy("nri", "_make"),
        kinds=("forecast", "graph"),
        learned=True,
        description="Neural Relational Inference (Kipf et al. 2018): edge types, rollout",
        tasks=(
            "particles/springs-graph",
            "particles/charged-graph",
            "particles/kuramoto-graph",
            "particles/springs-forecast",
            "particles/charged-forecast",
        ),
        budgets=BUDGETS,
    )
)
register_baseline(
    BaselineSpec(
        "arrow-cnn",
        _lazy("arrow_cnn", "_make"),
        kinds=("classify",),
        learned=True,
        description="1-D CNN over time per entity, pooled over entities: forward or backward",
        tasks=("arrow/forward-backward", "arrow/forward-backward-positions", "arrow/pedestrians"),
        budgets=BUDGETS,
    )
)

# The order-agnostic references of the temporal necessity N (docs/probes.md section 2): each one
# the baseline trained and tested on shuffled input frames (gru-shuffled, above, shuffles itself).
from .shuffled import shuffled_spec  # noqa: E402

for _name in ("nri", "arrow-cnn", "order-params", "xcorr", "granger-ridge"):
    register_baseline(shuffled_spec(_name))
