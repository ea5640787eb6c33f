"""Every simulator gives the same bits on another machine: the stores' ``data_sha256`` (what a
leaderboard submission is checked against) must not depend on the CPU or the BLAS library.

Another machine is emulated here, in subprocesses: numpy's runtime dispatch switched down to
lower SIMD levels (``NPY_DISABLE_CPU_FEATURES``: numpy's vectorized ``exp``, ``log``, ``exp2``
and ``tanh`` change their last bits with it), OpenBLAS forced onto the kernels of older CPUs
(``OPENBLAS_CORETYPE``: a product's summation order changes with it), and numba switched off.
Every simulator of the speed benchmark's registry (``decathlon bench``) runs two simulations
under each and is compared, array for array, with the same run in this process. On a machine
without AVX-512 or OpenBLAS the emulation reaches fewer alternatives, and the test is weaker,
not wrong.

Measured with data version 1 of the swarms (stop 23): their mini stores differed between this
AVX-512 machine and an AVX2 one (D'Orsogna: numpy's ``exp``; Vicsek and D'Orsogna: the
OpenBLAS Haswell/Zen kernels against SkylakeX); every other simulator was already portable.
causal-var and nri-springs differed in float64 under OpenBLAS's kernels for a CPU without FMA
until stop 26 (causal-var's recursion now runs in a fixed order; nri-springs' chain is numba's
explicit fused multiply-add, so it is portable where numba is installed; without numba it is
still OpenBLAS's ``dgemm``: the "numba-off" emulation keeps this machine's kernels). Kuramoto's
sines and cosines came from the platform's libm until its data version 2.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from decathlon.datasets.speed import SIM_BENCHMARKS

_SCRIPT = """
import hashlib, json, sys
import numpy as np
import decathlon
from decathlon.datasets.speed import SIM_BENCHMARKS

def arrays(out):
    if isinstance(out, dict):
        for k in sorted(out):
            yield from arrays(out[k])
    elif isinstance(out, (tuple, list)):
        for x in out:
            yield from arrays(x)
    else:
        yield np.ascontiguousarray(out)

digest = {}
for name in SIM_BENCHMARKS.names():
    h = hashlib.sha256()
    for a in arrays(SIM_BENCHMARKS.get(name).fast(2)):
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    digest[name] = h.hexdigest()
json.dump(digest, sys.stdout)
"""


def _features_above_baseline() -> list[str]:
    """numpy's dispatch targets this CPU has, above the build's baseline."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]


def _platforms() -> dict[str, dict[str, str]]:
    """Environment changes that emulate other machines (see the module text)."""
    found = _features_above_baseline()
    # the widest targets first: dropping them leaves a typical AVX2 laptop's dispatch
    wide = [f for f in found if "512" in f or f in ("X86_V4",)]
    out = {
        "no-avx512+openblas-haswell": {"OPENBLAS_CORETYPE": "Haswell"},
        "no-simd-dispatch+openblas-sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
        "numba-off": {"DECATHLON_NUMBA": "0"},
    }
    if wide:
        out["no-avx512+openblas-haswell"]["NPY_DISABLE_CPU_FEATURES"] = " ".join(wide)
    if found:
        out["no-simd-dispatch+openblas-sandybridge"]["NPY_DISABLE_CPU_FEATURES"] = " ".join(found)
    return out


def _digests(env: dict[str, str]) -> dict[str, str]:
    full = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **env}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=full, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def here() -> dict[str, str]:
    return _digests({})


@pytest.mark.parametrize("platform", sorted(_platforms()))
def test_every_simulator_gives_the_same_bits_on_another_machine(here, platform):
    assert set(here) == set(SIM_BENCHMARKS.names()) and len(here) >= 8
    there = _digests(_platforms()[platform])
    differ = sorted(name for name in here if there[name] != here[name])
    assert not differ, (
        f"{differ} give other bits with {_platforms()[platform]}: a store built there would "
        "have another data_sha256 (use only IEEE basic operations in a fixed order: "
        "swarms_kernels.expf_portable and lane_sums, no BLAS product, no numpy exp/log)"
    )


def test_the_emulation_reaches_what_it_claims():
    """The emulated platforms do change what version 1 depended on, where this machine has it:
    numpy's ``exp`` without AVX-512 and an OpenBLAS product on Sandybridge's kernel (else this
    file would test nothing)."""
    code = (
        "import numpy as np, hashlib; r = np.random.default_rng(0); x = r.uniform(-20, 5, 10**5);"
        "a = r.standard_normal((64, 20, 60)); v = r.standard_normal((64, 60, 1));"
        "print(hashlib.sha256(np.exp(x).tobytes()).hexdigest(),"
        " hashlib.sha256((a @ v).tobytes()).hexdigest())"
    )
    env = _platforms()["no-simd-dispatch+openblas-sandybridge"]
    runs = [
        subprocess.run([sys.executable, "-c", code], env={**os.environ, **e}, capture_output=True)
        for e in ({}, env)
    ]
    (exp0, mm0), (exp1, mm1) = (r.stdout.decode().split() for r in runs)
    if "AVX512F" not in _features_above_baseline() and "X86_V4" not in env.get(
        "NPY_DISABLE_CPU_FEATURES", ""
    ):
        pytest.skip("this CPU has no AVX-512: numpy's exp has one code path here")
    config = np.show_config(mode="dicts") or {}
    blas = str(config.get("Build Dependencies", {}).get("blas", {}).get("name", ""))
    assert exp0 != exp1
    if "openblas" in blas:
        assert mm0 != mm1


def test_the_digest_script_hashes_every_array():
    """A change in any returned array changes the digest (dtype, shape and bytes)."""
    h = [
        hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
        for a in (
            np.zeros((2, 2)),
            np.zeros(4),
            np.zeros((2, 2), np.float32),
        )
    ]
    assert len({x.hexdigest() for x in h}) == 3
