"""The one fetcher: every download goes through one ``pooch.Pooch`` object.

* Files land in ``<cache>/raw/<dataset>/<file>``; the cache root is ``$DECATHLON_DATA_DIR`` or the
  OS cache (see :func:`decathlon.benchmark.data.data_root`).
* Every file is checked against its sha256. A pinned file that fails (truncated or corrupted
  download, or a cached copy changed on disk) raises a ``ValueError`` naming the file, the
  expected and actual hash and what to do.
* A file whose hash is not pinned yet (``FileSpec.sha256 is None``) is recorded at first download
  in ``<cache>/raw/hashes.lock.json`` and verified against that record afterwards. Only pinned
  files are verified against a published value: a recorded hash is whatever the first copy held,
  so every fresh record logs a WARNING naming the file and the hash, and a louder one when the
  file was already in the cache without a record (a deleted lock entry, or a file put there by
  hand). ``decathlon pin-hashes DATASET`` prints the recorded hashes as Python so a maintainer
  can paste them into the dataset module.
* The lock file is read, updated and written atomically under an inter-process file lock
  (``hashes.lock.json.lock``, the ``filelock`` package), so processes recording at the same time
  lose no entry; the first hash recorded for a file wins. A lock file that is not a JSON object
  of strings, or a lock path that is a folder, is refused with what to do.
* Files obtained elsewhere (behind a firewall, or already on disk) are copied into the cache by
  :func:`import_local` after the same sha256 check (``decathlon prepare DATASET --from DIR``).
* Missing files are reported all at once: a failed download raises one ``OSError`` listing every
  file of the dataset still missing from the cache, each with its URL and whether its sha256 is
  pinned or trust-on-first-use
  (:func:`decathlon.datasets.pinning.pin_summary`); :func:`import_local` lists every file
  missing from the folder the same way.
* Nothing happens at import time; nothing downloaded is ever executed or unpickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from filelock import FileLock, Timeout

from decathlon.benchmark.cache import public_mode, write_atomic
from decathlon.benchmark.data import DatasetSpec, FileSpec, data_root
from decathlon.benchmark.lazy import xr
from decathlon.datasets.pinning import file_lines, pin_summary

__all__ = [
    "ChecksumError",
    "fetch",
    "file_builder",
    "file_sha256",
    "import_local",
    "lock_path",
    "recorded_hashes",
]

log = logging.getLogger("decathlon")

_POOCH = None


class ChecksumError(ValueError):
    """A file's sha256 is not the pinned or recorded one (a corrupted or changed file)."""


#: Seconds to wait for another process recording hashes before giving up.
LOCK_TIMEOUT_S = 120.0


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
    """``{"dataset/file": sha256}`` recorded for unpinned files.

    Raises
    ------
    ValueError
        The lock file is not valid JSON, not a JSON object of strings, or is a folder; the
        message says to delete it (the unpinned files are then recorded again, with a warning).
    """
    p = lock_path()
    if p.exists() and not p.is_file():
        raise ValueError(
            f"the hash lock file {p} is a directory, not a JSON file; remove it (the unpinned "
            "files will be recorded again at the next download)"
        )
    if not p.is_file():
        return {}
    try:
        table = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(
            f"the hash lock file {p} is not valid JSON ({e}); delete it, and the unpinned files "
            "will be recorded again at the next download"
        ) from None
    _check_table(p, table)
    return table


def _check_table(p: Path, table: object) -> None:
    """Raise unless ``table`` is a JSON object mapping strings to strings."""
    if not isinstance(table, dict):
        kind = "a JSON array" if isinstance(table, list) else f"a JSON {type(table).__name__}"
        found = f"{json.dumps(table)[:60]} ({kind})"
    else:
        bad = next(((k, v) for k, v in table.items() if not isinstance(v, str)), None)
        if bad is None:
            return
        found = f"an entry {bad[0]!r}: {json.dumps(bad[1])[:60]} that is not a sha256 string"
    raise ValueError(
        f"the hash lock file {p} holds {found}; expected a JSON object like "
        '{"cmu-mocap-35/35_02.amc": "<64 hex digits>"}. Delete it, and the unpinned files will '
        "be recorded again at the next download"
    )


