"""Swarms: Vicsek and D'Orsogna physics, seeding, the reference loops, the regress kind and its
metrics, the baselines."""

import numpy as np
import pytest

from decathlon.benchmark.evaluate import check_prediction
from decathlon.benchmark.metrics import get_metric, metric_value
from decathlon.benchmark.regression import r2, regress_stats
from decathlon.benchmark.tasks import get_task
from decathlon.benchmark.windows import Windows
from decathlon.datasets import swarms_kernels as K
from decathlon.datasets.swarms import (
    DORSOGNA,
    VICSEK,
    polarization,
    simulate_dorsogna,
    simulate_vicsek,
)
from decathlon.datasets.swarms_reference import (
    simulate_dorsogna_reference,
    simulate_vicsek_reference,
)

N = 50


# ---------------------------------------------------------------------------------- physics
def test_vicsek_polarization_goes_to_one_without_noise():
    """Zero noise, every particle within the alignment radius (box 5, radius 5): the headings
    align from a random start (polarization about 1/sqrt(N)) to polarization 1."""
    _, vel, _ = simulate_vicsek(1, 2, n_particles=N, params=np.array([5.0, 0.5, 0.0, 5.0]), box=5.0)
    pol = polarization(vel)
    assert (pol[:, 0] < 0.5).all()
    assert (pol[:, -1] > 0.999).all()


def test_vicsek_polarization_is_of_order_one_over_sqrt_n_at_maximal_noise():
    """Maximal noise (sigma = 2) against the weakest alignment (nu = 0.5), every particle seeing
    every other: the mean-field order is only L(nu / sigma) = coth(1/4) - 4 = 0.083 (the Langevin
    function of the von Mises-Fisher equilibrium), so the polarization over the last half is
    within a factor 2 of E|mean of N random unit vectors| = sqrt(8 / (3 pi N)). Without the noise
    the same swarm aligns to 0.99, with half of it to about 0.35: both fail here."""
    params = np.array([5.0, 0.5, 2.0, 0.5])
    _, vel, _ = simulate_vicsek(1, 4, n_particles=N, params=params, box=5.0)
    late = polarization(vel)[:, 50:].mean()
    expected = np.sqrt(8 / (3 * np.pi * N))
    assert 0.5 * expected < late < 2.0 * expected


@pytest.mark.parametrize(
    "params", [[1.0, 2.0, 1.0, 0.5], [1.58, 4.0, 0.5, 1.41], [1.0, 1.0, 1.0, 1.0]]
)
def test_dorsogna_speed_settles_at_the_propulsion_balance(params):
    """Without noise the speed relaxes to sqrt(alpha / beta) (beta = 1), where self-propulsion
    and friction balance (D'Orsogna et al. 2006); Morse forces only perturb it."""
    _, vel, _ = simulate_dorsogna(2, 2, n_particles=N, params=np.array(params))
    speed = np.linalg.norm(vel, axis=-1)[:, -20:].mean()
    assert abs(speed - np.sqrt(params[1])) < 0.03 * np.sqrt(params[1])


def test_vicsek_speed_is_the_parameter_c_and_positions_stay_in_the_box():
    pos, vel, p = simulate_vicsek(3, 2, n_particles=10, steps=40)
    assert np.allclose(np.linalg.norm(vel, axis=-1), 1.0)
    assert pos.min() >= 0.0 and pos.max() < 20.0
    assert p.shape == (2, 4) and (p >= VICSEK.low).all() and (p <= VICSEK.high).all()


# --------------------------------------------------------------------------- seeds, reference
@pytest.mark.parametrize("sim", [simulate_vicsek, simulate_dorsogna])
def test_same_seed_same_bytes_other_seed_other_bytes(sim):
    a = sim(7, 2, n_particles=8, steps=30)
    b = sim(7, 2, n_particles=8, steps=30)
    c = sim(8, 2, n_particles=8, steps=30)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))
    assert a[0].tobytes() != c[0].tobytes()


