"""The model protocol and the baseline registry.

A model is any object with ``predict(batch) -> prediction``. ``batch`` is a dict:

* ``ids`` int64 (B,): window ids; the prediction's first axis follows this order;
* ``x`` float32 (B, context, entity, feature): the input window (see ``describe(task)``);
* ``mask`` bool (B, context, entity) or ``None``: entities present (datasets where they come
  and go);
* ``static`` float32 (B, entity, k) or ``None``: per-entity constants (charges, ...);
* ``features`` / ``target_features``: names of the input and output feature columns.

The prediction is a numpy array or torch tensor of the shape ``describe(task)["output"]``
states. Optional: ``fit(task, tier)`` to train, and attributes ``name``, ``version``,
``code_url`` and ``n_parameters`` recorded in the result.

Baselines are registered as :class:`BaselineSpec` factories: ``make(task, **config)`` returns a
model for a task; ``kinds`` says which task kinds it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .registry import Registry

__all__ = ["Model", "BaselineSpec", "BASELINES", "register_baseline", "make_baseline"]


@runtime_checkable
class Model(Protocol):
    """Anything with ``predict(batch)``."""

    def predict(self, batch: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class BaselineSpec:
    """A reference model: a factory ``make(task, **config)`` and the task kinds it serves."""

    name: str
    make: Callable[..., Any]
    kinds: tuple[str, ...]
    learned: bool = False
    description: str = ""


BASELINES: Registry[BaselineSpec] = Registry("baseline", plugins=("decathlon.baselines",))


def register_baseline(spec: BaselineSpec) -> BaselineSpec:
    """Register a baseline (duplicates refused)."""
    return BASELINES.register(spec.name, spec)


def make_baseline(name: str, task: Any, **config: Any) -> Any:
    """Instantiate baseline ``name`` for ``task``; ``ValueError`` if it does not serve the task."""
    spec = BASELINES.get(name)
    if task.kind not in spec.kinds:
        ok = [b for b in BASELINES.names() if task.kind in BASELINES.get(b).kinds]
        raise ValueError(
            f"baseline {name!r} serves {list(spec.kinds)} tasks, but {task.name!r} is a "
            f"{task.kind} task; baselines for it: {', '.join(ok)}"
        )
    return spec.make(task, **config)
