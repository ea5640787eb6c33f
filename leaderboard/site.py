"""The leaderboard's static page: one HTML file, every string escaped.

Everything shown comes from submissions, so: every string goes through :func:`esc`
(``html.escape`` with quotes) before it reaches the page, only ``http``/``https`` URLs become
links (:func:`link`; anything else is shown as text), and the page's Content-Security-Policy
allows no script but its own sorting script (by hash), no remote resource, no form and no
``<base>``: an injected ``<script>`` would be text twice over.
"""

from __future__ import annotations

import base64
import hashlib
import html
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

__all__ = ["render_page", "esc", "link", "safe_url", "metric_label"]


def esc(value: Any) -> str:
    """``value`` as HTML text.

    Examples
    --------
    >>> esc('<script>alert(1)</script>')
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    """
    return html.escape(str(value), quote=True)


def safe_url(url: Any) -> bool:
    """Whether ``url`` may become a link: an ``http``/``https`` URL with a host.

    Examples
    --------
    >>> safe_url("https://example.org/x"), safe_url("javascript:alert(1)"), safe_url("//x")
    (True, False, False)
    """
    if not isinstance(url, str) or len(url) > 500 or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def link(url: Any, text: Any = None) -> str:
    """An ``<a>`` for safe URLs, plain escaped text otherwise (empty for ``None``)."""
    if url is None:
        return ""
    shown = esc(text if text is not None else url)
    if not safe_url(url):
        return shown
    return f'<a href="{esc(url)}" rel="nofollow noopener noreferrer">{shown}</a>'


def metric_label(name: str) -> str:
    """A short column header for metric ``name``; the full name goes in the header's tooltip.

    A metric on window groups (``name@g1+g2``, :mod:`decathlon.benchmark.metric_groups`) is
    written out in words, so that a long list of groups does not widen the table; any other
    name is its own label.

    Examples
    --------
    >>> metric_label("auroc@damped-charged+damped-springs+dorsogna+vicsek")
    'auroc, mean of 4 groups'
    >>> metric_label("auroc_bias@nbody"), metric_label("ade")
    ('auroc_bias on nbody', 'ade')
    """
    from decathlon.benchmark.metric_groups import group_names

    base, at, suffix = name.partition("@")
    groups = group_names(suffix) if at else ()
    if not groups:
        return name
    if len(groups) == 1:
        return f"{base} on {groups[0]}"
    return f"{base}, mean of {len(groups)} groups"


def _th(kind: str, text: str, title: str | None = None, cls: str | None = None) -> str:
    """A sortable header cell (``kind``: ``number`` or ``text``), with an optional tooltip and
    CSS class; a line may break after a ``/`` (event names such as ``pedestrians/eth-ucy``)."""
    tip = "" if title is None or title == text else f' title="{esc(title)}"'
    css = "" if cls is None else f' class="{esc(cls)}"'
    return f'<th data-type="{kind}"{css}{tip}>{esc(text).replace("/", "/<wbr>")}</th>'