@pytest.mark.parametrize(
    ("fast", "ref"),
    [
        (simulate_vicsek, simulate_vicsek_reference),
        (simulate_dorsogna, simulate_dorsogna_reference),
    ],
)
def test_reference_loop_equals_the_vectorized_simulator(fast, ref):
    """Same rng stream, per-simulation per-particle loop: equal up to float round-off (Vicsek
    in float64; D'Orsogna in float32, measured 1.2e-7 here, and returns the same dtypes)."""
    a = fast(5, 3, n_particles=12, steps=40)
    b = ref(5, 3, n_particles=12, steps=40)
    atol = 1e-9 if fast is simulate_vicsek else 1e-6
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_allclose(x, y, rtol=0, atol=atol)


def test_float32_dorsogna_follows_a_float64_integration_of_the_same_draws():
    """Data version 3 runs in float32 (sisyphe's precision): over 100 RK4 steps (1 s) it stays
    within float32 round-off of the reference physics integrated in float64 from the same
    (float32-rounded) parameters and initial state: measured 1.5e-6 in positions of scale 1.8
    and 5.8e-7 in velocities, including clumping parameters (C_r / l_r < 1)."""
    from decathlon.datasets import swarms
    from decathlon.datasets.swarms_reference import _dorsogna_loop_force

    params = np.array([[1.0, 1.0, 1.0, 1.0], [1.5, 0.9, 1.2, 1.4], [0.7, 3.0, 2.0, 0.4]])
    pos, vel, p = simulate_dorsogna(4, 3, n_particles=20, steps=100, params=params)
    assert pos.dtype == np.float32 and (p == params.astype(np.float32)).all()
    rng = np.random.default_rng(4)
    DORSOGNA.check(params, rng, 3)  # the draws of simulate_dorsogna, in its order
    x0, v0 = (a.astype(np.float32).astype(np.float64) for a in swarms._init(rng, 3, 20, -0.5, 0.5))
    for s in range(3):
        x, v, frames = x0[s], v0[s], []
        for step in range(100):
            x, v = swarms._rk4(_dorsogna_loop_force, x, v, p[s][None], 0.01)
            if step % 10 == 0:
                frames.append((x, v))
        assert x.dtype == np.float64
        np.testing.assert_allclose(pos[s], [f[0] for f in frames], rtol=0, atol=1e-5)
        np.testing.assert_allclose(vel[s], [f[1] for f in frames], rtol=0, atol=1e-5)


@pytest.mark.parametrize("sim", [simulate_vicsek, simulate_dorsogna])
def test_pair_blocks_do_not_change_a_bit(monkeypatch, sim):
    """The pair sums run PAIR_BLOCK simulations at a time; any block size gives the same bytes
    (a full-tier store built with one block size verifies against another's hashes)."""
    import decathlon.datasets.swarms as swarms

    whole = sim(7, 5, n_particles=12, steps=30)
    monkeypatch.setattr(swarms, "PAIR_BLOCK", 2)  # blocks of 2, 2 and 1 simulations
    blocks = sim(7, 5, n_particles=12, steps=30)
    for x, y in zip(whole, blocks, strict=True):
        assert x.tobytes() == y.tobytes()


def _pairs_with_exact_radii(rng, n_sims, n, box):
    """Positions in the box and per-simulation ``r2max`` equal to one pair's own squared
    distance (as :func:`mask_numpy` computes it): the comparison at the threshold itself."""

    pos = rng.uniform(0.0, box, (n_sims, n, 3))
    r2 = np.empty((n_sims, n, n))
    K.mask_numpy(pos, np.full((n_sims, 1, 1), np.inf), box, r2, np.empty_like(r2))
    return pos, r2[:, 0, 1:2, None].copy()  # particle 0 and 1 sit exactly at the radius


