"""Temporal causal discovery: Lorenz-96 and VAR simulators, graph metrics, baselines, and the
reversal probe against the transposed graph (``decathlon.datasets.causal``, protocols §8)."""

import dataclasses

import numpy as np
import pytest

from decathlon.benchmark import metrics
from decathlon.benchmark.baselines import make_baseline
from decathlon.benchmark.context import prepare
from decathlon.benchmark.contract import validate
from decathlon.benchmark.data import DATASETS, open_part
from decathlon.benchmark.evaluate import EvalConfig, evaluate
from decathlon.benchmark.ranking import average_precision, row_auroc, row_average_precision
from decathlon.benchmark.tasks import get_task
from decathlon.datasets import causal as C
from decathlon.datasets import causal_var as V

OFF = ~np.eye(20, dtype=bool)


def test_rhs_equals_the_loop_form():
    x = np.random.default_rng(0).normal(size=(3, 7))
    want = [
        [
            (x[s, (i + 1) % 7] - x[s, (i - 2) % 7]) * x[s, (i - 1) % 7] - x[s, i] + 10
            for i in range(7)
        ]
        for s in range(3)
    ]
    np.testing.assert_allclose(C.lorenz96_rhs(x, 10.0), want, atol=1e-12)


@pytest.mark.parametrize("forcing, frames, tol", [(10.0, 20, 5e-4), (40.0, 5, 5e-5)])
def test_lorenz96_rk4_matches_odeint(forcing, frames, tol):
    """RK4 (20 substeps per frame) against odeint at tight tolerances, from the same start, on
    one dataset: measured max deviation 1.0e-4 after 2 time units (F = 10) and 4.9e-6 after 0.5
    (F = 40; chaos amplifies any integration error, odeint's own default tolerances deviate
    4.2e-6 and 2.8e-5 there). Past that both are different samples of the same attractor."""
    p = C.L96Params(forcing=forcing, frames=frames + 1, burn_in=0)
    fast = C.simulate_l96([[5, 0]], p)["clean"]
    tight = C.simulate_l96_reference([[5, 0]], p, rtol=1e-12, atol=1e-12)["clean"]
    default = C.simulate_l96_reference([[5, 0]], p)["clean"]
    dev = np.abs(fast - tight).max()
    assert dev < tol
    assert dev < 10 * np.abs(default - tight).max()  # as close as the reference's own odeint


@pytest.mark.parametrize("burn_in", [0, 4])
def test_the_lorenz96_loop_gives_the_numpy_bits(burn_in):
    """_l96_loop (what numba compiles), run as plain Python, against the numpy RK4 loop."""
    pr = C.L96Params(p=6, frames=5, burn_in=burn_in, substeps=3, forcing=40.0)
    x0 = np.random.default_rng(1).normal(0.0, 1.0, (3, pr.p))
    want = C._l96_numpy(x0, pr.dt / pr.substeps, pr.forcing, pr)
    got = np.full((3, pr.frames, pr.p), np.nan)
    x = np.ascontiguousarray(x0.T)
    C._l96_loop(x, pr.dt / pr.substeps, pr.forcing, pr.substeps, pr.burn_in, pr.frames, got)
    assert got.tobytes() == want.tobytes()


def test_the_numba_lorenz96_kernel_gives_the_same_datasets(monkeypatch):
    """With the fast extra, simulate_l96 compiled and in numpy: the same bytes (chaotic F = 40
    over 300 frames, where any different rounding would show)."""
    pytest.importorskip("numba", reason="numba (the fast extra) is not installed")
    assert C._l96_kernel() is not None
    for burn_in in (0, 50):
        pr = C.L96Params(frames=300, burn_in=burn_in, forcing=40.0)
        compiled = C.simulate_l96(5, pr)
        with monkeypatch.context() as m:
            m.setattr(C, "_l96_kernel", lambda: None)
            plain = C.simulate_l96(5, pr)
        for k in ("x", "clean", "graph"):
            assert compiled[k].tobytes() == plain[k].tobytes(), k


def test_lorenz96_graph_and_noise():
    out = C.simulate_l96(3, C.L96Params(frames=50, burn_in=20))
    g = out["graph"][0, :, :, 0]
    assert (g.sum(0) == 4).all() and (np.diag(g) == 1).all()
    for j in range(20):  # parents of x_j: j-2, j-1, j, j+1
        assert set(np.flatnonzero(g[:, j])) == {(j + d) % 20 for d in (-2, -1, 0, 1)}
    assert abs((out["x"] - out["clean"]).std() - 0.1) < 0.01
    assert not np.allclose(out["x"][0], out["x"][1])  # independent datasets


