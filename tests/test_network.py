"""Real downloads from the canonical URLs. Off by default; run with ``pytest -m network``."""

import dataclasses

import pytest

from decathlon.benchmark.data import DATASETS
from decathlon.datasets.fetch import fetch

pytestmark = pytest.mark.network


@pytest.mark.parametrize(
    "dataset, name", [("eth-ucy", "all_data/biwi_eth.txt"), ("cmu-mocap-35", "35.asf")]
)
def test_canonical_url_serves_the_pinned_bytes(tmp_path, monkeypatch, dataset, name):
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path))
    spec = DATASETS.get(dataset)
    one = dataclasses.replace(spec, files=tuple(f for f in spec.files if f.name == name))
    assert one.files[0].sha256, "test a pinned file"
    assert fetch(one)[name].is_file()  # fetch raises on a hash mismatch
