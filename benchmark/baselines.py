"""The baseline registry: reference models registered by name, made for a task on demand.

Baselines are registered as :class:`BaselineSpec` factories: ``make(task, **config)`` returns a
model (see :class:`decathlon.benchmark.evaluate.Model`) for a task; ``kinds`` says which task
kinds it serves; ``learned`` baselines are trained with ``fit(tier)`` before evaluation. The
built-in ones live in :mod:`decathlon.baselines` and register themselves when it is imported.

A learned baseline has training **budgets** (:data:`BUDGETS`): ``cpu``, minutes on two cores
at the ``mini`` tier (what ``decathlon run`` and CI use), and ``paper``, the paper's schedule
(or the shortest one that reaches the paper's number) on the ``full`` tier. The factory takes
``budget=`` and turns it into the model's training settings (docs/baselines.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .registry import Registry
from .tasks import TaskSpec

__all__ = [
    "BaselineSpec",
    "BASELINES",
    "BUDGETS",
    "register_baseline",
    "make_baseline",
    "budget_tier",
]

#: Training budgets of the learned baselines and the data tier each one trains and tests on.
BUDGETS: dict[str, str] = {"cpu": "mini", "paper": "full"}


def budget_tier(budget: str) -> str:
    """The data tier of a training budget.

    Examples
    --------
    >>> budget_tier("cpu"), budget_tier("paper")
    ('mini', 'full')
    """
    if budget not in BUDGETS:
        raise ValueError(
            f"unknown training budget {budget!r}; expected one of {', '.join(BUDGETS)}"
        )
    return BUDGETS[budget]


@dataclass(frozen=True)
class BaselineSpec:
    """A reference model: a factory ``make(task, **config)`` and the task kinds it serves.

    ``families`` limits it to datasets of those data-contract families (empty: every family),
    e.g. a historical average by time of week serves only sensor networks. ``tasks``: where a
    model serves only some tasks of a kind (EGNN: particle forecasts), their names (empty: every
    task of its kinds). ``budgets``: the training budgets of a learned baseline (:data:`BUDGETS`).
    """

    name: str
    make: Callable[..., Any]
    kinds: tuple[str, ...]
    learned: bool = False
    description: str = ""
    families: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    budgets: tuple[str, ...] = ()

    def serves(self, task: TaskSpec) -> bool:
        """Whether this baseline can be made for ``task``: its kind, its dataset's family and,
        where listed, its name."""
        if task.kind not in self.kinds or (self.tasks and task.name not in self.tasks):
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
        what = (
            f"serves only the tasks {', '.join(spec.tasks)}, not {task.name!r}"
            if spec.tasks and task.kind in spec.kinds and task.name not in spec.tasks
            else f"serves {list(spec.kinds)} tasks{fams}, but {task.name!r} is a {task.kind} "
            f"task on {task.dataset!r}"
        )
        raise ValueError(f"baseline {name!r} {what}; baselines for it: {', '.join(ok)}")
    return spec.make(task, **config)
