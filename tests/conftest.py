"""Shared fixtures: an isolated data cache per session, the springs mini tier prepared once."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from shared_samples import shared_data


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real sample folder; the test is skipped cleanly when it is absent."""
    p = shared_data()
    if p is None:
        pytest.skip("../shared/data (real samples) not present; set DECATHLON_SHARED_DATA to run")
    return p


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Every test run gets its own empty cache; nothing touches the user's."""
    root = tmp_path_factory.mktemp("cache")
    old = os.environ.get("DECATHLON_DATA_DIR")
    os.environ["DECATHLON_DATA_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("DECATHLON_DATA_DIR", None)
    else:
        os.environ["DECATHLON_DATA_DIR"] = old


@pytest.fixture(scope="session")
def springs_mini(_isolated_cache):
    """The springs dataset at the mini tier (2000/500/500 simulations), built once."""
    from decathlon.benchmark.data import materialize

    return materialize("nri-springs", "mini")


@pytest.fixture
def override():
    """``override(registry, name, entry)``: swap one registry entry for the test's duration,
    through the public :meth:`Registry.override` (restored at teardown)."""
    with contextlib.ExitStack() as stack:
        yield lambda registry, name, entry: stack.enter_context(registry.override(name, entry))
