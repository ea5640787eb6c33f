"""Every docstring example in the package runs (offline) and shows what it claims."""

import doctest
import importlib
import pkgutil

import pytest


def _modules() -> list[str]:
    names = ["decathlon", "decathlon.cli", "decathlon.cli_support"]
    for sub in ("benchmark", "datasets", "baselines", "leaderboard"):
        pkg = importlib.import_module(f"decathlon.{sub}")
        names.append(pkg.__name__)
        # walk_packages descends into subpackages (e.g. decathlon.datasets.io)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    return sorted(names)


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))  # examples never touch a real cache
    mod = importlib.import_module(name)
    res = doctest.testmod(
        mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert res.failed == 0, f"{res.failed} docstring example(s) failed in {name}"