def _file_lock(p: Path) -> FileLock:
    """The inter-process lock guarding read-modify-write of the lock file ``p``."""
    return FileLock(str(p) + ".lock", timeout=LOCK_TIMEOUT_S)


def _record_hash(key: str, digest: str) -> str:
    """Record ``digest`` for ``key`` unless a hash is recorded already; return the recorded one.

    The read-modify-write runs under :func:`_file_lock`, so concurrent processes lose nothing;
    the table is written to a temporary file and renamed into place, which is removed if that
    fails.
    """
    p = lock_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _file_lock(p):
            table = recorded_hashes()
            if key in table:  # recorded by another process since this one looked
                return table[key]
            table[key] = digest
            _write_json(p, table)
    except Timeout:
        raise OSError(
            f"another process has held {p}.lock for over {LOCK_TIMEOUT_S:.0f} s while recording "
            "hashes; wait for it to finish and run the command again"
        ) from None
    return digest


def _write_json(p: Path, table: dict[str, str]) -> None:
    """Write ``table`` to ``p`` atomically; no temporary file is left behind on failure."""
    try:
        write_atomic(p, json.dumps(table, indent=1, sort_keys=True), prefix=".lock-")
    except OSError as e:
        raise OSError(
            f"could not write the hash lock file {p} ({e}); check that {p.parent} is writable "
            f"and that {p.name} is a regular file"
        ) from None


def _record_fresh(spec: DatasetSpec, f: FileSpec, path: Path, digest: str, cached: bool) -> None:
    """Record the hash of the unpinned file ``f`` (at ``path``) and say so loudly.

    ``cached``: the file was in the cache before, without a record. Raises the mismatch error if
    another process recorded a different hash meanwhile.
    """
    key = f"{spec.name}/{f.name}"
    recorded = _record_hash(key, digest)
    if recorded != digest:
        raise _mismatch(
            path, recorded, digest, f.url, "differs from the hash recorded at first download"
        )
    if cached:
        log.warning(
            "%s is not pinned in the package, and the file %s was already in the cache with no "
            "hash recorded for it (its lock entry was deleted, or the file was put there by "
            "hand): its sha256 %s was recorded fresh in %s, trusting the file as it is. Only "
            "pinned files are verified against a published value; if you did not put this file "
            "there, delete it and download it again",
            key,
            path,
            digest,
            lock_path(),
        )
    else:
        log.warning(
            "%s is not pinned in the package: its sha256 %s was recorded fresh in %s (file %s). "
            "Only pinned files are verified against a published value; later runs verify this "
            "file against the record (maintainers: `decathlon pin-hashes %s`)",
            key,
            digest,
            lock_path(),
            path,
            spec.name,
        )


