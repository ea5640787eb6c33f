"""Velocities from positions by a rule that is symmetric in time.

One derivative rule for the clips of the arrow-of-time event (``docs/protocols.md`` §9): the
pedestrian task computes its velocity inputs with it, and ``arrow-features`` derives velocities
with it from a positions-only clip. The rule is that of ``numpy.gradient`` (also the derivative
rule of the Trajectron++ preprocessing of ETH/UCY): central differences
``(x[t+1] - x[t-1]) / 2 dt`` inside a run of presence, one-sided at its ends. It is symmetric
in time: reversing the frames of the positions negates the velocities and reverses their frames,
so it adds no arrow of its own (a backward difference would: reversed it becomes a forward one).
"""

from __future__ import annotations

import numpy as np

__all__ = ["clip_velocities"]


def clip_velocities(
    pos: np.ndarray, mask: np.ndarray, dt: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Velocities by the time-symmetric derivative rule, inside clips, and the entities that
    have one.

    ``pos`` (clip, time, entity, space), ``mask`` (clip, time, entity), ``dt`` the time between
    frames (default 1: velocities per frame). Central difference ``(x[t+1] - x[t-1]) / 2 dt``
    where the entity is present at ``t - 1`` and ``t + 1``, one-sided where at only one of them
    (``numpy.gradient`` on each run of presence), none where at neither: those frames leave the
    returned mask. Reversing the frames of ``pos`` negates the velocities and reverses their
    frames.

    Examples
    --------
    >>> x = np.array([0.0, 1.0, 3.0])[None, :, None, None]
    >>> v, m = clip_velocities(x, np.ones((1, 3, 1), bool), dt=1.0)
    >>> v[0, :, 0, 0].tolist(), m.all()
    ([1.0, 1.5, 2.0], np.True_)
    """
    m = np.asarray(mask, bool)
    prev, nxt = np.zeros_like(m), np.zeros_like(m)
    prev[:, 1:], nxt[:, :-1] = m[:, :-1] & m[:, 1:], m[:, 1:] & m[:, :-1]
    p = np.where(m[..., None], pos, 0.0).astype(np.float64)
    back, fwd = np.zeros_like(p), np.zeros_like(p)
    back[:, 1:] = (p[:, 1:] - p[:, :-1]) / dt
    fwd[:, :-1] = back[:, 1:]
    both = (prev & nxt)[..., None]
    vel = np.where(both, (back + fwd) / 2, np.where(prev[..., None], back, fwd))
    keep = m & (prev | nxt)
    return np.where(keep[..., None], vel, 0.0), keep
