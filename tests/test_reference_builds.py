"""Reference builds: every simulated store pinned, rebuilt with the pinned bits, compared by
``decathlon prepare``, pinned by ``decathlon pin-hashes --tier``."""

from __future__ import annotations

import dataclasses
import json

import pytest

import decathlon.datasets  # noqa: F401  (registers the datasets)
from decathlon.benchmark.data import DATASETS, materialize, store_meta
from decathlon.cli import main
from decathlon.datasets import reference_builds as rb

SIMULATED = [n for n in DATASETS.names() if not DATASETS.get(n).files]


def test_every_simulated_dataset_has_its_mini_build_pinned():
    """A new simulator, or a new data version, must pin its mini store
    (``decathlon pin-hashes NAME --tier mini --write``)."""
    assert len(SIMULATED) >= 10
    missing = [n for n in SIMULATED if rb.reference(n, DATASETS.get(n).version, "mini") is None]
    assert not missing, f"no reference build pinned for {missing}"
    for versions in rb.read_references().values():
        for tiers in versions.values():
            for entry in tiers.values():
                assert len(entry["data_sha256"]) == 64
                assert entry["machine"]["numpy"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SIMULATED)
def test_mini_store_rebuilt_has_the_pinned_bits(name, monkeypatch, tmp_path):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    materialize(name, "mini")
    verdict, sentence = rb.compare(store_meta(name, "mini"))
    assert verdict == "same", sentence


@pytest.fixture
def tiny_var(monkeypatch, tmp_path):
    """causal-var with a six-dataset mini tier, a fresh cache, and an empty reference file."""
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "cache"))
    ref = tmp_path / "reference_builds.json"
    monkeypatch.setattr(rb, "REFERENCE_FILE", ref)
    spec = dataclasses.replace(
        DATASETS.get("causal-var"), tiers={"mini": {"train": 2, "valid": 2, "test": 2}}
    )
    with DATASETS.override("causal-var", spec):
        yield ref


def test_prepare_says_unpinned_then_same_then_warns_on_other_bits(tiny_var, capsys):
    ref = tiny_var
    assert main(["prepare", "causal-var"]) == 0
    out = capsys.readouterr().out
    got = store_meta("causal-var", "mini")["data_sha256"]
    assert f"data_sha256 {got[:12]}… (no reference build pinned" in out

    assert main(["pin-hashes", "causal-var", "--tier", "mini", "--write"]) == 0
    assert got in capsys.readouterr().out
    doc = json.loads(ref.read_text())
    entry = doc["builds"]["causal-var"]["1"]["mini"]
    assert entry["data_sha256"] == got and entry["machine"]["processor"]

    assert main(["prepare", "causal-var"]) == 0  # cached store: compared again
    assert "the same as the reference build" in capsys.readouterr().out
    assert main(["pin-hashes", "causal-var", "--tier", "mini"]) == 0  # without --write: compare
    assert "the same as the reference build" in capsys.readouterr().out

    entry["data_sha256"] = "0" * 64
    ref.write_text(json.dumps(doc))
    assert main(["prepare", "causal-var"]) == 0  # a warning, not a failure: the data are valid
    err = capsys.readouterr().err
    assert "warning" in err and got[:12] in err and "000000000000" in err
    assert "refused by the leaderboard's verification" in err
    assert "decathlon prepare causal-var --tier mini --force" in err


def test_pin_refuses_a_store_that_is_not_prepared(tiny_var):
    from decathlon.benchmark.data import StoreError

    with pytest.raises(StoreError, match="decathlon prepare causal-var --tier mini"):
        rb.pin("causal-var", "mini")
    assert not tiny_var.exists()


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not a reference-builds file"),
        ('{"about": "no builds"}', "not a reference-builds file"),
        ('{"builds": {"d": {"1": {"mini": {"sha": "x"}}}}}', "'data_sha256' string"),
        ('{"builds": []}', "'data_sha256' string"),
    ],
)
def test_a_damaged_reference_file_is_named(tmp_path, text, match):
    p = tmp_path / "reference_builds.json"
    p.write_text(text)
    with pytest.raises(ValueError, match=match) as e:
        rb.read_references(p)
    assert str(p) in str(e.value) and "restore it from git" in str(e.value)


def test_compare_without_a_file_is_unpinned(tmp_path):
    meta = {"dataset": "causal-var", "version": "1", "tier": "mini", "data_sha256": "ab" * 32}
    assert rb.compare(meta, tmp_path / "none.json")[0] == "unpinned"


def test_evaluate_warns_when_its_store_is_off_the_reference(tiny_var, tmp_path, capsys):
    ref = tiny_var
    argv = ["evaluate", "--model", "chance", "--task", "causal/var-lag3", "--n-boot", "10"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "warning" not in capsys.readouterr().err  # nothing pinned: nothing to say
    got = store_meta("causal-var", "mini")["data_sha256"]
    ref.write_text(
        json.dumps({"builds": {"causal-var": {"1": {"mini": {"data_sha256": "0" * 64}}}}})
    )
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0  # the result is still written
    err = capsys.readouterr().err
    assert (
        f"decathlon evaluate: warning: causal-var version 1 (mini) was built with "
        f"data_sha256 {got[:12]}" in err
    )
    assert (tmp_path / "b").is_dir()
    rb.pin("causal-var", "mini", ref)
    assert main([*argv, "--out", str(tmp_path / "c")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_submit_warns_when_a_result_store_is_off_the_reference(tiny_var, tmp_path, capsys):
    """Results computed through the Python API never passed through evaluate's warning: the
    bundle says it before it is sent."""
    ref, res = tiny_var, tmp_path / "res"
    argv = "run --tasks causal/var-lag3 --baselines chance --n-boot 10 --no-progress"
    assert main([*argv.split(), "--save-predictions", "--out", str(res)]) == 0
    submit = ["submit", "--model", "chance", "--results", str(res), "--training-data", "none"]
    assert main([*submit, "--out", str(tmp_path / "a.zip")]) == 0
    assert "warning" not in capsys.readouterr().err  # nothing pinned: nothing to say
    ref.write_text(
        json.dumps({"builds": {"causal-var": {"1": {"mini": {"data_sha256": "0" * 64}}}}})
    )
    assert main([*submit, "--out", str(tmp_path / "b.zip")]) == 0  # the bundle is still written
    err = capsys.readouterr().err
    assert "decathlon submit: warning: causal-var version 1 (mini)" in err
    assert "refused by the leaderboard's verification" in err
    assert (tmp_path / "b.zip").is_file()
