"""Traffic sensor networks: METR-LA and PEMS-BAY, as DCRNN publishes them.

Speeds (mph, every 5 minutes) of loop detectors on Los Angeles highways (METR-LA, 207 sensors,
March-June 2012) and in the Bay Area (PEMS-BAY, 325 sensors, January-June 2017), with the
sensor graph rebuilt from the published road distances (Li et al., "Diffusion Convolutional
Recurrent Neural Network", ICLR 2018; code github.com/liyaguang/DCRNN). Protocol:
``docs/protocols.md`` §5; data cards ``datasets/cards/metr-la.md`` and ``pems-bay.md``.

* :func:`read_speed_h5` reads the pandas "fixed" HDFStore nodes (``axis0`` sensor ids,
  ``axis1`` int64 nanosecond timestamps, ``block0_values`` (time, sensor) float64) directly with
  h5py: recent pandas cannot read these py2-era files.
* :func:`gaussian_adjacency` is DCRNN's ``scripts/gen_adj_mx.py``: ``W = exp(-(d/sigma)^2)``
  with sigma the standard deviation of the finite distances, entries below 0.1 set to 0, not
  symmetrized. The published ``adj_mx*.pkl`` pickles are never read.
* The fakes write the same files in the same layouts, small.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from decathlon.benchmark.data import DatasetSpec, FileSpec, register_dataset
from decathlon.benchmark.lazy import xr
from decathlon.datasets.fetch import file_builder

__all__ = [
    "read_speed_h5",
    "read_distances",
    "read_locations",
    "gaussian_adjacency",
    "open_metr_la",
    "open_pems_bay",
    "make_fake_metr_la",
    "make_fake_pems_bay",
    "write_speed_h5",
]

#: DCRNN commit whose ``data/sensor_graph`` files are pinned here.
COMMIT = "602afd9d767d3aa1c9b3eac51710d6aeee12c227"
GRAPH_URL = f"https://raw.githubusercontent.com/liyaguang/DCRNN/{COMMIT}/data/sensor_graph/"
#: The speed tables: DCRNN publishes them on Google Drive (folder
#: 10FOTa6HXPqX8Pf5WRoRwcFnW9BrNZEIX), which has no stable direct link; these are Git-LFS
#: copies whose bytes carry the same pinned sha256 (the hash, not the host, is checked).
LFS_URL = "https://media.githubusercontent.com/media/wmmxk/MTGNNData/"
H5_URLS = {
    "metr-la.h5": LFS_URL + "3465e67f63c28bce5ec049172362c33bc061bc37/metr-la.h5",
    "pems-bay.h5": LFS_URL + "master/pems-bay.h5",
}
SHA256_METR_LA = {
    "metr-la.h5": "64784b76d6fb8ec9bff4b6decafb354da2bb37840468fdccee5044e511277c05",
    "distances_la_2012.csv": "a576a2a3e28dbb959be6da22688e24dd1b246b81264595e129147c256cd53de5",
    "graph_sensor_ids.txt": "3ba026caa2e6263ab0ea54b0fa1b125dbfa7216544cd05313b555e826292b990",
    "graph_sensor_locations.csv": (
        "eb8ea96e07358b45d0e4ba3b89c2673fa20c54af50150249e627389e749ade6f"
    ),
}
SHA256_PEMS_BAY = {
    "pems-bay.h5": "65d69fb0a2323dba9867179eb7af47c8b814186bc459ff0a4937d21614153c8f",
    "distances_bay_2017.csv": "e5feed06bfa1ba4c554a946d0e03d99f2018365eec5a8f28fd8504dea9d082b5",
    "graph_sensor_locations_bay.csv": (
        "276ee01059610774d4e59572507f7e32eaac21f1f5882fcd9e3d7d426a4b7a6c"
    ),
}
DT = 300.0  # seconds between readings
NORMALIZED_K = 0.1  # DCRNN gen_adj_mx.py: weights below this are set to 0
VERSION = "1"
LICENSE = "MIT (DCRNN repository, which distributes the files); sensor data from Caltrans PeMS"
CITATION = (
    "Li, Yu, Shahabi, Liu. Diffusion Convolutional Recurrent Neural Network: Data-Driven "
    "Traffic Forecasting. ICLR 2018. https://github.com/liyaguang/DCRNN"
)
_NS = 1_000_000_000


def _files(table: dict[str, str]) -> tuple[FileSpec, ...]:
    return tuple(FileSpec(n, H5_URLS.get(n, GRAPH_URL + n), sha) for n, sha in table.items())


# ------------------------------------------------------------------------------------ readers
def read_speed_h5(path: Path | str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The speed table of a DCRNN ``.h5`` file: (values (time, sensor) float64, sensor ids,
    int64 nanosecond timestamps).

    The file is a pandas "fixed" HDFStore with one frame (key ``df`` in ``metr-la.h5``; other
    copies use another key, e.g. ``speed``): nodes ``axis0`` (column labels: sensor ids as bytes
    or integers), ``axis1`` (the index: datetime64[ns] as int64), ``block0_items`` and
    ``block0_values`` (time, sensor). Read with h5py, node by node.

    Raises
    ------
    ValueError
        Not one frame group, a node missing, or shapes that disagree (names the file).
    """
    import h5py

    with h5py.File(path, "r") as f:
        groups = [k for k in f.keys() if isinstance(f[k], h5py.Group)]
        if len(groups) != 1:
            raise ValueError(
                f"{path}: expected one pandas frame group (key 'df'), found {groups}; is this a "
                "DCRNN speed table (metr-la.h5 / pems-bay.h5)?"
            )
        g = f[groups[0]]
        missing = [n for n in ("axis0", "axis1", "block0_values") if n not in g]
        if missing:
            raise ValueError(f"{path}: frame {groups[0]!r} lacks nodes {missing} (pandas fixed)")
        ids = [v.decode() if isinstance(v, bytes) else str(v) for v in g["axis0"][()].tolist()]
        stamps = np.asarray(g["axis1"][()], dtype=np.int64)
        values = np.asarray(g["block0_values"][()], dtype=np.float64)
        if "block0_items" in g:
            items = [v.decode() if isinstance(v, bytes) else str(v) for v in g["block0_items"][()]]
            if items != ids:
                raise ValueError(f"{path}: block0_items differ from axis0; expected one block")
    if values.shape != (len(stamps), len(ids)):
        raise ValueError(
            f"{path}: block0_values has shape {values.shape}, expected (time, sensor) = "
            f"({len(stamps)}, {len(ids)}) from axis1 and axis0"
        )
    return values, ids, stamps


