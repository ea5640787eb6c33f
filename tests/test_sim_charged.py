"""Physics of the NRI charged-particle simulator in a 2-D box (``nri.CHARGED``, ``nri-charged``)."""

import dataclasses

import numpy as np

from decathlon.benchmark.contract import validate
from decathlon.benchmark.data import DATASETS, materialize, open_part
from decathlon.datasets import nri


def test_reflect_keeps_speed_and_returns_inside():
    rng = np.random.default_rng(0)
    box = 5.0
    x = rng.uniform(-3 * box, 3 * box, size=(200, 5, 2)) / 1.5  # many beyond +-5, all within 2 box
    v = rng.standard_normal((200, 5, 2))
    x0, v0 = x.copy(), v.copy()
    nri._reflect(x, v, box)
    assert np.all(np.abs(x) <= box)
    np.testing.assert_array_equal(np.abs(v), np.abs(v0))  # only signs flip: |v| and KE unchanged
    over, under = x0 > box, x0 < -box
    assert np.all(v[over] <= 0) and np.all(v[under] >= 0)  # the normal velocity points inwards
    np.testing.assert_allclose(x[over], 2 * box - x0[over])
    inside = ~(over | under)
    np.testing.assert_array_equal(x[inside], x0[inside])
    np.testing.assert_array_equal(v[inside], v0[inside])
    nri._reflect(x, v, None)  # no walls: a no-op


def test_kinetic_energy_preserved_by_walls_in_a_full_run():
    """Free particles (k = 0) bounce off the walls many times and keep their speeds exactly."""
    p = dataclasses.replace(nri.CHARGED, interaction_strength=0.0, vel_norm=5.0)
    out = nri.simulate(16, 5000, 100, p, 2)
    speed = np.linalg.norm(out["vel"], axis=-1)
    np.testing.assert_allclose(speed, 5.0, rtol=1e-12)
    assert np.all(np.abs(out["pos"]) <= p.box_size)
    assert np.any(np.diff(np.sign(out["vel"]), axis=1) != 0)  # walls were hit


def test_forces_obey_newtons_third_law():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 5, 2))
    q = np.where(rng.random((500, 5)) < 0.5, 1.0, -1.0)
    unclipped = dataclasses.replace(nri.CHARGED, max_force=np.inf)
    f = nri._forces(x, q[:, :, None] * q[:, None, :], unclipped)
    scale = np.abs(f).sum(axis=1)
    assert np.all(np.abs(f.sum(axis=1)) <= 1e-12 * np.maximum(scale, 1.0))
    # like charges repel: two positive charges on the x axis push apart
    two = np.array([[[0.0, 0.0], [1.0, 0.0]]])
    f2 = nri._forces(two, np.ones((1, 2, 2)), unclipped)
    np.testing.assert_allclose(f2[0], [[-1.0, 0.0], [1.0, 0.0]])


def test_interaction_graph_is_like_charges():
    out = nri.simulate(500, 200, 100, nri.CHARGED, 4)
    q = out["charges"]
    assert set(np.unique(q)) == {-1.0, 1.0}
    like = (q[:, :, None] * q[:, None, :] > 0).astype(float) * (1 - np.eye(5))
    np.testing.assert_array_equal(out["edges"], like)
    assert abs((q > 0).mean() - 0.5) < 0.04  # 2500 charges: sd 0.01


def test_vectorized_equals_reference():
    """Equal to rounding: both compute 1/r^3 differently (``r2 * sqrt(r2)`` vs ``r**3``), and a
    close encounter amplifies the last-bit differences (measured up to 4e-10 after 1000 steps)."""
    fast = nri.simulate(3, 1000, 100, nri.CHARGED, 12)
    ref = nri.simulate_reference(3, 1000, 100, nri.CHARGED, 12)
    np.testing.assert_allclose(fast["pos"], ref["pos"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(fast["vel"], ref["vel"], rtol=0, atol=1e-8)


def test_reproducible_bytes_and_seed_sensitivity():
    a = nri.simulate(8, 500, 100, nri.CHARGED, 5)
    b = nri.simulate(8, 500, 100, nri.CHARGED, 5)
    c = nri.simulate(8, 500, 100, nri.CHARGED, 6)
    for k in ("pos", "vel", "edges", "charges"):
        assert a[k].tobytes() == b[k].tobytes()
    assert a["pos"].tobytes() != c["pos"].tobytes()


def test_registered_and_tiny_tier_builds_valid_pieces(monkeypatch, tmp_path, override):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    spec = DATASETS.get("nri-charged")
    assert spec.seed == 42 and spec.tiers["full"] == {"train": 50000, "valid": 10000, "test": 10000}
    assert spec.params["loc_std"] == 1.0 and spec.params["interaction_strength"] == 1.0
    tiny = dataclasses.replace(spec, tiers={"tiny": {"train": 3, "valid": 2, "test": 2}})
    for _part, ds in tiny.build(tiny, "tiny", False):
        validate(ds)
        assert ds.attrs["system"] == "charged"
        assert list(ds["entity_feature"].values) == ["charge"]
        q = ds["entity_features"].values[..., 0]
        like = (q[:, :, None] * q[:, None, :] > 0) & ~np.eye(5, dtype=bool)
        np.testing.assert_array_equal(ds["edges"].values, like.astype(np.float32))
    override(DATASETS, spec.name, tiny)
    materialize(spec.name, "tiny")
    assert open_part(spec.name, "tiny", "train", verify=True).sizes["time"] == 49
