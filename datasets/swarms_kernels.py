"""The pair terms of the swarm simulators (:mod:`decathlon.datasets.swarms`), twice: as numpy
passes over (sim, N, N) buffers, and as loops that numba compiles (the ``fast`` extra,
:func:`~decathlon.datasets.speed.numba_jit`). Both give the same bits (tests in
``tests/test_swarms.py``), so a store verifies whichever ran.

**Portable arithmetic (data version 2; D'Orsogna's version 3 in float32).** Every value comes
from IEEE-754 additions,
subtractions, multiplications, divisions and square roots in a fixed order, which every
platform rounds the same way, so a store has the same ``data_sha256`` on every machine
(``tests/test_portability.py`` rebuilds them with other SIMD levels and BLAS kernels). Version 1
used numpy's ``exp``/``exp2`` (the last bits depend on the CPU's SIMD level) and BLAS products
(the summation order depends on the BLAS kernel), so a store built on a laptop without AVX-512
differed from one built on a server: ``e^x`` is :func:`expf_portable` here, and the sums over
neighbours run in the fixed order of :func:`lane_sums`.

- Vicsek: the 0/1 neighbour mask (minimum-image distances against the radius): one loop over
  the pairs instead of sixteen passes, 13x faster; then the lane sums of the velocities
  (a loop over the columns of the symmetric mask, vectorized over the particles).
- D'Orsogna (data version 3): in float32, the precision sisyphe ran NPD's simulations in
  (torch's default dtype): the Morse pair factors from coordinate differences with two portable
  float32 exponentials, each unordered pair once, then the lane sums of ``g_ij (x_i - x_j)``.
  Version 2 did the same in float64, 2.8x slower per force evaluation (``decathlon bench``: 25x
  the one-at-a-time reference, against the issue's 50x; the card has the measurements).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from decathlon.datasets.speed import numba_jit

__all__ = [
    "expf_portable",
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

# ------------------------------------------------------------------------ portable exponentials
#: ``log2(e)`` and ``ln 2`` (float64), for :func:`exp2_portable`.
LOG2E = 1.4426950408889634
LN2 = 0.6931471805599453
#: Taylor coefficients ``1/k!`` for ``k = 13, ..., 0`` (Horner order): on ``|r| <= ln2 / 2``
#: the truncation error is below ``4e-18`` relative.
EXP_COEF = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))

#: float32 constants of :func:`expf_portable`. ``ln 2`` split as Cody & Waite's, with cephes'
#: ``expf`` constants: ``LN2F_HI = 0.693359375 = 355/512`` has 9 significant bits, so
#: ``n * LN2F_HI`` is exact for the ``|n| <= 126`` used here.
LOG2E_F = np.float32(LOG2E)
LN2F_HI = np.float32(0.693359375)
LN2F_LO = np.float32(-2.12194440e-4)
#: Taylor coefficients ``1/k!`` for ``k = 7, ..., 0`` in float32: on ``|r| <= ln2 / 2`` the
#: truncation error ``|r|^8 / 8! < 6e-9`` is below half an ulp of float32 (``6e-8``).
EXPF_COEF = tuple(np.float32(1.0 / math.factorial(k)) for k in range(7, -1, -1))
#: Arguments are clamped to ``[-87, 87]``: ``e^-87 ~ 1.6e-38`` is still a normal float32, so
#: every ``2^n`` (``|n| <= 126``) and every result is one and scaling by ``2^n`` is exact.
EXPF_CLAMP = np.float32(87.0)
#: ``1.5 * 2^23``: ``(t + ROUND_F) - ROUND_F`` is ``t`` rounded to the nearest integer (ties to
#: even) for ``|t| < 2^22``, two IEEE additions (``floor`` in the compiled loop was a call that
#: LLVM did not vectorize: the factor loop ran 1.24x slower with it).
ROUND_F = np.float32(12582912.0)


def expf_portable(x: np.ndarray) -> np.ndarray:
    """``e^x`` in float32 with only IEEE-754 basic operations, the same bits on every platform,
    within 1.2 ulp of the exact value (tested on 10^6 arguments against float64 ``exp``);
    arguments are clamped to ``[-87, 87]`` and NaN counts as -87 (the compiled loops do the
    same, where a NaN index would be undefined).

    Cody-Waite reduction ``x = n ln2 + r`` (``n`` the integer nearest ``x log2 e``,
    ``|r| <~ ln2/2``), the degree-7 Taylor polynomial of ``e^r`` by Horner's rule, and ``2^n``
    built from its exponent bits: the operations of cephes' ``expf`` (Moshier) with a Taylor
    polynomial instead of its minimax one.

    Examples
    --------
    >>> x = np.array([-1.0, 0.0, 1.0], dtype=np.float32)
    >>> y = expf_portable(x)
    >>> y.dtype.name, float(y[1]), bool(np.allclose(y, np.exp(x), rtol=2.5e-7, atol=0))
    ('float32', 1.0, True)
    """
    x = np.asarray(x, dtype=np.float32)
    xc = np.where(x > -EXPF_CLAMP, x, -EXPF_CLAMP)
    xc = np.where(xc < EXPF_CLAMP, xc, EXPF_CLAMP)
    n = (xc * LOG2E_F + ROUND_F) - ROUND_F
    r = (xc - n * LN2F_HI) - n * LN2F_LO
    p = np.full_like(r, EXPF_COEF[0])
    for c in EXPF_COEF[1:]:
        p *= r
        p += c
    return p * ((n.astype(np.int32) + 127) << 23).view(np.float32)


def exp2_portable(u: np.ndarray) -> np.ndarray:
    """``2^u`` in float64 with only IEEE-754 basic operations (the swarm parameters' draws):
    ``u = n + f`` (``n`` the nearest integer, ``f`` exact), ``2^f = e^{f ln 2}`` by the
    degree-13 Taylor polynomial (truncation below ``4e-18`` relative), times ``2^n``: exact
    powers of two for integer ``u``; for ``|u| <= 1000``.

    Examples
    --------
    >>> exp2_portable(np.array([-2.0, 0.0, 3.0])).tolist()
    [0.25, 1.0, 8.0]
    """
    u = np.asarray(u, dtype=np.float64)
    n = np.floor(u + 0.5)
    return _taylor((u - n) * LN2) * _pow2(n)


def _taylor(r: np.ndarray) -> np.ndarray:
    """``e^r`` for ``|r| <= ln2 / 2`` in float64: Horner's rule on :data:`EXP_COEF`."""
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
#: The D'Orsogna factor loop's rows run to a multiple of this many pairs (eight float32 make
#: one 256-bit vector; padding to 16, 32 or 64 was slower: more wasted pairs).
ROW_PAD = 8


def lane_sums(w: np.ndarray, x: np.ndarray, diff: bool, symmetric: bool = False) -> np.ndarray:
    """``out[s, i] = sum_j w[s, i, j] t_j`` with ``t_j = x_i - x_j`` (``diff``) or ``x_j``, for
    weights (sim, N, N) and points (sim, N, 3), in a fixed order: lane ``k`` sums the terms of
    ``j = k, k + 8, ...`` in increasing ``j`` from 0.0, and the eight lanes are added as
    ``((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))``. The same bits from the numba loop
    (:func:`lane_sums_loop`) and the numpy passes (:func:`lane_sums_numpy`).

    The loop reads the weights by columns (``w[s, :, j]``); ``symmetric=True`` says that
    ``w[s, i, j] == w[s, j, i]`` bit for bit (the neighbour mask, the Morse factors), so the
    rows serve as columns, else a transposed copy is made. Sums are taken in the dtype of ``x``
    (float64 for Vicsek, float32 for D'Orsogna), which ``w`` must share."""
    if w.dtype != x.dtype:
        raise TypeError(f"lane_sums: weights are {w.dtype}, points {x.dtype}; pass one dtype")
    kernels = pair_kernels()
    if kernels is None:
        return lane_sums_numpy(w, x, diff)
    wt = w if symmetric else w.transpose(0, 2, 1)
    coords = np.ascontiguousarray(x.transpose(0, 2, 1))
    return _lane_sums_compiled(kernels, np.ascontiguousarray(wt), coords, diff)


def _lane_sums_compiled(
    kernels: tuple[Callable[..., None], ...], wt: np.ndarray, coords: np.ndarray, diff: bool
) -> np.ndarray:
    """:func:`lane_sums_loop` then :func:`add_lanes_loop` (compiled ``kernels[1:]``) on
    transposed weights (sim, N, >= N) and ``coords`` (sim, 3, >= N): (sim, N, 3)."""
    m, n = wt.shape[0], wt.shape[1]
    acc = np.empty((m, 3, LANES, n), dtype=coords.dtype)
    kernels[1](wt, coords, acc, diff)
    out = np.empty((m, n, 3), dtype=coords.dtype)
    kernels[2](acc, out)
    return out


def add_lanes(acc: np.ndarray) -> np.ndarray:
    """The lane partial sums ``acc`` (sim, 3, 8, N) added in the fixed tree
    ``((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))``, as (sim, N, 3): the numpy passes
    (:func:`add_lanes_loop` is the compiled one, the same bits)."""
    a = [acc[:, :, k] for k in range(LANES)]
    tree = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
    return np.ascontiguousarray(tree.transpose(0, 2, 1))


def add_lanes_loop(acc: np.ndarray, out: np.ndarray) -> None:
    """:func:`add_lanes` as a loop for numba, into ``out`` (sim, N, 3): as numpy passes it cost
    about 1.4 ms per D'Orsogna simulation of 100 steps (6 % of the whole run)."""
    m, d, _, n = acc.shape
    for s in range(m):
        for c in range(d):
            a = acc[s, c]
            for i in range(n):
                out[s, i, c] = ((a[0, i] + a[1, i]) + (a[2, i] + a[3, i])) + (
                    (a[4, i] + a[5, i]) + (a[6, i] + a[7, i])
                )


def lane_sums_numpy(w: np.ndarray, x: np.ndarray, diff: bool) -> np.ndarray:
    """:func:`lane_sums` as numpy passes over blocks of :data:`LANES` columns."""
    m, n, d = x.shape
    lanes = np.zeros((m, n, LANES, d), dtype=x.dtype)
    for b in range(0, n, LANES):
        xb = x[:, None, b : b + LANES, :]
        t = x[:, :, None, :] - xb if diff else xb
        lanes[:, :, : t.shape[2]] += w[:, :, b : b + LANES, None] * t
    return add_lanes(lanes.transpose(0, 3, 2, 1))


def lane_sums_loop(wt: np.ndarray, coords: np.ndarray, acc: np.ndarray, diff: bool) -> None:
    """:func:`lane_sums` as loops for numba, from the transposed weights ``wt[s, j, i] =
    w[s, i, j]`` (sim, N, >= N) and ``coords`` (sim, 3, >= N): columns past ``N`` are not read;
    the eight lanes' partial sums go to ``acc`` (sim, 3, 8, N), which :func:`add_lanes_loop`
    adds.

    Lane ``k`` of every particle ``i`` at once (a contiguous loop over ``i`` that LLVM
    vectorizes), its columns ``j = k, k + 8, ...`` four at a time for
    the three coordinates together: each lane still receives its terms one by one in
    increasing ``j``, so the bits are those of a loop over ``j`` per particle, while each
    weight and lane value is loaded once per four columns and three coordinates (2.3x faster
    in float64, 1.6x in float32 than one column and one coordinate per pass, itself 1.7-2.7x
    faster than eight scalar accumulators per particle, which LLVM did not vectorize)."""
    m, n = wt.shape[0], wt.shape[1]
    for s in range(m):
        xa, xb, xc = coords[s, 0], coords[s, 1], coords[s, 2]
        for k in range(LANES):
            la, lb, lc = acc[s, 0, k], acc[s, 1, k], acc[s, 2, k]
            la[:] = 0.0
            lb[:] = 0.0
            lc[:] = 0.0
            j0 = k
            while j0 + 3 * LANES < n:  # four columns j0, j1, j2, j3 of lane k
                j1, j2, j3 = j0 + LANES, j0 + 2 * LANES, j0 + 3 * LANES
                w0, w1, w2, w3 = wt[s, j0], wt[s, j1], wt[s, j2], wt[s, j3]
                a0, a1, a2, a3 = xa[j0], xa[j1], xa[j2], xa[j3]
                b0, b1, b2, b3 = xb[j0], xb[j1], xb[j2], xb[j3]
                e0, e1, e2, e3 = xc[j0], xc[j1], xc[j2], xc[j3]
                if diff:
                    for i in range(n):
                        v0, v1, v2, v3, ya, yb, yc = w0[i], w1[i], w2[i], w3[i], xa[i], xb[i], xc[i]
                        la[i] = (((la[i] + v0 * (ya - a0)) + v1 * (ya - a1)) + v2 * (ya - a2)) + (
                            v3 * (ya - a3)
                        )
                        lb[i] = (((lb[i] + v0 * (yb - b0)) + v1 * (yb - b1)) + v2 * (yb - b2)) + (
                            v3 * (yb - b3)
                        )
                        lc[i] = (((lc[i] + v0 * (yc - e0)) + v1 * (yc - e1)) + v2 * (yc - e2)) + (
                            v3 * (yc - e3)
                        )
                else:
                    for i in range(n):
                        v0, v1, v2, v3 = w0[i], w1[i], w2[i], w3[i]
                        la[i] = (((la[i] + v0 * a0) + v1 * a1) + v2 * a2) + v3 * a3
                        lb[i] = (((lb[i] + v0 * b0) + v1 * b1) + v2 * b2) + v3 * b3
                        lc[i] = (((lc[i] + v0 * e0) + v1 * e1) + v2 * e2) + v3 * e3
                j0 += 4 * LANES
            for j in range(j0, n, LANES):  # the last columns of lane k, one at a time
                wj, ja, jb, jc = wt[s, j], xa[j], xb[j], xc[j]
                if diff:
                    for i in range(n):
                        la[i] = la[i] + wj[i] * (xa[i] - ja)
                        lb[i] = lb[i] + wj[i] * (xb[i] - jb)
                        lc[i] = lc[i] + wj[i] * (xc[i] - jc)
                else:
                    for i in range(n):
                        la[i] = la[i] + wj[i] * ja
                        lb[i] = lb[i] + wj[i] * jb
                        lc[i] = lc[i] + wj[i] * jc


# --------------------------------------------------------------------------------- D'Orsogna
def morse_params(p: np.ndarray) -> np.ndarray:
    """(sim, 3) float32 ``mass = R R R``, ``C_r / l_r`` and ``-(1 / l_r)`` of NPD parameters
    (sim, 4), rounded to float32 first (``-r / l_r`` is taken as ``r (-(1 / l_r))``: one
    division per simulation instead of one per pair)."""
    radius, c_r, l_r = (np.asarray(p[:, k], dtype=np.float32) for k in (0, 2, 3))
    inv = -(np.float32(1.0) / l_r)
    return np.ascontiguousarray(np.stack([radius * radius * radius, c_r / l_r, inv], 1))


def morse_sums(pos: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The Morse sums ``sum_j g_ij (x_i - x_j)`` (sim, N, 3) of positions (sim, N, 3), in
    float32 (positions are rounded to it), with ``g_ij = m (C_r/l_r e^{-r/l_r} - e^{-r}) / r``
    (``-r/l_r`` as ``r (-(1/l_r))``, :func:`morse_params`) from ``r = sqrt((dx^2 + dy^2) +
    dz^2)`` and :func:`expf_portable`, 0 for a pair at distance
    0 (a particle and itself, coincident ones), in the order of :func:`lane_sums`. numba
    computes each unordered pair once (``g`` is symmetric bit for bit: ``x_j - x_i =
    -(x_i - x_j)`` exactly), numpy every ordered pair."""
    pos = np.asarray(pos, dtype=np.float32)
    par = morse_params(p)
    kernels = pair_kernels()
    if kernels is None:
        return morse_numpy(pos, par)
    m, n, _ = pos.shape
    width = n + ROW_PAD  # rows padded: see morse_factors_loop
    coords = np.zeros((m, 3, width), dtype=np.float32)
    coords[:, :, :n] = pos.transpose(0, 2, 1)
    g = np.empty((m, n, width), dtype=np.float32)
    buf, ibuf = np.empty((3, width), dtype=np.float32), np.empty((2, width), dtype=np.int32)
    kernels[0](coords, par, g, buf, ibuf)
    return _lane_sums_compiled(kernels, g, coords, True)  # g[:, :, :n] is symmetric


def morse_numpy(pos: np.ndarray, par: np.ndarray) -> np.ndarray:
    """:func:`morse_sums` as numpy passes, from float32 positions and :func:`morse_params`."""
    mass, crl, inv = (par[:, k, None, None] for k in range(3))
    d = pos[:, :, None, :] - pos[:, None, :, :]
    r = np.sqrt((d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]) + d[..., 2] * d[..., 2])
    g = crl * expf_portable(r * inv) - expf_portable(-r)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(r > 0, (mass * g) / r, np.float32(0.0))
    return lane_sums_numpy(g, pos, True)


def morse_factors_loop(
    coords: np.ndarray, par: np.ndarray, g: np.ndarray, buf: np.ndarray, ibuf: np.ndarray
) -> None:
    """The float32 pair factors ``g[:, :, :N]`` (g is (sim, N, N + ROW_PAD)) of
    :func:`morse_numpy` as loops for numba, each unordered pair once, from ``coords``
    (sim, 3, N + ROW_PAD; the padding is read, never used); ``buf`` (3, N + ROW_PAD) float32
    and ``ibuf`` (2, N + ROW_PAD) int32 are scratch. Every operand is float32 (a float64 one
    would promote the operation and change its rounding). Rows are handled as views indexed
    from 0 (a loop from ``i + 1`` kept LLVM from vectorizing it), and each row's loops run to
    a multiple of :data:`ROW_PAD` pairs, so no pair falls into LLVM's scalar remainder loop
    (45 against 41 us per simulation at 200 particles); the extra pairs' values land in the
    padding of ``g`` and are never read."""
    m, n = g.shape[0], g.shape[1]
    zero = np.float32(0.0)
    for s in range(m):
        mass, crl, inv = par[s, 0], par[s, 1], par[s, 2]
        x0, x1, x2 = coords[s, 0], coords[s, 1], coords[s, 2]
        for i in range(n):
            g[s, i, i] = zero
            end = i + 1 + -(-(n - i - 1) // ROW_PAD) * ROW_PAD  # n - i - 1 pairs, rounded up
            rr, ea, eb = buf[0, : end - i - 1], buf[1, : end - i - 1], buf[2, : end - i - 1]
            y0, y1, y2 = x0[i + 1 : end], x1[i + 1 : end], x2[i + 1 : end]
            for j in range(rr.shape[0]):
                dx, dy, dz = x0[i] - y0[j], x1[i] - y1[j], x2[i] - y2[j]
                rr[j] = math.sqrt((dx * dx + dy * dy) + dz * dz)
                ea[j] = rr[j] * inv
                eb[j] = -rr[j]
            for q in range(2):
                arr, ib = (ea if q == 0 else eb), ibuf[q, : end - i - 1]
                for j in range(arr.shape[0]):  # expf_portable, the same operations
                    xc = arr[j] if arr[j] > -EXPF_CLAMP else -EXPF_CLAMP
                    xc = xc if xc < EXPF_CLAMP else EXPF_CLAMP
                    nf = (xc * LOG2E_F + ROUND_F) - ROUND_F
                    r = (xc - nf * LN2F_HI) - nf * LN2F_LO
                    v = EXPF_COEF[0]
                    for c in EXPF_COEF[1:]:
                        v = v * r + c
                    arr[j] = v
                    ib[j] = (np.int32(nf) + 127) << 23
                scale = ib.view(np.float32)
                for j in range(arr.shape[0]):
                    arr[j] = arr[j] * scale[j]
            gi = g[s, i, i + 1 : end]
            for j in range(rr.shape[0]):
                gi[j] = (mass * (crl * ea[j] - eb[j])) / rr[j] if rr[j] > zero else zero
        for i in range(n):
            for j in range(i):
                g[s, i, j] = g[s, j, i]


@functools.cache
def pair_kernels() -> tuple[Callable[..., None], ...] | None:
    """:func:`morse_factors_loop`, :func:`lane_sums_loop` and :func:`add_lanes_loop` compiled by
    numba, or None without numba or with ``DECATHLON_NUMBA=0`` (then the numpy passes)."""
    loops = (morse_factors_loop, lane_sums_loop, add_lanes_loop)
    compiled = [f for f in (numba_jit(loop) for loop in loops) if f is not None]
    return tuple(compiled) if len(compiled) == len(loops) else None
