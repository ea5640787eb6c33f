"""decathlon.datasets: one module per source (spec, simulator or ``open_<name>``, fake, tasks).

Format readers (pure functions over file paths) live in :mod:`decathlon.datasets.io`.

Importing this package registers every built-in dataset, task and simulator benchmark.
"""

from . import (  # noqa: F401
    arrow,
    arrow_pedestrians,
    causal,
    causal_tasks,
    cmu_mocap,
    ctc,
    ctc_tasks,
    eth_ucy,
    kuramoto,
    nbody,
    nri,
    particle_tasks,
    swarms,
    swarms_tasks,
    traffic,
    traffic_tasks,
)
