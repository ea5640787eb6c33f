"""Kuramoto oscillators (``decathlon.datasets.kuramoto``, ``kuramoto-5``)."""

import dataclasses

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from decathlon.benchmark.contract import validate
from decathlon.benchmark.data import DATASETS, materialize, open_part
from decathlon.datasets import kuramoto as K
from decathlon.datasets import kuramoto_ode


def direct_rhs(phi, omega, c):
    """The reference's form: omega_i + sum_j C_ij sin(phi_j - phi_i)."""
    return omega + np.sum(c * np.sin(phi[..., None, :] - phi[..., :, None]), axis=-1)


def test_rhs_equals_reference_form():
    rng = np.random.default_rng(0)
    phi, omega = rng.random((50, 5)) * 100, rng.random((50, 5)) * 10
    c = rng.random((50, 5, 5)) * 3
    np.testing.assert_allclose(
        kuramoto_ode.kuramoto_rhs(phi, omega, c), direct_rhs(phi, omega, c), atol=1e-12
    )


def test_uncoupled_phases_advance_at_omega():
    p = dataclasses.replace(K.KURAMOTO, edge_prob=0.0)
    out = K.simulate(20, 99, p, 1)
    assert not out["edges"].any()
    t = out["time"]
    expected = out["phi"][:, :1] + out["omega"][:, None, :] * t[None, :, None]
    np.testing.assert_allclose(out["phi"], expected, rtol=0, atol=1e-11)
    omega_t = np.broadcast_to(out["omega"][:, None, :], out["dphi_dt"].shape)
    np.testing.assert_allclose(out["dphi_dt"], omega_t, rtol=0, atol=1e-9)
    assert np.all((out["omega"] >= 1) & (out["omega"] < 10))


def test_strong_full_coupling_synchronises():
    p = dataclasses.replace(K.KURAMOTO, edge_prob=1.0, coupling=20.0)
    out = K.simulate(50, 99, p, 2)
    np.testing.assert_array_equal(out["edges"], np.broadcast_to(1 - np.eye(5), (50, 5, 5)))
    r = K.order_parameter(out["phi"])
    assert r[:, 0].mean() < 0.7  # random initial phases
    assert r[:, -1].min() > 0.99  # phase locked
    # locked: every oscillator turns at its system's mean natural frequency
    mean_omega = out["omega"].mean(axis=1)
    np.testing.assert_allclose(
        out["dphi_dt"][:, -1], np.broadcast_to(mean_omega[:, None], (50, 5)), atol=1e-3
    )


def test_vectorized_matches_scipy_solve_ivp():
    """Our batch DOPRI5(4) at rtol = atol = 1e-10 vs scipy DOP853 at 1e-13: measured max 2e-10."""
    omega, phi0, k = K._draw(np.random.default_rng(3), K.KURAMOTO, 3)
    t_out = np.arange(0, 500) * 0.01
    ours, stats = kuramoto_ode.integrate(phi0, omega, k, t_out, 1e-10, 1e-10)
    assert stats["accepted"] >= t_out.size - 1
    for s in range(3):
        sol = solve_ivp(
            lambda t, y, s=s: direct_rhs(y, omega[s], k[s]),
            (0, t_out[-1]),
            phi0[s],
            method="DOP853",
            t_eval=t_out,
            rtol=1e-13,
            atol=1e-13,
        )
        np.testing.assert_allclose(ours[s], sol.y.T, rtol=0, atol=1e-7)


