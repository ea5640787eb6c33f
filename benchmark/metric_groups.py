"""Metrics on groups of windows: ``name@g1+g2`` is metric ``name`` on the windows of each
listed group, averaged over the groups with equal weight.

A task whose windows carry a group label (:attr:`decathlon.benchmark.windows.Windows.group`,
e.g. the source system of an arrow-of-time clip, ``docs/protocols.md`` §9) can report any
plain metric per group (``auroc@damped-springs``) or as a macro average
(``auroc@damped-charged+damped-springs``); :func:`decathlon.benchmark.metrics.get_metric`
resolves such names here.
"""

from __future__ import annotations

import re

import numpy as np

from .metrics import Metric, Stats

__all__ = ["grouped", "group_names"]

#: A window group's name (the result schema's metric-name characters, less ``@`` and ``+``).
_GROUP = re.compile(r"[A-Za-z0-9_.-]+")


def group_names(suffix: str) -> tuple[str, ...]:
    """The groups of a ``name@`` suffix, ``()`` if it is not a valid list of groups.

    Examples
    --------
    >>> group_names("springs+nbody"), group_names("a++b")
    (('springs', 'nbody'), ())
    """
    groups = tuple(suffix.split("+"))
    return groups if all(_GROUP.fullmatch(g) for g in groups) else ()


def grouped(row: Metric, groups: tuple[str, ...]) -> Metric:
    """Metric ``row`` on the windows of each of ``groups``, averaged with equal weight.

    Per-window statistics carry ``group`` (window,), the group label of every window
    (:func:`decathlon.benchmark.collect.window_stats`). The windows of group ``g`` are selected
    by zeroing the weights of the others, so the point value and the bootstrap replicates come
    from the same resamples as every other metric. A group without windows gives NaN.

    Examples
    --------
    >>> from decathlon.benchmark.metrics import entity_stats, metric_value
    >>> st = entity_stats(np.array([[0.9], [0.2], [0.4], [0.6]]), np.array([[1], [0], [1], [0]]))
    >>> st["group"] = np.array(["a", "a", "b", "b"])
    >>> metric_value("auroc@a", st).tolist(), metric_value("auroc@a+b", st).tolist()
    ([1.0], [0.5])
    """

    def direct(st: Stats, w: np.ndarray, step: int | None) -> np.ndarray:
        if "group" not in st:
            raise ValueError(
                f"metric on window groups {list(groups)} needs windows with groups "
                "(Windows.group); this task's windows have none: use the plain metric name"
            )
        vals = []
        for g in groups:
            wg = w * (np.asarray(st["group"]) == g)[None, :]
            if row.columns is None:
                vals.append(row.direct(st, wg, step))  # type: ignore[misc]
            else:
                vals.append(row.combine([wg @ c for c in row.columns(st, step)]))
        return np.mean(vals, axis=0)

    return Metric(
        row.higher_is_better,
        row.perfect,
        row.kind,
        direct=direct,
        description=f"{row.description}; "
        + (f"mean over the groups {', '.join(groups)}" if len(groups) > 1 else f"on {groups[0]}"),
        also=row.also,
    )
