"""CMU Motion Capture Database, subject 35 (walking): Acclaim ASF/AMC parser and forward kinematics.

Source: http://mocap.cs.cmu.edu (subject 35, ``35.asf`` and ``35_NN.amc``). The trials used are
1-16 and 28-34, the 23 walking trials of dNRI (Graber & Schwing, CVPR 2020) and LoCS (Kofinas et
al., NeurIPS 2021); ``shared/PROTOCOLS.md`` §2.1 and ``shared/data/MANIFEST.md`` §1.

File formats (Acclaim, as written by VICON BodyLanguage; CRLF line endings, ``e-015`` exponents):

* **ASF** (skeleton): ``:units`` (``mass``, ``length``, ``angle``), ``:root`` (``order`` of the
  six root channels, ``axis`` order, ``position``, ``orientation``), ``:bonedata`` with one
  ``begin ... end`` block per bone (``id``, ``name``, unit ``direction``, ``length``,
  ``axis a b c XYZ``, optional ``dof`` and ``limits``), ``:hierarchy`` (``parent child child ...``
  lines between ``begin`` and ``end``). ``#`` starts a comment.
* **AMC** (motion): a header (``#!OML:ASF <path>`` -- the path is ignored --, ``:FULLY-SPECIFIED``,
  ``:DEGREES``), then one block per frame: the frame number on its own line, then one
  ``bone v1 ... vk`` line per bone with ``k`` = the bone's dof count (6 for ``root``).

Forward kinematics (the standard Acclaim convention, as in the CMU ASF/AMC viewer and the widely
used AMCParser): for a bone with ``axis`` angles ``a`` in order ``XYZ``, ``C = Rz(a_z) Ry(a_y)
Rx(a_x)`` (rotations applied in the listed order about fixed axes); the motion's dof angles give
``M`` the same way in the order of the bone's ``dof`` line; the bone's global rotation is
``L = L_parent C M C^-1`` and its end point is ``p = p_parent + length * L direction``. The root
uses its ``orientation``/``axis`` for ``C``, the ``RX RY RZ`` channels (in the ``order`` line's
order) for ``M`` and the ``TX TY TZ`` channels as its position.

Units: an ASF ``length`` unit of ``u`` (0.45 for CMU) means lengths and root translations are in
inches times ``u``; metres are ``value / u * 0.0254``, i.e. ``value * 0.05644`` for CMU (the CMU
FAQ's "(1/0.45) * 2.54 / 100"). Joint positions come out in metres, y up (the CMU capture frame).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from decathlon.benchmark.data import DatasetSpec, FileSpec, register_dataset
from decathlon.benchmark.tasks import Split, TaskSpec, register_task
from decathlon.datasets.fetch import file_builder

__all__ = [
    "Bone",
    "Skeleton",
    "parse_asf",
    "parse_amc",
    "forward_kinematics",
    "open_cmu_mocap",
    "make_fake_cmu_mocap",
    "CMU_MOCAP_35",
    "TRIALS",
    "FPS",
    "INCH",
]

log = logging.getLogger("decathlon")

#: Frame rate of the CMU subject-35 trials (Hz; CMU site: "captured at 120 Hz").
FPS = 120.0
#: Metres per inch; ASF lengths are inches times the ASF ``length`` unit.
INCH = 0.0254
#: The dNRI / LoCS selection of subject-35 walking trials (PROTOCOLS §2.1).
TRIALS: tuple[int, ...] = (*range(1, 17), *range(28, 35))

_ROT_DOFS = ("rx", "ry", "rz")
_ALL_DOFS = ("rx", "ry", "rz", "tx", "ty", "tz", "l")


@dataclass(frozen=True, eq=False)
class Bone:
    """One ``begin ... end`` block of an ASF ``:bonedata`` section.

    Attributes
    ----------
    id : int
        The bone's ``id``.
    name : str
        The bone's ``name``.
    direction : numpy.ndarray
        Unit vector (3,) along the bone in the global frame of the rest pose.
    length : float
        Length in ASF length units (see :attr:`Skeleton.metres_per_unit`).
    axis : numpy.ndarray
        Angles (3,) of the bone's local frame, in the skeleton's angle unit, listed x, y, z.
    axis_order : str
        Order in which the ``axis`` rotations apply, e.g. ``"XYZ"``.
    dof : tuple of str
        Degrees of freedom in the order their values appear in the AMC file (``rx`` ...).
    limits : numpy.ndarray
        (len(dof), 2) lower and upper limits (may be infinite); informative only.
    """

    id: int
    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: tuple[str, ...] = ()
    limits: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A parsed ASF skeleton.

    Attributes
    ----------
    name, version : str
        ``:name`` and ``:version`` of the file.
    units : dict
        ``{"mass": float, "length": float, "angle": "deg" | "rad"}``.
    root_order : tuple of str
        The six root channels in AMC order, e.g. ``("TX", "TY", "TZ", "RX", "RY", "RZ")``.
    root_axis : str
        Order of the root ``orientation`` rotations, e.g. ``"XYZ"``.
    root_position, root_orientation : numpy.ndarray
        (3,) rest position (length units; parsed, not applied: AMC root translations are
        absolute) and rest orientation (angle units; applied as the root's ``C``).
    bones : dict
        Bone name -> :class:`Bone`, in file order.
    parent : dict
        Bone name -> parent name (``"root"`` for the root's children); the hierarchy.
    source : str
        File name the skeleton was read from (used in error messages).
    """

    name: str
    version: str
    units: dict
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    bones: dict[str, Bone]
    parent: dict[str, str]
    source: str = ""

    @property
    def joints(self) -> list[str]:
        """Joint names: ``"root"`` then every bone (its end point) in file order."""
        return ["root", *self.bones]

    @property
    def metres_per_unit(self) -> float:
        """Metres per ASF length unit: ``0.0254 / units["length"]`` (inches times the unit)."""
        return INCH / float(self.units["length"])

    def children(self, name: str) -> list[str]:
        """Direct children of joint ``name`` in hierarchy order."""
        return [c for c, p in self.parent.items() if p == name]

    def topological_order(self) -> list[str]:
        """Bone names ordered so that every parent comes before its children."""
        out: list[str] = []
        stack = ["root"]
        while stack:
            node = stack.pop(0)
            kids = self.children(node)
            out.extend(kids)
            stack.extend(kids)
        return out

    def edges(self) -> np.ndarray:
        """Symmetric 0/1 adjacency (len(joints), len(joints)) of the parent-child tree."""
        idx = {j: i for i, j in enumerate(self.joints)}
        a = np.zeros((len(idx), len(idx)), dtype=np.float32)
        for c, p in self.parent.items():
            a[idx[c], idx[p]] = a[idx[p], idx[c]] = 1.0
        return a


