"""Attributes of the toy datasets the core tests build by hand (every one the contract requires)."""

ATTRS = dict(
    family="trajectories",
    units="m",
    dt=0.1,
    source="t",
    license="CC0",
    citation="c",
    dataset_version="1",
)
