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
    """A reference model: a factory ``make(task, **config)`` and the task kinds it serves.

    ``families`` limits it to datasets of those data-contract families (empty: every family),
    e.g. a historical average by time of week serves only sensor networks.
    """

    name: str
    make: Callable[..., Any]
    kinds: tuple[str, ...]
    learned: bool = False
    description: str = ""
    families: tuple[str, ...] = ()

    def serves(self, task: TaskSpec) -> bool:
        """Whether this baseline serves ``task`` (its kind and its dataset's family)."""
        if task.kind not in self.kinds:
            return False
        if not self.families:
            return True
        from .data import DATASETS

        return DATASETS.get(task.dataset).family in self.families


BASELINES: Registry[BaselineSpec] = Registry("baseline", plugins=("decathlon.baselines",))


def register_baseline(spec: BaselineSpec) -> BaselineSpec:
    """Register a baseline (duplicates refused)."""
    return BASELINES.register(spec.name, spec)


def make_baseline(name: str, task: TaskSpec, **config: Any) -> Any:
    """Instantiate baseline ``name`` for ``task``; ``ValueError`` if it does not serve the task."""
    spec = BASELINES.get(name)
    if not spec.serves(task):
        ok = [b for b in BASELINES.names() if BASELINES.get(b).serves(task)]
        fams = f" of {list(spec.families)} datasets" if spec.families else ""
        raise ValueError(
            f"baseline {name!r} serves {list(spec.kinds)} tasks{fams}, but {task.name!r} is a "
            f"{task.kind} task on {task.dataset!r}; baselines for it: {', '.join(ok)}"
        )
    return spec.make(task, **config)
