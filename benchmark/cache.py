"""Where the data cache is, and whether it can be used, checked before any work starts; and the
one atomic writer of the files a user reads (:func:`write_atomic`), with the user's umask."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["data_root", "build_lock", "current_umask", "public_mode", "write_atomic"]

_UMASK_LOCK = threading.Lock()

log = logging.getLogger("decathlon")


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


def build_lock(final: Path) -> Any:
    """The inter-process lock held for the whole build of the store at ``final``."""
    from filelock import FileLock

    return FileLock(str(final.parent / f".{final.name}.lock"))


def _remove_leftovers(final: Path) -> None:
    """Temporary and moved-aside folders of earlier builds of ``final`` (killed ones): under the
    build lock nobody else is using them."""
    for pattern in (f".{final.name}.tmp-*", f".{final.name}.old-*"):
        for left in final.parent.glob(pattern):
            log.info("removing %s, left by an interrupted build", left)
            shutil.rmtree(left, ignore_errors=True)


def remove_leftovers_if_idle(final: Path) -> None:
    """Leftovers of killed builds of a complete store, removed when no build holds its lock."""
    from filelock import Timeout

    if not any(final.parent.glob(f".{final.name}.tmp-*")) and not any(
        final.parent.glob(f".{final.name}.old-*")
    ):
        return
    lock = build_lock(final)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return  # a build is running; it cleans up itself
    try:
        _remove_leftovers(final)
    finally:
        lock.release()


def advice(d: Path, meta: Any, name: str, tier: str) -> str:
    """What to do about the store at ``d`` that failed while being read: run again if another
    process rebuilt it meanwhile (its marker changed, or a build holds its lock), else delete
    it and prepare it again."""
    from filelock import Timeout

    try:
        now = json.loads((d / "COMPLETE.json").read_text())
    except (OSError, ValueError):
        now = None
    lock = build_lock(d)
    try:
        lock.acquire(timeout=0)
        lock.release()
        busy = False
    except Timeout:
        busy = True
    changed = isinstance(now, dict) and now.get("created") != meta.get("created")
    if busy or changed:
        return (
            "it was being rebuilt by another `decathlon prepare` while it was read; "
            "nothing is wrong with it: run the command again"
        )
    return f"delete {d} and run `decathlon prepare {name} --tier {tier}` again"


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows.

    Linux reports it in ``/proc/self/status`` (``Umask:``); elsewhere it is read by setting it
    and putting it straight back, under a lock so threads of this package never see the
    temporary value.

    Examples
    --------
    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def public_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: ``0o666 & ~umask``.

    ``tempfile.mkstemp`` creates files readable by their owner only (0600); a file written
    through it and renamed into place gets this mode first (:func:`write_atomic`).
    """
    return 0o666 & ~current_umask()


def write_atomic(
    path: str | Path, data: str | bytes, *, prefix: str = ".tmp-", replace: bool = True
) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed into place.

    The file gets the mode a plain ``open(path, "w")`` would give it (the user's umask, not the
    0600 of a temporary file); a reader never sees a half-written file, and no temporary file is
    left behind on failure. Text is written as UTF-8. With ``replace=False`` an existing
    ``path`` is never replaced: :class:`FileExistsError` (the file is linked into place, which
    fails if it exists, so of two writers only one wins; file systems without hard links fall
    back to a check and a rename).

    Examples
    --------
    >>> import os, tempfile
    >>> p = write_atomic(os.path.join(tempfile.mkdtemp(), "a.json"), "{}")
    >>> p.read_text(), oct(p.stat().st_mode & 0o777) == oct(public_mode())
    ('{}', True)
    >>> write_atomic(p, "[]", replace=False)
    Traceback (most recent call last):
    ...
    FileExistsError: ...
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, public_mode())
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _link_new(tmp: str, path: Path) -> None:
    """Move ``tmp`` to ``path`` only if ``path`` does not exist."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} already exists") from None
    except OSError:  # no hard links here (some network or FAT file systems)
        if path.exists():
            raise FileExistsError(f"{path} already exists") from None
        os.replace(tmp, path)
