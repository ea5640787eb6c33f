"""Acclaim ASF skeleton files: the skeleton model and its parser.

Format (Acclaim, as written by VICON BodyLanguage; CRLF line endings, ``e-015`` exponents):
``:units`` (``mass``, ``length``, ``angle``), ``:root`` (``order`` of the six root channels,
``axis`` order, ``position``, ``orientation``), ``:bonedata`` with one ``begin ... end`` block per
bone (``id``, ``name``, unit ``direction``, ``length``, ``axis a b c XYZ``, optional ``dof`` and
``limits``), ``:hierarchy`` (``parent child child ...`` lines between ``begin`` and ``end``).
``#`` starts a comment.

Units: an ASF ``length`` unit of ``u`` (0.45 for CMU) means lengths and root translations are in
inches times ``u``; metres are ``value / u * 0.0254``, i.e. ``value * 0.05644`` for CMU (the CMU
FAQ's "(1/0.45) * 2.54 / 100").

The motion files (AMC) are read by :mod:`decathlon.datasets.io.amc`; joint positions come from
:mod:`decathlon.datasets.io.kinematics`. The CMU subject-35 dataset built on these readers is
:mod:`decathlon.datasets.cmu_mocap`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from decathlon.datasets.io._acclaim_lines import (
    _axis_order,
    _err,
    _floats,
    _lines,
    _parse_limits,
)
from decathlon.datasets.io._asf_checks import _check_tree, _set_unit

__all__ = ["Bone", "Skeleton", "parse_asf", "INCH", "MAX_BONES", "MAX_BONE_ID"]

log = logging.getLogger("decathlon")

#: Metres per inch; ASF lengths are inches times the ASF ``length`` unit.
INCH = 0.0254

#: Most bones a skeleton may have. A human Acclaim skeleton has a few dozen (CMU's 35.asf: 30); the
#: bound keeps every array sized by the bone count (forward kinematics: frames x bones x 3 x 3;
#: the dataset's joint adjacency: joints x joints per trial) small, whatever a file claims.
MAX_BONES = 100
#: Largest bone ``id``: ids are small integers (CMU: 1 .. 30); anything past int32 is corrupt.
MAX_BONE_ID = 2**31 - 1

_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
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
        self.block: dict[str, Any] | None = None
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
            if len(self.bones) >= MAX_BONES:
                raise _err(
                    self.path,
                    n,
                    f"bone block number {len(self.bones) + 1}; a skeleton may have at most "
                    f"{MAX_BONES} bones (CMU's 35.asf has 30). The file is corrupted or not an "
                    "Acclaim skeleton: download it again.",
                )
            self.block, self.block_line, self.last_key = {}, n, None
        elif key == "end":
            if self.block is None:
                raise _err(self.path, n, "'end' without a matching 'begin' in :bonedata")
            self._close_block(self.block, n)
            self.block = None
        elif self.block is None:
            raise _err(self.path, n, f"{text!r} outside a 'begin ... end' bone block")
        else:
            self._bone_field(self.block, n, key, toks, text)

    def _bone_field(
        self, block: dict[str, Any], n: int, key: str, toks: list[str], text: str
    ) -> None:
        """One ``key values`` line of the open ``block``; ``(lo hi)`` lines continue ``limits``."""
        path = self.path
        if key == "id":
            if len(toks) != 2 or not re.fullmatch(r"[+-]?\d+", toks[1]):
                raise _err(path, n, f"bone id must be one integer, got {text!r}")
            block["id"], block["id_line"] = int(toks[1]), n
            if not 0 <= block["id"] <= MAX_BONE_ID:
                raise _err(
                    path,
                    n,
                    f"bone id {toks[1]} is out of range; expected 0 .. {MAX_BONE_ID} (Acclaim "
                    "ids are small integers, CMU's 1 .. 30)",
                )
        elif key == "name":
            if len(toks) != 2:
                raise _err(path, n, f"bone name must be one word, got {text!r}")
            block["name"] = toks[1]
        elif key == "direction":
            block["direction"] = _floats(toks[1:], 3, path, n, "bone direction")
        elif key == "length":
            block["length"] = float(_floats(toks[1:], 1, path, n, "bone length")[0])
            if block["length"] < 0:
                raise _err(
                    path,
                    n,
                    f"bone length {toks[1]} is negative; expected a length >= 0 in ASF "
                    "length units. The file is corrupted: download it again.",
                )
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
            twice = [d for i, d in enumerate(dof) if d in dof[:i]]
            if twice:
                raise _err(
                    path,
                    n,
                    f"dof {dof} lists {twice[0]!r} twice; each degree of freedom appears at "
                    "most once",
                )
            block["dof"] = dof
        elif key == "limits" or (key.startswith("(") and self.last_key == "limits"):
            rest = text[len("limits") :] if key == "limits" else text
            block.setdefault("limits", []).extend(_parse_limits(rest, path, n))
            key = "limits"
        else:
            log.debug("%s line %d: ignoring bone field %r", path.name, n, key)
        self.last_key = key

    def _close_block(self, block: dict[str, Any], line: int) -> None:
        """Check the open bone ``block`` (ending at ``line``) and store it as a :class:`Bone`."""
        path, at = self.path, self.block_line
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
        other = next((b.name for b in self.bones.values() if b.id == block["id"]), None)
        if other is not None:
            raise _err(
                path,
                block["id_line"],
                f"bone id {block['id']} is used twice (bones {other!r} and {block['name']!r}); "
                "every bone has its own id",
            )
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
