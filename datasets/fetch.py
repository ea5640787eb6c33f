"""The one fetcher: every download goes through one ``pooch.Pooch`` object.

* Files land in ``<cache>/raw/<dataset>/<file>``; the cache root is ``$DECATHLON_DATA_DIR`` or the
  OS cache (see :func:`decathlon.benchmark.data.data_root`).
* Every file is checked against its sha256. A pinned file that fails (truncated or corrupted
  download, or a cached copy changed on disk) raises a ``ValueError`` naming the file, the
  expected and actual hash and what to do.
* A file whose hash is not pinned yet (``FileSpec.sha256 is None``) is recorded at first download
  in ``<cache>/raw/hashes.lock.json`` (written atomically) and verified against that record
  afterwards; a warning says it is unpinned. ``decathlon pin-hashes DATASET`` prints the
  recorded hashes as Python so a maintainer can paste them into the dataset module.
* Nothing happens at import time; nothing downloaded is ever executed or unpickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from decathlon.benchmark.data import DatasetSpec, FileSpec, data_root

__all__ = ["fetch", "file_builder", "file_sha256", "lock_path", "recorded_hashes"]

log = logging.getLogger("decathlon")

_POOCH = None


def _pooch():
    """The single Pooch object, created on first use (never at import)."""
    global _POOCH
    import pooch

    root = data_root() / "raw"
    if _POOCH is None or Path(_POOCH.path) != root:
        _POOCH = pooch.create(path=root, base_url="", registry={}, retry_if_failed=2)
    return _POOCH


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def lock_path() -> Path:
    """The lock file recording hashes of unpinned files at first download."""
    return data_root() / "raw" / "hashes.lock.json"


def recorded_hashes() -> dict[str, str]:
    """``{"dataset/file": sha256}`` recorded for unpinned files."""
    p = lock_path()
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text())
    except ValueError as e:
        raise ValueError(
            f"the hash lock file {p} is not valid JSON ({e}); delete it, and the unpinned files "
            "will be recorded again at the next download"
        ) from None


def _record_hash(key: str, digest: str) -> None:
    table = recorded_hashes()
    table[key] = digest
    p = lock_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".lock-")
    with os.fdopen(fd, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
    os.replace(tmp, p)


def _mismatch(path: Path, expected: str, actual: str, url: str, what: str) -> ValueError:
    return ValueError(
        f"{path.name}: sha256 mismatch ({what}).\n  file:     {path}\n  expected: {expected}\n"
        f"  actual:   {actual}\n  source:   {url}\nThe file is truncated or corrupted. Delete it "
        "and run the command again to download it afresh; if the new download fails the same "
        "way, the upstream file changed: report it, do not edit the expected hash by hand."
    )


def fetch(
    spec: DatasetSpec,
    progress: bool = False,
    downloader: Callable | None = None,
) -> dict[str, Path]:
    """Download (or find in the cache) every file of ``spec`` and verify it.

    Parameters
    ----------
    spec
        The dataset record whose ``files`` to fetch.
    progress
        Show a download progress bar.
    downloader
        A pooch downloader (``downloader(url, output_file, pooch)``); tests pass one that copies
        local files so they never touch the network.

    Returns
    -------
    dict
        ``FileSpec.name -> local path``.
    """
    pup = _pooch()
    out: dict[str, Path] = {}
    locked = recorded_hashes()
    for f in spec.files:
        key = f"{spec.name}/{f.name}"
        local = Path(pup.path) / key
        expected = f.sha256 or locked.get(key)
        if local.is_file() and expected:
            actual = file_sha256(local)
            if actual != expected:
                what = (
                    "cached copy changed on disk"
                    if f.sha256
                    else "differs from the hash recorded at first download"
                )
                raise _mismatch(local, expected, actual, f.url, what)
            out[f.name] = local
            continue
        out[f.name] = _download(pup, key, f, expected, progress, downloader)
        if expected is None:
            digest = file_sha256(out[f.name])
            _record_hash(key, digest)
            log.warning(
                "%s is not pinned in the package: recorded sha256 %s in %s; later runs verify "
                "against it (maintainers: `decathlon pin-hashes %s`)",
                key,
                digest,
                lock_path(),
                spec.name,
            )
    return out


def _download(pup, key: str, f: FileSpec, expected: str | None, progress: bool, downloader) -> Path:
    pup.registry[key] = f"sha256:{expected}" if expected else None
    pup.urls[key] = f.url
    kwargs = {"progressbar": progress}
    if downloader is not None:
        kwargs["downloader"] = downloader
    try:
        return Path(pup.fetch(key, **kwargs))
    except ValueError as e:
        if "hash" in str(e).lower() and expected:
            raise _mismatch(
                Path(pup.path) / key, expected, _actual_from(str(e), expected), f.url, "download"
            ) from None
        raise
    except Exception as e:  # network errors come in many types
        raise OSError(
            f"could not download {f.url} ({type(e).__name__}: {e}). Check the connection, or "
            f"put the file at {Path(pup.path) / key} yourself (its sha256 is checked)."
        ) from None


def _actual_from(msg: str, expected: str) -> str:
    """The downloaded file's hash, read from pooch's mismatch message."""
    import re

    found = [h for h in re.findall(r"[0-9a-f]{64}", msg) if h != expected]
    return found[0] if found else "(unknown; pooch said: " + msg[:200] + ")"


def file_builder(open_fn: Callable[[dict[str, Path]], xr.Dataset], part: str = "all"):
    """A ``DatasetSpec.build`` for a downloaded dataset: fetch every file, parse them with the
    pure ``open_fn(paths) -> xr.Dataset``, and yield the result as one part."""

    def build(spec: DatasetSpec, tier: str, progress: bool):
        ds = open_fn(fetch(spec, progress=progress))
        ds.attrs["dataset_version"] = spec.version
        yield part, ds

    build.__module__ = getattr(open_fn, "__module__", build.__module__)
    return build
