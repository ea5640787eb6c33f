"""The pair terms of the swarm simulators (:mod:`decathlon.datasets.swarms`), twice: as numpy
passes over (sim, N, N) buffers, and as loops that numba compiles (the ``fast`` extra,
:func:`~decathlon.datasets.speed.numba_jit`). Both give the same bits (tests in
``tests/test_swarms.py``), so a store verifies whichever ran.

**Portable arithmetic (data version 2).** Every value comes from IEEE-754 additions,
subtractions, multiplications, divisions and square roots in a fixed order, which every
platform rounds the same way, so a store has the same ``data_sha256`` on every machine
(``tests/test_portability.py`` rebuilds them with other SIMD levels and BLAS kernels). Version 1
used numpy's ``exp``/``exp2`` (the last bits depend on the CPU's SIMD level) and BLAS products
(the summation order depends on the BLAS kernel), so a store built on a laptop without AVX-512
differed from one built on a server: ``exp`` is :func:`exp_portable` here, and the sums over
neighbours run in the fixed order of :func:`lane_sums`.

- Vicsek: the 0/1 neighbour mask (minimum-image distances against the radius): one loop over
  the pairs instead of sixteen passes, 13x faster; then the lane sums of the velocities
  (a loop over the columns of the symmetric mask, vectorized over the particles).
- D'Orsogna: the Morse pair factors from coordinate differences with two portable
  exponentials, each unordered pair once, then the lane sums of ``g_ij (x_i - x_j)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from decathlon.datasets.speed import numba_jit

__all__ = [
    "exp_portable",
    "exp2_portable",
    "neighbour_mask",
    "mask_numpy",
    "mask_loop",
    "mask_kernel",
    "lane_sums",
    "lane_sums_numpy",
    "morse_sums",
    "morse_numpy",
]

# ------------------------------------------------------------------------- portable exponential
#: ``log2(e)`` and ``ln 2`` split as Cody & Waite's (``LN2_HI`` has 32 trailing zero bits, so
#: ``n * LN2_HI`` is exact for the ``|n| <= 1010`` used here): fdlibm's ``e_exp.c`` constants.
LOG2E = 1.4426950408889634
LN2 = 0.6931471805599453
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
#: Taylor coefficients ``1/k!`` for ``k = 13, ..., 0`` (Horner order): on ``|r| <= ln2 / 2``
#: the truncation error is below ``4e-18`` relative.
EXP_COEF = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))
#: Arguments are clamped to ``[-EXP_CLAMP, EXP_CLAMP]`` (``e^-700 ~ 1e-304``: every ``2^n`` and
#: every result stays a normal number, so scaling by ``2^n`` is exact).
EXP_CLAMP = 700.0


def exp_portable(x: np.ndarray) -> np.ndarray:
    """``e^x`` with only IEEE-754 basic operations, the same bits on every platform, within
    1 ulp of numpy's ``exp`` (tested on 10^6 arguments) for ``|x| <= 700``; arguments are
    clamped to ``[-700, 700]`` and NaN counts as -700 (the compiled loops do the same, where a
    NaN index would be undefined).

    Cody-Waite reduction ``x = n ln2 + r`` (``n = floor(x log2 e + 1/2)``, ``|r| <= ln2/2``),
    the degree-13 Taylor polynomial of ``e^r`` by Horner's rule, and ``2^n`` built from its
    exponent bits.

    Examples
    --------
    >>> x = np.array([-1.0, 0.0, 1.0])
    >>> float(exp_portable(x)[1]), bool(np.allclose(exp_portable(x), np.exp(x), rtol=3e-16, atol=0))
    (1.0, True)
    """
    x = np.asarray(x, dtype=np.float64)
    xc = np.where(x > -EXP_CLAMP, x, -EXP_CLAMP)
    xc = np.where(xc < EXP_CLAMP, xc, EXP_CLAMP)
    n = np.floor(xc * LOG2E + 0.5)
    return _taylor((xc - n * LN2_HI) - n * LN2_LO) * _pow2(n)


def exp2_portable(u: np.ndarray) -> np.ndarray:
    """``2^u`` with the same operations as :func:`exp_portable`: ``u = n + f`` (``n`` the nearest
    integer, ``f`` exact), ``2^f = e^{f ln 2}`` by the Taylor polynomial, times ``2^n``: exact
    powers of two for integer ``u``; for ``|u| <= 1000``."""
    u = np.asarray(u, dtype=np.float64)
    n = np.floor(u + 0.5)
    return _taylor((u - n) * LN2) * _pow2(n)


def _taylor(r: np.ndarray) -> np.ndarray:
    """``e^r`` for ``|r| <= ln2 / 2``: Horner's rule on :data:`EXP_COEF`."""
    p = np.full_like(r, EXP_COEF[0])
    for c in EXP_COEF[1:]:
        p *= r
        p += c
    return p


