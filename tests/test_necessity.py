"""Temporal necessity N (docs/probes.md §2, definition 3): the order-agnostic GRU, the paired
interval, the committed file and what ``describe`` shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from decathlon.baselines.gru import GRUConfig, _Net  # noqa: E402
from decathlon.benchmark.baselines import BASELINES, make_baseline  # noqa: E402
from decathlon.benchmark.describe import describe  # noqa: E402
from decathlon.benchmark.necessity import (  # noqa: E402
    NECESSITY_FILE,
    compute_necessity,
    read_necessity,
    temporal_necessity,
)
from decathlon.benchmark.report import format_describe  # noqa: E402
from decathlon.benchmark.tasks import get_task  # noqa: E402
from decathlon.benchmark.windows import make_windows  # noqa: E402

SPRINGS = "particles/springs-forecast"
NBODY = "particles/nbody-forecast"


def test_gru_order_setting_is_checked_and_fixed_for_the_shuffled_baseline():
    with pytest.raises(ValueError, match="GRU order 'sideways' is not one of"):
        GRUConfig(order="sideways")
    task = get_task(SPRINGS)
    assert make_baseline("gru", task).config.order == "time"
    shuffled = make_baseline("gru-shuffled", task, order="time")  # cannot be switched off
    assert shuffled.config.order == "shuffled" and shuffled.name == "gru-shuffled"
    assert BASELINES.get("gru-shuffled").learned


def test_shuffled_loss_predicts_only_the_frames_after_the_shuffled_prefix():
    torch.manual_seed(0)
    net = _Net(4, GRUConfig(hidden=8), shuffled=3)
    x = torch.randn(2, 6, 1, 4)
    y = x.clone()
    y[:, 3:] += 1.0  # frames after the prefix change: the loss sees them
    torch.manual_seed(1)
    a = net.loss({"x": x})
    torch.manual_seed(1)
    b = net.loss({"x": y})
    assert a.item() != pytest.approx(b.item())
    plain = _Net(4, GRUConfig(hidden=8))
    plain.load_state_dict(net.state_dict())
    before = torch.random.get_rng_state()
    plain.loss({"x": x})
    assert torch.equal(before, torch.random.get_rng_state())  # the plain GRU draws nothing


def test_shuffled_gru_predicts_each_window_from_its_own_seeded_permutation(springs_mini):
    task = get_task(SPRINGS)
    model = make_baseline("gru-shuffled", task, epochs=1, hidden=8)
    model.fit("mini")
    w = make_windows(task, "test", "mini")
    batch = {"features": w.features, "target_features": w.target_features}
    all7 = model.predict({**batch, "x": w.x[:7], "ids": w.ids[:7]})
    one = model.predict({**batch, "x": w.x[3:4], "ids": w.ids[3:4]})
    np.testing.assert_allclose(one[0], all7[3], rtol=1e-5, atol=1e-6)  # batch-independent
    assert all7.shape == (7, 20, 5, 4) and np.isfinite(all7).all()


def test_necessity_is_paired_and_oriented(springs_mini):
    r = temporal_necessity(SPRINGS, epochs=1, n_boot=50)
    assert r["N"] == pytest.approx(r["agnostic_value"] - r["aware_value"])  # mse: lower better
    lo, hi = r["ci95"]
    assert lo <= r["N"] <= hi and r["n_windows"] == 500
    assert (r["aware"], r["agnostic"], r["metric"]) == ("gru", "gru-shuffled", "mse")


def test_one_frame_context_and_unserved_tasks_need_no_training(tmp_path):
    out = tmp_path / "n.json"
    data = compute_necessity([NBODY, "traffic/metr-la-forecast"], command="test", path=out)
    assert data["tasks"][NBODY]["N"] == 0.0 and "by construction" in data["tasks"][NBODY]["note"]
    assert "does not serve" in data["not_computed"]["traffic/metr-la-forecast"]
    assert json.loads(out.read_text())["command"] == "test"
    assert read_necessity(NBODY, out)["status"] == "computed"
    assert "does not serve" in read_necessity("traffic/metr-la-forecast", out)["reason"]
    assert read_necessity(SPRINGS, tmp_path / "absent.json")["status"] == "not computed"


def test_committed_values_are_shown_by_describe():
    data = json.loads(NECESSITY_FILE.read_text())
    for name, rec in data["tasks"].items():
        assert get_task(name).name == name and rec["tier"] == "mini"
        assert {"N", "ci95", "metric", "aware", "agnostic"} <= set(rec)
    text = format_describe(describe(SPRINGS))
    assert "temporal necessity N" in text
    n = read_necessity(SPRINGS)
    if n["status"] == "computed":
        assert "(gru vs gru-shuffled: the GRU on shuffled inputs, mini, cpu budget)" in text
    else:
        assert "not computed" in text