def read_distances(path: Path | str) -> list[tuple[str, str, float]]:
    """``(from, to, metres)`` rows of a DCRNN distance table, with or without the header
    ``from,to,cost`` (``distances_la_2012.csv`` has one, ``distances_bay_2017.csv`` none)."""
    rows = []
    with open(path, newline="") as fh:
        for i, rec in enumerate(csv.reader(fh), 1):
            if not rec or (i == 1 and rec[0].strip() == "from"):
                continue
            if len(rec) != 3:
                raise ValueError(f"{path} line {i}: expected from,to,distance; got {rec!r}")
            try:
                rows.append((rec[0].strip(), rec[1].strip(), float(rec[2])))
            except ValueError:
                raise ValueError(f"{path} line {i}: distance {rec[2]!r} is not a number") from None
    return rows


def read_locations(path: Path | str) -> dict[str, tuple[float, float]]:
    """Sensor id -> (latitude, longitude): ``index,sensor_id,latitude,longitude`` with a
    header (METR-LA) or ``sensor_id,lat,lon`` without (PEMS-BAY)."""
    out = {}
    with open(path, newline="") as fh:
        for i, rec in enumerate(csv.reader(fh), 1):
            if not rec or (i == 1 and not rec[-1].strip().lstrip("-").replace(".", "").isdigit()):
                continue
            if len(rec) not in (3, 4):
                raise ValueError(f"{path} line {i}: expected 3 or 4 fields, got {rec!r}")
            sid, lat, lon = rec[-3:]
            out[sid.strip()] = (float(lat), float(lon))
    return out


