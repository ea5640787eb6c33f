"""NRI simulator speed work: the compiled yardstick, the layout's bytes, the bench table.

Nothing here times anything: the C loop is checked for its physics (it must be the same physics
as ``simulate_reference`` to be a fair yardstick), the structure-of-arrays integrator for its bytes
(the arithmetic of data version 1), and the bench table for its columns.
"""

import dataclasses

import numpy as np
import pytest

from decathlon.benchmark.report_bench import format_bench
from decathlon.datasets import c_reference, nbody, nri, nri_kernels, speed


@pytest.fixture(scope="module")
def c_loop():
    """The compiled C loop; skipped cleanly where no C compiler works."""
    if c_reference.compiler() is None:
        pytest.skip("no C compiler (cc or $CC) on the PATH")
    try:
        c_reference.load()
    except c_reference.CompilerUnavailable as e:
        pytest.skip(str(e))
    return c_reference.simulate_c


CASES = {
    # springs: the same additions in the same order as the reference here (measured: equal)
    "springs": (nri.SPRINGS, 2000, 1e-12),
    # walls only (k = 0, fast balls: many bounces): exact
    "walls": (dataclasses.replace(nri.CHARGED, interaction_strength=0.0, vel_norm=5.0), 2000, 0.0),
    # the clip acting often (|F| <= 2): measured <= 2.3e-15
    "clipped": (dataclasses.replace(nri.CHARGED, max_force=2.0), 2000, 1e-12),
    # charged systems: 1/r^3 as r2 * sqrt(r2) (C) vs r2 ** 1.5 (reference), and a close encounter
    # amplifies last-bit differences (one of seeds 0-9 reaches 3e-6 after 1000 steps, and some
    # separate completely after 2000: chaos, not a different physics); seeds 0-2 over 1000 steps
    # measured <= 8.1e-13 (2-D) and <= 6.7e-14 (3-D)
    "charged": (nri.CHARGED, 1000, 1e-10),
    "nbody": (nbody.NBODY, 1000, 1e-10),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_loop_is_the_reference_physics(c_loop, case):
    params, steps, atol = CASES[case]
    for seed in range(3):
        c = c_loop(3, steps, 100, params, seed)
        ref = nri.simulate_reference(3, steps, 100, params, seed)
        for k in ("pos", "vel"):
            np.testing.assert_allclose(c[k], ref[k], rtol=0, atol=atol, err_msg=f"{k} seed {seed}")


@pytest.mark.parametrize("system", ["vicsek", "dorsogna"])
def test_swarm_c_loops_are_the_reference_physics(c_loop, system):
    """The swarms' compiled yardstick against their one-at-a-time Python loops: the same draws,
    the same physics up to round-off (Vicsek in float64: measured <= 3.6e-15 over 60 steps, 12
    particles; D'Orsogna in float32, data version 3: <= 3.0e-7, a few float32 ulps)."""
    from decathlon.datasets.swarms_reference import (
        simulate_dorsogna_reference,
        simulate_vicsek_reference,
    )

    ref_fn = {"vicsek": simulate_vicsek_reference, "dorsogna": simulate_dorsogna_reference}
    for seed in range(3):
        c = c_reference.simulate_swarm_c(system, seed, 3, n_particles=12, steps=60)
        pos, vel, params = ref_fn[system](seed, 3, n_particles=12, steps=60)
        assert c["params"].tobytes() == params.tobytes() and c["pos"].shape == pos.shape
        atol = 1e-12 if system == "vicsek" else 2e-6
        assert c["pos"].dtype == pos.dtype == (np.float64 if system == "vicsek" else np.float32)
        np.testing.assert_allclose(c["pos"], pos, rtol=0, atol=atol, err_msg=f"seed {seed}")
        np.testing.assert_allclose(c["vel"], vel, rtol=0, atol=atol, err_msg=f"seed {seed}")


def test_c_source_is_package_data():
    text = c_reference.source()
    assert "int nri_loop(" in text and "sqrt" in text
    swarm = c_reference.source("swarm_loop")
    assert "int vicsek_loop(" in swarm and "int dorsogna_loop(" in swarm


def _forces_v1(x, coupling, p):
    """Data version 1's force code (array of structures), kept here as the oracle."""
    if p.system == "springs":
        a = -p.interaction_strength * coupling
        f = a.sum(-1, keepdims=True) * x - np.matmul(a, x)
    else:
        n = coupling.shape[-1]
        i, j = np.triu_indices(n, 1)
        w = p.interaction_strength * coupling[:, i, j]
        inc = np.zeros((n, len(i)))
        inc[i, np.arange(len(i))] = 1.0
        inc[j, np.arange(len(i))] = -1.0
        d = x[:, i] - x[:, j]
        r2 = np.einsum("bpd,bpd->bp", d, d)
        f = np.einsum("ip,bpd->bid", inc, (w / (r2 * np.sqrt(r2)))[..., None] * d)
    return np.clip(f, -p.max_force, p.max_force)


@pytest.mark.parametrize("params", [nri.SPRINGS, nri.CHARGED, nbody.NBODY], ids=lambda p: p.system)
@pytest.mark.parametrize("n_sims", [1, 2, 37, 600])
@pytest.mark.parametrize("fused", [True, False], ids=["fma-loop", "dgemm"])
def test_layout_keeps_version_1_forces_bit_for_bit(params, n_sims, fused, monkeypatch):
    """Both spring paths (numba's FMA chain where numba is installed, the stacked ``dgemm``)
    against version 1's per-simulation code (OpenBLAS's FMA chain on this machine)."""
    if not fused:
        monkeypatch.setattr(nri_kernels, "spring_kernel", lambda: None)
    rng = np.random.default_rng(n_sims)
    coupling, _ = nri._sample_graph(rng, params, n_sims)
    x = rng.standard_normal((n_sims, params.n_balls, params.dim)) * 2
    np.testing.assert_array_equal(nri._forces(x, coupling, params), _forces_v1(x, coupling, params))


@pytest.mark.parametrize("params", [nri.SPRINGS, nri.CHARGED, nbody.NBODY], ids=lambda p: p.system)
def test_blas_path_and_fallback_give_the_same_bytes(monkeypatch, params):
    """The one-``dgemm`` fast path is checked against version 1's code; where that check fails
    the run uses version 1's code. Both must give the same bytes (here the check passes; forcing
    it to fail exercises the fallback)."""
    fused = nri.simulate(40, 600, 100, params, 3)  # springs: numba's FMA chain, if installed
    monkeypatch.setattr(nri_kernels, "spring_kernel", lambda: None)
    fast = nri.simulate(40, 600, 100, params, 3)
    coupling, _ = nri._sample_graph(np.random.default_rng(3), params, 40)
    assert nri_kernels.make_forces(coupling, params).blas  # OpenBLAS: the fast path is taken
    for cls in (nri_kernels.SpringForces, nri_kernels.ChargedForces):
        monkeypatch.setattr(cls, "_blas_matches", lambda self: False)
    slow = nri.simulate(40, 600, 100, params, 3)
    for k in ("pos", "vel"):
        assert fast[k].tobytes() == slow[k].tobytes() == fused[k].tobytes()


def test_fma_exact_rounds_once():
    """``0.1 * 10 - 1`` is 0.0 in two roundings and 2^-54 in one (0.1 is above 1/10 by
    2^-54 / 10); ``fma_exact`` agrees with numba's fused multiply-add on random triples."""
    assert 0.1 * 10.0 - 1.0 == 0.0
    assert nri_kernels.fma_exact(0.1, 10.0, -1.0) == 2.0**-54
    assert nri_kernels.fma_exact(3.0, 5.0, 1.0) == 16.0
    fused = speed.numba_fma()
    if fused is not None:
        import numba

        call = numba.njit(lambda a, b, c: fused(a, b, c))
        rng = np.random.default_rng(5)
        for a, b, c in rng.standard_normal((300, 3)) * 10.0 ** rng.integers(-8, 8, (300, 3)):
            assert call(a, b, c) == nri_kernels.fma_exact(a, b, c)


@pytest.mark.parametrize("shape", [(2, 5, 13), (3, 4, 8), (2, 1, 3)])
def test_spring_chain_compiled_equals_exact_fma_chain(shape):
    """numba's chain against the same loop run as plain Python with exact rational FMAs: the
    definition, independent of the machine's BLAS; complete graphs, so no term is zero."""
    kernel = nri_kernels.spring_kernel()
    if kernel is None:
        pytest.skip("numba (the fast extra) is not installed")
    dims, n, m = shape
    rng = np.random.default_rng(n * m)
    a = -1.3 * np.broadcast_to((1.0 - np.eye(n))[..., None], (n, n, m)).copy()
    x = rng.standard_normal(shape) * 3
    want, got = np.empty(shape), np.empty(shape)
    nri_kernels.spring_chain_loop(a, x, want)
    kernel(a, x, got)
    np.testing.assert_array_equal(got, want)
    plain = np.einsum("ijb,djb->dib", a, x)  # another order: equal to round-off only
    np.testing.assert_allclose(got, plain, rtol=1e-13, atol=1e-13)


def test_compiled_column_skipped_with_a_reason():
    def unavailable(n):
        raise speed.CompiledUnavailable("no C compiler ('cc' not on the PATH)")

    b = speed.SimBench("x", fast=len, reference=len, compiled=unavailable)
    assert speed._compiled(b) == (None, "skipped: no C compiler ('cc' not on the PATH)")
    assert speed._compiled(dataclasses.replace(b, compiled=None))[0] is None


def test_bench_table_columns():
    row = {
        "name": "nri-springs",
        "batch": 2000,
        "n_fast": 2000,
        "reference_per_sim_ms": 80.0,
        "fast_per_sim_ms": 0.25,
        "compiled_per_sim_ms": 0.2,
        "fast_vs_compiled": 1.25,
        "speedup": 320.0,
        "fast_peak_mb": 12.0,
        "compiled_by": "cc -O2 -shared -fPIC: cc 12",
        "before_per_sim_ms": 0.39,
    }
    skipped = row | {
        "before_per_sim_ms": None,
        "name": "nri-charged",
        "compiled_per_sim_ms": None,
        "fast_vs_compiled": None,
        "compiled_by": "skipped: no C compiler",
    }
    lines = format_bench([row, skipped]).splitlines()
    assert lines[0].split() == [
        "simulator",
        "batch",
        "ref",
        "ms/sim",
        "fast",
        "ms/sim",
        "C",
        "ms/sim",
        "fast/C",
        "speedup",
        "peak",
        "MB",
        "before",
    ]
    assert lines[1].split() == [
        "nri-springs",
        "2000",
        "80.00",
        "0.250",
        "0.200",
        "1.25x",
        "320x",
        "12.0",
        "0.39",
    ]
    assert lines[2].split()[4:6] == ["-", "-"] and lines[2].split()[-1] == "-"
    assert "nri-charged: compiled column skipped: no C compiler" in lines
    assert "compiled with cc -O2 -shared -fPIC: cc 12" in lines


def test_figure_legend_names_the_c_loop_only_where_one_ran(tmp_path):
    """The compiled bar (and its legend entry) is drawn only for simulators with a C loop;
    where others have one, a simulator without it gets an "n/a" instead of an empty slot."""
    with_c = {"reference_per_sim_ms": 80.0, "fast_per_sim_ms": 0.25, "compiled_per_sim_ms": 0.2}
    without = dict(with_c, compiled_per_sim_ms=None)
    labels = [label for label, _, _ in speed._bar_series([without, without])]
    assert labels == ["reference (Python, one at a time)", "decathlon (vectorized)"]
    compiled = speed._bar_series([with_c, without, with_c])[-1]
    assert compiled == ("compiled C loop (cc -O2)", [0, 2], [1])
    rows = [dict(r, name=n, n_fast=10, speedup=9.0) for n, r in (("a", with_c), ("b", without))]
    speed._plot(rows, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").stat().st_size > 1000


def test_numba_jit_compiles_without_a_cache_where_numba_cannot_write_one(monkeypatch):
    """numba raises RuntimeError at decoration when no cache place is writable; the kernel is
    then compiled per process instead of not at all (and not an error)."""
    numba = pytest.importorskip("numba", reason="numba (the fast extra) is not installed")
    real = numba.njit
    asked = []

    def njit(*args, **kw):  # numba's own code calls njit too: only ours is watched
        if args:
            return real(*args, **kw)
        asked.append(kw.get("cache", False))
        if kw.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
        return real(**kw)

    monkeypatch.setattr(numba, "njit", njit)

    def twice(x, out):
        for i in range(x.size):
            out[i] = 2.0 * x[i]

    kernel = speed.numba_jit(twice)
    out = np.empty(3)
    kernel(np.arange(3.0), out)
    assert asked == [True, False] and out.tolist() == [0.0, 2.0, 4.0]
    monkeypatch.setenv("DECATHLON_NUMBA", "0")
    assert speed.numba_jit(twice) is None
