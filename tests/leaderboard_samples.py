"""The committed leaderboard entries, and a copy of them with one hostile entry added."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ENTRIES = Path(__file__).resolve().parents[1] / "leaderboard" / "entries"
INJECTED = "<script>alert(1)</script>"


def entry_folders() -> list[Path]:
    return sorted(p for p in ENTRIES.iterdir() if p.is_dir() and not p.name.startswith("."))


def injected_entries(tmp_path: Path) -> Path:
    """The reference entries plus a copy of one whose manifest is hostile (self-reported: its
    verifier's record no longer matches)."""
    entries = tmp_path / "entries"
    shutil.copytree(ENTRIES, entries)
    evil = entries / "zz-evil"
    shutil.copytree(entry_folders()[0], evil)
    (evil / "verified.json").unlink()
    m = json.loads((evil / "submission.json").read_text())
    m["model"].update(
        name=INJECTED,
        code_url="javascript:alert(2)",
        paper="https://example.org/paper?a=1&b=<x>",
        authors=['"><img src=x onerror=alert(3)>'],
    )
    (evil / "submission.json").write_text(json.dumps(m))
    return entries
