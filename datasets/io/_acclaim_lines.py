"""Line-level reading shared by the Acclaim ASF and AMC readers.

Numbered comment-free lines, errors that name the file and line, and numbers read with an error
that says what was expected. Used by :mod:`decathlon.datasets.io.acclaim` (skeletons) and
:mod:`decathlon.datasets.io.amc` (motions); :data:`_ROT_DOFS` also by
:mod:`decathlon.datasets.io.kinematics`.

Every number is finite: NaN, inf and values beyond float32's range (``|x| > 3.4e38``, which
would become inf in the float32 dataset) are refused with the file and line, except where the
format allows infinity (``limits`` pairs such as ``(-inf inf)``), where only NaN is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

#: The rotational degrees of freedom of a bone (the other ASF dofs are translations and length).
_ROT_DOFS = ("rx", "ry", "rz")

#: Largest magnitude accepted for a value that must be finite: float32's largest finite value.
_F32_MAX = float(np.finfo(np.float32).max)


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


def _float(tok: str, path: Path, line: int, what: str, finite: bool = True) -> float:
    """``tok`` as a float; NaN refused, and inf or ``|x| > 3.4e38`` too unless ``not finite``."""
    try:
        x = float(tok)
    except ValueError:
        raise _err(
            path,
            line,
            f"cannot read {tok!r} as a number ({what}); expected a decimal like "
            "-3.22404e-015. The file is corrupted or not an Acclaim file: download it again.",
        ) from None
    if math.isnan(x) and not finite:
        raise _err(path, line, f"{tok!r} is not a number ({what}); expected a decimal, -inf or inf")
    if finite and not abs(x) <= _F32_MAX:
        raise _err(
            path,
            line,
            f"{tok!r} is not finite ({what}); expected a finite decimal (NaN, inf and values "
            "beyond float32's 3.4e+38 are refused). The file is corrupted: download it again.",
        )
    return x


def _floats(
    toks: list[str], n: int, path: Path, line: int, what: str, finite: bool = True
) -> np.ndarray:
    """Exactly ``n`` numbers (see :func:`_float`) as a float64 array."""
    if len(toks) != n:
        raise _err(path, line, f"{what} has {len(toks)} values {toks}, expected {n}")
    return np.array([_float(t, path, line, what, finite) for t in toks])


def _axis_order(tok: str, path: Path, line: int) -> str:
    """An ``axis`` order such as ``XYZ``: a permutation of X, Y and Z."""
    order = tok.upper()
    if len(order) != 3 or set(order) != {"X", "Y", "Z"}:
        raise _err(path, line, f"axis order {tok!r} must be a permutation of XYZ, e.g. 'XYZ'")
    return order


def _parse_limits(text: str, path: Path, line: int) -> list[tuple[float, float]]:
    """``(lo hi)`` pairs of a ``limits`` line or its continuation; ``-inf``/``inf`` allowed."""
    pairs = re.findall(r"\(([^()]*)\)", text)
    leftover = re.sub(r"\([^()]*\)", "", text).strip()
    if leftover or not pairs:
        raise _err(path, line, f"limits must be '(lo hi)' pairs, got {text.strip()!r}")
    out = []
    for p in pairs:
        lo, hi = _floats(p.split(), 2, path, line, "limit pair", finite=False)
        out.append((lo, hi))
    return out