def _compiled_mask(pos, r2max, box):

    kernel = K.mask_kernel()
    assert kernel is not None, "numba is installed but mask_kernel() returned None"
    mask = np.full((len(pos), pos.shape[1], pos.shape[1]), np.nan)
    kernel(np.ascontiguousarray(pos.transpose(0, 2, 1)), r2max[:, 0, 0].copy(), box, mask)
    return mask


def test_the_pair_loop_gives_the_numpy_neighbour_mask_bit_for_bit():
    """mask_loop (what numba compiles), run as plain Python, against the numpy passes, with
    pairs exactly at the radius and across the periodic boundary."""

    pos, r2max = _pairs_with_exact_radii(np.random.default_rng(3), 3, 15, 20.0)
    pos[0, 2], pos[0, 3] = (0.1, 5.0, 5.0), (19.9, 5.0, 5.0)  # neighbours through the wall
    r2max[0] = 0.05
    want, got = np.empty((3, 15, 15)), np.full((3, 15, 15), np.nan)
    K.mask_numpy(pos, r2max, 20.0, np.empty_like(want), want)
    K.mask_loop(np.ascontiguousarray(pos.transpose(0, 2, 1)), r2max[:, 0, 0], 20.0, got)
    assert got.tobytes() == want.tobytes()
    assert want[0, 2, 3] == 1.0 and (want[1:, 0, 1] == 1.0).all()  # the cases are really there
    # lane_sums(..., symmetric=True) reads the mask's rows as its columns
    assert want.tobytes() == np.ascontiguousarray(want.transpose(0, 2, 1)).tobytes()


def test_the_numba_kernel_gives_the_same_mask_and_trajectories(monkeypatch):
    """With the ``fast`` extra, the compiled mask equals the numpy one bit for bit at 200
    particles, and so do whole Vicsek runs with and without it (stores keep their hashes)."""
    pytest.importorskip("numba", reason="numba (the fast extra) is not installed")

    pos, r2max = _pairs_with_exact_radii(np.random.default_rng(4), 4, 200, 20.0)
    want = np.empty((4, 200, 200))
    K.mask_numpy(pos, r2max, 20.0, np.empty_like(want), want)
    assert _compiled_mask(pos, r2max, 20.0).tobytes() == want.tobytes()
    compiled = simulate_vicsek(8, 5, n_particles=40, steps=30)
    monkeypatch.setattr(K, "mask_kernel", lambda: None)
    plain = simulate_vicsek(8, 5, n_particles=40, steps=30)
    for x, y in zip(compiled, plain, strict=True):
        assert x.tobytes() == y.tobytes()


def _swarm_positions(seed, m, n):
    """Clumped and spread swarms away from the origin, with two coincident particles."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-1, 1, (m, n, 3)) * rng.uniform(0.01, 3, (m, 1, 1)) + rng.normal(
        0, 5, (m, 1, 3)
    )
    pos[0, 3] = pos[0, 1]
    return pos, DORSOGNA.draw(rng, m)


def test_expf_portable_is_within_its_stated_error_and_exact_where_it_must_be():
    """Against float64 ``exp`` of the same float32 arguments (exact to float32 precision):
    within 1.2 float32 ulps (measured 1.18) over the clamp range, with the ends and the
    argument reduction's turning points included."""
    x = np.random.default_rng(0).uniform(-87, 87, 1_000_000).astype(np.float32)
    x[:4] = [-87.0, 87.0, np.float32(np.log(2) / 2), -np.float32(np.log(2) / 2)]
    got = K.expf_portable(x)
    want = np.exp(x.astype(np.float64))
    ulps = np.abs(got - want) / np.spacing(want.astype(np.float32)).astype(np.float64)
    assert got.dtype == np.float32 and ulps.max() <= 1.2
    assert K.expf_portable(np.array([0.0, -0.0])).tolist() == [1.0, 1.0]
    clamp = K.expf_portable(np.array([-800.0, 800.0, np.nan]))
    assert clamp.tolist() == K.expf_portable(np.array([-87.0, 87.0, -87.0])).tolist()
    assert np.isfinite(clamp).all() and clamp[0] >= np.finfo(np.float32).tiny  # normal
    assert K.exp2_portable(np.arange(-5.0, 6.0)).tolist() == [2.0**k for k in range(-5, 6)]
    u = np.random.default_rng(1).uniform(-2, 2, 100_000)
    np.testing.assert_allclose(K.exp2_portable(u), np.exp2(u), rtol=4e-16, atol=0)


