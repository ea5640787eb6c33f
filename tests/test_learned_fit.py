"""The one fit(): checkpoints as state dicts, resume, the training record, budgets (CPU, tiny)."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from decathlon.baselines.checkpoint import load_checkpoint  # noqa: E402
from decathlon.baselines.fit import FitConfig, fit  # noqa: E402
from decathlon.baselines.learned import make_learned  # noqa: E402
from decathlon.benchmark.baselines import BASELINES, budget_tier, make_baseline  # noqa: E402
from decathlon.benchmark.tasks import get_task  # noqa: E402
from decathlon.benchmark.windows import Windows  # noqa: E402


class Small(torch.nn.Module):
    """A two-layer net with dropout: its training uses torch's random numbers too."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 1)
        )

    def loss(self, batch):
        return ((self.net(batch["x"][:, 0, 0]) - batch["y"][:, 0, 0]) ** 2).mean()


class Interrupted(Exception):
    pass


def stopping(module, at_batch):
    """``module`` whose training loss raises at call ``at_batch`` (a stand-in for Ctrl-C or a
    killed job); its class, hence the run, stays the same."""
    calls, loss = [0], module.loss

    def interrupted(batch):
        if module.training:
            calls[0] += 1
            if calls[0] == at_batch:
                raise Interrupted
        return loss(batch)

    module.loss = interrupted
    return module


def toy(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1, 1, 3)).astype(np.float32)
    y = np.sin(x.sum(-1, keepdims=True)).astype(np.float32)
    return Windows(np.arange(n), x, y, np.arange(n), np.zeros(n), ["a", "b", "c"], ["y"])


def cfg(tmp_path=None, **kw):
    base = dict(epochs=6, batch_size=32, lr=1e-2, patience=100, device="cpu")
    if tmp_path is not None:
        base["checkpoint"] = str(tmp_path / "run.pt")
    return FitConfig(**{**base, **kw})


def weights(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def test_loss_decreases_and_record_is_complete():
    torch.manual_seed(0)
    h = fit(Small(), toy(256, 0), toy(64, 1), cfg())
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert h["epochs"] == 6 and h["seed"] == 0 and h["budget"] == "cpu" and h["device"] == "cpu"
    assert h["n_parameters"] == 3 * 16 + 16 + 16 + 1
    assert h["samples_per_s"] > 0 and h["seconds"] >= h["train_s"] > 0
    assert len(h["epoch_s"]) == 6 and abs(sum(h["epoch_s"]) - h["train_s"]) < 1e-9
    assert h["valid_loss"][h["best_epoch"]] == min(h["valid_loss"])


def test_checkpoint_is_state_dicts_only_and_round_trips(tmp_path):
    torch.manual_seed(0)
    m = Small()
    fit(m, toy(128, 0), toy(32, 1), cfg(tmp_path, epochs=2))
    state = torch.load(tmp_path / "run.pt", weights_only=True)  # refuses any pickled object
    assert set(state["model"]) == set(m.state_dict())
    fresh = Small()
    fresh.load_state_dict(state["model"])
    last = fresh.state_dict()
    assert all(torch.equal(last[k], v) for k, v in state["model"].items())
    assert len(state["hist"]["train_loss"]) == 2 and not list(tmp_path.glob(".*.tmp"))


def test_resume_after_interruption_continues_the_same_run(tmp_path):
    torch.manual_seed(0)
    whole = Small()
    h_whole = fit(whole, toy(128, 0), toy(32, 1), cfg())
    torch.manual_seed(0)
    broken = stopping(Small(), at_batch=4 * 3 + 2)  # 4 batches an epoch: dies in epoch 3
    with pytest.raises(Interrupted):
        fit(broken, toy(128, 0), toy(32, 1), cfg(tmp_path))
    again = Small()
    again.load_state_dict(broken.state_dict())  # a new process: the weights are not these
    with torch.no_grad():
        for p in again.parameters():
            p.add_(1.0)
    h = fit(again, toy(128, 0), toy(32, 1), cfg(tmp_path))
    assert h["resumed_from"] == 3 and h["epochs"] == 6
    assert h["train_loss"] == h_whole["train_loss"] and h["valid_loss"] == h_whole["valid_loss"]
    assert torch.equal(weights(again), weights(whole))


def test_step_schedule_sets_each_epochs_rate_and_resumes_it(tmp_path, monkeypatch):
    seen, adam_step = [], torch.optim.Adam.step

    def step(self, *a, **k):  # the rate every optimizer step uses
        seen.append(self.param_groups[0]["lr"])
        return adam_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    fit(Small(), toy(64, 0), toy(16, 1), cfg(epochs=5, lr=0.1, lr_decay=2, lr_gamma=0.5))
    monkeypatch.undo()
    assert seen == [0.1] * 4 + [0.05] * 4 + [0.025] * 2  # 2 batches an epoch
    # an interrupted scheduled run resumes into the same run as an uninterrupted one
    torch.manual_seed(0)
    whole = Small()
    fit(whole, toy(128, 0), toy(32, 1), cfg(lr_decay=2))
    torch.manual_seed(0)
    broken = stopping(Small(), at_batch=4 * 3 + 2)
    with pytest.raises(Interrupted):
        fit(broken, toy(128, 0), toy(32, 1), cfg(tmp_path, lr_decay=2))
    again = Small()
    h = fit(again, toy(128, 0), toy(32, 1), cfg(tmp_path, lr_decay=2))
    assert h["resumed_from"] == 3 and torch.equal(weights(again), weights(whole))
    # without a schedule the run's fingerprint keys are those from before the schedule existed
    assert "lr_decay" not in cfg().run_settings() and "lr_decay" in cfg(lr_decay=2).run_settings()


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    fit(Small(), toy(64, 0), toy(16, 1), cfg(tmp_path, epochs=1))
    with pytest.raises(ValueError, match="belongs to another run"):
        fit(Small(), toy(64, 0), toy(16, 1), cfg(tmp_path, epochs=2, lr=0.5))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="delete it"):
        load_checkpoint(tmp_path / "junk.pt", "x")


