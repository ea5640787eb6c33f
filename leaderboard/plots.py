"""The leaderboard's figures (matplotlib, PNG): points per event, and per task the rollout-error
curves and the probe gaps of every entry.

Model names are untrusted text: matplotlib would read ``$...$`` as mathematics and hide labels
starting with ``_``, so every label goes through :func:`label`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .site import probe_change

__all__ = ["write_plots", "label", "slug"]


def label(text: str, limit: int = 40) -> str:
    """``text`` as a plain matplotlib label: ``$`` escaped, no leading ``_``, cut to ``limit``.

    Examples
    --------
    >>> label("$x$ net")
    '\\\\$x\\\\$ net'
    >>> label("_hidden")
    ' _hidden'
    """
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def slug(name: str) -> str:
    """A file name for a task or event name (``particles/springs-forecast`` ->
    ``particles-springs-forecast``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "x"


def write_plots(data: dict[str, Any], folder: Path) -> dict[str, str]:
    """Write every figure into ``folder``; returns ``{"points" or task name: relative path}``."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    out = {"points": _save(_points_figure(data), folder / "points.png")}
    tasks = sorted({t for e in data["entries"] for t in e["tasks"]})
    for task in tasks:
        out[task] = _save(_task_figure(data, task), folder / f"{slug(task)}.png")
    return {k: f"{folder.name}/{Path(v).name}" for k, v in out.items()}


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=90, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return str(path)


def _points_figure(data: dict[str, Any]) -> Any:
    """Grouped bars: points per event (0-1000), one bar per entry."""
    import matplotlib.pyplot as plt

    events = sorted(data["events"])
    entries = data["entries"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(events) + 2), 3.6))
    width = 0.8 / max(len(entries), 1)
    x = np.arange(len(events))
    for i, e in enumerate(entries):
        vals = [e["score"]["events"].get(ev, 0.0) for ev in events]
        ax.bar(x + i * width, vals, width, label=label(e["model"]["name"]))
    ax.set_xticks(x + 0.4 - width / 2, [label(ev) for ev in events], rotation=25, ha="right")
    ax.set_ylabel("points (0 = trivial baseline)")
    ax.set_ylim(0, 1000)
    ax.set_title("Points per event")
    if entries:
        ax.legend(fontsize=7, loc="upper right")
    return fig


def _task_figure(data: dict[str, Any], task: str) -> Any:
    """Left: rollout-error curve per entry (forecasts); right: each probe's gap to the plain
    score, per entry."""
    import matplotlib.pyplot as plt

    rows = [(e["model"]["name"], e["tasks"][task]) for e in data["entries"] if task in e["tasks"]]
    curves = [(n, t["curve"]) for n, t in rows if "curve" in t]
    fig, axes = plt.subplots(1, 2 if curves else 1, figsize=(9 if curves else 5, 3.2))
    axes = np.atleast_1d(axes)
    if curves:
        ax = axes[0]
        for name, c in curves:
            steps = c.get("steps") or list(range(1, len(c["per_step"]) + 1))
            ax.plot(steps, c["per_step"], marker=".", label=label(name))
        ax.set_xlabel("horizon step")
        ax.set_ylabel(label(curves[0][1]["metric"]))
        ax.set_title("rollout error")
        ax.legend(fontsize=7)
    ax = axes[-1]
    probes = sorted({p for _, t in rows for p, v in t.get("probes", {}).items() if "gap" in v})
    width = 0.8 / max(len(rows), 1)
    x = np.arange(len(probes))
    seen = [0.5, 2.0]  # at least a factor of two either way, so small changes stay small
    for i, (name, t) in enumerate(rows):
        rel = [probe_change(t, task, p) for p in probes]
        ratio = np.array([np.nan if g is None else max(1.0 + g, 1e-3) for g in rel])
        # bars grow from 1 (no change): up when the probe makes the error larger, down if smaller
        ax.bar(x + i * width, ratio - 1.0, width, bottom=1.0, label=label(name))
        seen += [v for v in ratio.tolist() if np.isfinite(v)]
    # names such as reversal_transposed overlap when upright under six or more probes
    tilt = {"rotation": 30, "ha": "right"} if len(probes) > 5 else {}
    ax.set_xticks(x + 0.4 - width / 2, probes, **tilt)
    ax.set_yscale("log")
    ax.set_ylim(min(seen) / 1.3, max(seen) * 1.3)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_ylabel("error under the probe / plain error")
    ax.set_title("temporal probes (1 = no change; the table's numbers)", fontsize=9)
    return fig
