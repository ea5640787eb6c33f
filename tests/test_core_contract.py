import numpy as np
import pytest
import xarray as xr
from toy_attrs import ATTRS

from decathlon.benchmark.contract import validate


def traj(**over):
    ds = xr.Dataset(
        {
            "pos": (("sample", "time", "entity", "space"), np.zeros((2, 3, 4, 2), np.float32)),
            "mask": (("sample", "time", "entity"), np.ones((2, 3, 4), bool)),
        },
        coords={"time": np.arange(3) * 0.1, "space": ["x", "y"]},
        attrs=dict(ATTRS),
    )
    return ds.assign(**over) if over else ds


def test_valid_dataset_passes():
    assert validate(traj()) is not None


def test_not_a_dataset():
    with pytest.raises(TypeError, match="expects an xarray.Dataset"):
        validate(np.zeros(3))


def test_missing_attrs_and_variable_named():
    ds = traj().drop_vars("pos")
    del ds.attrs["units"]
    with pytest.raises(ValueError) as e:
        validate(ds)
    assert "missing attributes ['units']" in str(e.value)
    assert "missing required variable 'pos'" in str(e.value)


def test_wrong_dims_named():
    ds = traj().assign(
        pos=(("sample", "entity", "time", "space"), np.zeros((2, 4, 3, 2), np.float32))
    )
    with pytest.raises(
        ValueError, match=r"variable 'pos' has dims \('sample', 'entity', 'time', 'space'\)"
    ):
        validate(ds)


def test_nan_reported_only_where_mask_true():
    pos = np.zeros((2, 3, 4, 2), np.float32)
    pos[0, 1, 2] = np.nan
    mask = np.ones((2, 3, 4), bool)
    mask[0, 1, 2] = False
    validate(
        traj(
            pos=(("sample", "time", "entity", "space"), pos),
            mask=(("sample", "time", "entity"), mask),
        )
    )
    mask[0, 1, 2] = True
    with pytest.raises(ValueError, match="'pos' has 2 non-finite values where the mask is True"):
        validate(
            traj(
                pos=(("sample", "time", "entity", "space"), pos),
                mask=(("sample", "time", "entity"), mask),
            )
        )


def test_unknown_family_and_bad_time():
    ds = traj()
    ds.attrs["family"] = "videos"
    with pytest.raises(ValueError, match="family='videos' is not one of"):
        validate(ds)
    ds = traj().assign_coords(time=[0.0, 0.2, 0.1])
    with pytest.raises(ValueError, match="'time' is not strictly increasing"):
        validate(ds)


def test_space_labels_and_unexpected_variable():
    ds = traj().assign_coords(space=["a", "b"])
    with pytest.raises(ValueError, match="coordinate 'space'"):
        validate(ds)
    ds = traj(extra=(("sample",), np.zeros(2)))
    with pytest.raises(ValueError, match="unexpected variable 'extra'"):
        validate(ds)
