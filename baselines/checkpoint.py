"""Training checkpoints of :func:`decathlon.baselines.fit.fit`: tensors and plain values only.

A checkpoint is one file written with ``torch.save`` of a dict of state dicts (the model's, the
optimizer's, the best weights so far), the random number generators' states, the history and
the early-stopping counters; it is read back with ``torch.load(..., weights_only=True)``, which
refuses anything but tensors and plain containers, so loading a checkpoint never runs code. A
whole model object is never pickled.

The file is written to a temporary name and renamed into place after every epoch, so an
interrupted run leaves the last complete epoch behind, and :func:`fit` continues from it when it
is called again with the same checkpoint path (the same run: a checkpoint of another model or
configuration is refused).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["CHECKPOINT_FORMAT", "fingerprint", "save_checkpoint", "load_checkpoint"]

#: Version of the checkpoint's layout; another layout is refused with a message.
CHECKPOINT_FORMAT = 1


def fingerprint(module: torch.nn.Module, settings: dict[str, Any]) -> str:
    """A digest of what makes two trainings the same run: the module's class, its parameter
    names and shapes, and the training ``settings`` (those that change the numbers).

    Examples
    --------
    >>> a = fingerprint(torch.nn.Linear(2, 3), {"lr": 0.1})
    >>> a == fingerprint(torch.nn.Linear(2, 3), {"lr": 0.1}), a == fingerprint(
    ...     torch.nn.Linear(2, 4), {"lr": 0.1})
    (True, False)
    """
    shapes = {k: list(v.shape) for k, v in module.state_dict().items()}
    doc = {"class": type(module).__qualname__, "shapes": shapes, "settings": settings}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, state dicts, numbers, strings, lists, dicts) to ``path``
    atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"format": CHECKPOINT_FORMAT, **state}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, expected_fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (``None`` if there is none), read with ``weights_only=True``.

    Raises
    ------
    ValueError
        The file is not a checkpoint of this layout, or belongs to another run (model or
        training settings differ): the message names the file and says to delete it or to
        choose another checkpoint path.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which and what to do
        raise ValueError(
            f"checkpoint {path} cannot be read as a tensors-only checkpoint ({e}); delete it to "
            "start the training afresh"
        ) from e
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint {path} is not a decathlon checkpoint of format {CHECKPOINT_FORMAT}; "
            "delete it to start the training afresh"
        )
    if state.get("fingerprint") != expected_fingerprint:
        raise ValueError(
            f"checkpoint {path} belongs to another run (another model or training settings); "
            "delete it or pass another checkpoint path to resume nothing"
        )
    return state