def test_var_stable_sparse_and_equal_to_reference():
    pr = C.VARParams(frames=200)
    out = C.simulate_var(6, pr)
    for s in range(6):
        assert C.companion_radius(out["coef"][s]) <= 0.97
        assert C.companion_radius(out["coef"][s] / 0.95) > 0.97  # scaled no more than needed
        g = out["graph"][s]
        assert (g == g[..., :1]).all()  # every lag has the same pattern
        assert (np.diag(g[..., 0]) == 1).all()  # self-lags on
        assert ((g[..., 0] * OFF).sum(0) == int(20 * 0.2) - 1).all()  # 3 other parents each
    ref = C.simulate_var_reference(2, pr)
    np.testing.assert_allclose(out["x"][:2], ref["x"], atol=1e-12)


VAR_VARIANTS = [
    C.VARParams(),
    C.VARParams(p=10, sparsity=0.5),
    C.VARParams(p=7, sparsity=0.3, lag=2),
    C.VARParams(p=12, sparsity=0.1, beta=-0.7),
]


@pytest.mark.parametrize("pr", VAR_VARIANTS, ids=lambda pr: f"p{pr.p}-s{pr.sparsity}-lag{pr.lag}")
def test_var_patterns_draw_exactly_as_choice(pr):
    """The vectorized patterns (one ``integers`` call per dataset) equal the per-row
    ``rng.choice`` ones and leave every generator in the same state (numpy's internals)."""
    seeds = [[3, 1, k] for k in range(40)]
    fast_rngs, loop_rngs = C._rngs(seeds), C._rngs(seeds)
    fast = V.var_patterns(fast_rngs, pr)
    loop = np.stack([V.var_pattern(r, pr) for r in loop_rngs])
    np.testing.assert_array_equal(fast, loop)
    for f, g in zip(fast_rngs, loop_rngs, strict=True):
        assert f.bit_generator.state == g.bit_generator.state


@pytest.mark.parametrize("pr", VAR_VARIANTS, ids=lambda pr: f"p{pr.p}-s{pr.sparsity}-lag{pr.lag}")
def test_var_scaling_equals_the_reference_loop(pr):
    """The screened, batched scale search finds the reference's shrink count for each dataset
    (the reference multiplies ``shrink`` in repeatedly, hence equal to round-off only)."""
    a = V.var_patterns(C._rngs([[4, 0, k] for k in range(12)]), pr)
    coef = V.stable_coef(a, pr)
    want = np.stack([V.stable_coef_reference(x, pr) for x in a])
    np.testing.assert_allclose(coef, want, rtol=1e-12)
    assert coef.shape == (12, pr.lag, pr.p, pr.p)


@pytest.mark.parametrize(
    "pr", [*VAR_VARIANTS, C.VARParams(p=5, sparsity=0.2)], ids=lambda pr: f"p{pr.p}-lag{pr.lag}"
)
def test_var_recursion_has_the_same_bits_from_numba_numpy_and_python(pr, monkeypatch):
    """The recursion's numba kernel, its numpy passes and its loop run as plain Python give
    the same bits (the fixed order that makes a store portable), and equal the process written
    as ``sum_l A_l x_{t-l}`` to round-off (one parent per row included: p=5, sparsity 0.2)."""
    pr = dataclasses.replace(pr, frames=40, burn_in=10)
    coef, noise = C._var_draws(C._rngs(5), pr)
    a = coef[:, 0]
    compiled = V.var_recursion(a, noise.copy(), pr.lag)  # numba's loop when it is installed
    python = noise.copy()
    V.var_loop(*V.var_parents(a), python, pr.lag, np.empty(pr.p))
    monkeypatch.setattr(V, "_var_kernel", lambda: None)
    passes = V.var_recursion(a, noise.copy(), pr.lag)
    np.testing.assert_array_equal(compiled, python)
    np.testing.assert_array_equal(passes, python)
    want = noise.copy()
    for t in range(pr.lag, want.shape[1]):
        want[:, t] += sum(
            np.einsum("nij,nj->ni", coef[:, k], want[:, t - k - 1]) for k in range(pr.lag)
        )
    np.testing.assert_allclose(passes, want, rtol=1e-12, atol=1e-14)
    assert not np.array_equal(passes, noise)  # the recursion ran


