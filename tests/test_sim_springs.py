"""Physics of the NRI springs simulator (``decathlon.datasets.nri``, ``SPRINGS``)."""

import dataclasses

import numpy as np
import pytest

from decathlon.benchmark.contract import validate
from decathlon.benchmark.data import DATASETS, materialize, open_part
from decathlon.datasets import nri


def midpoint_velocity(out, coupling, params):
    """Velocity at the stored positions' time.

    The integrator is leapfrog in kick-drift form: the stored velocity is v(t - dt/2), so
    v(t) = v(t - dt/2) + dt/2 F(x(t)) (unclipped force).
    """
    x = out["pos"]
    s, f, n, d = x.shape
    free = dataclasses.replace(params, max_force=np.inf)
    force = nri._forces(x.reshape(s * f, n, d), np.repeat(coupling, f, axis=0), free)
    return out["vel"] + 0.5 * params.dt * force.reshape(x.shape)


def test_energy_conserved_without_wall_contact():
    """Total energy is conserved to the leapfrog's O(dt^2) accuracy away from the walls.

    Samples that never touch a wall are those whose run with walls is bit-identical to a run
    without walls (same seed); here all 64 are (seed 1, 5000 steps, dt = 1e-3). Measured:
    max_t |E(t) - E(0)| / E(0) <= 5.8e-8 with the midpoint velocity (6.4e-8 over 200 systems);
    the raw stored velocity (half a step behind) gives up to 4.9e-4. Tolerance: 1e-6. Spring
    forces never reach the clip of 100 (inside the box |F| < 0.1 * 4 * 10 sqrt(2) < 6).
    """
    p = nri.SPRINGS
    boxed = nri.simulate(64, 5000, 100, p, 1)
    free = nri.simulate(64, 5000, 100, dataclasses.replace(p, box_size=None), 1)
    untouched = np.all(boxed["pos"] == free["pos"], axis=(1, 2, 3))
    assert untouched.sum() >= 32  # springs keep most systems near the centre
    e = nri.energy(free["pos"], midpoint_velocity(free, free["edges"], p), free["edges"], p)
    rel = np.abs(e - e[:, :1]).max(axis=1) / np.abs(e[:, 0])
    assert rel[untouched].max() < 1e-6
    # the total momentum of a closed spring system is conserved to rounding
    mom = free["vel"].sum(axis=2)
    np.testing.assert_allclose(mom, np.broadcast_to(mom[:, :1], mom.shape), atol=1e-12)


def test_spring_graph_symmetric_zero_diagonal_half_density():
    out = nri.simulate(2000, 200, 100, nri.SPRINGS, 3)
    e = out["edges"]
    np.testing.assert_array_equal(e, np.swapaxes(e, 1, 2))
    np.testing.assert_array_equal(np.diagonal(e, axis1=1, axis2=2), 0)
    assert set(np.unique(e)) == {0.0, 1.0}
    iu = np.triu_indices(5, 1)
    freq = e[:, iu[0], iu[1]].mean()  # 20000 pairs: sd 0.0035
    assert abs(freq - 0.5) < 0.02


def test_vectorized_equals_reference():
    fast = nri.simulate(3, 1000, 100, nri.SPRINGS, 11)
    ref = nri.simulate_reference(3, 1000, 100, nri.SPRINGS, 11)
    np.testing.assert_allclose(fast["pos"], ref["pos"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast["vel"], ref["vel"], rtol=0, atol=1e-12)


def test_reproducible_bytes_and_seed_sensitivity():
    a = nri.simulate(8, 500, 100, nri.SPRINGS, 5)
    b = nri.simulate(8, 500, 100, nri.SPRINGS, 5)
    c = nri.simulate(8, 500, 100, nri.SPRINGS, 6)
    for k in ("pos", "vel", "edges"):
        assert a[k].tobytes() == b[k].tobytes()
    assert a["pos"].tobytes() != c["pos"].tobytes()


def test_tiny_tier_builds_valid_pieces(monkeypatch, tmp_path, override):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    spec = dataclasses.replace(
        DATASETS.get("nri-springs"), tiers={"tiny": {"train": 3, "valid": 2, "test": 2}}
    )
    pieces = list(spec.build(spec, "tiny", False))
    assert [p for p, _ in pieces] == ["train", "valid", "test"]
    for part, ds in pieces:
        validate(ds)
        assert ds.sizes["time"] == (99 if part == "test" else 49)
        assert ds["pos"].dtype == np.float32
    override(DATASETS, spec.name, spec)  # the house's temporary registration
    materialize(spec.name, "tiny")
    ds = open_part(spec.name, "tiny", "test", verify=True)
    assert ds.sizes["sample"] == 2 and list(ds["space"].values) == ["x", "y"]


@pytest.mark.parametrize("bad", [dict(n_sims=0), dict(n_steps=100)])
def test_bad_arguments_raise(bad):
    kw = dict(n_sims=2, n_steps=500, sample_freq=100) | bad
    with pytest.raises(ValueError, match="need n_sims >= 1"):
        nri.simulate(**kw)
