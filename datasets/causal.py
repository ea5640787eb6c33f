"""Temporal causal discovery: Lorenz-96 and sparse VAR series with known Granger graphs.

The generators follow Neural Granger Causality (Tank, Covert, Foti, Shojaie, Fox, TPAMI 2021;
``iancovert/Neural-GC`` ``synthetic.py``), the data of CUTS (Cheng et al., ICLR 2023), as
summarised in ``docs/protocols.md`` §8:

* **Lorenz-96** (Lorenz 1996): ``dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F`` with indices
  modulo ``p = 20``; ``x(0) ~ N(0, 0.01^2)``, frames every ``dt = 0.1``, the first 1000 frames
  (burn-in) discarded, Gaussian observation noise of sd 0.1 added to the kept frames. The
  reference solves it with ``scipy.integrate.odeint`` one dataset at a time; :func:`simulate_l96`
  advances every dataset of a chunk together with classical Runge-Kutta (RK4), ``substeps``
  steps per frame. Variable ``i`` is driven by ``i-2``, ``i-1``, ``i+1`` and itself.
* **VAR(3)**, sparse and stable: every variable keeps its own lags and gets
  ``int(p * sparsity) - 1`` other parents drawn at random; every lag has the same pattern and
  the same coefficient ``beta``, all scaled by 0.95 until the spectral radius of the companion
  matrix is at most 0.97; noise sd 0.1; the first 100 steps (burn-in) are discarded. The
  patterns and the scaling are in :mod:`decathlon.datasets.causal_var`, drawn for a whole
  chunk at once with the draws of the one-at-a-time reference.

**Graph convention (the decathlon's, not Neural-GC's).** ``graph[s, i, j, l] = 1`` iff variable
``i`` at lag ``l + 1`` enters the equation of variable ``j``: an edge ``i -> j``. Neural-GC's
``GC[j, i]`` (row = effect) is its transpose. The diagonal (self-lags, always true) is stored
but excluded from every metric (``decathlon.benchmark.metrics.graph_stats``); a lagged graph is
collapsed by the maximum over lags (CUTS) when windows are cut.

Each sample is an independent dataset with its own generator ``default_rng([seed, part,
sample])``, so a sample is the same at every tier and in every chunk.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from decathlon.benchmark.data import Chunk, DatasetSpec, register_dataset, stream_chunks
from decathlon.benchmark.lazy import xr
from decathlon.datasets.causal_var import (
    VARParams,
    companion_radius,
    stable_coef,
    stable_coef_reference,
    var_pattern,
    var_patterns,
    var_recursion,
)
from decathlon.datasets.speed import SimBench, numba_jit, register_bench

__all__ = [
    "L96Params",
    "VARParams",
    "lorenz96_rhs",
    "simulate_l96",
    "simulate_l96_reference",
    "simulate_var",
    "simulate_var_reference",
    "l96_graph",
    "companion_radius",
    "to_dataset",
    "CAUSAL_TIERS",
]

#: The VAR settings of the stored dataset (Neural-GC's defaults, p = 20).
DEFAULT_VAR = VARParams()
PART_INDEX = {"train": 0, "valid": 1, "test": 2}
#: Independent datasets per part: ``full`` gives 100 test datasets per setting (10x the ten of
#: CUTS), ``mini`` 20; the contract test shrinks these further.
CAUSAL_TIERS = {
    "mini": {"train": 10, "valid": 5, "test": 20},
    "full": {"train": 100, "valid": 20, "test": 100},
}
CHUNK = 100


@dataclass(frozen=True)
class L96Params:
    """Lorenz-96 settings (Neural-GC ``simulate_lorenz_96`` defaults, ``p = 20`` as its paper).

    ``frames`` is the longest series length of the tasks (T = 1000; the T = 250 and 500 tasks
    read its first frames). ``substeps`` RK4 steps per frame (``dt / substeps`` each).
    """

    p: int = 20
    forcing: float = 10.0
    frames: int = 1000
    dt: float = 0.1
    noise_sd: float = 0.1
    burn_in: int = 1000
    x0_sd: float = 0.01
    substeps: int = 20


def _rngs(seeds: Sequence[Sequence[int]] | int) -> list[np.random.Generator]:
    """One generator per dataset: ``seeds`` is a list of seed sequences, or a count (seeds
    ``[0, k]`` for dataset ``k``)."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"need at least one dataset, got n={seeds}; pass n >= 1")
        seeds = [[0, k] for k in range(seeds)]
    return [np.random.default_rng(list(s)) for s in seeds]


