"""What a person sees: the results table, the probe cells it shares with the figure, the
decathlon figure itself, and which probes ``describe`` says apply to a task."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from decathlon.benchmark.describe import describe, probe_applicability
from decathlon.benchmark.figure import build_figure, event_totals, heat_value
from decathlon.benchmark.probes import PROBES, relative_gap
from decathlon.benchmark.report import (
    PROBE_LABELS,
    format_describe,
    format_table,
    gap_text,
    plot_results,
    probe_cells,
)

matplotlib.use("Agg")

SPRINGS, NBODY, GRAPH = (
    "particles/springs-forecast",
    "particles/nbody-forecast",
    "particles/springs-graph",
)


def _probe(gap: float, ts: float | None = None) -> dict:
    return {"metric": "mse", "value": 0.0, "gap": gap, "gap_ci95": [gap, gap], "ts": ts}


def _record(task: str, model: str, value: float, probes: dict, **extra) -> dict:
    """A result record with what the table and the figure read (not every schema field)."""
    kind = "graph" if task.endswith("graph") else "forecast"
    primary = "auroc" if kind == "graph" else "mse"
    event = task.rsplit("-", 1)[0]
    r = {
        "model": {"name": model},
        "task": {
            "name": task,
            "event": event,
            "kind": kind,
            "tier": "mini",
            "primary": primary,
            "higher_is_better": kind == "graph",
        },
        "metrics": {primary: {"value": value, "ci95": [0.9 * value, 1.1 * value]}},
        "probes": probes,
        "points": {
            "value": 400.0,
            "ci95": [350.0, 450.0],
            "trivial_baseline": "chance" if kind == "graph" else "static",
            "trivial_value": 0.5 if kind == "graph" else 2 * value,
            "perfect_value": 1.0 if kind == "graph" else 0.0,
        },
    }
    if kind == "forecast":
        steps = [10] if task == NBODY else [1, 2, 3, 4, 5]
        r["curve"] = {"metric": "mse", "steps": steps, "per_step": [value] * len(steps)}
    r.update(extra)
    return r


def _records() -> list[dict]:
    """A multi-step forecast (full-state TS blow-up), a one-step forecast without probes, a
    graph task, and a result whose reversal predictions were not supplied."""
    temporal = {
        "reversal": _probe(0.2, ts=2920.0),
        "shuffle": _probe(0.0),
        "half": _probe(0.05),
        "local-2": _probe(0.0),
        "local-4": _probe(0.02),
        "freeze": _probe(0.001),
    }
    missing = {"status": "missing", "note": "no predictions for this probe's inputs"}
    return [
        _record(SPRINGS, "gru", 0.01, temporal),
        _record(SPRINGS, "offline", 0.02, {**temporal, "reversal": missing}),
        _record(NBODY, "gru", 0.2, {}),
        _record(
            GRAPH,
            "proximity",
            0.75,
            {
                "reversal": _probe(-0.25),
                "shuffle": _probe(0.0),
                **{p: _probe(0.0) for p in ("half", "local-2", "local-4")},
                "freeze": _probe(0.05),
            },
        ),
    ]


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        (0.1234, "+12%"),
        (-0.031, "-3.1%"),
        (0.0, "0%"),
        (8.5, "+850%"),
        (20.0, "x21"),
        (998.0, "x999"),
        (999.0, ">x1000"),
        (4.5e7, ">x1000"),
        (None, "n/d"),
    ],
)
def test_gap_text(rel, text):
    assert gap_text(rel) == text


def test_relative_gap_is_worse_positive_for_both_metric_directions():
    assert relative_gap({"gap": 0.5}, 2.0, 0.0) == pytest.approx(0.25)  # mse up: worse
    assert relative_gap({"gap": -0.25}, 0.75, 1.0) == pytest.approx(1.0)  # auroc down: worse
    assert relative_gap({"gap": 0.1}, 0.8, 1.0) == pytest.approx(-0.5)  # auroc up: better
    assert relative_gap({"gap": 0.1}, 0.0, 0.0) is None  # a perfect plain score: undefined
    assert relative_gap({"status": "missing"}, 1.0, 0.0) is None


def test_table_shows_bounded_relative_gaps_not_exploding_ts():
    table = format_table(_records())
    gru = next(line for line in table.splitlines() if " gru " in line and SPRINGS in line)
    # 0.2 / 0.01 + 1 = 21 times the error; columns reversed .. local-4, frozen
    assert gru.split()[-6:] == ["x21", "0%", "+500%", "0%", "+200%", "+10%"]
    assert "2.92e" not in table and "2920" not in table
    assert "(E_probe - E) / (E - E_perfect)" in table  # the quantity is explained under it


def test_table_marks_one_frame_context_and_missing_probes():
    lines = format_table(_records()).splitlines()
    nbody = next(line for line in lines if line.startswith(NBODY))
    assert nbody.endswith("n/a: one-frame context")
    every = "reversal, shuffle, half, local-2, local-4, freeze"
    assert any(line.startswith(f"n/a on {NBODY}: {every}") for line in lines)
    offline = next(line for line in lines if " offline " in line)
    assert offline.split()[-6] == "missing"
    assert any(line.startswith(f"missing on {SPRINGS}: reversal") for line in lines)


def test_graph_probe_gap_uses_the_distance_to_a_perfect_auroc():
    cells = probe_cells(_records()[3])
    assert cells["reversal"].text == "+100%"  # 0.75 -> 0.5: twice the distance to 1
    assert cells["freeze"].text == "-20%"  # 0.75 -> 0.8: closer to perfect, so better


def _heatmap_cells(fig) -> dict[tuple[str, str], str]:
    ax = next(a for a in fig.axes if a.get_title().startswith("Temporal probes"))
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    out = {}
    for t in ax.texts:
        x, y = t.get_position()
        out[(rows[round(y)], cols[round(x)])] = t.get_text()
    return out


def test_figure_shows_the_table_numbers():
    recs = _records()
    fig = build_figure(recs)
    shown = _heatmap_cells(fig)
    table = format_table(recs)
    labels = PROBE_LABELS
    for r in recs:
        row = f"{r['task']['name'].split('/')[1]} · {r['model']['name']}"
        cells = probe_cells(r)
        if r["task"]["name"] == NBODY:
            marks = [text for (at, _), text in shown.items() if at == row]
            assert marks == ["n/a: one-frame context"]  # one marker for the whole row
            continue
        for p in PROBES:
            assert shown[(row, labels[p])] == cells[p].text
        line = next(
            x
            for x in table.splitlines()
            if f" {r['model']['name']} " in x and x.startswith(r["task"]["name"])
        )
        assert line.split()[-len(PROBES) :] == [cells[p].text for p in PROBES]
    matplotlib.pyplot.close(fig)


def test_figure_panels_fit_each_kind_of_task():
    fig = build_figure(_records())
    titles = {a.get_title(): a for a in fig.axes}
    curve = titles["springs-forecast: rollout error"]
    assert curve.get_yscale() == "log" and all(len(ln.get_xdata()) == 5 for ln in curve.lines)
    one = next(a for t, a in titles.items() if t.startswith("nbody-forecast: one step"))
    assert one.containers and all(len(ln.get_xdata()) <= 2 for ln in one.lines)  # dots + bars
    graph = titles["Graph and classification tasks"]
    assert any(list(ln.get_xdata()) == [0.5, 0.5] for ln in graph.lines)  # chance
    total = next(t for t in titles if t.startswith("Total"))
    unwrapped = total.replace("-\n", "-").replace("\n", " ")  # the title wraps at hyphens
    assert "incomplete" in total and "cmu-walking" in unwrapped  # no mocap result here
    points = next(a for t, a in titles.items() if t.startswith("Points per event"))
    labels = [t.get_text() for t in points.get_xticklabels()]
    # ordered by event name: mocap/cmu-walking just before particles/charged
    assert labels.index("cmu-walking") + 1 == labels.index("charged")
    matplotlib.pyplot.close(fig)


def test_plot_results_writes_a_png(tmp_path):
    path = plot_results(_records(), tmp_path / "out" / "decathlon.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["decathlon.png"]


def test_totals_are_over_every_registered_event():
    totals = event_totals(_records())
    assert set(totals["gru"]["events"]) >= {"mocap/cmu-walking", "pedestrians/eth-ucy"}
    assert totals["gru"]["max"] == 1000 * len(totals["gru"]["events"])
    assert "pedestrians/eth-ucy" in totals["gru"]["missing"]
    assert "particles/springs" not in totals["gru"]["missing"]
    given = {
        "m": {
            "total": 5.0,
            "ci95": [4.0, 6.0],
            "events": {"a": 5.0},
            "max": 1000,
            "complete": False,
            "missing": ["b"],
        }
    }
    assert event_totals(_records(), given)["m"]["missing"] == ["b"]  # the score's own list


def test_heat_value_is_the_clipped_log_error_ratio():
    assert heat_value(0.0) == 0.0 and heat_value(9.0) == pytest.approx(1.0)
    assert heat_value(1e9) == 2.0 and heat_value(-1.0) == -1.0
    assert np.isnan(heat_value(None))


def test_describe_says_which_probes_apply_and_why_not():
    nbody = probe_applicability(NBODY)
    assert all("one-frame context" in nbody[p] for p in PROBES)
    assert nbody["rotate"] is None and nbody["rot90"] is not None
    assert all(probe_applicability(SPRINGS)[p] is None for p in PROBES)
    text = format_describe(describe(NBODY))
    assert "n/a: reversal, shuffle, half, local-2, local-4, freeze (one-frame context" in text


def test_points_print_as_whole_numbers():
    """1000 points read ``1000``, not ``1e+03`` (three significant digits did that)."""
    from decathlon.benchmark.report import _points

    assert [_points(v) for v in (1000.0, 849.2, 0.0, None)] == ["1000", "849", "0", "-"]