def test_the_pair_loops_give_the_numpy_bits(monkeypatch):
    """The D'Orsogna factor loop and the lane-sum loop (what numba compiles) run as plain
    Python against the numpy passes: the same bits, coincident particles without force, sizes
    that are not a multiple of the eight lanes."""
    loops = (K.morse_factors_loop, K.lane_sums_loop, K.add_lanes_loop)
    monkeypatch.setattr(K, "pair_kernels", lambda: loops)
    for n in (5, 11, 41):  # 41: each lane has five or six columns (a group of four, the rest)
        pos, p = _swarm_positions(5, 2, n)
        got = K.morse_sums(pos, p)
        assert got.dtype == np.float32
        assert got.tobytes() == K.morse_numpy(pos.astype(np.float32), K.morse_params(p)).tobytes()
        for dtype, tol in ((np.float64, 1e-13), (np.float32, 1e-5)):
            w = (np.random.default_rng(n).uniform(size=(2, n, n)) < 0.5).astype(dtype)
            v = np.random.default_rng(n).standard_normal((2, n, 3)).astype(dtype)
            for diff in (False, True):
                want = K.lane_sums_numpy(w, v, diff).tobytes()
                assert K.lane_sums(w, v, diff).tobytes() == want
                sym = (
                    np.maximum(w, w.transpose(0, 2, 1)) * (1.0 + np.arange(n, dtype=dtype))[:, None]
                )
                sym = sym + sym.transpose(0, 2, 1)
                got = K.lane_sums(sym, v, diff, symmetric=True).tobytes()
                assert got == K.lane_sums_numpy(sym, v, diff).tobytes()
            np.testing.assert_allclose(K.lane_sums(w, v, False), w @ v, rtol=tol, atol=tol)
    with pytest.raises(TypeError, match="one dtype"):
        K.lane_sums(w.astype(np.float64), v, False)


def test_the_morse_sums_are_the_plain_formula_to_round_off():
    """float32 sums against the float64 formula on the same float32 inputs: within 2e-6 of the
    largest sum (float32 round-off over 30 terms; measured 2.1e-7)."""
    pos, p = _swarm_positions(7, 3, 30)
    pos, p = pos.astype(np.float32).astype(np.float64), p.astype(np.float32).astype(np.float64)
    radius, _, c_r, l_r = (p[:, k, None, None] for k in range(4))
    d = pos[:, :, None, :] - pos[:, None, :, :]
    r = np.linalg.norm(d, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(r > 0, radius**3 * (c_r / l_r * np.exp(-r / l_r) - np.exp(-r)) / r, 0.0)
    want = np.einsum("sij,sijk->sik", g, d)
    got = K.morse_sums(pos, p)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * np.abs(want).max())