def test_var_parents_lists_nonzero_columns_in_order_and_pads_with_zeros():
    a = np.array([[[0.0, 2.0, 3.0], [0.0, 0.0, 0.0], [4.0, 0.0, 0.0]]])
    idx, val = V.var_parents(a)
    assert idx.tolist() == [[[1, 2], [0, 0], [0, 0]]]
    assert val.tolist() == [[[2.0, 3.0], [0.0, 0.0], [4.0, 0.0]]]


def test_var_sparsity_out_of_range_is_refused():
    with pytest.raises(ValueError, match="other parents"):
        V.var_patterns(C._rngs(1), C.VARParams(p=5, sparsity=0.1))


def test_offdiagonal_auroc_hand_computed():
    truth = np.array([[[1, 1, 0], [0, 1, 0], [1, 0, 1]]])  # edges 0->1, 2->0; diagonal true
    s = np.array([[[0.0, 0.9, 0.2], [0.4, 0.0, 0.3], [0.5, 0.1, 0.0]]])
    st = metrics.graph_stats(s, truth)
    # positives 0.9, 0.5; negatives 0.2, 0.4, 0.3, 0.1: 0.9 beats 4, 0.5 beats 4 -> 8/8
    assert metrics.metric_value("auroc_mean", st)[0] == 1.0
    s2 = s.copy()
    s2[0, 1, 0] = 0.95  # the negative 1->0 above both positives: 6/8
    assert metrics.metric_value("auroc_mean", metrics.graph_stats(s2, truth))[0] == 0.75
    s3 = s2 + np.eye(3) * 0.99  # the diagonal is ignored
    assert metrics.metric_value("auroc_mean", metrics.graph_stats(s3, truth))[0] == 0.75


def test_shd_reversed_edge_costs_one_as_enco():
    truth = np.zeros((1, 3, 3))
    truth[0, 0, 1] = 1
    rev = np.zeros((1, 3, 3))
    rev[0, 1, 0] = 1
    both = rev.copy()
    both[0, 0, 1] = 1
    assert metrics.shd(rev, truth).tolist() == [1.0]  # ENCO: reversed edge 1
    assert metrics.shd(both, truth).tolist() == [1.0]  # ENCO: bidirected for one true edge 1


def test_row_metrics_equal_pooled_ones_per_row():
    rng = np.random.default_rng(1)
    s = np.round(rng.random((5, 30)), 1)  # ties
    y = rng.random((5, 30)) < 0.3
    for k in range(5):
        assert row_average_precision(s[k : k + 1], y[k : k + 1])[0] == pytest.approx(
            average_precision(s[k], y[k])
        )
        assert row_auroc(s[k : k + 1], y[k : k + 1])[0] == pytest.approx(metrics.auroc(s[k], y[k]))


@pytest.mark.parametrize("which", ["var", "l96"])
def test_ridge_granger_clearly_above_chance(which):
    if which == "var":
        out = C.simulate_var(4, C.VARParams(frames=500))
    else:
        out = C.simulate_l96(4, C.L96Params(frames=500, burn_in=200))
    task = get_task("causal/var-lag3")
    pred = make_baseline("granger-ridge", task).predict({"x": out["x"][..., None]})
    y = out["graph"].max(-1)
    assert row_auroc(pred[:, OFF], y[:, OFF]).mean() > 0.85  # measured 0.90 (VAR), 0.97 (L96)


@pytest.fixture
def tiny_var(monkeypatch, tmp_path):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    spec = dataclasses.replace(
        DATASETS.get("causal-var"), tiers={"mini": {"train": 3, "valid": 2, "test": 6}}
    )
    with DATASETS.override("causal-var", spec):
        yield spec


def test_store_and_reversal_against_transposed_graph(tiny_var):
    task = get_task("causal/var-lag3")
    pt = prepare(task)
    ds = open_part("causal-var", "mini", "test")
    validate(ds)
    assert ds["graph"].dims == ("sample", "variable", "variable_", "lag")
    assert pt.windows.x.shape == (6, 1000, 20, 1)
    r = evaluate(make_baseline("xcorr", task), pt, EvalConfig(n_boot=20))
    rev, rev_t = r["probes"]["reversal"], r["probes"]["reversal_transposed"]
    # lag-1 cross-correlation of the reversed series is exactly the transposed one
    assert rev_t["value"] == pytest.approx(r["metrics"]["auroc_mean"]["value"])
    assert rev["value"] < rev_t["value"] - 0.1
    assert "off-diagonal" in r["metric_variant"]
