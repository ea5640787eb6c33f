"""Worker processes for the fetcher's concurrency test (importable by spawned children)."""

from __future__ import annotations

import hashlib
import os


def digest_of(worker: int, j: int) -> str:
    """The sha256 worker ``worker`` records for its ``j``-th entry."""
    return hashlib.sha256(f"{worker}-{j}".encode()).hexdigest()


def record_many(root: str, worker: int, n: int) -> None:
    """Record ``n`` hashes in the lock file of the cache at ``root``, one read-modify-write each."""
    os.environ["DECATHLON_DATA_DIR"] = root
    from decathlon.datasets import fetch

    for j in range(n):
        fetch._record_hash(f"toy/w{worker:02d}-{j:03d}.txt", digest_of(worker, j))
