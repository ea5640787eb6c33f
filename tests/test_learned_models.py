"""The attention forecasters and EGNN at tiny sizes on the CPU: order-blindness, equivariance,
training through the one fit(), predictions of the task's shape."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from decathlon.baselines.attention import AttentionConfig, _Net, geometry  # noqa: E402
from decathlon.baselines.egnn import EGNN, EGNNConfig  # noqa: E402
from decathlon.benchmark.baselines import make_baseline  # noqa: E402
from decathlon.benchmark.context import EvalConfig, prepare  # noqa: E402
from decathlon.benchmark.evaluate import evaluate  # noqa: E402
from decathlon.benchmark.results import validate_result  # noqa: E402
from decathlon.benchmark.tasks import get_task  # noqa: E402
from decathlon.benchmark.windows import make_windows  # noqa: E402


def attention_net(positional, seed=0):
    torch.manual_seed(seed)
    cfg = AttentionConfig(d_model=16, heads=2, layers=2, ff=32, positional=positional)
    net = _Net(n_feat=4, n_const=1, chunk=3, max_back=11, cfg=cfg)
    net.train(False)  # inference mode
    return net


def inputs(seed=0, b=6, t=12, n=5, f=4):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, n, f, generator=g)
    mask = torch.rand(b, t, n, generator=g) > 0.2
    return x, mask, torch.randn(b, n, 1, generator=g)


@pytest.mark.parametrize("use_mask", [False, True])
def test_order_blind_attention_ignores_frame_order(use_mask):
    x, mask, c = inputs()
    m = mask if use_mask else None
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(1))
    blind, timed = attention_net(False), attention_net(True)
    with torch.no_grad():
        for net, blind_to_order in ((blind, True), (timed, False)):
            y = net(x, m, c)
            shuffled = net(x[:, perm], None if m is None else m[:, perm], c)
            flipped = net(x.flip(1), None if m is None else m.flip(1), c)
            gap = max((shuffled - y).abs().max().item(), (flipped - y).abs().max().item())
            if blind_to_order:
                assert gap < 1e-5 * y.abs().max().item()  # float round-off
            else:
                assert gap > 1e-2  # positions make the same frames in another order differ


def test_attention_is_entity_permutation_equivariant():
    x, mask, c = inputs()
    perm = torch.tensor([3, 0, 4, 1, 2])
    net = attention_net(True)
    with torch.no_grad():
        y = net(x, mask, c)
        yp = net(x[:, :, perm], mask[:, :, perm], c[:, perm])
    assert torch.allclose(yp, y[:, :, perm], atol=1e-5)


def test_geometry_of_training_windows():
    assert geometry(49, 20, 49) == (29, 20) and geometry(50, 48, 50) == (25, 25)
    assert geometry(49, 20, 49, chunk=5) == (44, 5)


def random_rotation(dim, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    q = q * np.sign(np.diag(r))
    return torch.as_tensor(q, dtype=torch.float32)


@pytest.mark.parametrize("dim,reflect", [(3, False), (3, True), (2, False)])
def test_egnn_is_e_n_equivariant(dim, reflect):
    torch.manual_seed(0)
    net = EGNN(EGNNConfig(hidden=16, layers=3), n_edge=2, velocities=True)
    g = torch.Generator().manual_seed(2)
    x, v = torch.randn(4, 5, dim, generator=g), torch.randn(4, 5, dim, generator=g)
    q = torch.sign(torch.randn(4, 5, generator=g))
    rot = random_rotation(dim, 3)
    if reflect:
        rot[:, 0] = -rot[:, 0]
    shift, perm = torch.randn(dim, generator=g), torch.tensor([2, 4, 0, 1, 3])
    with torch.no_grad():
        px, pv = net(x, v, q)
        gx, gv = net((x @ rot.T + shift)[:, perm], (v @ rot.T)[:, perm], q[:, perm])
    scale = px.abs().max().item()
    assert (gx - (px @ rot.T + shift)[:, perm]).abs().max().item() < 1e-5 * scale
    assert (gv - (pv @ rot.T)[:, perm]).abs().max().item() < 1e-5 * pv.abs().max().item()


def test_egnn_nbody_trains_and_its_equivariance_probe_is_round_off():
    task = get_task("particles/nbody-forecast")
    model = make_baseline("egnn", task, epochs=2, hidden=8, layers=2, stride=8)
    hist = model.fit("mini")
    assert hist["train_loss"][1] < hist["train_loss"][0]
    r = evaluate(model, prepare(task), EvalConfig(n_boot=10))
    validate_result(r)
    training = r["model"]["config"]["training"]
    assert training["epochs"] == 2 and training["budget"] == "cpu" and training["seed"] == 0
    assert set(r["equivariance"]) == {"rotate", "translate", "permute"}
    for g, e in r["equivariance"].items():
        assert e["relative"] < 1e-10, (g, e)  # squared error relative to the output's square


@pytest.mark.parametrize("name", ["attention", "attention-nopos", "egnn"])
def test_forecasters_train_and_predict_the_task_shape(name, springs_mini):
    task = get_task("particles/springs-forecast")
    tiny = {"d_model": 8, "ff": 16, "heads": 2, "layers": 1} if "attention" in name else {}
    if name == "egnn":
        tiny = {"hidden": 8, "layers": 2, "stride": 16}
    model = make_baseline(name, task, epochs=2, **tiny)
    with pytest.raises(RuntimeError, match="call fit"):
        model.predict({})
    hist = model.fit("mini")
    assert hist["train_loss"][1] < hist["train_loss"][0]
    w = make_windows(task, "test", "mini")
    batch = {"x": w.x[:7], "features": w.features, "target_features": w.target_features}
    out = model.predict(batch)
    assert out.shape == (7, 20, 5, 4) and np.isfinite(out).all()
    if name == "attention-nopos":  # the shuffled context gives the same forecast
        perm = np.random.default_rng(0).permutation(w.x.shape[1])
        again = model.predict({**batch, "x": w.x[:7][:, perm]})
        assert np.abs(again - out).max() < 1e-5 * np.abs(out).max()


@pytest.mark.parametrize("task_name", ["particles/springs-graph", "particles/springs-forecast"])
def test_nri_trains_and_predicts_both_kinds(task_name, springs_mini):
    task = get_task(task_name)
    model = make_baseline("nri", task, epochs=2, hidden=16)
    hist = model.fit("mini")
    assert hist["train_loss"][1] < hist["train_loss"][0]
    w = make_windows(task, "test", "mini")
    batch = {"x": w.x[:7], "features": w.features, "target_features": w.target_features}
    out = model.predict(batch)
    if task.kind == "graph":  # edge type chosen on the valid split, probabilities on test
        assert hist["edge_type"] in (0, 1) and 0 <= hist["valid_edge_accuracy"] <= 1
        assert out.shape == (7, 5, 5) and ((out >= 0) & (out <= 1)).all()
        assert (np.diagonal(out, axis1=1, axis2=2) == 0).all()
    else:
        assert out.shape == (7, 20, 5, 4) and np.isfinite(out).all()


def test_nri_encoder_is_permutation_equivariant():
    from decathlon.baselines.nri import NRIConfig
    from decathlon.baselines.nri import _Net as NRINet

    torch.manual_seed(0)
    net = NRINet(5, 6, 4, NRIConfig(hidden=16))
    net.train(False)
    x = torch.randn(3, 6, 5, 4)
    perm = torch.tensor([2, 0, 4, 1, 3])
    with torch.no_grad():
        a = net.logits(x).reshape(3, 5, 4, 2)  # pairs in row order, diagonal left out
        b = net.logits(x[:, :, perm])
    dense = torch.zeros(3, 5, 5, 2)
    dense[:, net.graph.send, net.graph.recv] = net.logits(x).detach()
    moved = dense[:, perm][:, :, perm][:, net.graph.send, net.graph.recv]
    assert a.shape == (3, 5, 4, 2) and torch.allclose(b, moved, atol=1e-5)