def gaussian_adjacency(
    sensor_ids: list[str], distances: list[tuple[str, str, float]], k: float = NORMALIZED_K
) -> np.ndarray:
    """DCRNN's thresholded Gaussian kernel (``scripts/gen_adj_mx.py``), float32 (node, node_).

    ``W_ij = exp(-(d_ij / sigma)^2)`` for the listed pairs among ``sensor_ids`` (others
    infinitely far: 0), sigma the standard deviation of the finite entries (self-distances
    included), entries below ``k`` set to 0; the matrix is not symmetrized.

    Examples
    --------
    >>> a = gaussian_adjacency(["1", "2"], [("1", "1", 0.0), ("1", "2", 5.0), ("2", "2", 0.0)])
    >>> a.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    index = {s: i for i, s in enumerate(sensor_ids)}
    dist = np.full((len(index), len(index)), np.inf, dtype=np.float32)
    for a, b, d in distances:
        if a in index and b in index:
            dist[index[a], index[b]] = d
    sigma = dist[~np.isinf(dist)].std()
    adj = np.exp(-np.square(dist / sigma))
    adj[adj < k] = 0
    return adj.astype(np.float32)


def _sensor_dataset(
    h5: Path, dist: Path, loc: Path, name: str, ids_file: Path | None = None
) -> xr.Dataset:
    values, ids, stamps = read_speed_h5(h5)
    if ids_file is not None:
        listed = [s.strip() for s in Path(ids_file).read_text().split(",") if s.strip()]
        if listed != ids:
            raise ValueError(
                f"{h5}: its sensor columns differ from {ids_file} ({len(ids)} vs {len(listed)} "
                "ids, or another order); both must come from the same DCRNN release"
            )
    if len(stamps) > 1 and not np.all(np.diff(stamps) == int(DT) * _NS):
        raise ValueError(f"{h5}: timestamps are not every {DT:.0f} s without gaps")
    locs = read_locations(loc)
    lost = [s for s in ids if s not in locs]
    if lost:
        raise ValueError(f"{loc}: no location for sensors {lost[:5]} (of {len(lost)})")
    speed = np.nan_to_num(values, nan=0.0)
    day = stamps // (86400 * _NS)
    cov = np.stack([(stamps % (86400 * _NS)) / (86400 * _NS), (day + 3) % 7], axis=-1)
    return xr.Dataset(
        {
            "value": (("time", "node", "channel"), speed[..., None].astype(np.float32)),
            "mask": (("time", "node"), speed != 0),
            "adjacency": (("node", "node_"), gaussian_adjacency(ids, read_distances(dist))),
            "covariates": (("time", "covariate"), cov.astype(np.float32)),
        },
        coords={
            "time": stamps.astype(np.float64) / _NS,
            "node": ids,
            "node_": ids,
            "channel": ["speed"],
            "covariate": ["time_of_day", "day_of_week"],
            "latitude": ("node", np.array([locs[s][0] for s in ids])),
            "longitude": ("node", np.array([locs[s][1] for s in ids])),
        },
        attrs={
            "family": "sensor_network",
            "name": name,
            "units": "mph (speed); time in seconds since 1970-01-01 of the local clock",
            "dt": DT,
            "source": "DCRNN (liyaguang/DCRNN) " + COMMIT,
            "license": LICENSE,
            "citation": CITATION,
            "dataset_version": VERSION,
            "missing": "speed 0 means missing (mask False), as in DCRNN's masked metrics",
            "covariates": "time_of_day in [0, 1) (DCRNN); day_of_week 0 = Monday",
        },
    )


def open_metr_la(paths: dict[str, Path]) -> xr.Dataset:
    """METR-LA from its four files (``SHA256_METR_LA``), as a ``sensor_network`` dataset."""
    return _sensor_dataset(
        paths["metr-la.h5"],
        paths["distances_la_2012.csv"],
        paths["graph_sensor_locations.csv"],
        "metr-la",
        paths["graph_sensor_ids.txt"],
    )


def open_pems_bay(paths: dict[str, Path]) -> xr.Dataset:
    """PEMS-BAY from its three files (``SHA256_PEMS_BAY``), as a ``sensor_network`` dataset."""
    return _sensor_dataset(
        paths["pems-bay.h5"],
        paths["distances_bay_2017.csv"],
        paths["graph_sensor_locations_bay.csv"],
        "pems-bay",
    )


# -------------------------------------------------------------------------------------- fakes
def write_speed_h5(
    path: Path,
    values: np.ndarray,
    ids: list[str],
    start: str,
    key: str = "df",
    int_ids: bool = False,
) -> Path:
    """Write a speed table in the pandas "fixed" HDFStore layout of the DCRNN files (h5py).

    Group ``key`` with pandas' attributes (``pandas_type='frame'``, ``ndim``, ``nblocks``),
    ``axis0``/``block0_items`` (ids as bytes, or int64 with ``int_ids``), ``axis1`` (int64 ns,
    ``kind='datetime64'``) and ``block0_values`` (time, sensor) float64 (``transposed``).
    """
    import h5py

    stamps = np.datetime64(start, "ns").astype(np.int64) + np.arange(len(values)) * int(DT) * _NS
    labels = np.array(ids, dtype=np.int64) if int_ids else np.array([s.encode() for s in ids])
    with h5py.File(path, "w") as f:
        g = f.create_group(key)
        for k, v in dict(pandas_type=b"frame", pandas_version=b"0.15.2", encoding=b"UTF-8").items():
            g.attrs[k] = v
        g.attrs["ndim"], g.attrs["nblocks"] = 2, 1
        for node in ("axis0", "block0_items"):
            g.create_dataset(node, data=labels)
            g[node].attrs["kind"] = b"integer" if int_ids else b"string"
        g.create_dataset("axis1", data=stamps)
        g["axis1"].attrs["kind"] = b"datetime64"
        g.create_dataset("block0_values", data=np.asarray(values, dtype=np.float64))
        g["block0_values"].attrs["transposed"] = 1
    return path


def _fake_speeds(n_t: int, n_nodes: int, seed: int, missing: float) -> np.ndarray:
    """Speeds with a daily rush-hour dip, per-sensor noise (sd 6 mph) and zeros for missing."""
    rng = np.random.default_rng(seed)
    tod = (np.arange(n_t) % 288) / 288.0
    dip = 25.0 * np.exp(-(((tod - 0.35) / 0.05) ** 2)) + 20.0 * np.exp(
        -(((tod - 0.72) / 0.06) ** 2)
    )
    base = rng.uniform(55, 70, n_nodes)
    v = (
        base[None]
        - dip[:, None] * rng.uniform(0.5, 1.0, n_nodes)
        + rng.normal(0, 6, (n_t, n_nodes))
    )
    v = np.clip(v, 3.0, 80.0).round(3)
    v[rng.random(v.shape) < missing] = 0.0
    return v


def _fake_graph(d: Path, ids: list[str], seed: int, name: str, header: bool) -> Path:
    rng = np.random.default_rng(seed + 1)
    path = d / name
    with open(path, "w", newline="") as fh:
        if header:
            fh.write("from,to,cost\n")
        for a in ids:
            for b in ids:
                if a == b or rng.random() < 0.6:
                    fh.write(f"{a},{b},{0.0 if a == b else float(rng.integers(300, 9000))}\n")
    return path


#: Three weeks of 5-minute readings: enough windows for every split and a time-of-week table.
FAKE_STEPS = 3 * 2016


def make_fake_metr_la(d: Path, seed: int = 0) -> dict[str, Path]:
    """Tiny METR-LA files in the upstream layouts: ``metr-la.h5`` (key ``df``, byte-string
    ids, 8% zeros), ``distances_la_2012.csv`` (header ``from,to,cost``), the ids on one line
    without a newline, and the locations with header ``index,sensor_id,latitude,longitude``."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    ids = ["773869", "767541", "767542", "717447", "717446", "717445"]
    write_speed_h5(d / "metr-la.h5", _fake_speeds(FAKE_STEPS, 6, seed, 0.08), ids, "2012-03-01")
    (d / "graph_sensor_ids.txt").write_text(",".join(ids))
    with open(d / "graph_sensor_locations.csv", "w", newline="") as fh:
        fh.write("index,sensor_id,latitude,longitude\n")
        fh.writelines(
            f"{i},{s},{34.1 + i / 100:.5f},{-118.3 + i / 100:.5f}\n" for i, s in enumerate(ids)
        )
    _fake_graph(d, ids, seed, "distances_la_2012.csv", header=True)
    return {n: d / n for n in SHA256_METR_LA}


