"""The one torch adapter of the data core: training windows as a ``torch.utils.data.Dataset``.

This module imports torch; nothing else in :mod:`decathlon.benchmark` imports it, and this
module is imported only when a user asks for tensors (:meth:`TrainData.as_torch
<decathlon.benchmark.train_data.TrainData.as_torch>` or :func:`as_torch`), so ``import
decathlon`` and the evaluator stay numpy-only (``docs/architecture.md``). It lives beside the
data it wraps rather than in :mod:`decathlon.baselines` because the benchmark core must not
import the baselines package.

Examples
--------
>>> import numpy as np
>>> from decathlon.benchmark.windows import Windows
>>> w = Windows(ids=np.arange(2), x=np.zeros((2, 3, 5, 4)), y=np.ones((2, 1, 5, 4)),
...             sample=np.arange(2), start=np.zeros(2, int), features=[], target_features=[])
>>> ds = as_torch(w)
>>> x, y = ds[1]
>>> len(ds), tuple(x.shape), y.dtype
(2, (3, 5, 4), torch.float32)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from .windows import Windows

if TYPE_CHECKING:
    from .train_data import TrainData

__all__ = ["WindowDataset", "as_torch"]


class WindowDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Windows as a map-style dataset: item ``i`` is ``(x[i], y[i])``, float32 CPU tensors.

    ``x`` is (context, entity, feature), ``y`` (step, entity, target_feature) for forecasts or
    (entity, entity) edges for graph tasks. The tensors share memory with one float32 copy of
    the windows; ``windows`` keeps the masks, constants and names for models that need them
    (``mask_x``/``mask_y`` are ``None`` when every entity is always present).
    """

    def __init__(self, windows: Windows) -> None:
        self.windows = windows
        self.x = torch.from_numpy(np.ascontiguousarray(windows.x, dtype=np.float32))
        self.y = torch.from_numpy(np.ascontiguousarray(windows.y, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def as_torch(
    data: TrainData | Windows,
    stride: int | None = None,
    *,
    context: int | None = None,
    horizon: int | None = None,
) -> WindowDataset:
    """A :class:`WindowDataset` of ``data``'s windows (``TrainData.windows(stride, context=,
    horizon=)``), or of ``Windows`` given directly (already cut: no other arguments then)."""
    if isinstance(data, Windows):
        if (stride, context, horizon) != (None, None, None):
            raise TypeError(
                "as_torch(windows) takes windows already cut; stride, context and horizon apply "
                "to TrainData only (task.train_data(tier))"
            )
        return WindowDataset(data)
    return data.as_torch(stride, context=context, horizon=horizon)
