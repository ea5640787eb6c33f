"""decathlon.datasets: one module per source (spec + parser or simulator + fake generator).

Importing this package registers every built-in dataset, task and simulator benchmark.
"""

from . import cmu_mocap, eth_ucy, kuramoto, nbody, nri, particle_tasks  # noqa: F401
