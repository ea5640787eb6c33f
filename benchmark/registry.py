"""One small registry class, used once per kind of thing (datasets, tasks, baselines).

A registry is a plain dict filled by ``register()``, which refuses duplicates. Lookups of an
unknown name raise a ``KeyError`` listing the valid names. Built-in entries are registered by
importing their packages (``decathlon.datasets``, ``decathlon.baselines``); the registry imports
them on first lookup, which is how ``benchmark`` reaches them without importing them itself
(``docs/architecture.md``).

Examples
--------
>>> colours = Registry("colour")
>>> colours.register("red", 1)
1
>>> colours.get("red")
1
>>> colours.get("blue")
Traceback (most recent call last):
...
KeyError: "unknown colour 'blue'; valid names: red"
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry", "shorten", "did_you_mean"]


def shorten(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for echoing untrusted input in a message.

    Examples
    --------
    >>> print(shorten("x" * 1000, 12))
    'xxxxxxxx...
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def did_you_mean(name: object, valid: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the valid names closest to a misspelt ``name``, else ``""``.

    Names are compared by the part after their last ``/`` (a shared ``particles/`` says
    nothing; ``sprngs-forecast`` finds ``particles/springs-forecast``) with
    :class:`difflib.SequenceMatcher`; names scoring at least 0.6 and within 0.1 of the best are
    offered, at most three, best first.

    Examples
    --------
    >>> did_you_mean("particles/sprngs-forecast", ["particles/springs-forecast", "x/y"])
    " Did you mean 'particles/springs-forecast'?"
    >>> did_you_mean("constant-velocty", ["constant-velocity", "static"])
    " Did you mean 'constant-velocity'?"
    >>> did_you_mean("zzz", ["static"])
    ''
    """
    if not isinstance(name, str) or not name:
        return ""
    tail = name.rsplit("/", 1)[-1]

    def score(v: str) -> float:
        return difflib.SequenceMatcher(None, tail, v.rsplit("/", 1)[-1]).ratio()

    scored = sorted(((score(v), v) for v in valid), key=lambda sv: (-sv[0], sv[1]))
    if not scored or scored[0][0] < 0.6:
        return ""
    close = [v for s, v in scored if s >= 0.6 and s >= scored[0][0] - 0.1][:3]
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


class Registry(Generic[T]):
    """A name -> entry mapping that refuses duplicates and explains unknown names."""

    def __init__(self, kind: str, plugins: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._plugins = plugins
        self._loaded = not plugins

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # set first: the plugin modules call register() while importing
            for mod in self._plugins:
                importlib.import_module(mod)

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name``; a ``ValueError`` if the name is taken."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind} names are non-empty strings, got {name!r}")
        if name in self._entries:
            raise ValueError(
                f"{self.kind} {name!r} is already registered; pick another name or bump the "
                "version of the existing entry instead of registering it twice"
            )
        self._entries[name] = entry
        return entry

    @contextmanager
    def override(self, name: str, entry: T) -> Iterator[T]:
        """Within the ``with`` block, ``name`` maps to ``entry`` (registered or replaced); the
        previous state is restored afterwards. For tests and experiments with a modified record
        (e.g. a dataset shrunk to a tiny tier).

        Examples
        --------
        >>> sizes = Registry("size")
        >>> _ = sizes.register("mini", 10)
        >>> with sizes.override("mini", 3):
        ...     sizes.get("mini")
        3
        >>> sizes.get("mini")
        10
        """
        self._load()
        had = name in self._entries
        old = self._entries.get(name)
        self._entries[name] = entry
        try:
            yield entry
        finally:
            if had:
                self._entries[name] = old  # type: ignore[assignment]
            else:
                self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """The entry called ``name``; ``KeyError`` listing the valid names otherwise (and the
        closest ones to a misspelt name, :func:`did_you_mean`)."""
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            valid = ", ".join(sorted(self._entries)) or "(none registered)"
            hint = did_you_mean(name, self._entries)
            raise KeyError(
                f"unknown {self.kind} {shorten(name)}; valid names: {valid}" + (hint and "." + hint)
            ) from None

    def names(self) -> list[str]:
        """Sorted names of every registered entry."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)