# ----------------------------------------------------------------------------------- Lorenz-96
def lorenz96_rhs(x: np.ndarray, forcing: float) -> np.ndarray:
    """``dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F`` along the last axis (indices mod p).

    Examples
    --------
    >>> lorenz96_rhs(np.full((1, 5), 8.0), 8.0).tolist()  # x_i = F is a fixed point
    [[0.0, 0.0, 0.0, 0.0, 0.0]]
    """
    xe = np.concatenate([x[..., -2:], x, x[..., :1]], axis=-1)  # x_{-2}, x_{-1}, x, x_p
    return (xe[..., 3:] - xe[..., :-3]) * xe[..., 1:-2] - x + forcing


def _l96_draws(rngs: list[np.random.Generator], pr: L96Params) -> tuple[np.ndarray, np.ndarray]:
    """Initial states (n, p) and observation noise (n, frames, p), drawn per dataset."""
    x0 = _normals(rngs, pr.x0_sd, (pr.p,))
    noise = _normals(rngs, pr.noise_sd, (pr.frames, pr.p))
    return x0, noise


def l96_graph(p: int) -> np.ndarray:
    """The Lorenz-96 graph (p, p): ``g[i, j] = 1`` iff ``x_i`` drives ``x_j``, i.e.
    ``i`` in ``{j-2, j-1, j, j+1}`` (mod p), self-loops included.

    Examples
    --------
    >>> l96_graph(5).sum(0).tolist()  # four parents each (itself included)
    [4, 4, 4, 4, 4]
    """
    g = np.zeros((p, p), np.int8)
    j = np.arange(p)
    for d in (-2, -1, 0, 1):
        g[(j + d) % p, j] = 1
    return g


def simulate_l96(
    seeds: Sequence[Sequence[int]] | int, params: L96Params = L96Params()
) -> dict[str, np.ndarray]:
    """Simulate Lorenz-96 datasets together (RK4 with ``params.substeps`` steps per frame).

    Parameters
    ----------
    seeds
        One seed sequence per dataset (its initial state and noise), or a number of datasets.
    params
        :class:`L96Params`.

    Returns
    -------
    dict
        ``x`` (n, frames, p) float64 observed series (noise added), ``clean`` without noise,
        ``graph`` (n, p, p, 1) int8 (``graph[s, i, j, 0]``: ``i -> j``).

    Examples
    --------
    >>> out = simulate_l96(2, L96Params(frames=5, burn_in=10))
    >>> out["x"].shape, out["graph"].shape
    ((2, 5, 20), (2, 20, 20, 1))
    """
    rngs = _rngs(seeds)
    x0, noise = _l96_draws(rngs, params)
    h, f, kernel = params.dt / params.substeps, params.forcing, _l96_kernel()
    if kernel is not None:  # the same bits (tested), 8x faster
        clean = np.empty((len(rngs), params.frames, params.p))
        args = (params.substeps, params.burn_in, params.frames)
        kernel(np.ascontiguousarray(x0.T), h, float(f), *args, clean)
    else:
        clean = _l96_numpy(x0, h, f, params)
    graph = np.broadcast_to(
        l96_graph(params.p)[None, :, :, None], (len(rngs), params.p, params.p, 1)
    )
    return {"x": clean + noise, "clean": clean, "graph": graph.copy()}


def _l96_numpy(x0: np.ndarray, h: float, f: float, params: L96Params) -> np.ndarray:
    """The RK4 loop of :func:`simulate_l96` in numpy, over all datasets (n, p) at once."""
    x = x0.copy()
    clean = np.empty((len(x0), params.frames, params.p))
    if params.burn_in == 0:
        clean[:, 0] = x
    for frame in range(1, params.burn_in + params.frames):
        for _ in range(params.substeps):
            k1 = lorenz96_rhs(x, f)
            k2 = lorenz96_rhs(x + 0.5 * h * k1, f)
            k3 = lorenz96_rhs(x + 0.5 * h * k2, f)
            k4 = lorenz96_rhs(x + h * k3, f)
            x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        if frame >= params.burn_in:
            clean[:, frame - params.burn_in] = x
    return clean


