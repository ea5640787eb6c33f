"""The baseline registry: reference models registered by name, made for a task on demand.

Baselines are registered as :class:`BaselineSpec` factories: ``make(task, **config)`` returns a
model (see :class:`decathlon.benchmark.evaluate.Model`) for a task; ``kinds`` says which task
kinds it serves; ``learned`` baselines are trained with ``fit(tier)`` before evaluation. The
built-in ones live in :mod:`decathlon.baselines` and register themselves when it is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .registry import Registry
from .tasks import TaskSpec

__all__ = ["BaselineSpec", "BASELINES", "register_baseline", "make_baseline"]


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


def make_baseline(name: str, task: TaskSpec, **config: Any) -> Any:
    """Instantiate baseline ``name`` for ``task``; ``ValueError`` if it does not serve the task."""
    spec = BASELINES.get(name)
    if task.kind not in spec.kinds:
        ok = [b for b in BASELINES.names() if task.kind in BASELINES.get(b).kinds]
        raise ValueError(
            f"baseline {name!r} serves {list(spec.kinds)} tasks, but {task.name!r} is a "
            f"{task.kind} task; baselines for it: {', '.join(ok)}"
        )
    return spec.make(task, **config)