def test_simulate_matches_acd_style_reference():
    """``simulate`` vs scipy ``dopri5`` stopped at every 0.01 grid point (ACD's recipe)."""
    fast = K.simulate(3, 30, K.KURAMOTO, 4)
    ref = K.simulate_reference(3, 30, K.KURAMOTO, 4)
    np.testing.assert_array_equal(fast["edges"], ref["edges"])
    np.testing.assert_allclose(fast["phi"], ref["phi"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(fast["dphi_dt"], ref["dphi_dt"], rtol=0, atol=1e-5)


def test_edges_directed_zero_diagonal_and_convention():
    out = K.simulate(400, 20, K.KURAMOTO, 5)
    e, c = out["edges"], out["coupling"]
    np.testing.assert_array_equal(e, np.swapaxes(c, 1, 2))
    np.testing.assert_array_equal(np.diagonal(e, axis1=1, axis2=2), 0)
    assert np.any(e != np.swapaxes(e, 1, 2))  # directed
    off = e[:, ~np.eye(5, dtype=bool)]
    assert abs(off.mean() - 0.5) < 0.03  # 8000 directed pairs: sd 0.006
    # edges[s, i, j] = 1 means i drives j: an oscillator j with no incoming edge
    # (edges[s, :, j] all zero) turns at exactly its natural frequency
    no_parent = e.sum(axis=1) == 0
    assert no_parent.any() and not no_parent.all()
    dphi = out["dphi_dt"].transpose(0, 2, 1)[no_parent]
    np.testing.assert_allclose(
        dphi, np.broadcast_to(out["omega"][no_parent][:, None], dphi.shape), atol=1e-8
    )
    driven = ~no_parent
    assert (
        np.abs(out["dphi_dt"].transpose(0, 2, 1)[driven] - out["omega"][driven][:, None]).max()
        > 0.5
    )


def test_one_edge_drives_only_its_target():
    omega = np.array([[2.0, 3.0]])
    edges = np.array([[[0.0, 1.0], [0.0, 0.0]]])  # 0 -> 1
    phi, _ = kuramoto_ode.integrate(
        np.zeros((1, 2)), omega, np.swapaxes(edges, 1, 2), np.linspace(0, 2, 21)
    )
    np.testing.assert_allclose(phi[0, :, 0], 2.0 * np.linspace(0, 2, 21), atol=1e-10)
    assert np.abs(phi[0, :, 1] - 3.0 * np.linspace(0, 2, 21)).max() > 0.1


def test_undirected_option_symmetric():
    out = K.simulate(50, 5, dataclasses.replace(K.KURAMOTO, undirected=True), 6)
    np.testing.assert_array_equal(out["edges"], np.swapaxes(out["edges"], 1, 2))


def test_reproducible_bytes_and_seed_sensitivity():
    a = K.simulate(30, 20, K.KURAMOTO, 7)
    b = K.simulate(30, 20, K.KURAMOTO, 7)
    c = K.simulate(30, 20, K.KURAMOTO, 8)
    for key in ("phi", "dphi_dt", "omega", "edges"):
        assert a[key].tobytes() == b[key].tobytes()
    assert a["phi"].tobytes() != c["phi"].tobytes()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(t_out=np.array([0.0, 0.0])), "strictly increasing"),
        (dict(omega=np.zeros((1, 3))), "expects phi0 and omega"),
        (dict(rtol=0.0), "positive"),
    ],
)
def test_integrate_rejects_bad_input(kwargs, match):
    args = dict(
        phi0=np.zeros((1, 2)),
        omega=np.ones((1, 2)),
        coupling=np.zeros((1, 2, 2)),
        t_out=np.array([0.0, 1.0]),
    )
    with pytest.raises(ValueError, match=match):
        kuramoto_ode.integrate(**(args | kwargs))