# ------------------------------------------------------------------------------------------
# Parsing helpers
# ------------------------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text without comment and surrounding space), skipping empty lines.

    Tolerates CRLF and LF endings; ``#`` starts a comment (``#!OML:ASF ...`` included).
    """
    with open(path, encoding="utf-8", errors="replace", newline=None) as f:
        for n, raw in enumerate(f, start=1):
            text = raw.split("#", 1)[0].strip()
            if text:
                yield n, text


def _err(path: Path | str, line: int, msg: str) -> ValueError:
    return ValueError(f"{Path(path).name} line {line}: {msg}")


def _float(tok: str, path: Path, line: int, what: str) -> float:
    try:
        return float(tok)
    except ValueError:
        raise _err(
            path, line, f"cannot read {tok!r} as a number ({what}); expected a decimal like "
            "-3.22404e-015. The file is corrupted or not an Acclaim file: download it again."
        ) from None


def _floats(toks: list[str], n: int, path: Path, line: int, what: str) -> np.ndarray:
    if len(toks) != n:
        raise _err(path, line, f"{what} has {len(toks)} values {toks}, expected {n}")
    return np.array([_float(t, path, line, what) for t in toks])


def parse_asf(path: str | Path) -> Skeleton:
    """Read an Acclaim skeleton (ASF) file.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.asf`` file (CRLF or LF line endings; ``#`` comments; ``e-015`` exponents).

    Returns
    -------
    Skeleton
        Units, root channel order and axis, every bone's direction, length, axis, dof and
        limits, and the hierarchy (parent map).

    Raises
    ------
    ValueError
        Malformed input; the message names the file and line.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> files = make_fake_cmu_mocap(d, seed=0)
    >>> sk = parse_asf(files["35.asf"])
    >>> sk.joints[:3], sk.parent["lfemur"], sk.units["length"]
    (['root', 'lhipjoint', 'lfemur'], 'lhipjoint', 0.45)
    """
    path = Path(path)
    units: dict = {"mass": 1.0, "length": 1.0, "angle": "deg"}
    name = version = ""
    root_order: tuple[str, ...] = ("TX", "TY", "TZ", "RX", "RY", "RZ")
    root_axis = "XYZ"
    root_pos = np.zeros(3)
    root_ori = np.zeros(3)
    bones: dict[str, Bone] = {}
    parent: dict[str, str] = {}
    where: dict[str, int] = {}  # line of each bone's block and of each hierarchy entry
    section = None
    block: dict | None = None
    block_line = 0
    in_hier = False
    last_key = None
    saw_bonedata = saw_hierarchy = False

    def finish_block(block: dict, line: int) -> None:
        for key in ("id", "name", "direction", "length", "axis"):
            if key not in block:
                raise _err(path, block_line, f"bone block is missing its {key!r} line (block ends at line {line})")
        dof = tuple(block.get("dof", ()))
        lim = block.get("limits", [])
        if dof and len(lim) not in (0, len(dof)):
            raise _err(path, block_line, f"bone {block['name']!r} has {len(dof)} dof {list(dof)} but {len(lim)} limits")
        d = block["direction"]
        norm = float(np.linalg.norm(d))
        if not norm > 0:
            raise _err(path, block_line, f"bone {block['name']!r} has a zero direction vector")
        if block["name"] in bones or block["name"] == "root":
            raise _err(path, block_line, f"bone name {block['name']!r} is defined twice")
        where[block["name"]] = block_line
        bones[block["name"]] = Bone(
            id=block["id"],
            name=block["name"],
            direction=d / norm,
            length=block["length"],
            axis=block["axis"],
            axis_order=block["axis_order"],
            dof=dof,
            limits=np.array(lim, dtype=float).reshape(-1, 2) if lim else np.full((len(dof), 2), [-np.inf, np.inf]),
        )

    for n, text in _lines(path):
        toks = text.split()
        if toks[0].startswith(":"):
            if block is not None:
                raise _err(path, n, f"section {toks[0]} starts inside a bone block opened at line {block_line} (missing 'end')")
            key = toks[0][1:].lower()
            section = key
            in_hier = False
            if key == "version":
                version = " ".join(toks[1:])
            elif key == "name":
                name = " ".join(toks[1:])
            elif key == "bonedata":
                saw_bonedata = True
            elif key == "hierarchy":
                saw_hierarchy = True
            elif key == "units" and len(toks) > 1:
                toks = toks[1:]  # "units mass 1.0 length 0.45 angle deg" on one line
                for i in range(0, len(toks) - 1, 2):
                    _set_unit(units, toks[i], toks[i + 1], path, n)
            continue
        if section == "units":
            if len(toks) != 2:
                raise _err(path, n, f"a :units line has the form '<quantity> <value>', got {text!r}")
            _set_unit(units, toks[0], toks[1], path, n)
        elif section == "root":
            key = toks[0].lower()
            if key == "order":
                root_order = tuple(t.upper() for t in toks[1:])
                bad = [t for t in root_order if t not in ("TX", "TY", "TZ", "RX", "RY", "RZ")]
                if bad or len(set(root_order)) != len(root_order):
                    raise _err(path, n, f"root order {list(root_order)} must list distinct channels of TX TY TZ RX RY RZ")
            elif key == "axis":
                root_axis = _axis_order(toks[1] if len(toks) > 1 else "", path, n)
            elif key == "position":
                root_pos = _floats(toks[1:], 3, path, n, "root position")
            elif key == "orientation":
                root_ori = _floats(toks[1:], 3, path, n, "root orientation")
            else:
                log.debug("%s line %d: ignoring root field %r", path.name, n, key)
        elif section == "bonedata":
            key = toks[0].lower()
            if key == "begin":
                if block is not None:
                    raise _err(path, n, f"'begin' inside the bone block opened at line {block_line} (missing 'end')")
                block, block_line, last_key = {}, n, None
                continue
            if key == "end":
                if block is None:
                    raise _err(path, n, "'end' without a matching 'begin' in :bonedata")
                finish_block(block, n)
                block = None
                continue
            if block is None:
                raise _err(path, n, f"{text!r} outside a 'begin ... end' bone block")
            if key == "id":
                if len(toks) != 2 or not re.fullmatch(r"[+-]?\d+", toks[1]):
                    raise _err(path, n, f"bone id must be one integer, got {text!r}")
                block["id"] = int(toks[1])
            elif key == "name":
                if len(toks) != 2:
                    raise _err(path, n, f"bone name must be one word, got {text!r}")
                block["name"] = toks[1]
            elif key == "direction":
                block["direction"] = _floats(toks[1:], 3, path, n, "bone direction")
            elif key == "length":
                block["length"] = float(_floats(toks[1:], 1, path, n, "bone length")[0])
            elif key == "axis":
                if len(toks) != 5:
                    raise _err(path, n, f"axis line has the form 'axis a b c XYZ', got {text!r}")
                block["axis"] = _floats(toks[1:4], 3, path, n, "bone axis")
                block["axis_order"] = _axis_order(toks[4], path, n)
            elif key == "dof":
                dof = [t.lower() for t in toks[1:]]
                bad = [t for t in dof if t not in _ALL_DOFS]
                if bad or not dof:
                    raise _err(path, n, f"dof {toks[1:]} must be a list of {list(_ALL_DOFS)}")
                block["dof"] = dof
            elif key == "limits" or (key.startswith("(") and last_key == "limits"):
                rest = text[len("limits"):] if key == "limits" else text
                block.setdefault("limits", []).extend(_parse_limits(rest, path, n))
                last_key = "limits"
                continue
            else:
                log.debug("%s line %d: ignoring bone field %r", path.name, n, key)
            last_key = key
        elif section == "hierarchy":
            key = toks[0].lower()
            if key == "begin":
                in_hier = True
                continue
            if key == "end":
                in_hier = False
                continue
            if not in_hier:
                raise _err(path, n, f"hierarchy line {text!r} outside 'begin ... end'")
            if len(toks) < 2:
                raise _err(path, n, f"a hierarchy line lists a parent and its children, got {text!r}")
            for child in toks[1:]:
                if child in parent:
                    raise _err(path, n, f"bone {child!r} has two parents ({parent[child]!r} and {toks[0]!r})")
                parent[child] = toks[0]
                where[f"hierarchy:{child}"] = n
        # other sections (:documentation, :skin ...) are ignored
    if block is not None:
        raise _err(path, block_line, "the file ends inside this bone block (missing 'end'); the file is truncated")
    if not saw_bonedata or not bones:
        raise ValueError(f"{path.name}: no :bonedata section with bones; is this an Acclaim ASF file?")
    if not saw_hierarchy:
        raise ValueError(f"{path.name}: no :hierarchy section; the file is truncated or not an ASF file")
    _check_tree(path, bones, parent, where)
    return Skeleton(
        name=name,
        version=version,
        units=units,
        root_order=root_order,
        root_axis=root_axis,
        root_position=root_pos,
        root_orientation=root_ori,
        bones=bones,
        parent=parent,
        source=path.name,
    )


def _set_unit(units: dict, key: str, value: str, path: Path, line: int) -> None:
    key = key.lower()
    if key == "angle":
        v = value.lower()
        if v not in ("deg", "rad"):
            raise _err(path, line, f"angle unit {value!r} must be 'deg' or 'rad'")
        units["angle"] = v
    elif key in ("mass", "length"):
        x = _float(value, path, line, f"{key} unit")
        if not x > 0:
            raise _err(path, line, f"{key} unit must be positive, got {value!r}")
        units[key] = x
    else:
        log.debug("%s line %d: ignoring unit %r", path.name, line, key)


def _axis_order(tok: str, path: Path, line: int) -> str:
    order = tok.upper()
    if len(order) != 3 or set(order) != {"X", "Y", "Z"}:
        raise _err(path, line, f"axis order {tok!r} must be a permutation of XYZ, e.g. 'XYZ'")
    return order


def _parse_limits(text: str, path: Path, line: int) -> list[tuple[float, float]]:
    pairs = re.findall(r"\(([^()]*)\)", text)
    leftover = re.sub(r"\([^()]*\)", "", text).strip()
    if leftover or not pairs:
        raise _err(path, line, f"limits must be '(lo hi)' pairs, got {text.strip()!r}")
    out = []
    for p in pairs:
        toks = p.split()
        lo, hi = _floats(toks, 2, path, line, "limit pair")
        out.append((lo, hi))
    return out


def _check_tree(path: Path, bones: Mapping[str, Bone], parent: Mapping[str, str], where: Mapping[str, int]) -> None:
    known = {"root", *bones}
    for c, p in parent.items():
        line = where[f"hierarchy:{c}"]
        if c not in bones:
            raise _err(path, line, f"the :hierarchy names bone {c!r}, which has no :bonedata block")
        if p not in known:
            raise _err(path, line, f"the :hierarchy names parent {p!r}, which is neither 'root' nor a bone")
    orphans = [b for b in bones if b not in parent]
    if orphans:
        raise _err(
            path, where[orphans[0]],
            f"bones {orphans} have no parent in the :hierarchy; every bone must hang from 'root'",
        )
    for b in bones:  # every chain must reach root without a cycle
        seen, node = set(), b
        while node != "root":
            if node in seen:
                raise _err(path, where[f"hierarchy:{b}"], f"the :hierarchy has a cycle through bone {b!r}")
            seen.add(node)
            node = parent[node]


def parse_amc(path: str | Path, skeleton: Skeleton) -> dict[str, np.ndarray]:
    """Read an Acclaim motion (AMC) file against its skeleton.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.amc`` file. The ``#!OML:ASF`` header path is ignored (CMU's names another file).
    skeleton : Skeleton
        From :func:`parse_asf`; says which bones exist and how many values each has.

    Returns
    -------
    dict
        Bone name -> float64 array (frames, dof), values in the order of the bone's ``dof`` line
        (``root``: the six channels of ``skeleton.root_order``). Rotation values are in degrees
        (converted if the file says ``:RADIANS``); translations in ASF length units. Only bones
        with dofs appear.

    Raises
    ------
    ValueError
        Naming file and line: an unknown bone, a wrong value count, a bad number, a frame number
        out of sequence, or a frame that lacks bones (a truncated frame or file).

    Examples
    --------
    >>> import tempfile
    >>> files = make_fake_cmu_mocap(tempfile.mkdtemp(), seed=0)
    >>> m = parse_amc(files["35_01.amc"], parse_asf(files["35.asf"]))
    >>> m["root"].shape
    (12, 6)
    """
    path = Path(path)
    counts = {b.name: len(b.dof) for b in skeleton.bones.values()}
    counts["root"] = len(skeleton.root_order)
    required = [b for b, k in counts.items() if k > 0]
    radians = False
    rows: dict[str, list[list[float]]] = {b: [] for b in required}
    frame_no: int | None = None
    frame_line = 0
    seen: dict[str, int] = {}
    n_frames = 0

    def close_frame(line: int) -> None:
        missing = [b for b in required if b not in seen]
        if missing:
            where = "the file ends" if line < 0 else f"line {line} starts the next frame"
            raise _err(
                path, frame_line,
                f"frame {frame_no} is truncated: bones {missing} are missing before {where}. "
                "The file is incomplete; download it again.",
            )

    for n, text in _lines(path):
        if text.startswith(":"):
            key = text[1:].split()[0].upper() if len(text) > 1 else ""
            if key == "RADIANS":
                radians = True
            elif key == "DEGREES":
                radians = False
            continue
        toks = text.split()
        if len(toks) == 1 and re.fullmatch(r"\d+", toks[0]):
            num = int(toks[0])
            if frame_no is not None:
                close_frame(n)
                if num != frame_no + 1:
                    raise _err(path, n, f"frame number {num} follows frame {frame_no}; expected {frame_no + 1} (frames must be consecutive)")
            frame_no, frame_line, seen = num, n, {}
            n_frames += 1
            continue
        bone = toks[0]
        if frame_no is None:
            raise _err(path, n, f"{text[:40]!r} comes before the first frame number")
        if bone not in counts:
            raise _err(path, n, f"unknown bone {bone!r}; the skeleton {skeleton.source} has {sorted(counts)}. Is this AMC file for another subject's ASF?")
        if bone in seen:
            raise _err(path, n, f"bone {bone!r} appears twice in frame {frame_no} (first at line {seen[bone]})")
        k = counts[bone]
        vals = toks[1:]
        if len(vals) != k:
            raise _err(path, n, f"bone {bone!r} has {len(vals)} values, expected {k} (its dof in {skeleton.source})")
        seen[bone] = n
        if k:
            rows[bone].append([_float(t, path, n, f"bone {bone!r}") for t in vals])
    if frame_no is None:
        raise ValueError(f"{path.name}: no frames found; is this an Acclaim AMC file?")
    close_frame(-1)
    out = {b: np.asarray(r, dtype=np.float64).reshape(n_frames, counts[b]) for b, r in rows.items()}
    if radians:
        for b, arr in out.items():
            chans = skeleton.root_order if b == "root" else skeleton.bones[b].dof
            rot = [i for i, c in enumerate(chans) if c.lower() in _ROT_DOFS]
            arr[:, rot] = np.degrees(arr[:, rot])
    return out


# ------------------------------------------------------------------------------------------
# Forward kinematics
# ------------------------------------------------------------------------------------------


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


def _euler(axes: str | tuple[str, ...], angles: np.ndarray) -> np.ndarray:
    """``R = R_k ... R_2 R_1`` for rotations listed first-applied first (fixed axes).

    ``angles`` is (..., len(axes)) in radians; returns (..., 3, 3).
    """
    angles = np.asarray(angles, dtype=np.float64)
    r = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for i, ax in enumerate(axes):
        r = _rot(ax, angles[..., i]) @ r
    return r


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
    >>> files = make_fake_cmu_mocap(tempfile.mkdtemp(), seed=0)
    >>> sk = parse_asf(files["35.asf"])
    >>> forward_kinematics(sk, parse_amc(files["35_01.amc"], sk)).shape
    (12, 6, 3)
    """
    if "root" not in motion:
        raise ValueError(f"the motion has no 'root' channels; bones present: {sorted(motion)}")
    n_frames = int(np.asarray(motion["root"]).shape[0])
    deg = skeleton.units.get("angle", "deg") == "deg"

    def to_rad(a: np.ndarray) -> np.ndarray:
        return np.radians(a) if deg else np.asarray(a, dtype=np.float64)

    scale = skeleton.metres_per_unit
    joints = skeleton.joints
    index = {j: i for i, j in enumerate(joints)}
    pos = np.empty((n_frames, len(joints), 3))
    rot: dict[str, np.ndarray] = {}

    root = np.asarray(motion["root"], dtype=np.float64)
    if root.shape != (n_frames, len(skeleton.root_order)):
        raise ValueError(f"root motion has shape {root.shape}, expected ({n_frames}, {len(skeleton.root_order)})")
    chans = list(skeleton.root_order)
    trans = np.zeros((n_frames, 3))
    for i, ax in enumerate("XYZ"):
        if f"T{ax}" in chans:
            trans[:, i] = root[:, chans.index(f"T{ax}")]
    r_idx = [i for i, c in enumerate(chans) if c.startswith("R")]
    m_root = _euler([chans[i][1] for i in r_idx], np.radians(root[:, r_idx]))  # AMC angles: degrees
    c_root = _euler(skeleton.root_axis, to_rad(skeleton.root_orientation))
    rot["root"] = c_root @ m_root @ c_root.T
    pos[:, 0] = trans * scale

    for name in skeleton.topological_order():
        bone = skeleton.bones[name]
        par = skeleton.parent[name]
        c = _euler(bone.axis_order, to_rad(bone.axis))
        if bone.dof:
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
                raise ValueError(f"motion of bone {name!r} has shape {vals.shape}, expected ({n_frames}, {len(bone.dof)})")
            m = _euler([d[1] for d in bone.dof], np.radians(vals))
            rot[name] = rot[par] @ (c @ m @ c.T)
        else:
            rot[name] = rot[par] @ (c @ c.T)  # = rot[par] up to rounding; kept for clarity
        offset = bone.length * scale * (rot[name] @ bone.direction)
        pos[:, index[name]] = pos[:, index[par]] + offset
    return pos


# ------------------------------------------------------------------------------------------
# Dataset
# ------------------------------------------------------------------------------------------

LICENSE = (
    "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu): \"This dataset of motions is "
    "free for all uses\"; \"free for use in research projects. You may include this data in "
    "commercially-sold products, but you may not resell this data directly, even in converted "
    "form.\" Acknowledgement requested: \"The data used in this project was obtained from "
    "mocap.cs.cmu.edu. The database was created with funding from NSF EIA-0196217.\""
)
CITATION = (
    "CMU Graphics Lab Motion Capture Database, http://mocap.cs.cmu.edu (funded by NSF "
    "EIA-0196217), subject 35. Trial selection: Graber & Schwing, Dynamic Neural Relational "
    "Inference, CVPR 2020; Kofinas, Nagaraja & Gavves, Roto-translated Local Coordinate Frames "
    "for Interacting Dynamical Systems, NeurIPS 2021."
)
SOURCE = "http://mocap.cs.cmu.edu/subjects/35/ (35.asf, 35_NN.amc)"
VERSION = "1"


def open_cmu_mocap(paths: Mapping[str, str | Path]) -> xr.Dataset:
    """Parse one ASF and its AMC trials into a trajectories-family dataset (data contract).

    Parameters
    ----------
    paths : mapping
        File name -> path; exactly one ``*.asf`` and one or more ``*.amc`` (e.g. the output of
        the fetcher). Only these paths are read.

    Returns
    -------
    xarray.Dataset
        ``pos(sample, time, entity, space)`` float32 joint positions in metres (y up), NaN after a
        trial's end; ``mask(sample, time, entity)`` bool (True while the trial lasts);
        ``edges(sample, entity, entity_)`` float32 symmetric 0/1 skeleton tree. One sample per
        trial, sorted by trial name (coordinate ``trial``, e.g. ``"35_01"``, and ``n_frames``);
        ``time`` in seconds at 120 Hz; ``entity`` = the 31 joint names (``root`` first) with a
        ``parent`` coordinate (``""`` for the root); ``space`` = x, y, z.

    Raises
    ------
    ValueError
        No or several ASF files, no AMC file, or a malformed file (named with its line).

    Examples
    --------
    >>> import tempfile
    >>> ds = open_cmu_mocap(make_fake_cmu_mocap(tempfile.mkdtemp(), seed=0))
    >>> ds.pos.dims, ds.trial.values.tolist()
    (('sample', 'time', 'entity', 'space'), ['35_01', '35_02', '35_03'])
    """
    asf = [Path(p) for k, p in paths.items() if str(k).lower().endswith(".asf")]
    amc = {Path(k).stem: Path(p) for k, p in paths.items() if str(k).lower().endswith(".amc")}
    if len(asf) != 1:
        raise ValueError(f"open_cmu_mocap needs exactly one .asf skeleton file, got {len(asf)} in {sorted(map(str, paths))}")
    if not amc:
        raise ValueError(f"open_cmu_mocap needs at least one .amc motion file, got none in {sorted(map(str, paths))}")
    skel = parse_asf(asf[0])
    trials = sorted(amc)
    positions = []
    for t in trials:
        positions.append(forward_kinematics(skel, parse_amc(amc[t], skel)))
        log.debug("cmu-mocap: %s has %d frames", t, positions[-1].shape[0])
    n_max = max(p.shape[0] for p in positions)
    joints = skel.joints
    pos = np.full((len(trials), n_max, len(joints), 3), np.nan, dtype=np.float32)
    mask = np.zeros((len(trials), n_max, len(joints)), dtype=bool)
    for i, p in enumerate(positions):
        pos[i, : p.shape[0]] = p
        mask[i, : p.shape[0]] = True
    edges = np.broadcast_to(skel.edges(), (len(trials), len(joints), len(joints))).copy()
    return xr.Dataset(
        {
            "pos": (("sample", "time", "entity", "space"), pos),
            "mask": (("sample", "time", "entity"), mask),
            "edges": (("sample", "entity", "entity_"), edges),
        },
        coords={
            "time": np.arange(n_max) / FPS,
            "entity": joints,
            "entity_": joints,
            "space": ["x", "y", "z"],
            "trial": ("sample", trials),
            "n_frames": ("sample", np.array([p.shape[0] for p in positions], dtype=np.int64)),
            "parent": ("entity", [skel.parent.get(j, "") for j in joints]),
        },
        attrs={
            "family": "trajectories",
            "name": "cmu-mocap-35",
            "units": "m",
            "dt": 1.0 / FPS,
            "source": SOURCE,
            "license": LICENSE,
            "citation": CITATION,
            "dataset_version": VERSION,
            "skeleton": skel.source,
            "length_unit_to_m": skel.metres_per_unit,
            "up_axis": "y",
            "fk": "Acclaim: L = L_parent C M C^-1, C and M = R_last...R_first (fixed axes)",
        },
    )


# ------------------------------------------------------------------------------------------
# Fake data in the upstream format
# ------------------------------------------------------------------------------------------

# A six-joint chain in the layout of the CMU skeleton: root -> lhipjoint -> lfemur -> ltibia, and
# root -> lowerback -> upperback.
_FAKE_BONES = [
    # id, name, direction, length, axis, dof, limits
    (1, "lhipjoint", (0.673618, -0.716094, 0.182886), 2.63917, (0, 0, 0), (), ()),
    (2, "lfemur", (0.34202, -0.939693, 0), 7.41015, (0, 0, 20), ("rx", "ry", "rz"),
     ((-160.0, 20.0), (-70.0, 70.0), (-60.0, 70.0))),
    (3, "ltibia", (0.0786834, -0.216181, 0.973178), 7.92551, (-90, 7.62852e-16, 20), ("rx",), ((-10.0, 170.0),)),
    (4, "lowerback", (0.0116, 0.999881, -0.0104), 2.07, (0, 0, 0), ("rx", "ry", "rz"),
     ((-20.0, 45.0), (-30.0, 30.0), (-30.0, 30.0))),
    (5, "upperback", (1.53562e-11, 1, -4.21928e-11), 2.09, (0, 0, 0), ("rx", "rz"), ((-20.0, 45.0), (-30.0, 30.0))),
]
_FAKE_HIERARCHY = [("root", ("lhipjoint", "lowerback")), ("lhipjoint", ("lfemur",)),
                   ("lfemur", ("ltibia",)), ("lowerback", ("upperback",))]


def _win_float(x: float) -> str:
    """A float written the way the Windows VICON tools do: ``%g`` with 3-digit exponents."""
    s = f"{x:g}"
    return re.sub(r"e([+-])(\d\d)$", r"e\g<1>0\2", s)


def make_fake_cmu_mocap(dir: str | Path, seed: int = 0, n_trials: int = 3,
                        trials: Sequence[int] | None = None, n_frames: int | None = None) -> dict[str, Path]:
    """Write a tiny skeleton and ``n_trials`` motions in the upstream Acclaim format.

    The files mimic the CMU ones byte for byte in layout: CRLF line endings, a
    ``# AST/ASF ...`` comment header, ``length 0.45`` units, ``e-016``-style exponents, limits on
    continuation lines, and AMC headers naming an unrelated ASF path.

    Parameters
    ----------
    dir : str or pathlib.Path
        Output folder (created if needed).
    seed : int
        Seed of the motion angles; trial ``k`` has ``10 + 2k`` frames (12, 14, 16 ...).
    n_trials : int
        Number of AMC files (named ``35_01.amc`` ...).
    trials : sequence of int, optional
        Trial numbers to write instead of ``1 .. n_trials`` (e.g. the task's 23 trials).
    n_frames : int, optional
        Frames per trial instead of ``10 + 2k``.

    Returns
    -------
    dict
        ``{"35.asf": path, "35_01.amc": path, ...}``.
    """
    d = Path(dir)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = [
        "# AST/ASF file generated using VICON BodyLanguage",
        "# -----------------------------------------------",
        ":version 1.10",
        ":name VICON",
        ":units",
        "  mass 1.0",
        "  length 0.45",
        "  angle deg",
        ":documentation",
        "   .ast/.asf automatically generated from VICON data using",
        "   VICON BodyBuilder and BodyLanguage model FoxedUp or BRILLIANT.MOD",
        ":root",
        "   order TX TY TZ RX RY RZ",
        "   axis XYZ",
        "   position 0 0 0  ",
        "   orientation 0 0 0 ",
        ":bonedata",
    ]
    for bid, name, direc, length, axis, dof, limits in _FAKE_BONES:
        lines += ["  begin", f"     id {bid} ", f"     name {name}",
                  "     direction " + " ".join(_win_float(v) for v in direc) + " ",
                  f"     length {_win_float(length)}  ",
                  "     axis " + " ".join(_win_float(v) for v in axis) + "  XYZ"]
        if dof:
            lines.append("    dof " + " ".join(dof))
            lim = [f"({lo:.1f} {hi:.1f})" for lo, hi in limits]
            lines.append("    limits " + lim[0])
            lines += ["           " + x for x in lim[1:]]
        lines.append("  end")
    lines += [":hierarchy", "  begin"]
    lines += [f"    {p} {' '.join(cs)}" for p, cs in _FAKE_HIERARCHY]
    lines += ["  end", ""]
    out = {"35.asf": d / "35.asf"}
    out["35.asf"].write_bytes("\r\n".join(lines).encode())
    dof_bones = [b for b in _FAKE_BONES if b[5]]
    for k in (trials if trials is not None else range(1, n_trials + 1)):
        n = n_frames if n_frames is not None else 10 + 2 * k
        amc = ["#!OML:ASF F:\\VICON\\USERDATA\\INSTALL\\rory3\\rory3.ASF", ":FULLY-SPECIFIED", ":DEGREES"]
        phase = rng.uniform(0, 2 * np.pi)
        for f in range(1, n + 1):
            amc.append(str(f))
            t = f / FPS
            root = [4.4 + 30 * t, 17.9 + 0.1 * np.sin(phase + 40 * t), -21.1 + 2 * t,
                    -0.94 + rng.normal(0, 0.5), -8.4 + rng.normal(0, 0.5), -7.4 + rng.normal(0, 0.5)]
            amc.append("root " + " ".join(_win_float(v) for v in root))
            for _, name, *_rest in dof_bones:
                ndof = len(_rest[3])
                vals = rng.normal(0, 20, ndof)
                if f == 1:
                    vals[0] = -3.22404e-15  # the CMU files' tiny 3-digit-exponent values
                amc.append(name + " " + " ".join(_win_float(v) for v in vals))
        p = d / f"35_{k:02d}.amc"
        p.write_bytes(("\r\n".join(amc) + "\r\n").encode())
        out[p.name] = p
    return out


# ------------------------------------------------------------------------------------------
# Dataset record
# ------------------------------------------------------------------------------------------

BASE_URL = "http://mocap.cs.cmu.edu/subjects/35/"

#: sha256 of each upstream file; ``None`` = not pinned yet (the fetcher records the hash at first
#: download). ``decathlon pin-hashes cmu-mocap-35`` rewrites a ``None`` on a line marked
#: ``# pin: <file>`` with the recorded hash (decathlon.datasets.pinning). 35.asf and 35_01.amc are
#: pinned from shared/data/MANIFEST.md §1 (byte-identical to the CMU originals).
SHA256: dict[str, str | None] = {
    "35.asf": "2a8e2eda3c0d7d828566b2a9a8ab36b2b8b3864110574e8b73c8f069fded416c",  # pin: 35.asf
    "35_01.amc": "0743f4ea48e7e199cd56b2810b5ce81f8ede08d32ff79aa4e363c44cc4fe33aa",  # pin: 35_01.amc
    "35_02.amc": None,  # pin: 35_02.amc
    "35_03.amc": None,  # pin: 35_03.amc
    "35_04.amc": None,  # pin: 35_04.amc
    "35_05.amc": None,  # pin: 35_05.amc
    "35_06.amc": None,  # pin: 35_06.amc
    "35_07.amc": None,  # pin: 35_07.amc
    "35_08.amc": None,  # pin: 35_08.amc
    "35_09.amc": None,  # pin: 35_09.amc
    "35_10.amc": None,  # pin: 35_10.amc
    "35_11.amc": None,  # pin: 35_11.amc
    "35_12.amc": None,  # pin: 35_12.amc
    "35_13.amc": None,  # pin: 35_13.amc
    "35_14.amc": None,  # pin: 35_14.amc
    "35_15.amc": None,  # pin: 35_15.amc
    "35_16.amc": None,  # pin: 35_16.amc
    "35_28.amc": None,  # pin: 35_28.amc
    "35_29.amc": None,  # pin: 35_29.amc
    "35_30.amc": None,  # pin: 35_30.amc
    "35_31.amc": None,  # pin: 35_31.amc
    "35_32.amc": None,  # pin: 35_32.amc
    "35_33.amc": None,  # pin: 35_33.amc
    "35_34.amc": None,  # pin: 35_34.amc
}


CMU_MOCAP_35 = register_dataset(
    DatasetSpec(
        name="cmu-mocap-35",
        version=VERSION,
        domain="mocap",
        family="trajectories",
        build=file_builder(open_cmu_mocap),
        fake=lambda d, seed: make_fake_cmu_mocap(d, seed, trials=TRIALS, n_frames=210),
        parts=("all",),
        tiers={"full": {}},
        files=tuple(FileSpec(name, BASE_URL + name, sha) for name, sha in SHA256.items()),
        params={"trials": list(TRIALS), "fps": FPS, "length_unit_to_m": INCH / 0.45},
        license=LICENSE,
        citation=CITATION,
        card="cmu-mocap-35.md",
        source=SOURCE,
    )
)


# --------------------------------------------------------------------------------------------
# Task record: mocap/cmu-walking (dNRI / LoCS protocol, PROTOCOLS §2.1, §2.3)
# --------------------------------------------------------------------------------------------
#: Trials sorted by name: first 12 train, next 4 validation, last 7 test (dNRI
#: ``cmu_motion_data.py``: ``--num_train_trials 12 --num_val_trials 4``).
CMU_TRIALS = [f"35_{k:02d}" for k in sorted(TRIALS)]

CMU_WALKING = register_task(
    TaskSpec(
        name="mocap/cmu-walking-forecast",
        version="1",
        event="mocap/cmu-walking",
        kind="forecast",
        dataset="cmu-mocap-35",
        splits={
            "train": Split("all", coord="trial", labels=tuple(CMU_TRIALS[:12])),
            "valid": Split("all", coord="trial", labels=tuple(CMU_TRIALS[12:16])),
            "test": Split("all", coord="trial", labels=tuple(CMU_TRIALS[16:])),
        },
        inputs=("pos",),
        targets=("pos",),
        context=50,
        horizon=48,
        offset=0,
        stride=100,  # non-overlapping 100-frame test windows: burn-in 50, predict 48
        train_length=50,  # non-overlapping 50-frame train/valid windows
        normalize=None,
        error="l2",
        metrics=("ade", "l2@1", "l2@20", "l2@40"),
        primary="ade",
        trivial="static",
        reversible=False,
        description=(
            "CMU subject 35 walking, 31 joints in metres at 120 Hz. See 50 frames, predict the next 48; "
            "Euclidean joint-position error (mean over joints) per step, reported at steps 1, 20, 40 "
            "(dNRI/LoCS protocol; their numbers are in raw ASF units = 0.0564 m)."
        ),
    )
)
