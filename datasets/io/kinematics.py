"""Forward kinematics of an Acclaim skeleton and motion (ASF/AMC), vectorized over frames.

The standard Acclaim convention, as in the CMU ASF/AMC viewer and the widely used AMCParser: for
a bone with ``axis`` angles ``a`` in order ``XYZ``, ``C = Rz(a_z) Ry(a_y) Rx(a_x)`` (rotations
applied in the listed order about fixed axes); the motion's dof angles give ``M`` the same way in
the order of the bone's ``dof`` line; the bone's global rotation is ``L = L_parent C M C^-1`` and
its end point is ``p = p_parent + length * L direction``. The root uses its
``orientation``/``axis`` for ``C``, the ``RX RY RZ`` channels (in the ``order`` line's order) for
``M`` and the ``TX TY TZ`` channels as its position.

Joint positions come out in metres (lengths converted with
:attr:`decathlon.datasets.io.acclaim.Skeleton.metres_per_unit`), in the capture frame (y up for
CMU). The skeleton comes from :func:`decathlon.datasets.io.acclaim.parse_asf`, the motion from
:func:`decathlon.datasets.io.amc.parse_amc`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from decathlon.datasets.io._acclaim_lines import _ROT_DOFS
from decathlon.datasets.io.acclaim import Bone, Skeleton

__all__ = ["forward_kinematics"]


def _rot(axis: str, ang: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about ``axis`` ('x', 'y' or 'z') by ``ang`` radians."""
    c, s = np.cos(ang), np.sin(ang)
    one, zero = np.ones_like(ang), np.zeros_like(ang)
    a = axis.lower()
    if a == "x":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif a == "y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def _euler(axes: Sequence[str], angles: np.ndarray) -> np.ndarray:
    """``R = R_k ... R_2 R_1`` for rotations listed first-applied first (fixed axes).

    ``angles`` is (..., len(axes)) in radians; returns (..., 3, 3).
    """
    angles = np.asarray(angles, dtype=np.float64)
    r = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for i, ax in enumerate(axes):
        r = _rot(ax, angles[..., i]) @ r
    return r


def _to_rad(a: np.ndarray, deg: bool) -> np.ndarray:
    """ASF angles (``axis``, ``orientation``) in radians; ``deg``: the skeleton's unit is deg."""
    return np.radians(a) if deg else np.asarray(a, dtype=np.float64)


def _root_pose(
    skeleton: Skeleton, root_motion: np.ndarray, n_frames: int, deg: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The root's global rotation ``C M C^-1`` (frames, 3, 3) and translation (frames, 3)."""
    root = np.asarray(root_motion, dtype=np.float64)
    if root.shape != (n_frames, len(skeleton.root_order)):
        raise ValueError(
            f"root motion has shape {root.shape}, expected ({n_frames}, {len(skeleton.root_order)})"
        )
    chans = list(skeleton.root_order)
    trans = np.zeros((n_frames, 3))
    for i, ax in enumerate("XYZ"):
        if f"T{ax}" in chans:
            trans[:, i] = root[:, chans.index(f"T{ax}")]
    r_idx = [i for i, c in enumerate(chans) if c.startswith("R")]
    # AMC angles: degrees
    m_root = _euler([chans[i][1] for i in r_idx], np.radians(root[:, r_idx]))
    c_root = _euler(skeleton.root_axis, _to_rad(skeleton.root_orientation, deg))
    return c_root @ m_root @ c_root.T, trans


def _local_rotation(
    name: str, bone: Bone, motion: Mapping[str, np.ndarray], n_frames: int, deg: bool
) -> np.ndarray:
    """``C M C^-1`` of one bone, (frames, 3, 3) (``C C^T`` for a bone without dofs)."""
    c = _euler(bone.axis_order, _to_rad(bone.axis, deg))
    if not bone.dof:
        return c @ c.T  # = identity up to rounding; kept for clarity
    bad = [d for d in bone.dof if d not in _ROT_DOFS]
    if bad:
        raise ValueError(
            f"bone {name!r} has dof {bad}; forward_kinematics supports rotations "
            "(rx, ry, rz) only, which is all CMU skeletons use"
        )
    if name not in motion:
        raise ValueError(f"the motion has no channels for bone {name!r} (dof {list(bone.dof)})")
    vals = np.asarray(motion[name], dtype=np.float64)
    if vals.shape != (n_frames, len(bone.dof)):
        raise ValueError(
            f"motion of bone {name!r} has shape {vals.shape}, expected "
            f"({n_frames}, {len(bone.dof)})"
        )
    m = _euler([d[1] for d in bone.dof], np.radians(vals))
    return c @ m @ c.T


def forward_kinematics(skeleton: Skeleton, motion: Mapping[str, np.ndarray]) -> np.ndarray:
    """Joint positions in metres from a skeleton and a motion, vectorized over frames.

    For each bone (parents first): ``C`` from the bone's ``axis`` angles in ``axis_order``,
    ``M`` from its dof angles in dof order (both as ``R_last ... R_first``, fixed axes),
    ``L = L_parent C M C^T`` and ``p = p_parent + length * L direction``; the root has
    ``C`` from its ``orientation``, ``M`` from its ``R*`` channels and ``p`` = its ``T*`` channels.
    Lengths are converted with :attr:`Skeleton.metres_per_unit` (``0.0254 / 0.45`` for CMU).

    Parameters
    ----------
    skeleton : Skeleton
        From :func:`parse_asf`.
    motion : mapping
        From :func:`parse_amc`: bone -> (frames, dof) values, rotations in degrees.

    Returns
    -------
    numpy.ndarray
        float64 (frames, len(skeleton.joints), 3); joint 0 is ``root``, joint ``i > 0`` is the end
        point of bone ``skeleton.joints[i]``.

    Raises
    ------
    ValueError
        The motion lacks a bone with dofs, frame counts differ, or a bone has a translation or
        length dof (not used by CMU skeletons and not supported here).

    Examples
    --------
    >>> import tempfile
    >>> from decathlon.datasets.cmu_mocap import make_fake_cmu_mocap
    >>> from decathlon.datasets.io.acclaim import parse_asf
    >>> from decathlon.datasets.io.amc import parse_amc
    >>> files = make_fake_cmu_mocap(tempfile.mkdtemp(), seed=0)
    >>> sk = parse_asf(files["35.asf"])
    >>> forward_kinematics(sk, parse_amc(files["35_01.amc"], sk)).shape
    (12, 6, 3)
    """
    if "root" not in motion:
        raise ValueError(f"the motion has no 'root' channels; bones present: {sorted(motion)}")
    n_frames = int(np.asarray(motion["root"]).shape[0])
    deg = skeleton.units.get("angle", "deg") == "deg"
    scale = skeleton.metres_per_unit
    index = {j: i for i, j in enumerate(skeleton.joints)}
    pos = np.empty((n_frames, len(index), 3))
    rot_root, trans = _root_pose(skeleton, motion["root"], n_frames, deg)
    rot = {"root": rot_root}
    pos[:, 0] = trans * scale
    for name in skeleton.topological_order():
        bone = skeleton.bones[name]
        par = skeleton.parent[name]
        rot[name] = rot[par] @ _local_rotation(name, bone, motion, n_frames, deg)
        offset = bone.length * scale * (rot[name] @ bone.direction)
        pos[:, index[name]] = pos[:, index[par]] + offset
    return pos