def _l96_loop(
    x: np.ndarray, h: float, f: float, substeps: int, burn_in: int, frames: int, out: np.ndarray
) -> None:
    """:func:`_l96_numpy` as loops for numba, on the transposed state ``x`` (p, n) (changed in
    place) into ``out`` (n, frames, p): every value from the same operations in the same order
    (``(x_{i+1} - x_{i-2}) x_{i-1} - x_i + F``; ``x + (h/2) k``; ``((k1 + 2 k2) + 2 k3) + k4``),
    so the same bits, with the datasets as the inner, vectorized loop."""
    p, n = x.shape
    k, y = np.empty((4, p, n)), np.empty((p, n))
    half, sixth = 0.5 * h, h / 6.0
    if burn_in == 0:
        out[:, 0] = x.T
    for frame in range(1, burn_in + frames):
        for _ in range(substeps):
            for st in range(4):
                if st > 0:  # y = x + (h/2) k1, x + (h/2) k2, x + h k3
                    c, kp = (h if st == 3 else half), k[st - 1]
                    for i in range(p):
                        xi, yi, ki = x[i], y[i], kp[i]
                        for s in range(n):
                            yi[s] = xi[s] + c * ki[s]
                src, ks = (x if st == 0 else y), k[st]
                for i in range(p):
                    a, b, cc, xi, oi = src[(i + 1) % p], src[(i - 2) % p], src[i - 1], src[i], ks[i]
                    for s in range(n):
                        oi[s] = (a[s] - b[s]) * cc[s] - xi[s] + f
            for i in range(p):
                k0, k1, k2, k3, xi = k[0, i], k[1, i], k[2, i], k[3, i], x[i]
                for s in range(n):
                    xi[s] = xi[s] + sixth * (((k0[s] + 2 * k1[s]) + 2 * k2[s]) + k3[s])
        if frame >= burn_in:
            out[:, frame - burn_in] = x.T


@functools.cache
def _l96_kernel() -> Callable[..., None] | None:
    """:func:`_l96_loop` compiled by numba (:func:`~decathlon.datasets.speed.numba_jit`), or
    None (then :func:`_l96_numpy`)."""
    return numba_jit(_l96_loop)


def simulate_l96_reference(
    seeds: Sequence[Sequence[int]] | int,
    params: L96Params = L96Params(),
    rtol: float | None = None,
    atol: float | None = None,
) -> dict[str, np.ndarray]:
    """The same datasets solved the way Neural-GC does: one at a time with ``scipy.integrate.
    odeint`` (LSODA, default tolerances unless given) and a right-hand side looping over the
    variables. Same draws as :func:`simulate_l96`; the time grid is the exact ``k * dt`` (the
    reference's ``linspace(0, (T + burn_in) dt, T + burn_in)`` is ``dt (T + b) / (T + b - 1)``
    apart, a 0.01-0.05 % longer step; see the data card)."""
    from scipy.integrate import odeint

    rngs = _rngs(seeds)
    x0, noise = _l96_draws(rngs, params)
    p = params.p

    def rhs(x: np.ndarray, t: float, forcing: float) -> np.ndarray:
        d = np.zeros(p)
        for i in range(p):
            d[i] = (x[(i + 1) % p] - x[(i - 2) % p]) * x[(i - 1) % p] - x[i] + forcing
        return d

    t = np.arange(params.burn_in + params.frames) * params.dt
    tol = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}
    clean = np.stack(
        [
            odeint(rhs, x0[s], t, args=(params.forcing,), **tol)[params.burn_in :]
            for s in range(len(rngs))
        ]
    )
    graph = np.broadcast_to(l96_graph(p)[None, :, :, None], (len(rngs), p, p, 1))
    return {"x": clean + noise, "clean": clean, "graph": graph.copy()}


