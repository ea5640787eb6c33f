"""Line-level reading shared by the Acclaim ASF and AMC readers.

Numbered comment-free lines, errors that name the file and line, and numbers read with an error
that says what was expected. Used by :mod:`decathlon.datasets.io.acclaim` (skeletons) and
:mod:`decathlon.datasets.io.amc` (motions); :data:`_ROT_DOFS` also by
:mod:`decathlon.datasets.io.kinematics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

#: The rotational degrees of freedom of a bone (the other ASF dofs are translations and length).
_ROT_DOFS = ("rx", "ry", "rz")


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