def test_mini_tier_prepares_valid_stores(monkeypatch, tmp_path):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    spec = DATASETS.get("kuramoto-5")
    assert spec.seed == 42
    assert spec.tiers["full"] == {"train": 50000, "valid": 10000, "test": 10000}
    materialize("kuramoto-5", "mini")
    for part, n, frames in [("train", 2000, 49), ("valid", 500, 49), ("test", 500, 99)]:
        ds = open_part("kuramoto-5", "mini", part)
        validate(ds)
        assert ds["pos"].shape == (n, frames, 5, 2)
        assert list(ds["feature"].values) == K.FEATURES
        assert list(ds["entity_feature"].values) == ["omega"]
        np.testing.assert_allclose(ds["time"].values, np.arange(frames) * 0.1, atol=1e-12)
    ds = open_part("kuramoto-5", "mini", "valid", verify=True)
    st = ds["state"].values
    np.testing.assert_allclose(np.hypot(*np.moveaxis(ds["pos"].values, -1, 0)), 1, atol=1e-6)
    np.testing.assert_allclose(st[..., 1], np.sin(st[..., 2]), atol=1e-4)  # float32 phase up to ~60
    np.testing.assert_array_equal(st[:, 0, :, 3], ds["entity_features"].values[..., 0])
    assert ds.attrs["edge_convention"].startswith("edges[s, i, j] = 1 iff oscillator i drives")


# ------------------------------------------------------- data version 2: portable sine and cosine
@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4, 1e6])
def test_portable_sincos_within_two_ulp_of_libm(scale):
    """:func:`sincos_portable` against numpy's (the platform libm's) ``sin`` and ``cos`` on
    10^5 arguments in ``[-scale, scale]``, with the exact points 0 and the quadrant edges."""
    x = np.random.default_rng(int(scale)).uniform(-scale, scale, 100_000)
    x = np.concatenate([x, [0.0, -0.0, np.pi / 4, np.pi / 2, -np.pi, 3 * np.pi / 4]])
    s, c = kuramoto_ode.sincos_portable(x)
    for got, want in ((s, np.sin(x)), (c, np.cos(x))):
        ulps = np.abs(got - want) / np.spacing(np.maximum(np.abs(want), 1e-300))
        assert ulps[np.abs(want) > 1e-12].max() <= 2.0
        assert np.abs(got - want).max() <= 3e-16
    assert s[-6] == 0.0 and c[-6] == 1.0 and s[-3] == 1.0


def test_portable_sincos_quadrants_and_symmetry():
    """Odd sine, even cosine and the quarter-turn identities, exactly where the reduction
    is exact (a whole number of quarter turns away from ``r`` in ``[-pi/4, pi/4]``)."""
    r = np.linspace(-0.7, 0.7, 101)
    s, c = kuramoto_ode.sincos_portable(r)
    sn, cn = kuramoto_ode.sincos_portable(-r)
    np.testing.assert_array_equal(sn, -s)
    np.testing.assert_array_equal(cn, c)
    assert ((s**2 + c**2) - 1.0).__abs__().max() < 5e-16


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "plain-python"])
def test_compiled_step_has_the_same_bits_as_numpy(monkeypatch, compiled):
    """The integrator's three loops, compiled by numba and run as plain Python, give the numpy
    passes' bits on a whole simulation, rejected steps included."""
    loops = (kuramoto_ode._stage_loop, kuramoto_ode._rhs_loop, kuramoto_ode._error_loop)
    kernels = kuramoto_ode._kuramoto_kernels() if compiled else loops
    if kernels is None:
        pytest.skip("numba (the fast extra) is not installed")
    rng = np.random.default_rng(7)
    phi0, omega = rng.uniform(0, 2 * np.pi, (6, 5)), rng.uniform(1, 10, (6, 5))
    coupling = 2.0 * (rng.random((6, 5, 5)) < 0.5)
    t = np.arange(12) * 0.1
    monkeypatch.setattr(kuramoto_ode, "_kuramoto_kernels", lambda: kernels)
    fast, fast_stats = kuramoto_ode.integrate(phi0, omega, coupling, t, h0=0.5)
    monkeypatch.setattr(kuramoto_ode, "_kuramoto_kernels", lambda: None)
    slow, slow_stats = kuramoto_ode.integrate(phi0, omega, coupling, t, h0=0.5)
    np.testing.assert_array_equal(fast, slow)
    assert fast_stats == slow_stats and slow_stats["rejected"] > 0
