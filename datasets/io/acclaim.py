"""Acclaim ASF/AMC motion capture: parser and forward kinematics.

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
FAQ's "(1/0.45) * 2.54 / 100"). Joint positions come out in metres, in the capture frame (y up
for CMU).

The CMU subject-35 dataset built on these readers is :mod:`decathlon.datasets.cmu_mocap`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Bone", "Skeleton", "parse_asf", "parse_amc", "forward_kinematics", "INCH"]

log = logging.getLogger("decathlon")

#: Metres per inch; ASF lengths are inches times the ASF ``length`` unit.
INCH = 0.0254

_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
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
            path,
            line,
            f"cannot read {tok!r} as a number ({what}); expected a decimal like "
            "-3.22404e-015. The file is corrupted or not an Acclaim file: download it again.",
        ) from None


def _floats(toks: list[str], n: int, path: Path, line: int, what: str) -> np.ndarray:
    if len(toks) != n:
        raise _err(path, line, f"{what} has {len(toks)} values {toks}, expected {n}")
    return np.array([_float(t, path, line, what) for t in toks])


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


def _check_tree(
    path: Path, bones: Mapping[str, Bone], parent: Mapping[str, str], where: Mapping[str, int]
) -> None:
    known = {"root", *bones}
    for c, p in parent.items():
        line = where[f"hierarchy:{c}"]
        if c not in bones:
            raise _err(path, line, f"the :hierarchy names bone {c!r}, which has no :bonedata block")
        if p not in known:
            raise _err(
                path, line, f"the :hierarchy names parent {p!r}, which is neither 'root' nor a bone"
            )
    orphans = [b for b in bones if b not in parent]
    if orphans:
        raise _err(
            path,
            where[orphans[0]],
            f"bones {orphans} have no parent in the :hierarchy; every bone must hang from 'root'",
        )
    for b in bones:  # every chain must reach root without a cycle
        seen, node = set(), b
        while node != "root":
            if node in seen:
                raise _err(
                    path, where[f"hierarchy:{b}"], f"the :hierarchy has a cycle through bone {b!r}"
                )
            seen.add(node)
            node = parent[node]


# ------------------------------------------------------------------------------------------
# ASF
# ------------------------------------------------------------------------------------------


class _AsfReader:
    """One pass over an ASF file: a line-oriented state machine.

    The state is the current ``:section``, the open ``begin ... end`` bone block (if any) and,
    inside :hierarchy, whether a ``begin`` is open. :meth:`feed` takes one comment-free line;
    :meth:`skeleton` checks the end state and the tree and returns the :class:`Skeleton`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.units: dict = {"mass": 1.0, "length": 1.0, "angle": "deg"}
        self.name = self.version = ""
        self.root_order: tuple[str, ...] = _ROOT_CHANNELS
        self.root_axis = "XYZ"
        self.root_pos = np.zeros(3)
        self.root_ori = np.zeros(3)
        self.bones: dict[str, Bone] = {}
        self.parent: dict[str, str] = {}
        self.where: dict[str, int] = {}  # line of each bone's block and of each hierarchy entry
        self.section: str | None = None
        self.block: dict | None = None
        self.block_line = 0
        self.in_hier = False
        self.last_key: str | None = None
        self.saw_bonedata = self.saw_hierarchy = False

    def feed(self, n: int, text: str) -> None:
        """Read line ``n`` (``text`` without comment, not empty)."""
        toks = text.split()
        if toks[0].startswith(":"):
            self._section(n, toks)
        elif self.section == "units":
            if len(toks) != 2:
                raise _err(
                    self.path, n, f"a :units line has the form '<quantity> <value>', got {text!r}"
                )
            _set_unit(self.units, toks[0], toks[1], self.path, n)
        elif self.section == "root":
            self._root(n, toks)
        elif self.section == "bonedata":
            self._bonedata(n, toks, text)
        elif self.section == "hierarchy":
            self._hierarchy(n, toks, text)
        # other sections (:documentation, :skin ...) are ignored

    def _section(self, n: int, toks: list[str]) -> None:
        if self.block is not None:
            raise _err(
                self.path,
                n,
                f"section {toks[0]} starts inside a bone block opened at line {self.block_line} "
                "(missing 'end')",
            )
        key = toks[0][1:].lower()
        self.section = key
        self.in_hier = False
        if key == "version":
            self.version = " ".join(toks[1:])
        elif key == "name":
            self.name = " ".join(toks[1:])
        elif key == "bonedata":
            self.saw_bonedata = True
        elif key == "hierarchy":
            self.saw_hierarchy = True
        elif key == "units" and len(toks) > 1:
            vals = toks[1:]  # "units mass 1.0 length 0.45 angle deg" on one line
            for i in range(0, len(vals) - 1, 2):
                _set_unit(self.units, vals[i], vals[i + 1], self.path, n)

    def _root(self, n: int, toks: list[str]) -> None:
        path = self.path
        key = toks[0].lower()
        if key == "order":
            self.root_order = tuple(t.upper() for t in toks[1:])
            bad = [t for t in self.root_order if t not in _ROOT_CHANNELS]
            if bad or len(set(self.root_order)) != len(self.root_order):
                raise _err(
                    path,
                    n,
                    f"root order {list(self.root_order)} must list distinct channels of "
                    "TX TY TZ RX RY RZ",
                )
        elif key == "axis":
            self.root_axis = _axis_order(toks[1] if len(toks) > 1 else "", path, n)
        elif key == "position":
            self.root_pos = _floats(toks[1:], 3, path, n, "root position")
        elif key == "orientation":
            self.root_ori = _floats(toks[1:], 3, path, n, "root orientation")
        else:
            log.debug("%s line %d: ignoring root field %r", path.name, n, key)

    def _bonedata(self, n: int, toks: list[str], text: str) -> None:
        key = toks[0].lower()
        if key == "begin":
            if self.block is not None:
                raise _err(
                    self.path,
                    n,
                    f"'begin' inside the bone block opened at line {self.block_line} "
                    "(missing 'end')",
                )
            self.block, self.block_line, self.last_key = {}, n, None
        elif key == "end":
            if self.block is None:
                raise _err(self.path, n, "'end' without a matching 'begin' in :bonedata")
            self._close_block(n)
            self.block = None
        elif self.block is None:
            raise _err(self.path, n, f"{text!r} outside a 'begin ... end' bone block")
        else:
            self._bone_field(n, key, toks, text)

    def _bone_field(self, n: int, key: str, toks: list[str], text: str) -> None:
        """One ``key values`` line inside a bone block; ``(lo hi)`` lines continue ``limits``."""
        path, block = self.path, self.block
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
        elif key == "limits" or (key.startswith("(") and self.last_key == "limits"):
            rest = text[len("limits") :] if key == "limits" else text
            block.setdefault("limits", []).extend(_parse_limits(rest, path, n))
            key = "limits"
        else:
            log.debug("%s line %d: ignoring bone field %r", path.name, n, key)
        self.last_key = key

    def _close_block(self, line: int) -> None:
        """Check the open bone block (ending at ``line``) and store it as a :class:`Bone`."""
        path, block, at = self.path, self.block, self.block_line
        for key in ("id", "name", "direction", "length", "axis"):
            if key not in block:
                raise _err(
                    path, at, f"bone block is missing its {key!r} line (block ends at line {line})"
                )
        dof = tuple(block.get("dof", ()))
        lim = block.get("limits", [])
        if dof and len(lim) not in (0, len(dof)):
            raise _err(
                path,
                at,
                f"bone {block['name']!r} has {len(dof)} dof {list(dof)} but {len(lim)} limits",
            )
        d = block["direction"]
        norm = float(np.linalg.norm(d))
        if not norm > 0:
            raise _err(path, at, f"bone {block['name']!r} has a zero direction vector")
        if block["name"] in self.bones or block["name"] == "root":
            raise _err(path, at, f"bone name {block['name']!r} is defined twice")
        self.where[block["name"]] = at
        self.bones[block["name"]] = Bone(
            id=block["id"],
            name=block["name"],
            direction=d / norm,
            length=block["length"],
            axis=block["axis"],
            axis_order=block["axis_order"],
            dof=dof,
            limits=(
                np.array(lim, dtype=float).reshape(-1, 2)
                if lim
                else np.full((len(dof), 2), [-np.inf, np.inf])
            ),
        )

    def _hierarchy(self, n: int, toks: list[str], text: str) -> None:
        key = toks[0].lower()
        if key in ("begin", "end"):
            self.in_hier = key == "begin"
            return
        if not self.in_hier:
            raise _err(self.path, n, f"hierarchy line {text!r} outside 'begin ... end'")
        if len(toks) < 2:
            raise _err(
                self.path, n, f"a hierarchy line lists a parent and its children, got {text!r}"
            )
        for child in toks[1:]:
            if child in self.parent:
                raise _err(
                    self.path,
                    n,
                    f"bone {child!r} has two parents ({self.parent[child]!r} and {toks[0]!r})",
                )
            self.parent[child] = toks[0]
            self.where[f"hierarchy:{child}"] = n

    def skeleton(self) -> Skeleton:
        """Check the state at the end of the file and the tree; the parsed :class:`Skeleton`."""
        path = self.path
        if self.block is not None:
            raise _err(
                path,
                self.block_line,
                "the file ends inside this bone block (missing 'end'); the file is truncated",
            )
        if not self.saw_bonedata or not self.bones:
            raise ValueError(
                f"{path.name}: no :bonedata section with bones; is this an Acclaim ASF file?"
            )
        if not self.saw_hierarchy:
            raise ValueError(
                f"{path.name}: no :hierarchy section; the file is truncated or not an ASF file"
            )
        _check_tree(path, self.bones, self.parent, self.where)
        return Skeleton(
            name=self.name,
            version=self.version,
            units=self.units,
            root_order=self.root_order,
            root_axis=self.root_axis,
            root_position=self.root_pos,
            root_orientation=self.root_ori,
            bones=self.bones,
            parent=self.parent,
            source=path.name,
        )


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
    >>> from decathlon.datasets.cmu_mocap import make_fake_cmu_mocap
    >>> d = tempfile.mkdtemp()
    >>> files = make_fake_cmu_mocap(d, seed=0)
    >>> sk = parse_asf(files["35.asf"])
    >>> sk.joints[:3], sk.parent["lfemur"], sk.units["length"]
    (['root', 'lhipjoint', 'lfemur'], 'lhipjoint', 0.45)
    """
    reader = _AsfReader(Path(path))
    for n, text in _lines(reader.path):
        reader.feed(n, text)
    return reader.skeleton()


# ------------------------------------------------------------------------------------------
# AMC
# ------------------------------------------------------------------------------------------


class _AmcReader:
    """One pass over an AMC file: header keywords, frame numbers and ``bone v1 ... vk`` lines.

    Each frame must list every bone with dofs exactly once; frames must be numbered
    consecutively. :meth:`motion` closes the last frame and returns the arrays.
    """

    def __init__(self, path: Path, skeleton: Skeleton) -> None:
        self.path = path
        self.skeleton = skeleton
        self.counts = {b.name: len(b.dof) for b in skeleton.bones.values()}
        self.counts["root"] = len(skeleton.root_order)
        self.required = [b for b, k in self.counts.items() if k > 0]
        self.radians = False
        self.rows: dict[str, list[list[float]]] = {b: [] for b in self.required}
        self.frame_no: int | None = None
        self.frame_line = 0
        self.seen: dict[str, int] = {}
        self.n_frames = 0

    def feed(self, n: int, text: str) -> None:
        """Read line ``n`` (``text`` without comment, not empty)."""
        if text.startswith(":"):
            key = text[1:].split()[0].upper() if len(text) > 1 else ""
            if key == "RADIANS":
                self.radians = True
            elif key == "DEGREES":
                self.radians = False
            return
        toks = text.split()
        if len(toks) == 1 and re.fullmatch(r"\d+", toks[0]):
            self._start_frame(n, int(toks[0]))
        else:
            self._bone_line(n, toks, text)

    def _start_frame(self, n: int, num: int) -> None:
        if self.frame_no is not None:
            self._close_frame(n)
            if num != self.frame_no + 1:
                raise _err(
                    self.path,
                    n,
                    f"frame number {num} follows frame {self.frame_no}; expected "
                    f"{self.frame_no + 1} (frames must be consecutive)",
                )
        self.frame_no, self.frame_line, self.seen = num, n, {}
        self.n_frames += 1

    def _bone_line(self, n: int, toks: list[str], text: str) -> None:
        path, counts, source = self.path, self.counts, self.skeleton.source
        bone = toks[0]
        if self.frame_no is None:
            raise _err(path, n, f"{text[:40]!r} comes before the first frame number")
        if bone not in counts:
            raise _err(
                path,
                n,
                f"unknown bone {bone!r}; the skeleton {source} has {sorted(counts)}. "
                "Is this AMC file for another subject's ASF?",
            )
        if bone in self.seen:
            raise _err(
                path,
                n,
                f"bone {bone!r} appears twice in frame {self.frame_no} "
                f"(first at line {self.seen[bone]})",
            )
        k = counts[bone]
        vals = toks[1:]
        if len(vals) != k:
            raise _err(
                path, n, f"bone {bone!r} has {len(vals)} values, expected {k} (its dof in {source})"
            )
        self.seen[bone] = n
        if k:
            self.rows[bone].append([_float(t, path, n, f"bone {bone!r}") for t in vals])

    def _close_frame(self, line: int) -> None:
        """Check that the open frame listed every bone; ``line < 0``: at the end of the file."""
        missing = [b for b in self.required if b not in self.seen]
        if missing:
            where = "the file ends" if line < 0 else f"line {line} starts the next frame"
            raise _err(
                self.path,
                self.frame_line,
                f"frame {self.frame_no} is truncated: bones {missing} are missing before "
                f"{where}. The file is incomplete; download it again.",
            )

    def motion(self) -> dict[str, np.ndarray]:
        """Close the last frame; bone -> (frames, dof) float64, rotations in degrees."""
        if self.frame_no is None:
            raise ValueError(f"{self.path.name}: no frames found; is this an Acclaim AMC file?")
        self._close_frame(-1)
        out = {
            b: np.asarray(r, dtype=np.float64).reshape(self.n_frames, self.counts[b])
            for b, r in self.rows.items()
        }
        if self.radians:
            for b, arr in out.items():
                chans = self.skeleton.root_order if b == "root" else self.skeleton.bones[b].dof
                rot = [i for i, c in enumerate(chans) if c.lower() in _ROT_DOFS]
                arr[:, rot] = np.degrees(arr[:, rot])
        return out


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
    >>> from decathlon.datasets.cmu_mocap import make_fake_cmu_mocap
    >>> files = make_fake_cmu_mocap(tempfile.mkdtemp(), seed=0)
    >>> m = parse_amc(files["35_01.amc"], parse_asf(files["35.asf"]))
    >>> m["root"].shape
    (12, 6)
    """
    reader = _AmcReader(Path(path), skeleton)
    for n, text in _lines(reader.path):
        reader.feed(n, text)
    return reader.motion()


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
