"""The batched integrator of :mod:`decathlon.datasets.nri`, in a structure-of-arrays layout.

A batch of ``B`` simulations of ``n`` balls in ``D`` dimensions is held as ``(D, n, B)`` arrays:
one contiguous ``(n, B)`` block per component, the simulations along the contiguous axis, so every
operation is a long vector operation; buffers are allocated once per run and updated in place
(``out=``), and broadcasting only ever repeats an array along its first axis (numpy's fast case;
repeating along a middle axis costs it twice the time). A step is a dozen or so numpy calls
whatever ``B`` (springs 11 in 2-D, charged 15), so per-call overhead fades at a few thousand
simulations per batch.

**Same bytes.** Every force component is computed with the same operations, in the same order,
as the array-of-structures code that built data version 1, so a seed gives the same bytes:

* springs: ``F = deg * x - (a @ x)``, ``a = -k A``, ``deg`` the row sums of ``a``. Numpy's
  ``a @ x`` (a BLAS ``dgemm`` per simulation) is a sequential fused multiply-add chain over ``j``;
  here the same chain comes from one stacked ``dgemm`` over the batch, ``[-k] @ (A_ij x_j)``
  (``A_ij x_j`` is exact: ``A`` is 0 or 1). The clip is skipped in the steps where it cannot act
  (``|F| <= 2 k (n - 1) max |x|`` below ``max_force``, always so inside NRI's box);
* charged: pair differences ``x_i - x_j`` over the pairs ``i < j`` (a ``dgemm`` with the 0/+-1
  incidence matrix: exact); ``r2`` summed in the order of numpy's ``einsum`` (even components,
  then odd, then the two sums); ``w / (r2 * sqrt(r2)) * d``; each ball's force summed over its
  pairs in pair order (``-`` where it is the second ball): the incidence ``dgemm`` again, exact
  term by term;
* a component-wise clip; kick ``v += dt F``, drift ``x += dt v``, walls as :func:`nri._reflect`.

The ``dgemm`` shortcuts rely on BLAS summing over ``k`` in order, as OpenBLAS's ``dgemm`` does
(numpy sends products with a dimension of 1 to ``dgemv``, which does not). Each force object
checks that once, with its own shapes and buffers on random inputs, against version 1's code
(kept: per-simulation ``matmul``; ``einsum`` over pairs) and otherwise runs that code instead.

**The springs' chain without BLAS.** Version 1's ``a @ x`` is OpenBLAS's chain on a CPU with
FMA: ``s = fma(a_ij, x_j, s)`` for ``j = 0, 1, ...`` from ``s = 0``. On a CPU without FMA
(OpenBLAS's Sandybridge kernels) or with another BLAS (Accelerate on macOS) the product gives
other float64 bits. With numba, :func:`spring_chain_loop` writes that chain down with an
explicit fused multiply-add (:func:`~decathlon.datasets.speed.numba_fma`: the instruction, or
the C library's correctly rounded ``fma``), so it gives version 1's bits on every machine
(tested against BLAS and against exact rational arithmetic, :func:`fma_exact`).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from decathlon.datasets.speed import numba_fma, numba_jit

__all__ = [
    "SpringForces",
    "ChargedForces",
    "fma_exact",
    "make_forces",
    "integrate",
    "reflect",
    "spring_chain_loop",
    "spring_kernel",
]


class SpringForces:
    """Clipped spring forces ``deg * x - a @ x`` on ``(D, n, B)`` positions (module notes)."""

    def __init__(self, coupling: np.ndarray, p) -> None:
        n_sims, n, _ = coupling.shape
        self.p = p
        self.a = -p.interaction_strength * coupling  # (B, n, n), as version 1
        deg = self.a.sum(-1).T  # (n, B)
        self.deg = np.ascontiguousarray(np.broadcast_to(deg, (p.dim, n, n_sims)))
        self.mask = np.ascontiguousarray(coupling.transpose(1, 2, 0))  # (i, j, B)
        self.y = np.empty((p.dim, n, n, n_sims))  # (d, i, j, B): A_ij x_j
        self.k = np.full((2, n), -p.interaction_strength)  # 2 rows: a dgemm, not a dgemv
        self.s = np.empty((p.dim, n, 2, n_sims))
        # |F| <= 2 k (n - 1) max|x| (plus rounding): no clipping needed while max|x| is below this
        self.clip_free = p.max_force / (2.01 * abs(p.interaction_strength) * max(n - 1, 1))
        self.a_t: np.ndarray | None = None  # a as (i, j, B), for spring_kernel()
        self.fused: np.ndarray | None = None  # its output (D, n, B)
        self.blas = spring_kernel() is not None or self._blas_matches()

    def _blas_matches(self) -> bool:
        """Whether the stacked ``dgemm`` gives version 1's bits: checked with this run's shapes
        and buffers on a complete graph (every term of every chain non-zero), random positions."""
        mask, a = self.mask, self.a
        n, n_sims = mask.shape[0], mask.shape[2]
        if n < 2 or n_sims < 2:  # numpy would call dgemv
            return False
        self.mask = np.ascontiguousarray(np.broadcast_to((1.0 - np.eye(n))[..., None], mask.shape))
        self.a = np.ascontiguousarray(-self.p.interaction_strength * self.mask.transpose(2, 0, 1))
        try:
            return all(
                np.array_equal(self._chain(x, True), self._chain(x, False))
                for x in _random_states(self.deg.shape)
            )
        finally:
            self.mask, self.a = mask, a

    def _chain(self, x: np.ndarray, blas: bool) -> np.ndarray:
        """``a @ x`` as (D, n, B): one stacked ``dgemm``, or version 1's per-simulation one."""
        if not blas:
            s = np.matmul(self.a, np.ascontiguousarray(x.transpose(2, 1, 0)))
            return s.transpose(2, 1, 0)
        for d in range(x.shape[0]):
            np.multiply(self.mask, x[d][None], out=self.y[d])
        np.matmul(self.k, self.y, out=self.s)  # (2, j) @ (j, B) for every (d, i)
        return self.s[:, :, 0]

    def __call__(self, x: np.ndarray, f: np.ndarray, reach: float | None = None) -> None:
        """Forces into ``f``; ``reach`` (``max |x|`` if known) lets a clip that cannot act go.
        ``a @ x`` is numba's FMA chain where numba is installed, else a ``dgemm``."""
        kernel = spring_kernel()
        if kernel is None:
            s = self._chain(x, self.blas)
        else:
            if self.a_t is None or self.fused is None:
                self.a_t = np.ascontiguousarray(self.a.transpose(1, 2, 0))  # (i, j, B)
                self.fused = np.empty(x.shape)
            kernel(self.a_t, x, self.fused)
            s = self.fused
        np.multiply(self.deg, x, out=f)
        np.subtract(f, s, out=f)
        if reach is None or not reach < self.clip_free:
            np.clip(f, -self.p.max_force, self.p.max_force, out=f)


