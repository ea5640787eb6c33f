"""The pair terms of the swarm simulators (:mod:`decathlon.datasets.swarms`), twice: as numpy
passes over (sim, N, N) buffers, and as loops that numba compiles (the ``fast`` extra,
:func:`~decathlon.datasets.speed.numba_jit`). Both give the same bits (tests in
``tests/test_swarms.py``), so a store verifies whichever ran: each pair's operations keep the
order of the numpy expression, and what numba would compute differently stays numpy's (the
exponentials, whose last bits differ between numpy's vectorized ``exp`` and the C library's,
and the BLAS products).

- Vicsek: the 0/1 neighbour mask (minimum-image distances against the radius): one loop over
  the pairs instead of sixteen passes, 13x faster.
- D'Orsogna: the Morse pair factors from the Gram matrix, with numpy's two exponentials between
  two compiled loops (distances; combination), 1.5x faster than the numpy passes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from decathlon.datasets.speed import numba_jit

__all__ = ["neighbour_mask", "mask_numpy", "mask_loop", "mask_kernel", "morse_pairs", "morse_numpy"]


# ------------------------------------------------------------------------------------ Vicsek
def neighbour_mask(pos: np.ndarray, r2max: np.ndarray, box: float, work: np.ndarray) -> np.ndarray:
    """The 0/1 neighbour mask (sim, N, N) of positions ``pos`` (sim, N, 3) in the periodic box:
    1.0 where the minimum-image squared distance is at most ``r2max`` (sim, 1, 1). Written to
    ``work[1]`` (``work`` (2, sim, N, N); ``work[0]`` is scratch) by :func:`mask_kernel` when
    numba is there, else by :func:`mask_numpy`; returns that view."""
    kernel, mask = mask_kernel(), work[1]
    if kernel is None:
        mask_numpy(pos, r2max, box, work[0], mask)
    else:
        coords = np.ascontiguousarray(pos.transpose(0, 2, 1))
        kernel(coords, np.ascontiguousarray(r2max[:, 0, 0]), float(box), mask)
    return mask


def mask_numpy(
    pos: np.ndarray, r2max: np.ndarray, box: float, r2: np.ndarray, mask: np.ndarray
) -> None:
    """``mask[s, i, j] = 1.0`` where the minimum-image squared distance of particles ``i``
    and ``j`` is at most ``r2max[s]`` (sim, 1, 1), else 0.0; ``r2`` is scratch (sim, N, N).

    Squared distances are summed one coordinate at a time (positions lie in ``[0, box)``, so
    ``|dx| <= box`` and the image distance is ``min(|dx|, box - |dx|)``), in place: the pair
    terms are memory-bound, and every simulation's arithmetic is the same as over the whole
    batch at once, so the result does not depend on the block size."""
    dx = mask
    r2[...] = 0.0
    for k in range(pos.shape[-1]):
        c = pos[:, :, k]
        np.subtract(c[:, :, None], c[:, None, :], out=dx)
        np.abs(dx, out=dx)
        np.minimum(dx, box - dx, out=dx)
        np.multiply(dx, dx, out=dx)
        r2 += dx
    np.less_equal(r2, r2max, out=mask)  # 1.0 for a neighbour, else 0.0


def mask_loop(coords: np.ndarray, r2max: np.ndarray, box: float, mask: np.ndarray) -> None:
    """:func:`mask_numpy` as loops over pairs, for numba, from ``coords`` (sim, 3, N) and
    ``r2max`` (sim,): each pair's operations in the same order (``0 + dx_0^2`` is ``dx_0^2``),
    so the mask is the same bit for bit (tested), one pass over memory instead of sixteen."""
    m, d, n = coords.shape
    for s in range(m):
        for i in range(n):
            row = mask[s, i]
            for k in range(d):
                ci, ck = coords[s, k, i], coords[s, k]
                for j in range(n):
                    dx = abs(ci - ck[j])
                    dx = min(dx, box - dx)
                    row[j] = dx * dx if k == 0 else row[j] + dx * dx
            for j in range(n):
                row[j] = 1.0 if row[j] <= r2max[s] else 0.0


@functools.cache
def mask_kernel() -> Callable[[np.ndarray, np.ndarray, float, np.ndarray], None] | None:
    """:func:`mask_loop` compiled by numba (the ``fast`` extra; compiled in about 0.6 s, then
    cached by numba), or None without numba or with ``DECATHLON_NUMBA=0`` (then
    :func:`mask_numpy`, 13x slower on the mask and 3-5x on a whole Vicsek step)."""
    return numba_jit(mask_loop)


# --------------------------------------------------------------------------------- D'Orsogna
def morse_pairs(sq: np.ndarray, p: np.ndarray, work: np.ndarray) -> np.ndarray:
    """The Morse pair factors ``g_ij = m (C_r/l_r e^{-r/l_r} - e^{-r}) / r_ij`` (0 on the
    diagonal) of one block of simulations, from the squared norms ``sq`` (sim, N) and the Gram
    matrix ``x_i . x_j`` in ``work[1]``; ``work`` (4, sim, N, N) is scratch; returns a view of
    it. Distances ``r^2 = (|x_i|^2 + |x_j|^2) - 2 x_i.x_j``, at least 1e-300."""
    kernels = morse_kernels()
    if kernels is None:
        return morse_numpy(sq, p, work)
    distances, combine = kernels
    radius, _, c_r, l_r = (p[:, k] for k in range(4))
    neg_r, gram, scaled, e = work
    distances(gram, sq, np.ascontiguousarray(l_r), neg_r, scaled)  # -r and -r / l_r
    np.exp(scaled, out=scaled)
    np.exp(neg_r, out=e)
    crl, mass = np.ascontiguousarray(c_r / l_r), np.ascontiguousarray(-(radius**3))
    combine(scaled, e, neg_r, crl, mass, gram)
    return gram


def morse_numpy(sq: np.ndarray, p: np.ndarray, work: np.ndarray) -> np.ndarray:
    """:func:`morse_pairs` as in-place numpy passes, in the operation order of the plain
    expression (the buffer holds ``-r``; negating both factors of a product or quotient is
    exact)."""
    radius, _, c_r, l_r = (p[:, k, None, None] for k in range(4))
    n = sq.shape[1]
    neg_r, g, e = work[0], work[1], work[2]
    np.multiply(2, g, out=g)
    np.add(sq[:, :, None], sq[:, None, :], out=neg_r)
    np.subtract(neg_r, g, out=neg_r)  # r^2
    diag = np.arange(n)
    neg_r[:, diag, diag] = 1.0  # self-pairs: any positive value, zeroed below
    np.maximum(neg_r, 1e-300, out=neg_r)
    np.sqrt(neg_r, out=neg_r)
    np.negative(neg_r, out=neg_r)
    np.divide(neg_r, l_r, out=g)  # -r / l_r
    np.exp(g, out=g)
    np.multiply(c_r / l_r, g, out=g)
    np.exp(neg_r, out=e)  # e^{-r}: C_a = l_a = 1
    np.subtract(g, e, out=g)
    np.multiply(-(radius**3), g, out=g)  # mass R^3, negated to divide by -r
    np.divide(g, neg_r, out=g)
    g[:, diag, diag] = 0.0
    return g


def morse_distances_loop(
    gram: np.ndarray, sq: np.ndarray, l_r: np.ndarray, neg_r: np.ndarray, scaled: np.ndarray
) -> None:
    """``neg_r = -sqrt(max(r^2, 1e-300))`` (the diagonal's ``r^2`` 1) and ``scaled = neg_r /
    l_r`` of :func:`morse_numpy`, as loops for numba. ``not (r2 < 1e-300)`` keeps a NaN, as
    ``np.maximum`` does, so an overflowing run still shows."""
    m, n, _ = gram.shape
    for s in range(m):
        for i in range(n):
            for j in range(n):
                r2 = (sq[s, i] + sq[s, j]) - 2.0 * gram[s, i, j]
                nr = -math.sqrt(r2 if not (r2 < 1e-300) else 1e-300)
                neg_r[s, i, j] = nr
                scaled[s, i, j] = nr / l_r[s]
            neg_r[s, i, i] = -1.0
            scaled[s, i, i] = -1.0 / l_r[s]


def morse_combine_loop(
    ea: np.ndarray,
    e: np.ndarray,
    neg_r: np.ndarray,
    crl: np.ndarray,
    mass: np.ndarray,
    g: np.ndarray,
) -> None:
    """``g = (-m (C_r/l_r e^{-r/l_r} - e^{-r})) / (-r)``, 0 on the diagonal, from the two
    exponentials ``ea``, ``e`` (numpy's) as :func:`morse_numpy` combines them."""
    m, n, _ = ea.shape
    for s in range(m):
        for i in range(n):
            for j in range(n):
                g[s, i, j] = (mass[s] * (crl[s] * ea[s, i, j] - e[s, i, j])) / neg_r[s, i, j]
            g[s, i, i] = 0.0


@functools.cache
def morse_kernels() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """The two D'Orsogna loops compiled by numba, or None (then :func:`morse_numpy`)."""
    distances, combine = numba_jit(morse_distances_loop), numba_jit(morse_combine_loop)
    return None if distances is None or combine is None else (distances, combine)
