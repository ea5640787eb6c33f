"""``<name>-shuffled``: any reference baseline made order-agnostic by shuffling its input frames.

The order-agnostic references of the temporal necessity ``N`` (``docs/probes.md`` §2, after
Sevilla-Lara et al., *Only Time Can Tell*, WACV 2021): the same model, trained *and* tested on
inputs whose frames (the time axis of the window the model reads: a trajectory window, a causal
series, an arrow-of-time clip, a swarm window) are permuted. Each window gets its own
permutation, ``numpy.random.default_rng([seed, window id]).permutation(frames)``
(:func:`permute_frames`), so a window is read the same way whichever batch it comes in, and
``seed`` is the model's training seed. Only the inputs move: ``x`` and its entity mask
``mask`` are permuted together; the targets (``y``), the per-entity constants and everything
else are untouched.

One wrapper serves every baseline that reads its training inputs through
``training_windows(tier, split)`` (the learned baselines: ``nri``, ``arrow-cnn``,
``order-params``) or is not trained at all (``xcorr``, ``granger-ridge``): training goes through
the baseline's own ``fit(tier)`` (for the torch ones the one shared
:func:`~decathlon.baselines.fit.fit`), on permuted windows. ``gru-shuffled`` is the exception
that keeps its own training (:mod:`decathlon.baselines.gru`): the GRU trains by teacher forcing
on whole sequences whose frames are also its targets, so it cannot be shuffled from outside
without shuffling its targets; it permutes the first frames of each training sequence itself
and predicts the rest in order, and at prediction it permutes each window's context with the
same :func:`permute_frames`.

:func:`shuffled_spec` turns a registered baseline into its registry record (name
``<name>-shuffled``, the same kinds, families and tasks); :mod:`decathlon.baselines` registers
the variants the necessity table uses.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from decathlon.benchmark.baselines import BASELINES, BaselineSpec
from decathlon.benchmark.data import Tier
from decathlon.benchmark.windows import Windows

from .base import Baseline

__all__ = ["permute_frames", "shuffle_windows", "ShuffledFrames", "shuffled_spec", "SUFFIX"]

#: What a shuffled variant's name ends with.
SUFFIX = "-shuffled"


def permute_frames(x: np.ndarray, ids: np.ndarray, seed: int) -> np.ndarray:
    """``x`` (window, time, ...) with each window's frames permuted by
    ``default_rng([seed, id]).permutation(time)``; a copy (``x`` is not changed).

    Examples
    --------
    >>> x = np.arange(8.0).reshape(2, 4)
    >>> y = permute_frames(x, np.array([5, 9]), 0)
    >>> sorted(y[0].tolist()) == x[0].tolist(), y[0].tolist() != x[0].tolist()
    (True, True)
    >>> np.array_equal(permute_frames(x[1:], np.array([9]), 0)[0], y[1])  # per window id
    True
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(
            f"permute_frames needs inputs shaped (window, time, ...), got shape {x.shape}; "
            "pass the batch's x or mask"
        )
    c = x.shape[1]
    idx = np.stack([np.random.default_rng([seed, int(i)]).permutation(c) for i in ids])
    return np.take_along_axis(x, idx.reshape(*idx.shape, *([1] * (x.ndim - 2))), axis=1)


def shuffle_windows(w: Windows, seed: int) -> Windows:
    """Windows ``w`` with the frames of ``x`` (and of its mask) permuted per window id by
    :func:`permute_frames`; the targets and the rest unchanged."""
    mask = None if w.mask_x is None else permute_frames(w.mask_x, w.ids, seed)
    return replace(w, x=permute_frames(w.x, w.ids, seed), mask_x=mask)


class ShuffledFrames(Baseline):
    """A baseline trained and tested on shuffled input frames (see the module docstring).

    ``inner`` is the baseline made for the task; ``seed`` (default: the inner model's training
    seed, else 0) seeds the per-window permutations.
    """

    version = "1"

    def __init__(self, inner: Any, seed: int | None = None) -> None:
        super().__init__(inner.task)
        self.inner = inner
        self.seed = int(getattr(inner, "seed", 0) if seed is None else seed)
        self.name = f"{inner.name}{SUFFIX}"

    @property
    def n_parameters(self) -> int:
        return int(getattr(self.inner, "n_parameters", 0))

    @property
    def device(self) -> Any:
        return getattr(self.inner, "device", "cpu")

    def config_dict(self) -> dict[str, Any]:
        inner: dict[str, Any] = getattr(self.inner, "config_dict", lambda: {})()
        how = "each window's input frames permuted by default_rng([seed, window id])"
        return {"frames": how, "seed": self.seed, "inner": inner}

    def fit(self, tier: Tier = "mini") -> Any:
        """Train the inner baseline with its own ``fit(tier)`` on shuffled training windows."""
        read = getattr(self.inner, "training_windows", None)
        if not callable(read):
            raise TypeError(
                f"{self.name}: baseline {self.inner.name!r} does not read its training data "
                "through training_windows(tier, split), so its inputs cannot be shuffled; give "
                "it that method or do not train it"
            )
        seed = self.seed

        def shuffled(tier: Tier, split: str) -> Windows:
            return shuffle_windows(read(tier, split), seed)

        self.inner.training_windows = shuffled  # this instance only
        return self.inner.fit(tier)

    def use_tier(self, tier: Tier = "mini") -> Any:
        """The inner baseline's ``use_tier`` (a model that reads the train split untrained)."""
        hook = getattr(self.inner, "use_tier", None)
        return hook(tier) if callable(hook) else None

    def predict(self, batch: dict[str, Any]) -> Any:
        ids = batch["ids"]
        mask = batch.get("mask")
        moved = {"x": permute_frames(batch["x"], ids, self.seed)}
        if mask is not None:
            moved["mask"] = permute_frames(mask, ids, self.seed)
        return self.inner.predict({**batch, **moved})


def shuffled_spec(name: str) -> BaselineSpec:
    """The registry record of ``<name>-shuffled``: baseline ``name`` wrapped in
    :class:`ShuffledFrames`, serving what ``name`` serves (learned when it is).

    Examples
    --------
    >>> spec = shuffled_spec("xcorr")
    >>> spec.name, spec.kinds, spec.learned
    ('xcorr-shuffled', ('graph',), False)
    """
    inner = BASELINES.get(name)

    def make(task: Any, **config: Any) -> ShuffledFrames:
        return ShuffledFrames(inner.make(task, **config))

    return BaselineSpec(
        f"{name}{SUFFIX}",
        make,
        kinds=inner.kinds,
        learned=inner.learned,
        description=f"{name} trained and tested on shuffled input frames: order-agnostic",
        families=inner.families,
        tasks=inner.tasks,
        budgets=inner.budgets,
    )
