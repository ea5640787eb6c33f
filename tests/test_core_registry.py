import pytest

from decathlon.benchmark.registry import Registry
from decathlon.benchmark.tasks import get_task, list_tasks


def test_duplicate_refused():
    r = Registry("thing")
    r.register("a", 1)
    with pytest.raises(ValueError, match="thing 'a' is already registered"):
        r.register("a", 2)


def test_unknown_task_lists_valid_names():
    with pytest.raises(KeyError) as e:
        get_task("particles/sprngs-forecast")
    msg = e.value.args[0]
    assert msg.startswith("unknown task 'particles/sprngs-forecast'; valid names: ")
    assert "particles/springs-forecast" in msg and "particles/springs-graph" in msg


def test_every_task_refers_to_registered_dataset_and_baseline():
    from decathlon.benchmark.baselines import BASELINES
    from decathlon.benchmark.data import DATASETS

    for name in list_tasks():
        t = get_task(name)
        assert t.dataset in DATASETS
        assert t.trivial in BASELINES
        assert t.kind in BASELINES.get(t.trivial).kinds
