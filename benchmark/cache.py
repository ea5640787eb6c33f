"""Where the data cache is, and whether it can be used, checked before any work starts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["data_root"]


def data_root() -> Path:
    """Cache root: ``$DECATHLON_DATA_DIR`` or the OS cache directory. Nothing is created here.

    Raises
    ------
    ValueError
        ``$DECATHLON_DATA_DIR`` names a file, a dangling symbolic link or a link loop.
    """
    env = os.environ.get("DECATHLON_DATA_DIR")
    if env:
        root = Path(env).expanduser()
        _check_root(root, "$DECATHLON_DATA_DIR")
        return root
    import pooch  # light import, only when a path is needed

    return Path(pooch.os_cache("spacetime-decathlon"))


def _check_root(root: Path, what: str) -> None:
    fix = f"point {what} at a folder you can write to (it is created if missing)"
    if root.is_symlink():
        try:
            root.resolve(strict=True)
        except (OSError, RuntimeError):
            raise ValueError(
                f"{what} = {root} is a dangling or looping symbolic link; {fix}"
            ) from None
    if root.exists() and not root.is_dir():
        raise ValueError(f"{what} = {root} is a file, not a folder; {fix}")


def _check_writable(root: Path) -> None:
    """Before any work: the cache root (or its nearest existing parent) is a writable folder."""
    what = "$DECATHLON_DATA_DIR" if os.environ.get("DECATHLON_DATA_DIR") else "the data cache"
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:  # try it: permissions, read-only file systems and quotas all show up here
        fd, name = tempfile.mkstemp(dir=probe, prefix=".decathlon-write-test-")
        os.close(fd)
        os.unlink(name)
    except OSError as e:
        raise ValueError(
            f"{what} = {root} cannot be written ({probe}: {e.strerror or e}); point "
            "$DECATHLON_DATA_DIR at a folder you can write to"
        ) from None