class ChargedForces:
    """Clipped Coulomb forces on ``(D, n, B)`` positions, each pair once (module notes)."""

    def __init__(self, coupling: np.ndarray, p) -> None:
        n_sims, n, _ = coupling.shape
        self.p = p
        self.i, self.j = np.triu_indices(n, 1)
        n_pairs = len(self.i)
        self.w_v1 = p.interaction_strength * coupling[:, self.i, self.j]  # (B, pairs)
        self.w = np.ascontiguousarray(self.w_v1.T)
        self.inc = np.zeros((n, n_pairs))  # +1: first ball of the pair, -1: second
        self.inc[self.i, np.arange(n_pairs)] = 1.0
        self.inc[self.j, np.arange(n_pairs)] = -1.0
        self.inc_t = np.ascontiguousarray(self.inc.T)
        self.d = np.empty((p.dim, n_pairs, n_sims))
        self.sq = np.empty_like(self.d)
        self.r2 = np.empty((n_pairs, n_sims))
        self.t = np.empty_like(self.r2)
        self.blas = self._blas_matches()

    def _blas_matches(self) -> bool:
        """Whether the fast path gives version 1's bits: checked with this run's shapes and
        buffers on random positions."""
        shape = (self.d.shape[0], len(self.inc), self.w.shape[1])
        if shape[1] < 3 or shape[2] < 2:  # numpy would call dgemv
            return False
        f = np.empty(shape)
        for x in _random_states(shape):
            self._force_blas(x, f)
            if not np.array_equal(f, self._force_v1(x)):
                return False
        return True

    def _force_blas(self, x: np.ndarray, f: np.ndarray) -> None:
        """Unclipped forces into ``f`` with the incidence ``dgemm`` and in-place updates."""
        d, sq, r2, t = self.d, self.sq, self.r2, self.t
        np.matmul(self.inc_t, x, out=d)  # x_i - x_j
        np.multiply(d, d, out=sq)
        _sum_components(sq, r2)
        np.sqrt(r2, out=t)
        np.multiply(t, r2, out=t)
        np.divide(self.w, t, out=t)
        np.multiply(t, d, out=d)  # the pair terms
        np.matmul(self.inc, d, out=f)

    def _force_v1(self, x: np.ndarray) -> np.ndarray:
        """Version 1's code (array of structures, two ``einsum``), unclipped, as (D, n, B)."""
        xa = np.ascontiguousarray(x.transpose(2, 1, 0))
        d = xa[:, self.i] - xa[:, self.j]
        r2 = np.einsum("bpd,bpd->bp", d, d)
        g = (self.w_v1 / (r2 * np.sqrt(r2)))[..., None] * d
        return np.einsum("ip,bpd->bid", self.inc, g).transpose(2, 1, 0)

    def __call__(self, x: np.ndarray, f: np.ndarray, reach: float | None = None) -> None:
        if self.blas:
            self._force_blas(x, f)
        else:
            f[...] = self._force_v1(x)
        np.clip(f, -self.p.max_force, self.p.max_force, out=f)