def test_the_numba_kernels_give_the_same_trajectories(monkeypatch):
    """With the fast extra: the compiled pair terms at 200 particles, and whole D'Orsogna and
    Vicsek runs (clumping parameters included), equal the numpy ones bit for bit."""
    pytest.importorskip("numba", reason="numba (the fast extra) is not installed")
    assert K.pair_kernels() is not None
    pos, p = _swarm_positions(6, 3, 200)
    want = K.morse_numpy(pos.astype(np.float32), K.morse_params(p)).tobytes()
    assert K.morse_sums(pos, p).tobytes() == want
    params = np.array([[1.0, 1.0, 1.0, 1.0], [1.5, 0.9, 1.2, 1.4], [0.7, 3.0, 2.0, 0.4]])
    compiled = [
        simulate_dorsogna(9, 3, n_particles=40, steps=60, params=params),
        simulate_vicsek(9, 3, n_particles=43, steps=30),
    ]
    monkeypatch.setattr(K, "pair_kernels", lambda: None)
    monkeypatch.setattr(K, "mask_kernel", lambda: None)
    plain = [
        simulate_dorsogna(9, 3, n_particles=40, steps=60, params=params),
        simulate_vicsek(9, 3, n_particles=43, steps=30),
    ]
    for run_c, run_p in zip(compiled, plain, strict=True):
        for x, y in zip(run_c, run_p, strict=True):
            assert x.tobytes() == y.tobytes()


def test_decathlon_numba_0_turns_the_kernel_off(monkeypatch):
    monkeypatch.setenv("DECATHLON_NUMBA", "0")
    assert K.mask_kernel.__wrapped__() is None and K.pair_kernels.__wrapped__() is None


def test_a_travelling_clump_stays_finite():
    """A clump of particles a few float32 steps apart far from the origin (as a travelling
    swarm in the ~28 % of draws whose pair potential has its minimum at distance 0), some of
    them coincident: version 1's Gram-matrix distances lost every digit there and overflowed;
    differences keep it finite."""
    from decathlon.datasets import swarms

    pos0 = 1e3 + 1e-4 * np.random.default_rng(2).standard_normal((1, 20, 3))
    pos0 = pos0.astype(np.float32)
    pos0[0, 5] = pos0[0, 4]
    vel0 = swarms._init(np.random.default_rng(1), 1, 20, -0.5, 0.5)[1].astype(np.float32)
    p = np.array([[1.5, 0.9, 1.2, 1.4]], dtype=np.float32)  # C_r / l_r < 1: clumps
    pos, vel = swarms._dorsogna_run(pos0, vel0, p, 30, 10, 0.01)
    assert pos.dtype == vel.dtype == np.float32
    assert np.isfinite(pos).all() and np.isfinite(vel).all()


def test_an_overflowing_run_is_refused_with_the_fix():
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(FloatingPointError, match="smaller dt"),
    ):
        simulate_dorsogna(0, 1, n_particles=5, steps=50, params=np.ones(4) * 2, dt=1e3)


def test_given_parameters_are_used_and_bad_ones_refused():
    p = np.array([[1.0, 1.0, 1.0, 1.0], [0.7, 2.0, 0.5, 0.4]])
    # data version 3 simulates in float32: the returned parameters are the rounded ones
    got = simulate_dorsogna(0, 2, n_particles=4, steps=10, params=p)[2]
    assert got.dtype == np.float64 and (got == p.astype(np.float32)).all()
    assert (simulate_vicsek(0, 2, n_particles=4, steps=10, params=p + 0.1)[2] == p + 0.1).all()
    with pytest.raises(ValueError, match=r"radius, propulsion, c_r, l_r"):
        simulate_dorsogna(0, 2, n_particles=4, steps=10, params=np.ones(3))
    assert DORSOGNA.draw(np.random.default_rng(0), 1000).min() >= 2 ** (-2.0)


