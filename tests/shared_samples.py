"""Where the real sample recordings are: ``../shared/data`` or ``$DECATHLON_SHARED_DATA``."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data() -> Path | None:
    """The real sample folder, or None when it is absent (tests then skip cleanly)."""
    env = os.environ.get("DECATHLON_SHARED_DATA")
    p = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return p if p.is_dir() else None