def fma_exact(a: float, b: float, c: float) -> float:
    """``a b + c`` rounded once, as IEEE-754's fusedMultiplyAdd, in plain Python: exact rational
    arithmetic, then Python's correctly rounded conversion to float (finite arguments; a zero
    result is +0). What :func:`spring_chain_loop` calls when it runs uncompiled."""
    return float(Fraction(a) * Fraction(b) + Fraction(c))


fma = fma_exact  # compiled, spring_chain_loop calls numba_fma() under this name instead


def spring_chain_loop(a: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """``out[d, i, b] = sum_j a[i, j, b] x[d, j, b]`` as version 1's BLAS chain: ``s = fma(a_ij,
    x_j, s)`` in increasing ``j`` from ``s = 0``; ``a`` (n, n, B), ``x`` and ``out`` (D, n, B),
    the simulations the inner, vectorized loop."""
    dims, n, m = x.shape
    for d in range(dims):
        for i in range(n):
            o = out[d, i]
            for b in range(m):
                o[b] = 0.0
            for j in range(n):
                aij, xj = a[i, j], x[d, j]
                for b in range(m):
                    o[b] = fma(aij[b], xj[b], o[b])


@functools.cache
def spring_kernel() -> Callable[..., None] | None:
    """:func:`spring_chain_loop` compiled by numba with :func:`numba_fma` as its ``fma``, or
    None without numba or with ``DECATHLON_NUMBA=0`` (then the ``dgemm`` paths)."""
    fused = numba_fma()
    if fused is None:
        return None
    loop = types.FunctionType(
        spring_chain_loop.__code__, {**spring_chain_loop.__globals__, "fma": fused}, "spring_chain"
    )
    return numba_jit(loop)


def _random_states(shape: tuple[int, ...]):
    """Random positions for the BLAS checks: enough draws to compare some 20000 numbers."""
    rng = np.random.default_rng(0)
    for _ in range(min(64, -(-20000 // int(np.prod(shape))))):
        yield rng.standard_normal(shape)


def _sum_components(sq: np.ndarray, out: np.ndarray) -> None:
    """``sum_k sq[k]`` in the order of numpy's ``einsum`` (two SIMD lanes): the even
    components, then the odd ones, then the two partial sums; ``(s0 + s2) + s1`` in 3-D."""
    dim = sq.shape[0]
    if dim == 1:
        np.copyto(out, sq[0])
        return
    even = sq[0]
    if dim > 2:
        np.add(sq[0], sq[2], out=out)
        for k in range(4, dim, 2):
            out += sq[k]
        even = out
    odd = sq[1]
    if dim > 3:
        odd = sq[1] + sq[3]  # allocates; only above three dimensions
        for k in range(5, dim, 2):
            odd += sq[k]
    np.add(even, odd, out=out)


def make_forces(coupling: np.ndarray, p) -> SpringForces | ChargedForces:
    """The force object of system ``p.system`` for a batch with ``coupling`` (B, n, n)."""
    if p.system == "springs":
        return SpringForces(coupling, p)
    if p.system == "charged":
        return ChargedForces(coupling, p)
    raise ValueError(f"unknown NRI system {p.system!r}; expected 'springs' or 'charged'")


def reflect(x: np.ndarray, v: np.ndarray, box: float) -> None:
    """:func:`decathlon.datasets.nri._reflect` on the few coordinates past a wall (contiguous)."""
    xf, vf = x.reshape(-1), v.reshape(-1)
    over = np.flatnonzero(xf > box)
    xf[over] = 2 * box - xf[over]
    vf[over] = -np.abs(vf[over])
    under = np.flatnonzero(xf < -box)
    xf[under] = -2 * box - xf[under]
    vf[under] = np.abs(vf[under])


def integrate(
    x: np.ndarray,
    v: np.ndarray,
    force,
    p,
    n_steps: int,
    sample_freq: int,
    friction: float | np.ndarray = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The reference's integration loop on ``(D, n, B)`` arrays, in place on ``x`` and ``v``.

    ``v += dt F(x)`` once, then ``n_steps - 1`` times: ``x += dt v``, walls, store every
    ``sample_freq``-th state, ``v += dt F(x)``. Returns the stored positions and velocities,
    (B, n_steps // sample_freq - 1, n, D).

    ``friction`` (a number, or one per simulation, shape (B,)) adds a linear drag ``-gamma v``
    to every force (unit masses): the damped variant of the arrow-of-time event
    (``docs/protocols.md`` §9). A negative ``gamma`` integrates the time-reversed damped system.
    With the default 0 no operation is added, so the stored bytes are those of the undamped code.
    """
    n_save = n_steps // sample_freq - 1
    pos = np.empty((x.shape[2], n_save, x.shape[1], x.shape[0]))
    vel = np.empty_like(pos)
    dt, box = p.dt, p.box_size
    f, step = np.empty_like(x), np.empty_like(x)
    springs = isinstance(force, SpringForces)  # uses max |x| to skip its clip
    gamma = np.asarray(friction, dtype=np.float64)
    drag = np.empty_like(x) if gamma.any() else None  # None: the undamped code, unchanged
    force(x, f)
    if drag is not None:
        f -= np.multiply(gamma, v, out=drag)
    np.multiply(f, dt, out=step)
    v += step
    k = 0
    for i in range(1, n_steps):
        np.multiply(v, dt, out=step)
        x += step
        reach = max(x.max(), -x.min()) if box is not None or springs else None  # max |x| or NaN
        if box is not None and reach > box:  # only when a ball crossed; reach still bounds |x|
            reflect(x, v, box)
        if i % sample_freq == 0 and k < n_save:
            pos[:, k] = x.transpose(2, 1, 0)
            vel[:, k] = v.transpose(2, 1, 0)
            k += 1
        force(x, f, reach)
        if drag is not None:
            f -= np.multiply(gamma, v, out=drag)
        np.multiply(f, dt, out=step)
        v += step
    return pos, vel
