"""decathlon.datasets.io: format readers, one module per file format.

Pure functions over file paths (parse, check, return arrays or small dataclasses); no registry
code, no downloads and no dataset records. The dataset modules in :mod:`decathlon.datasets` call
them from their ``open_<name>(paths)`` functions.

* :mod:`decathlon.datasets.io.acclaim`: Acclaim ASF/AMC motion capture and forward kinematics.
* :mod:`decathlon.datasets.io.eth_ucy_text`: the ETH/UCY ``frame_id ped_id x y`` text files.
"""
