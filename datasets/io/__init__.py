"""decathlon.datasets.io: format readers, one module per file format.

Pure functions over file paths (parse, check, return arrays or small dataclasses); no registry
code, no downloads and no dataset records. The dataset modules in :mod:`decathlon.datasets` call
them from their ``open_<name>(paths)`` functions.

* :mod:`decathlon.datasets.io.acclaim`: Acclaim ASF skeletons (motion capture).
* :mod:`decathlon.datasets.io.amc`: Acclaim AMC motions, read against their skeleton.
* :mod:`decathlon.datasets.io.kinematics`: joint positions from an ASF skeleton and AMC motion
  (forward kinematics; a pure function of the parsed data).
* :mod:`decathlon.datasets.io.eth_ucy_text`: the ETH/UCY ``frame_id ped_id x y`` text files.
"""
