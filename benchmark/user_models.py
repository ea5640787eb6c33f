"""Your own model by name: ``module:Class``, ``path/to/file.py:Class`` or an installed entry point.

``decathlon evaluate --model REF`` accepts, in this order:

1. a built-in baseline name (``static``, ``gru``, ...; :mod:`decathlon.benchmark.baselines`);
2. ``package.module:Name`` (imported from ``sys.path`` and the current folder) or
   ``path/to/file.py:Name`` (the file is run as a module, with its folder put first on
   ``sys.path`` as ``python file.py`` does);
   ``Name`` may be dotted (``Outer.Inner``);
3. the name of an entry point in the group ``decathlon.models`` (:data:`ENTRY_POINT_GROUP`),
   which an installed package declares in its ``pyproject.toml``::

       [project.entry-points."decathlon.models"]
       my-model = "my_pkg.models:MyModel"

The object named is a class or a factory: it is called with the task record
(:class:`~decathlon.benchmark.tasks.TaskSpec`) when its first parameter is required or is called
``task``, else with no arguments; an object that already has ``predict`` is used as it is. The
result must have ``predict(batch)``. If it has ``fit``, it is trained with
``model.fit(task.train_data(tier))`` (:class:`~decathlon.benchmark.train_data.TrainData`)
before the evaluator runs it.

Loading a file or a module executes its code: that is the user's choice, on the user's machine,
for the user's own model. Nothing from a download or a submission is ever loaded this way.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import logging
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .baselines import BASELINES
from .data import Tier
from .registry import shorten
from .tasks import TaskSpec

__all__ = ["ENTRY_POINT_GROUP", "entry_points", "find_model", "build_model", "make_user_model"]

log = logging.getLogger("decathlon")

#: The entry-point group a package registers its models under.
ENTRY_POINT_GROUP = "decathlon.models"

_FORMS = "module:Class (importable) or path/to/file.py:Class"


def entry_points() -> dict[str, Any]:
    """The installed ``decathlon.models`` entry points, by name."""
    from importlib.metadata import entry_points as installed

    return {ep.name: ep for ep in installed(group=ENTRY_POINT_GROUP)}


def find_model(ref: str) -> Any:
    """The class, factory or model object that ``ref`` names (not a built-in baseline name).

    Raises
    ------
    KeyError
        ``ref`` names no module, attribute or entry point; the message lists what exists and
        the closest names.
    FileNotFoundError
        ``path/to/file.py`` does not exist.
    ValueError
        The module or entry point failed to import (a missing dependency, ...).
    """
    if ":" in ref:
        target, _, attr = ref.rpartition(":")  # rpartition: a Windows path keeps its drive
        if not target or not attr:
            raise ValueError(f"model reference {shorten(ref)} is incomplete; expected {_FORMS}")
        module = _load_file(target) if _is_path(target) else _import(target)
        return _attribute(module, attr)
    eps = entry_points()
    if ref in eps:
        try:
            return eps[ref].load()
        except (ImportError, AttributeError) as e:
            raise ValueError(
                f"entry point {ref!r} ({eps[ref].value}) of group {ENTRY_POINT_GROUP!r} failed "
                f"to load: {e}; reinstall the package that declares it"
            ) from e
    known = BASELINES.names() + sorted(eps)
    close = difflib.get_close_matches(ref, known, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
    raise KeyError(
        f"unknown model {shorten(ref)}{hint}; built-in baselines: {', '.join(BASELINES.names())}; "
        f"entry points ({ENTRY_POINT_GROUP}): {', '.join(sorted(eps)) or '(none installed)'}; "
        f"or your own: {_FORMS}"
    )


def _is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _import(name: str) -> ModuleType:
    """Import ``name`` from ``sys.path`` plus the current folder (as ``python -m`` would; the
    ``decathlon`` command itself does not put the current folder on the path)."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            raise KeyError(
                f"model module {name!r} not found (no module {e.name!r} on sys.path); install "
                f"its package, run from the folder that holds it, or give a file: "
                f"path/to/file.py:Class"
            ) from None
        raise ValueError(f"importing model module {name!r} failed: {e}") from e


def _load_file(target: str) -> ModuleType:
    """Run ``target`` as a module once per process (cached in ``sys.modules``)."""
    path = Path(target).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"model file {target} does not exist (looked at {path}); expected path/to/file.py:Class"
        )
    name = "decathlon_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"model file {path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # sibling imports work, as with `python file.py`
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except ImportError as e:
        del sys.modules[name]
        raise ValueError(f"importing model file {path} failed: {e}") from e
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _attribute(module: ModuleType, attr: str) -> Any:
    obj: Any = module
    where = _where(module)
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            defined = [n for n in names if inspect.isclass(getattr(obj, n, None))][:20]
            raise KeyError(
                f"{where} has no attribute {part!r}{hint} (its classes: "
                f"{', '.join(defined) or 'none'})"
            )
        obj = getattr(obj, part)
        where = f"{where}.{part}"
    return obj


def _where(module: ModuleType) -> str:
    origin = getattr(module.__spec__, "origin", None)
    if module.__name__.startswith("decathlon_user_") and origin:
        return f"model file {origin}"
    return f"module {module.__name__!r}"


def _wants_task(factory: Any) -> bool:
    """Whether ``factory``'s first parameter is required or named ``task`` (or ``*args``)."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):  # no signature (some builtins): call it bare
        return False
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    positional = [p for p in params if p.kind in kinds]
    if not positional:
        return False
    p = positional[0]
    return p.kind is inspect.Parameter.VAR_POSITIONAL or p.default is p.empty or p.name == "task"


def build_model(obj: Any, task: TaskSpec, ref: str = "the model") -> Any:
    """Make the model ``obj`` names for ``task`` (see the module text); ``TypeError`` if the
    result has no ``predict``."""
    if callable(getattr(obj, "predict", None)) and not inspect.isclass(obj):
        model = obj  # already a model object
    elif callable(obj):
        model = obj(task) if _wants_task(obj) else obj()
    else:
        raise TypeError(
            f"{shorten(ref)} names a {type(obj).__name__}, not a class, a factory or an object "
            "with predict(batch)"
        )
    if not callable(getattr(model, "predict", None)):
        raise TypeError(
            f"{shorten(ref)} made an object of type {type(model).__name__} without a "
            "predict(batch) method; a "
            "model needs predict(batch) -> prediction (docs/contract.md, 'The model protocol')"
        )
    return model


def make_user_model(ref: str, task: TaskSpec, tier: Tier = "mini") -> Any:
    """The model ``ref`` names, made for ``task`` and, if it has ``fit``, trained with
    ``model.fit(task.train_data(tier))``."""
    model = build_model(find_model(ref), task, ref)
    if callable(getattr(model, "fit", None)):
        data = task.train_data(tier)
        log.info(
            "training %s on %s (%s): %d sequences of %d frames",
            type(model).__name__,
            task.name,
            tier,
            len(data),
            data.x.shape[1],
        )
        model.fit(data)
    return model
