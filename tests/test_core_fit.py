"""The shared fit() and the GRU baseline (torch, CPU)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from decathlon.baselines.fit import FitConfig, fit  # noqa: E402
from decathlon.benchmark.baselines import make_baseline  # noqa: E402
from decathlon.benchmark.tasks import get_task  # noqa: E402
from decathlon.benchmark.windows import Windows, make_windows  # noqa: E402


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def loss(self, batch):
        return ((batch["x"] * self.w - batch["y"]) ** 2).mean()


def toy(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 1, 1)).astype(np.float32)
    return Windows(np.arange(n), x, 3 * x, np.arange(n), np.zeros(n), ["a"], [])


def test_fit_learns_and_restores_best():
    m = Linear()
    h = fit(m, toy(256, 0), toy(64, 1), FitConfig(epochs=200, lr=0.1, patience=200, batch_size=64))
    assert m.w.item() == pytest.approx(3.0, abs=1e-2)
    assert h["device"] in ("cpu", "cuda:0", "cuda")
    assert h["valid_loss"][h["best_epoch"]] <= min(h["valid_loss"]) + 1e-9


def test_fit_refuses_empty():
    with pytest.raises(ValueError, match="needs training and validation windows"):
        fit(Linear(), toy(0, 0), toy(4, 1), FitConfig())


def test_gru_trains_and_predicts(springs_mini):
    task = get_task("particles/springs-forecast")
    model = make_baseline("gru", task, epochs=2, hidden=16)
    with pytest.raises(RuntimeError, match="call fit"):
        model.predict({})
    hist = model.fit("mini")
    assert len(hist["train_loss"]) == 2 and hist["train_loss"][1] < hist["train_loss"][0]
    w = make_windows(task, "test", "mini")
    out = model.predict(
        {
            "ids": w.ids[:7],
            "x": w.x[:7],
            "features": w.features,
            "target_features": w.target_features,
        }
    )
    assert out.shape == (7, 20, 5, 4) and np.isfinite(out).all()
    assert model.n_parameters > 0


def test_gru_refuses_graph_task():
    with pytest.raises(ValueError, match="serves \\['forecast'\\] tasks"):
        make_baseline("gru", get_task("particles/springs-graph"))