def _mismatch(path: Path, expected: str, actual: str, url: str, what: str) -> ChecksumError:
    return ChecksumError(
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
        cached = local.is_file()
        try:
            out[f.name] = _download(pup, key, f, expected, progress, downloader)
        except OSError as e:
            raise _missing_downloads(spec, f, e, Path(pup.path) / spec.name) from None
        if expected is None:
            _record_fresh(spec, f, out[f.name], file_sha256(out[f.name]), cached)
    return out


def _missing_downloads(spec: DatasetSpec, failed: FileSpec, e: OSError, raw: Path) -> OSError:
    """The one error of a failed download: every file still missing from the cache, with URLs.

    Downloading stops at the first failure (with the network down, each further file would wait
    for its own time-out); the files after it are listed as missing, not tried.
    """
    missing = [f.name for f in spec.files if not (raw / f.name).is_file()]
    return OSError(
        f"{e}\n{len(missing)} of the {len(spec.files)} files of {spec.name} are not in the "
        f"cache ({raw}); the download stopped at {failed.name}, the others were not tried:\n"
        f"{file_lines(spec, missing)}\n{pin_summary(spec)}.\nCheck the connection and run the "
        f"command again (files already downloaded are kept), or fetch the files elsewhere and "
        f"run `decathlon prepare {spec.name} --from DIR` with each file at DIR/<name> above."
    )


def _download(pup, key: str, f: FileSpec, expected: str | None, progress: bool, downloader) -> Path:
    pup.registry[key] = f"sha256:{expected}" if expected else None
    pup.urls[key] = f.url
    kwargs = {"progressbar": progress}
    if downloader is not None:
        kwargs["downloader"] = downloader
    try:
        path = Path(pup.fetch(key, **kwargs))
        os.chmod(path, public_mode())  # pooch's temporary download file is owner-only
        return path
    except ValueError as e:
        if "hash" in str(e).lower() and expected:
            raise _mismatch(
                Path(pup.path) / key, expected, _actual_from(str(e), expected), f.url, "download"
            ) from None
        raise
    except Exception as e:  # network errors come in many types
        check = "its pinned sha256 is checked" if f.sha256 else "it is trust-on-first-use"
        raise OSError(
            f"could not download {f.url} ({type(e).__name__}: {str(e)[:300]}). Put the file at "
            f"{Path(pup.path) / key} yourself if you have it ({check})."
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


# ------------------------------------------------------------------------------------------
# Files obtained elsewhere
# ------------------------------------------------------------------------------------------


def import_local(spec: DatasetSpec, directory: Path) -> dict[str, Path]:
    """Copy a dataset's upstream files from a local folder into the cache, verified by sha256.

    The library side of ``decathlon prepare DATASET --from DIR`` (users behind a firewall, or
    who already hold the files): the CLI calls ``import_local(DATASETS.get(name), Path(DIR))``
    and then builds the store as usual; :func:`fetch` then finds every file in the cache,
    verifies it again and downloads nothing.

    Parameters
    ----------
    spec : DatasetSpec
        The dataset record (``DATASETS.get(name)``); every file of ``spec.files`` is imported.
    directory : pathlib.Path
        The folder holding the files. Each file is looked for at ``directory / FileSpec.name``
        (the upstream layout, e.g. ``DIR/all_data/biwi_eth.txt`` for ETH/UCY), then directly in
        ``directory`` under its base name (``DIR/biwi_eth.txt``) when no other file of the
        dataset shares that base name.

    Returns
    -------
    dict
        ``FileSpec.name -> path in the cache`` (``<cache>/raw/<dataset>/<name>``), like
        :func:`fetch`.

    Raises
    ------
    ValueError
        ``directory`` is not a folder; files are missing (all of them are listed, with their
        upstream URLs); or a file's sha256 differs from the pinned hash or the hash recorded at
        an earlier download (each is named with the expected and actual hash). Nothing is
        copied into the cache then. The messages say what to do.
    OSError
        The cache cannot be written.

    Notes
    -----
    Each file is copied to a temporary file next to its destination while its sha256 is
    computed; the copies are renamed into place only when every hash matches, so a failed import
    leaves the cache as it was. A file with neither a pinned nor a recorded hash is recorded with
    the WARNING of a first download (only pinned files are verified against a published value).
    """
    directory = Path(directory)
    sources = _find_local(spec, directory)
    locked = recorded_hashes()
    raw = data_root() / "raw" / spec.name
    staged: dict[str, tuple[Path, str]] = {}
    try:
        for f in spec.files:
            staged[f.name] = _copy_hashing(sources[f.name], raw / f.name)
        _check_staged(spec, sources, staged, locked, raw)
        for f in spec.files:
            tmp, digest = staged.pop(f.name)
            if _expected(spec, f, locked)[0] is None:
                _record_fresh(spec, f, raw / f.name, digest, cached=False)
            os.replace(tmp, raw / f.name)
    finally:
        for tmp, _ in staged.values():
            tmp.unlink(missing_ok=True)
    log.info("imported %d files of %s from %s into %s", len(spec.files), spec.name, directory, raw)
    return {f.name: raw / f.name for f in spec.files}


def _check_staged(
    spec: DatasetSpec,
    sources: dict[str, Path],
    staged: dict[str, tuple[Path, str]],
    locked: dict[str, str],
    raw: Path,
) -> None:
    """Raise one error naming every staged copy whose sha256 is not the expected one."""
    bad = []
    for f in spec.files:
        expected, where = _expected(spec, f, locked)
        actual = staged[f.name][1]
        if expected is not None and actual != expected:
            bad.append(_local_mismatch(sources[f.name], f, expected, where, actual))
    if bad:
        raise ChecksumError("\n\n".join(bad) + f"\n\nNothing was copied into {raw}.")


def _local_mismatch(src: Path, f: FileSpec, expected: str, where: str, actual: str) -> str:
    return (
        f"{f.name}: sha256 mismatch (local copy).\n  file:     {src}\n  expected: {expected} "
        f"({where})\n  actual:   {actual}\n  source:   {f.url}\nThis is not the upstream file "
        "(another version, or truncated or corrupted). Get it again from the source and import "
        "again; do not edit the expected hash by hand."
    )


def _expected(spec: DatasetSpec, f: FileSpec, locked: dict[str, str]) -> tuple[str | None, str]:
    """The hash ``f`` must have and where it comes from (pinned, recorded, or none yet)."""
    if f.sha256:
        return f.sha256, "pinned in the package"
    rec = locked.get(f"{spec.name}/{f.name}")
    return rec, f"recorded at first download in {lock_path()}"


def _find_local(spec: DatasetSpec, directory: Path) -> dict[str, Path]:
    """Each file's path under ``directory`` (nested name, else unambiguous base name)."""
    if not directory.is_dir():
        raise ValueError(
            f"{directory} is not a folder; pass the folder holding the files of dataset "
            f"{spec.name!r} (e.g. `decathlon prepare {spec.name} --from DIR`)"
        )
    bases = Counter(PurePosixPath(f.name).name for f in spec.files)
    found: dict[str, Path] = {}
    missing: list[str] = []
    notes: list[str] = []
    for f in spec.files:
        base = PurePosixPath(f.name).name
        for cand in (directory / f.name, directory / base):
            if cand.is_file() and (cand == directory / f.name or bases[base] == 1):
                found[f.name] = cand
                break
        else:
            missing.append(f.name)
            if bases[base] > 1 and (directory / base).is_file():
                notes.append(
                    f"{f.name} (several files are named {base}: put it at {directory / f.name})"
                )
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(spec.files)} files of dataset {spec.name!r} are not in "
            f"{directory}: {missing}"
            + (f"; {'; '.join(notes)}" if notes else "")
            + f".\nPut each file at {directory}/<name> (or directly in {directory} when its "
            f"base name is unique), as downloaded from:\n{file_lines(spec, missing)}\n"
            f"{pin_summary(spec)}.\nOr run `decathlon prepare {spec.name}` with internet "
            "access. Nothing was copied."
        )
    return found


def _copy_hashing(src: Path, dst: Path, chunk: int = 1 << 20) -> tuple[Path, str]:
    """Copy ``src`` to a temporary file next to ``dst``; return it and the copied bytes' sha256."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.")
    h = hashlib.sha256()
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            for block in iter(lambda: fin.read(chunk), b""):
                h.update(block)
                fout.write(block)
        os.chmod(tmp, public_mode())  # the mode of a plain download, not mkstemp's 0600
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), h.hexdigest()