def _pow2(n: np.ndarray) -> np.ndarray:
    """``2^n`` for integer-valued ``n`` in ``[-1022, 1023]``, from its exponent bits."""
    return ((n.astype(np.int64) + 1023) << 52).view(np.float64)


# ------------------------------------------------------------------------------------ Vicsek
def neighbour_mask(pos: np.ndarray, r2max: np.ndarray, box: float, work: np.ndarray) -> np.ndarray:
    """The 0/1 neighbour mask (sim, N, N) of positions ``pos`` (sim, N, 3) in the periodic box:
    1.0 where the minimum-image squared distance is at most ``r2max`` (sim, 1, 1). Written to
    ``work[1]`` (``work`` (2, sim, N, N); ``work[0]`` is scratch) by :func:`mask_kernel` when
    numba is there, else by :func:`mask_numpy`; returns that view. The mask is exact (0 or 1):
    its bits do not depend on the platform."""
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


# ------------------------------------------------------------------------------- lane sums
#: Partial sums of :func:`lane_sums`: ``j`` goes to lane ``j mod LANES``.
LANES = 8


def lane_sums(w: np.ndarray, x: np.ndarray, diff: bool, symmetric: bool = False) -> np.ndarray:
    """``out[s, i] = sum_j w[s, i, j] t_j`` with ``t_j = x_i - x_j`` (``diff``) or ``x_j``, for
    weights (sim, N, N) and points (sim, N, 3), in a fixed order: lane ``k`` sums the terms of
    ``j = k, k + 8, ...`` in increasing ``j`` from 0.0, and the eight lanes are added as
    ``((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))``. The same bits from the numba loop
    (:func:`lane_sums_loop`) and the numpy passes (:func:`lane_sums_numpy`).

    The loop reads the weights by columns (``w[s, :, j]``); ``symmetric=True`` says that
    ``w[s, i, j] == w[s, j, i]`` bit for bit (the neighbour mask, the Morse factors), so the
    rows serve as columns, else a transposed copy is made."""
    kernels = pair_kernels()
    if kernels is None:
        return lane_sums_numpy(w, x, diff)
    out = np.empty_like(x)
    wt = w if symmetric else w.transpose(0, 2, 1)
    coords = np.ascontiguousarray(x.transpose(0, 2, 1))
    acc = np.empty((x.shape[2], LANES, x.shape[1]))
    kernels[1](np.ascontiguousarray(wt), coords, out, diff, acc)
    return out


def lane_sums_numpy(w: np.ndarray, x: np.ndarray, diff: bool) -> np.ndarray:
    """:func:`lane_sums` as numpy passes over blocks of :data:`LANES` columns."""
    m, n, d = x.shape
    lanes = np.zeros((m, n, LANES, d))
    for b in range(0, n, LANES):
        xb = x[:, None, b : b + LANES, :]
        t = x[:, :, None, :] - xb if diff else xb
        lanes[:, :, : t.shape[2]] += w[:, :, b : b + LANES, None] * t
    a = [lanes[:, :, k] for k in range(LANES)]
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))


def lane_sums_loop(
    wt: np.ndarray, coords: np.ndarray, out: np.ndarray, diff: bool, acc: np.ndarray
) -> None:
    """:func:`lane_sums` as loops for numba, from the transposed weights ``wt[s, j, i] =
    w[s, i, j]`` and ``coords`` (sim, 3, N); ``acc`` (3, 8, N) is scratch.

    The loop over ``j`` is outside: term ``j`` goes to lane ``j mod 8`` of every particle ``i``
    at once, a contiguous loop over ``i`` that LLVM vectorizes (each lane still receives its
    terms in increasing ``j``, so the bits are those of a loop over ``j`` per particle, which
    ran 1.7x slower on D'Orsogna's factors and 2.7x on Vicsek's mask: its eight scalar
    accumulators were not vectorized)."""
    m, d, n = coords.shape
    for s in range(m):
        for c in range(d):
            xs, a = coords[s, c], acc[c]
            a[:, :] = 0.0
            for j in range(n):
                col, lane, xj = wt[s, j], a[j % LANES], xs[j]
                if diff:
                    for i in range(n):
                        lane[i] += col[i] * (xs[i] - xj)
                else:
                    for i in range(n):
                        lane[i] += col[i] * xj
            o = out[s, :, c]
            for i in range(n):
                o[i] = ((a[0, i] + a[1, i]) + (a[2, i] + a[3, i])) + (
                    (a[4, i] + a[5, i]) + (a[6, i] + a[7, i])
                )


# --------------------------------------------------------------------------------- D'Orsogna
def morse_params(p: np.ndarray) -> np.ndarray:
    """(sim, 3) ``mass = R R R``, ``C_r / l_r``, ``l_r`` of NPD parameters (sim, 4)."""
    radius, c_r, l_r = p[:, 0], p[:, 2], p[:, 3]
    return np.ascontiguousarray(np.stack([radius * radius * radius, c_r / l_r, l_r], 1))


