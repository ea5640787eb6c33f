"""Submission bundles: the format, the limits, and opening an untrusted one safely.

A bundle is a folder (or a ``.zip`` / ``.tar`` / ``.tar.gz`` of one) holding::

    submission.json          the manifest (``submission.schema.json``): model metadata, versions,
                             and per task: its result file, its predictions file and that file's
                             sha256
    results/<name>.json      one result record per task (``decathlon run`` / ``score`` output)
    predictions/<name>.npz   every prediction made for that task (keys ``ids``, ``pred``,
                             ``pred__<probe>``), the file ``decathlon score`` reads

Nothing in a bundle is trusted: the manifest is parsed with bounded nesting and validated against
a schema that bounds every string, array and object; member paths are plain names under
``results/`` or ``predictions/``; archives are read member by member, refusing absolute paths,
``..``, links and devices, and counting the bytes actually decompressed against the limits below;
predictions are read only through :func:`decathlon.benchmark.offline.load_predictions` (no
pickle). Nothing from a bundle is executed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import IO, Any

from decathlon.benchmark.registry import shorten
from decathlon.benchmark.results import parse_json, result_schema

__all__ = [
    "MANIFEST",
    "MAX_BUNDLE_BYTES",
    "MAX_MEMBER_BYTES",
    "MAX_MEMBERS",
    "MAX_MANIFEST_BYTES",
    "open_bundle",
    "member",
    "read_manifest",
    "validate_manifest",
    "file_sha256",
    "write_bundle",
]

MANIFEST = "submission.json"
#: A bundle holds at most this many bytes (uncompressed, every member together).
MAX_BUNDLE_BYTES = 2 << 30
#: One member holds at most this many bytes (uncompressed).
MAX_MEMBER_BYTES = 1 << 30
#: A bundle holds at most this many files and folders.
MAX_MEMBERS = 1000
#: The manifest is at most this many bytes.
MAX_MANIFEST_BYTES = 1 << 20


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema
    from referencing import Registry, Resource

    schema = json.loads(
        resources.files("decathlon.leaderboard").joinpath("submission.schema.json").read_text()
    )
    result = result_schema()
    registry: Registry = Registry().with_resource(result["$id"], Resource.from_contents(result))
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_manifest(manifest: Any, where: str = MANIFEST) -> dict[str, Any]:
    """Validate a parsed manifest against ``submission.schema.json``; ``ValueError`` naming
    every violation (at most 20)."""
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: list(e.path))
    if errors:
        lines = "\n  - ".join(
            f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:200]}" for e in errors[:20]
        )
        raise ValueError(f"{where} breaks the submission schema:\n  - {lines}")
    return manifest


def read_manifest(bundle: Path) -> dict[str, Any]:
    """The validated manifest of an opened bundle folder."""
    path = member(bundle, MANIFEST, MAX_MANIFEST_BYTES)
    return validate_manifest(parse_json(path.read_bytes(), f"{MANIFEST}"))


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def predictions_member(bundle: Path, entry: dict[str, Any]) -> Path:
    """The predictions file of a manifest ``entry``, its sha256 checked against the manifest's
    (``ValueError`` naming both)."""
    path = member(bundle, entry["predictions"])
    sha = file_sha256(path)
    if sha != entry["predictions_file_sha256"]:
        raise ValueError(
            f"predictions file {entry['predictions']} has sha256 {sha}, the manifest says "
            f"{entry['predictions_file_sha256']}"
        )
    return path


def member(bundle: Path, name: str, max_bytes: int = MAX_MEMBER_BYTES) -> Path:
    """The regular file ``name`` inside the opened bundle folder ``bundle``.

    Refused: absolute names, ``..`` or empty parts, a symlink anywhere on the way, anything
    that resolves outside the bundle, a missing file, a file over ``max_bytes``.
    """
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"bundle member {shorten(name)}: expected a relative name inside it")
    path = bundle
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise ValueError(f"bundle member {shorten(name)} is a link; bundles hold plain files")
    root = bundle.resolve()
    if root not in path.resolve().parents:
        raise ValueError(f"bundle member {shorten(name)} resolves outside the bundle")
    if not path.is_file():
        raise ValueError(f"bundle member {shorten(name)} is missing (listed in {MANIFEST})")
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"bundle member {shorten(name)} is {size} bytes; at most {max_bytes}")
    return path


@contextlib.contextmanager
def open_bundle(path: str | Path) -> Iterator[Path]:
    """A bundle (folder or archive) as a folder to read from; archives are unpacked into a
    temporary folder that is removed afterwards. Every limit of the module text is enforced."""
    p = Path(path)
    if p.is_symlink() or not p.exists():
        raise ValueError(f"bundle {p} is missing or a link; give a folder, .zip or .tar")
    if p.is_dir():
        _check_folder(p)
        yield p
        return
    if p.stat().st_size > MAX_BUNDLE_BYTES:
        raise ValueError(f"bundle {p} is {p.stat().st_size} bytes; at most {MAX_BUNDLE_BYTES}")
    with open(p, "rb") as f:
        magic = f.read(4)
    with tempfile.TemporaryDirectory(prefix="decathlon-bundle-") as tmp:
        # by the first bytes: zipfile.is_zipfile also says yes to a tar that ends in an .npz
        if magic in (b"PK\x03\x04", b"PK\x05\x06"):
            _unzip(p, Path(tmp))
        elif tarfile.is_tarfile(p):
            _untar(p, Path(tmp))
        else:
            raise ValueError(f"bundle {p} is neither a folder, a .zip nor a .tar archive")
        yield Path(tmp)


def _check_folder(root: Path) -> None:
    """A bundle folder: no links or special files, at most MAX_MEMBERS entries and
    MAX_BUNDLE_BYTES bytes."""
    total = count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            st = (Path(dirpath) / name).lstat()
            rel = (Path(dirpath) / name).relative_to(root)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                raise ValueError(f"bundle entry {rel} is a link or special file; plain files only")
            count += 1
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
            if count > MAX_MEMBERS or total > MAX_BUNDLE_BYTES:
                raise ValueError(
                    f"bundle {root} exceeds {MAX_MEMBERS} entries or {MAX_BUNDLE_BYTES} bytes"
                )


def _safe_name(name: str, where: Path) -> PurePosixPath:
    rel = PurePosixPath(name.replace("\\", "/"))
    if rel.is_absolute() or any(p in ("", "..") for p in rel.parts) or ":" in name:
        raise ValueError(f"{where}: member {shorten(name)} would land outside the bundle")
    return rel


def _copy_capped(src: IO[bytes], dest: Path, budget: int, where: Path, name: str) -> int:
    """Copy at most ``min(budget, MAX_MEMBER_BYTES)`` bytes, counting what is really read."""
    limit = min(budget, MAX_MEMBER_BYTES)
    n = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        raise ValueError(f"{where}: member {shorten(name)} appears twice")
    with open(dest, "xb") as out:
        for block in iter(lambda: src.read(1 << 20), b""):
            n += len(block)
            if n > limit:
                raise ValueError(
                    f"{where}: member {shorten(name)} unpacks to more than {limit} bytes "
                    f"(limits: {MAX_MEMBER_BYTES} per member, {MAX_BUNDLE_BYTES} per bundle)"
                )
            out.write(block)
    return n


def _unzip(path: Path, dest: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"{path}: {len(infos)} members; at most {MAX_MEMBERS}")
        left = MAX_BUNDLE_BYTES
        for info in infos:
            rel = _safe_name(info.filename, path)
            mode = info.external_attr >> 16
            if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ValueError(f"{path}: member {shorten(info.filename)} is a link")
            if info.is_dir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(info) as src:
                left -= _copy_capped(src, dest / rel, left, path, info.filename)


def _untar(path: Path, dest: Path) -> None:
    with tarfile.open(path) as tf:
        left, count = MAX_BUNDLE_BYTES, 0
        for info in tf:  # streamed: a huge member list is cut off at MAX_MEMBERS
            count += 1
            if count > MAX_MEMBERS:
                raise ValueError(f"{path}: more than {MAX_MEMBERS} members")
            rel = _safe_name(info.name, path)
            if info.isdir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
                continue
            if not info.isreg():
                raise ValueError(
                    f"{path}: member {shorten(info.name)} is a link or special file; plain "
                    "files only"
                )
            src = tf.extractfile(info)
            if src is None:
                raise ValueError(f"{path}: member {shorten(info.name)} cannot be read")
            left -= _copy_capped(src, dest / rel, left, path, info.name)


def write_bundle(folder: Path, out: Path) -> Path:
    """Move the finished bundle ``folder`` to ``out``: a folder, or an archive when ``out`` ends
    in ``.zip``, ``.tar`` or ``.tar.gz``. ``out`` must not exist (nothing is overwritten)."""
    if out.exists():
        raise ValueError(f"{out} exists; give a new path for the bundle (nothing is overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    name = out.name
    if name.endswith(".zip"):
        tmp = out.with_name(f".{name}.tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(folder).as_posix())
        tmp.replace(out)
    elif name.endswith((".tar", ".tar.gz", ".tgz")):
        tmp = out.with_name(f".{name}.tmp")
        with tarfile.open(tmp, "w:gz" if name.endswith(("gz",)) else "w") as tf:
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    tf.add(f, f.relative_to(folder).as_posix())
        tmp.replace(out)
    else:
        shutil.copytree(folder, out)
    return out