def _num(x: Any, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def _cell(x: Any, ci: Any = None, digits: int = 4) -> str:
    """A numeric cell sorted by its value, with its interval in small print."""
    value = "" if x is None else repr(float(x))
    interval = ""
    if ci and None not in ci:
        interval = f' <span class="ci">[{_num(ci[0], digits)}, {_num(ci[1], digits)}]</span>'
    return f'<td class="num" data-value="{esc(value)}">{_num(x, digits)}{interval}</td>'


def probe_change(t: dict[str, Any], task: str, probe: str) -> float | None:
    """The change of the error under ``probe``, ``(E_p - E) / (E - E_perfect)``: the number the
    suite's table and figure show (:func:`decathlon.benchmark.probes.relative_gap`)."""
    from decathlon.benchmark.probes import relative_gap
    from decathlon.benchmark.tasks import get_task

    e = t.get("probes", {}).get(probe, {})
    if "gap" not in e:
        return None
    spec = get_task(task)
    return relative_gap(e, t["metrics"][spec.primary]["value"], spec.perfect)


def _probe_cell(t: dict[str, Any], task: str, probe: str) -> str:
    """A probe's change of error as the suite prints it (``+12%``, ``x21``), sorted by value."""
    from decathlon.benchmark.report import gap_text

    rel = probe_change(t, task, probe)
    value = "" if rel is None else repr(float(rel))
    text = gap_text(rel) if "gap" in t.get("probes", {}).get(probe, {}) else "-"
    return f'<td class="num" data-value="{esc(value)}">{esc(text)}</td>'


def _tier(v: str) -> str:
    return f'<span class="tier-{esc(v)}">{esc(v)}</span>'


def _overall(data: dict[str, Any]) -> str:
    """The overall table: one row per entry, sortable by every column."""
    events = sorted(data["events"])
    head = ["#", "model", "verification", "total"] + events + ["parameters", "authors"]
    num = {"#", "total", "parameters", *events}
    ths = "".join(  # event columns: headers set vertically, so fourteen events fit the page
        _th("number" if h in num else "text", h, cls="vertical" if h in events else None)
        for h in head
    )
    body = []
    for i, e in enumerate(data["entries"], 1):
        m, s = e["model"], e["score"]
        name = link(m.get("code_url"), m["name"]) if safe_url(m.get("code_url")) else esc(m["name"])
        paper = f" · {link(m['paper'], 'paper')}" if m.get("paper") else ""
        cells = [
            f'<td class="num" data-value="{i}">{i}</td>',
            f'<td class="model">{name}{paper} <span class="ci">{esc(m["version"])}</span></td>',
            f"<td>{_tier(e['verification'])}</td>",
            _cell(s["total"], s["ci95"], 5),
            *(_cell(s["events"].get(ev), None, 4) for ev in events),
            _cell(m["n_parameters"], None, 6),
            f"<td>{esc(', '.join(m['authors']))}</td>",
        ]
        body.append(f'<tr data-entry="{esc(e["id"])}">{"".join(cells)}</tr>')
    return (
        f'<table id="overall" class="sortable"><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _task_table(data: dict[str, Any], task: str) -> str:
    """Per task: each entry's metrics with intervals, points and probe gaps."""
    rows = [(e, e["tasks"][task]) for e in data["entries"] if task in e["tasks"]]
    if not rows:
        return "<p>No entries for this task yet.</p>"
    metrics = list(rows[0][1]["metrics"])
    probes = sorted({p for _, t in rows for p, v in t.get("probes", {}).items() if "gap" in v})
    ths = "".join(
        [_th("text", "model"), _th("text", "verification")]
        + [_th("number", metric_label(m), m) for m in metrics]
        + [_th("number", "points")]
        + [_th("number", f"{p}: change of error") for p in probes]
    )
    body = []
    for e, t in rows:
        pts = t.get("points", {})
        cells = [
            f"<td>{esc(e['model']['name'])}</td>",
            f"<td>{_tier(e['verification'])}</td>",
            *(_cell(t["metrics"][m]["value"], t["metrics"][m]["ci95"]) for m in metrics),
            _cell(pts.get("value"), pts.get("ci95"), 4),
            *(_probe_cell(t, task, p) for p in probes),
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="sortable task" data-task="{esc(task)}"><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _event_section(data: dict[str, Any], event: str, plots: dict[str, str]) -> str:
    parts = [f'<section class="event" id="event-{esc(event)}"><h2>{esc(event)}</h2>']
    for task in data["events"][event]:
        parts.append(f"<h3>{esc(task)}</h3>{_task_table(data, task)}")
        if task in plots:
            alt = f"rollout error and probe gaps, {task}"
            parts.append(f'<img class="plot" src="{esc(plots[task])}" alt="{esc(alt)}">')
    return "".join(parts) + "</section>"


def render_page(data: dict[str, Any], plots: dict[str, str]) -> str:
    """The whole page for ``leaderboard.json`` data and the plots' relative paths."""
    pkg = resources.files("decathlon.leaderboard")
    template = pkg.joinpath("site.html").read_text(encoding="utf-8")
    script = pkg.joinpath("site.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    n = len(data["entries"])
    verified = sum(e["verification"] == "re-scored" for e in data["entries"])
    intro = (
        "<h1>Spacetime Decathlon leaderboard</h1>"
        f'<p class="meta">{n} entries ({verified} re-scored from their predictions, '
        f"{n - verified} self-reported and not verified) · generated {esc(data['generated'])} · "
        f"decathlon {esc(data['decathlon_version'])}, evaluator "
        f'{esc(data["evaluator_version"])} · <a href="leaderboard.json">leaderboard.json</a></p>'
        "<p>Points: 0 at each task's trivial baseline, 1000 at its declared target, equal "
        "ratios of error gaining equal points; an event's points are the mean over its tasks, "
        "the total the sum over every registered event (a task without a result counts 0). "
        "Probe columns: the change of the error when the context is reversed, shuffled, "
        "half-swapped, permuted within blocks of 2 or 4 frames (local-2, local-4) or frozen, "
        "(E_probe - E) / (E - E_perfect); + is worse, x21 is 21 times the error, &gt;x1000 a "
        "thousand times or more. Click a column header to sort.</p>"
    )
    points_img = ""
    if "points" in plots:
        points_img = f'<img class="plot" src="{esc(plots["points"])}" alt="points per event">'
    body = "".join(
        [intro, _overall(data), points_img]
        + [_event_section(data, ev, plots) for ev in sorted(data["events"])]
    )
    page = template.replace("@SCRIPT_HASH@", f"sha256-{digest}").replace("@SCRIPT@", script)
    return page.replace("@BODY@", body)  # last: nothing in the body is substituted again
