"""Spacetime Decathlon: does a spatiotemporal model use time?

The public facade (OGB's two-line contract)::

    from decathlon import get_task, prepare, evaluate, score, save_result

    prepared = prepare("particles/springs-forecast")   # data, split, statistics, windows
    result = evaluate(my_model, prepared)               # metrics, probes, points: a result record
    save_result(result, "results")                      # results/<model>__<task>__<tier>.json

Training data in one line: ``get_task(name).train_data(tier)`` (a :class:`TrainData` of
arrays; ``.windows(...)`` for (input, target) windows, ``.as_torch(...)`` for a torch Dataset).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spacetime-decathlon")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

from decathlon.benchmark.context import EvalConfig, PreparedTask, prepare  # noqa: E402
from decathlon.benchmark.evaluate import evaluate  # noqa: E402
from decathlon.benchmark.offline import export_inputs, score  # noqa: E402
from decathlon.benchmark.results import save_result  # noqa: E402
from decathlon.benchmark.tasks import get_task, list_tasks  # noqa: E402
from decathlon.benchmark.train_data import TrainData, train_data  # noqa: E402

__all__ = [
    "__version__",
    "get_task",
    "list_tasks",
    "prepare",
    "evaluate",
    "score",
    "save_result",
    "export_inputs",
    "train_data",
    "TrainData",
    "EvalConfig",
    "PreparedTask",
]
