"""What every built-in baseline shares: the task it serves and its provenance fields."""

from __future__ import annotations

from typing import Any

#: Training settings the suite hands every learned baseline (``budget``, ``progress`` and
#: ``epochs``; :func:`decathlon.benchmark.suite.run_baseline`), meant for the torch ones' fit().
TRAINING_SETTINGS = ("budget", "progress", "epochs")


def model_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without :data:`TRAINING_SETTINGS`: what a baseline with a closed-form fit (no
    training loop) passes to its config dataclass.

    Examples
    --------
    >>> model_settings({"lags": 3, "budget": "cpu", "progress": False})
    {'lags': 3}
    """
    return {k: v for k, v in config.items() if k not in TRAINING_SETTINGS}


class Baseline:
    """Base of the built-in baselines: keeps the task; provenance for the result record.

    ``code_url`` names the package release and module (no repository URL is claimed).
    """

    name = "baseline"
    version = "1"

    def __init__(self, task: Any, **_: Any) -> None:
        self.task = task

    @property
    def n_parameters(self) -> int:
        """Number of trained parameters (0 for a rule without any)."""
        return 0

    @property
    def code_url(self) -> str:
        from decathlon import __version__

        return f"spacetime-decathlon {__version__}: {type(self).__module__}.{type(self).__name__}"