# ----------------------------------------------------------------------------- regress kind
def test_r2_and_smape_match_their_definitions():
    rng = np.random.default_rng(0)
    y = rng.uniform(0.5, 5, (40, 4))
    pred = y + rng.normal(0, 0.5, y.shape)
    st = regress_stats(pred, y)
    want_r2 = 1 - ((pred - y) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(r2(pred, y), want_r2, rtol=1e-12)
    assert metric_value("r2", st)[0] == pytest.approx(want_r2.mean(), rel=1e-12)
    want_smape = (np.abs(pred - y) / (np.abs(y) + np.abs(pred))).mean()
    assert metric_value("smape", st)[0] == pytest.approx(want_smape, rel=1e-12)
    # predicting the test mean scores R^2 = 0 exactly; a perfect prediction 1 and SMAPE 0
    assert metric_value("r2", regress_stats(np.tile(y.mean(0), (40, 1)), y))[0] == pytest.approx(0)
    assert metric_value("r2", regress_stats(y, y))[0] == 1.0
    assert metric_value("smape", regress_stats(y, y))[0] == 0.0
    assert get_metric("r2")[0].higher_is_better and not get_metric("smape")[0].higher_is_better


def test_bootstrap_weights_are_window_multiplicities():
    """A weighting of the windows equals the metric on the windows repeated that many times."""
    rng = np.random.default_rng(1)
    y, pred = rng.uniform(1, 2, (6, 4)), rng.uniform(1, 2, (6, 4))
    w = np.array([[2, 0, 1, 1, 0, 2]])
    rep = np.repeat(np.arange(6), w[0])
    for m in ("r2", "smape"):
        got = metric_value(m, regress_stats(pred, y), w)[0]
        assert got == pytest.approx(metric_value(m, regress_stats(pred[rep], y[rep]))[0])


def test_regress_prediction_shape_is_checked():
    task = get_task("swarms/vicsek-params")
    w = Windows(
        np.arange(3), np.zeros((3, 2, 4, 6)), np.ones((3, 4)), np.arange(3), np.zeros(3), [], []
    )
    assert check_prediction(task, w, w.ids, np.ones((3, 4))).shape == (3, 4)
    with pytest.raises(ValueError, match=r"expected \(3, 4\) \(dims: window, param\)"):
        check_prediction(task, w, w.ids, np.ones((3, 4, 1)))


def test_tasks_are_flagged_irreversible_with_true_symmetries_only():
    v, d = get_task("swarms/vicsek-params"), get_task("swarms/dorsogna-params")
    assert v.reversible is False and d.reversible is False
    assert v.kind == d.kind == "regress" and v.trivial == "train-mean"
    assert set(v.equivariance) == {"rot90", "reflect", "permute"}  # the periodic box
    assert set(d.equivariance) == {"rotate", "translate", "permute"}  # free space


# -------------------------------------------------------------------------------- baselines
@pytest.mark.slow
@pytest.mark.parametrize("task", ["swarms/vicsek-params", "swarms/dorsogna-params"])
def test_order_parameters_beat_the_train_mean_at_mini(task):
    """The mini tier built (a minute or two per system): the order-parameter ridge explains
    much of the parameters' variance, the train mean none of it."""
    from decathlon.benchmark.context import EvalConfig
    from decathlon.benchmark.suite import run_baseline

    cfg = EvalConfig(n_boot=50, probes=False)
    base = run_baseline("train-mean", task, config=cfg)["metrics"]
    fit = run_baseline("order-params", task, config=cfg)["metrics"]
    assert abs(base["r2"]["value"]) < 0.15
    assert fit["r2"]["value"] > base["r2"]["value"] + 0.3
    assert fit["smape"]["value"] < base["smape"]["value"]


def test_order_parameter_features_are_the_same_computed_in_window_blocks():
    """A full-tier split is featurized a few hundred windows at a time (memory); every window's
    features are those of the whole batch at once, bit for bit."""
    from decathlon.baselines.order_params import OrderParams, features, series

    pos, vel, _ = simulate_vicsek(3, 9, n_particles=12, steps=40, save_every=5)
    x = np.concatenate([pos, vel], -1).astype(np.float32)
    names = [f"{v}_{a}" for v in ("pos", "vel") for a in "xyz"]
    model = OrderParams(get_task("swarms/vicsek-params"))
    blocks = model._features({"x": x, "features": names, "dt": 0.05}, windows=4)
    x64 = x.astype(np.float64)
    whole = features(series(x64[..., :3], x64[..., 3:], 0.05, model.config.block))
    assert blocks.shape == (9, 64) and blocks.tobytes() == whole.tobytes()
