"""Acclaim AMC motion files: parser.

Format (Acclaim, as written by VICON BodyLanguage; CRLF line endings, ``e-015`` exponents): a
header (``#!OML:ASF <path>`` -- the path is ignored --, ``:FULLY-SPECIFIED``, ``:DEGREES``), then
one block per frame: the frame number on its own line, then one ``bone v1 ... vk`` line per bone
with ``k`` = the bone's dof count (6 for ``root``). ``#`` starts a comment.

A motion is read against its skeleton (:func:`decathlon.datasets.io.acclaim.parse_asf`), which
says which bones exist and how many values each has; joint positions come from
:func:`decathlon.datasets.io.kinematics.forward_kinematics`.
"""

from __future__ import annotations

import re
from array import array
from pathlib import Path

import numpy as np

from decathlon.datasets.io._acclaim_lines import _ROT_DOFS, _err, _float, _lines
from decathlon.datasets.io.acclaim import Skeleton

__all__ = ["parse_amc", "MAX_FRAMES"]

#: Most frames a motion may have: 10 minutes at CMU's 120 Hz, far above a walking trial (35_01
#: has 358 frames, 3 s). It bounds every array sized by the frame count (the motion, forward
#: kinematics, the dataset's time axis) whatever a file claims. Frame numbers are bounded by the
#: same value.
MAX_FRAMES = 72_000


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
        self.rows: dict[str, array] = {b: array("d") for b in self.required}  # flat, 8 B/value
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
        if self.n_frames >= MAX_FRAMES:
            raise _err(
                self.path,
                n,
                f"frame {self.n_frames + 1} is past the {MAX_FRAMES} frames a motion may have "
                "(10 minutes at 120 Hz). The file is corrupted or not one trial: download it "
                "again.",
            )
        if num > MAX_FRAMES:
            raise _err(
                self.path,
                n,
                f"frame number {num} is out of range; expected 0 .. {MAX_FRAMES} (frames are "
                "numbered from 1). The file is corrupted: download it again.",
            )
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
            self.rows[bone].extend([_float(t, path, n, f"bone {bone!r}") for t in vals])

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
            b: np.frombuffer(r, dtype=np.float64).reshape(self.n_frames, self.counts[b]).copy()
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
        Naming file and line: an unknown bone, a wrong value count, a bad or non-finite number
        (NaN, inf, beyond float32), a frame number out of sequence or past :data:`MAX_FRAMES`,
        more than :data:`MAX_FRAMES` frames, or a frame that lacks bones (a truncated frame or
        file).

    Examples
    --------
    >>> import tempfile
    >>> from decathlon.datasets.cmu_mocap import make_fake_cmu_mocap
    >>> from decathlon.datasets.io.acclaim import parse_asf
    >>> files = make_fake_cmu_mocap(tempfile.mkdtemp(), seed=0)
    >>> m = parse_amc(files["35_01.amc"], parse_asf(files["35.asf"]))
    >>> m["root"].shape
    (12, 6)
    """
    reader = _AmcReader(Path(path), skeleton)
    for n, text in _lines(reader.path):
        reader.feed(n, text)
    return reader.motion()