def morse_sums(pos: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The Morse sums ``sum_j g_ij (x_i - x_j)`` (sim, N, 3) of positions (sim, N, 3), with
    ``g_ij = m (C_r/l_r e^{-r/l_r} - e^{-r}) / r`` from ``r = sqrt((dx^2 + dy^2) + dz^2)`` and
    :func:`exp_portable`, 0 for a pair at distance 0 (a particle and itself, coincident ones),
    in the order of :func:`lane_sums`. numba computes each unordered pair once (``g`` is
    symmetric bit for bit: ``x_j - x_i = -(x_i - x_j)`` exactly), numpy every ordered pair."""
    par = morse_params(p)
    kernels = pair_kernels()
    if kernels is None:
        return morse_numpy(pos, par)
    m, n, _ = pos.shape
    coords = np.ascontiguousarray(pos.transpose(0, 2, 1))
    g = np.empty((m, n, n))
    kernels[0](coords, par, g, np.empty((3, n)), np.empty((2, n), dtype=np.int64))
    return lane_sums(g, pos, True, symmetric=True)  # g is symmetric: rows are columns


def morse_numpy(pos: np.ndarray, par: np.ndarray) -> np.ndarray:
    """:func:`morse_sums` as numpy passes, from :func:`morse_params` ``par``."""
    mass, crl, l_r = (par[:, k, None, None] for k in range(3))
    d = pos[:, :, None, :] - pos[:, None, :, :]
    r = np.sqrt((d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]) + d[..., 2] * d[..., 2])
    g = crl * exp_portable(-r / l_r) - exp_portable(-r)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(r > 0.0, (mass * g) / r, 0.0)
    return lane_sums_numpy(g, pos, True)


def morse_factors_loop(
    coords: np.ndarray, par: np.ndarray, g: np.ndarray, buf: np.ndarray, ibuf: np.ndarray
) -> None:
    """The pair factors ``g`` (sim, N, N) of :func:`morse_numpy` as loops for numba, each
    unordered pair once, from ``coords`` (sim, 3, N); ``buf`` (3, N) and ``ibuf`` (2, N) int64
    are scratch. Rows are handled as views indexed from 0 (a loop from ``i + 1`` kept LLVM from
    vectorizing it: 9 against 1.75 ns per exponential)."""
    m, _, n = coords.shape
    for s in range(m):
        mass, crl, l_r = par[s, 0], par[s, 1], par[s, 2]
        x0, x1, x2 = coords[s, 0], coords[s, 1], coords[s, 2]
        for i in range(n):
            g[s, i, i] = 0.0
            rr, ea, eb = buf[0, i + 1 :], buf[1, i + 1 :], buf[2, i + 1 :]
            y0, y1, y2 = x0[i + 1 :], x1[i + 1 :], x2[i + 1 :]
            for j in range(rr.shape[0]):
                dx, dy, dz = x0[i] - y0[j], x1[i] - y1[j], x2[i] - y2[j]
                rr[j] = math.sqrt((dx * dx + dy * dy) + dz * dz)
                ea[j] = -rr[j] / l_r
                eb[j] = -rr[j]
            for q in range(2):
                arr, ib = (ea if q == 0 else eb), ibuf[q, i + 1 :]
                for j in range(arr.shape[0]):  # exp_portable, the same operations
                    xc = arr[j] if arr[j] > -EXP_CLAMP else -EXP_CLAMP
                    xc = xc if xc < EXP_CLAMP else EXP_CLAMP
                    nn = math.floor(xc * LOG2E + 0.5)
                    r = (xc - nn * LN2_HI) - nn * LN2_LO
                    v = EXP_COEF[0]
                    for c in EXP_COEF[1:]:
                        v = v * r + c
                    arr[j] = v
                    ib[j] = (np.int64(nn) + 1023) << 52
                scale = ib.view(np.float64)
                for j in range(arr.shape[0]):
                    arr[j] = arr[j] * scale[j]
            gi = g[s, i, i + 1 :]
            for j in range(rr.shape[0]):
                gi[j] = (mass * (crl * ea[j] - eb[j])) / rr[j] if rr[j] > 0.0 else 0.0
        for i in range(n):
            for j in range(i):
                g[s, i, j] = g[s, j, i]


@functools.cache
def pair_kernels() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """:func:`morse_factors_loop` and :func:`lane_sums_loop` compiled by numba, or None without
    numba or with ``DECATHLON_NUMBA=0`` (then the numpy passes)."""
    factors, sums = numba_jit(morse_factors_loop), numba_jit(lane_sums_loop)
    return None if factors is None or sums is None else (factors, sums)