# ----------------------------------------------------------------------------------------- VAR
def _var_draws(
    rngs: list[np.random.Generator], pr: VARParams, reference: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    if reference:
        coef = np.stack([stable_coef_reference(var_pattern(r, pr), pr) for r in rngs])
    else:
        coef = stable_coef(var_patterns(rngs, pr), pr)
    return coef, _normals(rngs, pr.noise_sd, (pr.burn_in + pr.frames, pr.p))


def _normals(rngs: list[np.random.Generator], sd: float, shape: tuple[int, ...]) -> np.ndarray:
    """``rng.normal(0.0, sd, shape)`` of every generator, stacked (n, *shape), the same bits:
    ``normal`` returns ``0.0 + sd * z`` of the ziggurat's ``z``, which ``standard_normal``
    draws from the same stream, filling one preallocated array (20 % faster)."""
    out = np.empty((len(rngs), *shape))
    for r, o in zip(rngs, out, strict=True):
        r.standard_normal(shape, out=o)
    out *= sd
    out += 0.0
    return out


def _var_out(coef: np.ndarray, x: np.ndarray, pr: VARParams) -> dict[str, np.ndarray]:
    graph = np.transpose(coef != 0, (0, 3, 2, 1)).astype(np.int8)  # (n, i, j, lag)
    return {"x": x[:, pr.burn_in :], "coef": coef, "graph": graph}


def simulate_var(
    seeds: Sequence[Sequence[int]] | int, params: VARParams = DEFAULT_VAR
) -> dict[str, np.ndarray]:
    """Simulate sparse stable VAR datasets together.

    ``x_t = sum_l A_l x_{t-l} + e_t`` with the first ``lag`` values the noise itself (as the
    reference), ``A_l = A`` at every lag, run by :func:`var_recursion` (a fixed order of
    operations, the same bits on every machine). Returns ``x`` (n, frames, p), ``coef``
    (n, lag, p, p) and ``graph`` (n, p, p, lag) int8 with ``graph[s, i, j, l] = 1`` iff
    ``A_{l+1}[j, i] != 0``.

    Examples
    --------
    >>> out = simulate_var(3, VARParams(frames=50))
    >>> out["x"].shape, out["graph"].shape, int(out["graph"][0, :, :, 0].sum())
    ((3, 50, 20), (3, 20, 20, 3), 80)
    """
    coef, x = _var_draws(_rngs(seeds), params)  # x starts as the noise, in place
    if not (coef == coef[:, :1]).all():  # stable_coef repeats one matrix; the recursion needs it
        raise ValueError("simulate_var: the VAR coefficients differ between lags")
    return _var_out(coef, var_recursion(coef[:, 0], x, params.lag), params)


def simulate_var_reference(
    seeds: Sequence[Sequence[int]] | int, params: VARParams = DEFAULT_VAR
) -> dict[str, np.ndarray]:
    """The same datasets one at a time, step by step, as Neural-GC's ``simulate_var`` writes it
    (stacked coefficients times the Fortran-order flattened lag window), with the coefficients
    scaled as its ``make_var_stationary`` (full companion eigenvalues at every step)."""
    rngs = _rngs(seeds)
    coef, noise = _var_draws(rngs, params, reference=True)
    lag, n_t = params.lag, params.burn_in + params.frames
    out = np.empty((len(rngs), n_t, params.p))
    for s in range(len(rngs)):
        beta = np.hstack(list(coef[s, ::-1]))  # columns: oldest lag first
        xs = np.zeros((params.p, n_t))
        xs[:, :lag] = noise[s, :lag].T
        for t in range(lag, n_t):
            xs[:, t] = beta @ xs[:, t - lag : t].flatten(order="F") + noise[s, t]
        out[s] = xs.T
    return _var_out(coef, out, params)


# ------------------------------------------------------------------------------------- stores
def to_dataset(
    out: dict[str, np.ndarray], name: str, version: str, dt: float, attrs: dict[str, object]
) -> xr.Dataset:
    """Wrap simulator output as a ``causal_series`` dataset (data contract)."""
    n_t = out["x"].shape[1]
    return xr.Dataset(
        {
            "x": (("sample", "time", "variable"), out["x"].astype(np.float32)),
            "graph": (("sample", "variable", "variable_", "lag"), out["graph"].astype(np.int8)),
        },
        coords={"time": np.arange(n_t) * dt, "lag": np.arange(1, out["graph"].shape[-1] + 1)},
        attrs={
            "family": "causal_series",
            "name": name,
            "dt": dt,
            "license": "CC0-1.0 (simulated)",
            "dataset_version": version,
            "graph_convention": "graph[s, i, j, l] = 1 iff x_i at lag l+1 drives x_j (i -> j); "
            "the diagonal (self-lags) is stored and excluded from the metrics",
            **attrs,
        },
    )


L96_SETTINGS = {10.0: "f10", 40.0: "f40"}
L96_CITATION = (
    "Tank, Covert, Foti, Shojaie, Fox. Neural Granger Causality. IEEE TPAMI 2021; Lorenz. "
    "Predictability: a problem partly solved. ECMWF Seminar on Predictability, 1996"
)
VAR_CITATION = (
    "Tank et al., Neural Granger Causality, TPAMI 2021; Cheng, Yang, Xiao, Li, Suo, He, Dai. "
    "CUTS: Neural Causal Discovery from Irregular Time-Series Data. ICLR 2023"
)
SOURCE = "https://github.com/iancovert/Neural-GC (synthetic.py)"


def _seeds(spec: DatasetSpec, chunk: Chunk) -> list[list[int]]:
    if spec.seed is None:
        raise ValueError(f"dataset {spec.name!r} needs a seed (DatasetSpec.seed is None)")
    part = PART_INDEX[chunk.part]
    return [[spec.seed, part, k] for k in range(chunk.start, chunk.start + chunk.size)]


def _l96_chunk(spec: DatasetSpec, tier: str, chunk: Chunk) -> xr.Dataset:
    """Chunk of Lorenz-96 datasets, dataset ``k`` of part ``p`` from ``[seed, p, k]``."""
    pr = L96Params(**spec.params["simulator"])
    out = simulate_l96(_seeds(spec, chunk), pr)
    return to_dataset(
        out,
        spec.name,
        spec.version,
        pr.dt,
        {
            "units": "dimensionless Lorenz-96 state; time in model time units (dt = 0.1)",
            "source": f"simulated: decathlon.datasets.causal (system of {SOURCE})",
            "citation": L96_CITATION,
            "forcing": pr.forcing,
        },
    )


def _var_chunk(spec: DatasetSpec, tier: str, chunk: Chunk) -> xr.Dataset:
    """Chunk of VAR datasets, dataset ``k`` of part ``p`` from ``[seed, p, k]``."""
    pr = VARParams(**spec.params["simulator"])
    out = simulate_var(_seeds(spec, chunk), pr)
    return to_dataset(
        out,
        spec.name,
        spec.version,
        1.0,
        {
            "units": "dimensionless; time in steps (dt = 1 step)",
            "source": f"simulated: decathlon.datasets.causal (system of {SOURCE})",
            "citation": VAR_CITATION,
        },
    )


def _spec(name: str, sim: object, build_chunk: object, citation: str, card: str) -> DatasetSpec:
    return register_dataset(
        DatasetSpec(
            name=name,
            version="1",
            domain="causal",
            family="causal_series",
            build=stream_chunks,
            build_chunk=build_chunk,  # type: ignore[arg-type]
            chunk_size=CHUNK,
            parts=("train", "valid", "test"),
            tiers=CAUSAL_TIERS,
            params={"simulator": asdict(sim), "chunk": CHUNK},  # type: ignore[call-overload]
            seed=13,
            license="CC0-1.0 (simulated data)",
            citation=citation,
            card=card,
            source=SOURCE,
        )
    )


L96_SPECS = {
    tag: _spec(
        f"causal-lorenz96-{tag}",
        L96Params(forcing=f),
        _l96_chunk,
        L96_CITATION,
        "causal-lorenz96.md",
    )
    for f, tag in L96_SETTINGS.items()
}
VAR_SPEC = _spec("causal-var", VARParams(), _var_chunk, VAR_CITATION, "causal-var.md")

register_bench(
    SimBench(
        name="causal-lorenz96",
        fast=lambda n: simulate_l96(n, L96Params()),
        reference=lambda n: simulate_l96_reference(n, L96Params()),
        n_fast=500,
        n_reference=4,
        note="p = 20, F = 10, 1000 burn-in + 1000 kept frames; reference: odeint per dataset",
    )
)
register_bench(
    SimBench(
        name="causal-var",
        fast=lambda n: simulate_var(n, VARParams()),
        reference=lambda n: simulate_var_reference(n, VARParams()),
        n_fast=200,
        n_reference=10,
        note="p = 20, lag 3, 100 burn-in + 1000 kept steps; reference: one dataset at a time",
    )
)