def test_early_stopping_is_kept_on_resume(tmp_path):
    torch.manual_seed(0)
    h = fit(Small(), toy(64, 0), toy(16, 1), cfg(tmp_path, epochs=40, lr=0.0, patience=1))
    assert h["epochs"] == 2  # no better validation loss after the first epoch
    h2 = fit(Small(), toy(64, 0), toy(16, 1), cfg(tmp_path, epochs=80, lr=0.0, patience=1))
    assert h2["epochs"] == 2 and h2["resumed_from"] == 2


def test_non_finite_loss_names_the_fix():
    bad = toy(64, 0)
    bad.y[3] = np.nan
    with pytest.raises(ValueError, match="training loss became nan at epoch 0; lower the lear"):
        fit(Small(), bad, toy(16, 1), cfg())


def test_budgets_are_registered_and_checked():
    assert budget_tier("paper") == "full"
    with pytest.raises(ValueError, match="unknown training budget 'huge'; expected one of cpu"):
        budget_tier("huge")
    for name in ("gru", "attention", "attention-nopos", "egnn"):
        assert BASELINES.get(name).learned and BASELINES.get(name).budgets == ("cpu", "paper")
    task = get_task("particles/springs-forecast")
    paper = make_baseline("attention", task, budget="paper")
    assert paper.fit_config.budget == "paper" and paper.fit_config.epochs == 200
    assert paper.fit_config.max_minutes == 24 * 60
    assert paper.fit_config.checkpoint.endswith("paper-full-seed0.pt")
    assert "checkpoints/attention/particles--springs-forecast" in paper.fit_config.checkpoint
    cpu = make_baseline("gru", task, epochs=3)
    assert cpu.fit_config.checkpoint is None and cpu.fit_config.epochs == 3
    assert (cpu.fit_config.batch_size, cpu.fit_config.lr) == (512, 3e-3)  # unchanged defaults
    with pytest.raises(ValueError, match="has no setting colour; model settings: hidden"):
        make_baseline("gru", task, colour="red")


def test_egnn_serves_only_particle_forecasts():
    with pytest.raises(ValueError, match="serves only the tasks particles/nbody-forecast"):
        make_baseline("egnn", get_task("mocap/cmu-walking-forecast"))


def test_config_dict_records_the_training(springs_mini):
    task = get_task("particles/springs-forecast")
    model = make_learned(
        type(make_baseline("attention", task)), _attention_config(), task, epochs=1, d_model=8
    )
    assert model.config_dict()["training"] is None
    model.fit("mini")
    rec = model.config_dict()["training"]
    assert rec["epochs"] == 1 and rec["seed"] == 0 and rec["budget"] == "cpu"
    assert rec["device"] == "cpu" and rec["n_parameters"] == model.n_parameters > 0
    assert rec["seconds"] > 0 and math.isfinite(rec["samples_per_s"])


def _attention_config():
    from decathlon.baselines.attention import AttentionConfig

    return AttentionConfig


def test_cli_budget_picks_the_tier(capsys):
    from decathlon.cli import _parser, _tier, main

    ev = ["evaluate", "--model", "egnn", "--task", "particles/nbody-forecast"]
    a = _parser().parse_args([*ev, "--budget", "paper"])
    assert (_tier(a), a.budget, a.epochs) == ("full", "paper", None)
    assert _tier(_parser().parse_args([*ev, "--budget", "paper", "--tier", "mini"])) == "mini"
    a = _parser().parse_args(["run", "--baselines", "attention"])
    assert (_tier(a), a.budget) == ("mini", "cpu")
    with pytest.raises(SystemExit) as e:
        main([*ev, "--budget", "huge"])
    assert e.value.code == 2 and "invalid choice: 'huge'" in capsys.readouterr().err