def make_fake_pems_bay(d: Path, seed: int = 0) -> dict[str, Path]:
    """Tiny PEMS-BAY files in the upstream layouts: ``pems-bay.h5`` (key ``speed``, integer
    ids), ``distances_bay_2017.csv`` and ``graph_sensor_locations_bay.csv`` (no headers)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    ids = ["400001", "400017", "400030", "400040", "400045", "400052", "400057"]
    speeds = _fake_speeds(FAKE_STEPS, len(ids), seed + 7, 0.002)
    write_speed_h5(d / "pems-bay.h5", speeds, ids, "2017-01-01", key="speed", int_ids=True)
    with open(d / "graph_sensor_locations_bay.csv", "w", newline="") as fh:
        fh.writelines(
            f"{s},{37.3 + i / 100:.6f},{-121.9 + i / 100:.6f}\n" for i, s in enumerate(ids)
        )
    _fake_graph(d, ids, seed, "distances_bay_2017.csv", header=False)
    return {n: d / n for n in SHA256_PEMS_BAY}


def _register(
    name: str,
    table: dict[str, str],
    open_fn: Callable[[dict[str, Path]], xr.Dataset],
    fake: Callable[[Path, int], dict[str, Path]],
    source: str,
) -> DatasetSpec:
    return register_dataset(
        DatasetSpec(
            name=name,
            version=VERSION,
            domain="traffic",
            family="sensor_network",
            build=file_builder(open_fn),
            fake=fake,
            parts=("all",),
            tiers={"full": {}},
            files=_files(table),
            params={"dt": DT, "normalized_k": NORMALIZED_K, "commit": COMMIT},
            license=LICENSE,
            citation=CITATION,
            card=f"{name}.md",
            source=source,
        )
    )


METR_LA = _register(
    "metr-la",
    SHA256_METR_LA,
    open_metr_la,
    make_fake_metr_la,
    "DCRNN data/ (Google Drive) " + COMMIT,
)
PEMS_BAY = _register(
    "pems-bay", SHA256_PEMS_BAY, open_pems_bay, make_fake_pems_bay, "DCRNN data/ " + COMMIT
)
