"""Cell Tracking Challenge: the reader on fakes and on the real samples, blocks, windows, fetch."""

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from shared_samples import shared_data

from decathlon.benchmark.contract import validate
from decathlon.benchmark.tasks import get_task
from decathlon.datasets import ctc
from decathlon.datasets.ctc import chronological_blocks, open_ctc, unpack
from decathlon.datasets.ctc_fake import make_fake_ctc, write_fake_tree
from decathlon.datasets.ctc_tasks import ctc_windows, division_windows
from decathlon.datasets.io.ctc_format import read_ctc_tracks, read_track_table


def _tree(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def _sample(*parts: str) -> Path:
    base = shared_data()
    if base is None or not (base / "cell_tracking_ctc").is_dir():
        pytest.skip("real CTC samples not available (set DECATHLON_SHARED_DATA)")
    return base.joinpath("cell_tracking_ctc", *parts)


# ----------------------------------------------------------------------------- real samples
def test_real_hela_result_counts_and_spans():
    """The Fluo-N2DL-HeLa 01_RES tracking parses to the counts res_track.txt states, and every
    track's begin..end is exactly the frames its label appears in (no gaps)."""
    root = _sample("Fluo-N2DL-HeLa")
    table = read_track_table(root / "01_RES" / "res_track.txt")
    ds = open_ctc({k: p for k, p in _tree(root.parent).items() if k.startswith("Fluo-N2DL-HeLa/")})
    validate(ds)
    assert ds.sequence.values.tolist() == ["01_RES"] and ds.attrs["units"] == "um"
    assert len(table) == 285 and int((table[:, 3] > 0).sum()) == 220  # as res_track.txt lists them
    assert int((ds.label.values > 0).sum()) == 285 and int((ds.parent.values > 0).sum()) == 220
    mask = ds.mask.values[0]
    for i, (_, b, e, _) in enumerate(table):
        assert np.flatnonzero(mask[:, i]).tolist() == list(range(b, e + 1)), table[i]
    # lineage: edges hold every parent link, and the daughters' counts add up
    assert int(ds.edges.values.sum()) == 220 == int(ds.n_daughters.values.sum())
    assert ds.sizes["time"] == 92 and int(mask[0].sum()) == 43  # 43 labels in frame 0


def test_real_hela_centroid_matches_pixels():
    """A centroid is the mean (column, row) of the label's pixels times 0.645 um."""
    import tifffile

    root = _sample("Fluo-N2DL-HeLa", "01_RES")
    img = tifffile.imread(root / "mask000.tif")
    rows, cols = np.nonzero(img == 1)
    t = read_ctc_tracks(
        root / "res_track.txt", {i: root / f"mask{i:03d}.tif" for i in range(92)}, "RES"
    )
    assert t.centroid[0, 0].tolist() == pytest.approx([cols.mean(), rows.mean()])
    assert t.area[0, 0] == len(rows)


def test_real_lzw_fixture_gt_and_res_layouts():
    """The java-ctcmetrics fixture: LZW TIFFs (imagecodecs), both layouts, no calibration."""
    root = _sample("synthetic_fixture_java_ctcmetrics")
    ds = open_ctc(_tree(root))
    validate(ds)
    assert ds.layout.values.tolist() == ["TRA", "RES"] and ds.attrs["units"] == "px"
    assert ds.attrs["time_units"] == "frame" and ds.attrs["dt"] == 1.0
    assert ds.label.values.tolist() == [[13, 20, 24], [130, 200, 240]]


# ------------------------------------------------------------------------------------ fakes
def test_fake_archive_layout_and_roundtrip(tmp_path):
    z = make_fake_ctc(tmp_path, seed=3, n_frames=20)["Fluo-N2DL-HeLa.zip"]
    names = set(zipfile.ZipFile(z).namelist())
    for seq in ("01", "02"):
        assert f"Fluo-N2DL-HeLa/{seq}_GT/TRA/man_track.txt" in names
        assert f"Fluo-N2DL-HeLa/{seq}_GT/TRA/man_track019.tif" in names
        assert f"Fluo-N2DL-HeLa/{seq}/t000.tif" in names
        assert f"Fluo-N2DL-HeLa/{seq}_ST/SEG/man_seg000.tif" in names
    members = unpack(z)
    assert set(members) == names
    ds = open_ctc({k: p for k, p in members.items() if "_GT/TRA/" in k})
    validate(ds)
    divided = ds.n_daughters.values >= 2
    assert divided.any()
    # daughters start in the frame after the mother's last one
    for s in range(2):
        for j in np.flatnonzero(ds.parent.values[s] > 0):
            i = int(np.flatnonzero(ds.label.values[s] == ds.parent.values[s, j])[0])
            assert ds.begin.values[s, j] == ds.end.values[s, i] + 1
            assert ds.edges.values[s, i, j]


def test_unpack_reuses_a_complete_folder_and_redoes_a_new_archive(tmp_path):
    z = make_fake_ctc(tmp_path / "a", seed=0, n_frames=10)["Fluo-N2DL-HeLa.zip"]
    first = unpack(z)
    victim = next(p for k, p in first.items() if k.endswith("man_track.txt"))
    victim.write_text("edited\n")
    assert victim.read_text() == "edited\n"
    unpack(z)  # same archive: the folder is reused as it is
    assert victim.read_text() == "edited\n"
    shutil.copyfile(make_fake_ctc(tmp_path / "b", seed=1, n_frames=10)["Fluo-N2DL-HeLa.zip"], z)
    unpack(z)  # a different archive: unpacked again
    assert victim.read_text() != "edited\n"
    assert not list(tmp_path.joinpath("a").glob(".*unzip-*"))


def test_blocks_are_chronological_and_windows_keep_present_cells(tmp_path):
    ds = chronological_blocks(open_ctc(write_fake_tree(tmp_path, seed=2, n_frames=30)))
    validate(ds)
    assert ds.n_steps.values.tolist() == [18, 6, 6] * 2
    assert ds.frame0.values.tolist() == [0, 18, 24] * 2
    full = open_ctc(write_fake_tree(tmp_path / "again", seed=2, n_frames=30))
    np.testing.assert_array_equal(ds.pos.values[2, :6], full.pos.values[0, 24:30])
    task = get_task("cells/ctc-hela-forecast")
    w = ctc_windows(task, ds.isel(sample=[0]))
    mask0 = ds.mask.values[0]
    assert w.start.tolist() == [a for a in range(18 - 9 + 1) if mask0[a : a + 9].all(0).any()]
    assert len(w) >= 3
    for k in range(len(w)):  # every scored cell is present in all 9 frames of its window
        a, n = int(w.start[k]), int(w.mask_y[k, 0].sum())
        present = ds.mask.values[0, a : a + 9].all(0)
        assert n == present.sum()
        np.testing.assert_array_equal(w.y[k, -1, :n], ds.pos.values[0, a + 8][present])
        assert not w.x[k, :, n:].any()


def test_division_labels_follow_the_lineage(tmp_path):
    """Every cell alive in the last context frame is scored; its label is 1 exactly when it has
    two daughters and its track ends within the next k - 1 frames (daughters by frame t + k)."""
    ds = chronological_blocks(open_ctc(write_fake_tree(tmp_path, seed=5, n_frames=40)))
    task = get_task("cells/ctc-hela-division")
    w = division_windows(task, ds)
    assert w.features == ["pos_x", "pos_y", "state_area", "state_age"]
    assert 0 < w.y[w.mask_y].sum() < w.mask_y.sum()  # both classes
    c, k = task.context, task.horizon
    for i in range(len(w)):
        s, a = int(w.sample[i]), int(w.start[i])
        alive = np.flatnonzero(ds.mask.values[s, a + c - 1])
        assert int(w.mask_y[i].sum()) == len(alive)
        t = int(ds.frame0.values[s]) + a + c - 1
        want = (ds.n_daughters.values[s, alive] >= 2) & (ds.end.values[s, alive] <= t + k - 1)
        np.testing.assert_array_equal(w.y[i, : len(alive)] > 0.5, want)
        # age in the last context frame: seconds since the track began
        age = (t - ds.begin.values[s, alive]) * ds.attrs["dt"]
        np.testing.assert_allclose(w.x[i, -1, : len(alive), 3], age)


# ------------------------------------------------------------------------------- malformed
@pytest.mark.parametrize(
    "text, message",
    [
        ("1 0 3\n", "four non-negative integers"),
        ("1 3 2 0\n", "end >= begin"),
        ("1 0 3 0\n1 4 5 0\n", "more than once"),
        ("1 0 3 7\n", "parent labels [7]"),
    ],
)
def test_bad_track_tables_are_refused(tmp_path, text, message):
    p = tmp_path / "man_track.txt"
    p.write_text(text)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_track_table(p)


def test_table_and_masks_that_disagree_are_refused(tmp_path):
    tree = write_fake_tree(tmp_path, seed=0, n_frames=8)
    table = tree["Fluo-N2DL-HeLa/01_GT/TRA/man_track.txt"]
    lines = table.read_text().splitlines()
    lab, b, e, p = lines[0].split()
    table.write_text("\n".join([f"{lab} {b} {int(e) + 5} {p}", *lines[1:]]) + "\n")
    with pytest.raises(ValueError, match=f"track {lab} is listed for frames"):
        open_ctc(tree)
    table.write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match=f"labels \\[{lab}\\] are not tracks"):
        open_ctc(tree)
    tree["Fluo-N2DL-HeLa/01_GT/TRA/man_track003.tif"].unlink()
    del tree["Fluo-N2DL-HeLa/01_GT/TRA/man_track003.tif"]
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="frames \\[3\\] have no man_trackNNN.tif"):
        open_ctc(tree)
    with pytest.raises(ValueError, match="found no track table"):
        open_ctc({"Fluo-N2DL-HeLa/01/t000.tif": tmp_path / "x.tif"})


# ---------------------------------------------------------------------- download and --from
def test_fetch_and_local_import_routes(tmp_path, monkeypatch):
    """The download route (a downloader serving the fake zip; hash recorded at first use) and
    the `prepare --from DIR` route build the same store."""
    from decathlon.benchmark import data
    from decathlon.datasets.fetch import import_local, recorded_hashes

    src = make_fake_ctc(tmp_path / "up", seed=4, n_frames=30)["Fluo-N2DL-HeLa.zip"]

    def serve(url, output_file, pooch):
        assert url == ctc.URL
        shutil.copyfile(src, output_file)

    name = ctc.CTC_HELA.name
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "c1"))
    monkeypatch.setattr(ctc, "fetch", _with_downloader(serve))
    data.materialize(name, "mini")
    d1 = data.open_part(name, "mini", "all").load()
    assert f"{name}/Fluo-N2DL-HeLa.zip" in recorded_hashes()
    monkeypatch.setenv("DECATHLON_DATA_DIR", str(tmp_path / "c2"))
    monkeypatch.setattr(ctc, "fetch", _with_downloader(None))  # nothing to download now
    import_local(ctc.CTC_HELA, src.parent)
    data.materialize(name, "mini")
    d2 = data.open_part(name, "mini", "all").load()
    np.testing.assert_array_equal(d1.pos.values, d2.pos.values)
    assert d2.segment.values.tolist()[:3] == ["01/train", "01/valid", "01/test"]


def _with_downloader(serve):
    from decathlon.datasets import fetch as fetch_mod

    def refuse(url, output_file, pooch):
        raise AssertionError(f"unexpected download of {url}")

    def fetch(spec, progress=False, downloader=None):
        return fetch_mod.fetch(spec, progress=progress, downloader=serve or refuse)

    return fetch


# -------------------------------------------------------------------- ranking metrics (classify)
def _ap_by_thresholds(s: np.ndarray, y: np.ndarray) -> float:
    """AP = sum_k (R_k - R_{k-1}) P_k over the distinct scores from high to low."""
    ap, prev = 0.0, 0.0
    for u in np.unique(s)[::-1]:
        pos = s >= u
        tp = float((pos & y).sum())
        rec = tp / y.sum()
        ap += (rec - prev) * tp / pos.sum()
        prev = rec
    return ap


def test_average_precision_matches_its_definition_with_ties_and_weights():
    from decathlon.benchmark.metrics import average_precision, entity_stats, metric_value

    rng = np.random.default_rng(0)
    s = rng.integers(0, 6, 200) / 5.0  # many ties
    y = rng.random(200) < 0.3
    assert average_precision(s, y) == pytest.approx(_ap_by_thresholds(s, y))
    # two windows; padded items (valid False) are left out; weight 2 = the window twice
    scores, labels = s.reshape(2, 100), y.reshape(2, 100)
    valid = np.ones((2, 100), bool)
    valid[1, 60:] = False
    st = entity_stats(scores, labels, valid)
    keep = valid.ravel()
    want_ap = _ap_by_thresholds(s[keep], y[keep])
    assert metric_value("average_precision", st)[0] == pytest.approx(want_ap)
    both = np.r_[s[:100], s[:100], s[100:160]], np.r_[y[:100], y[:100], y[100:160]]
    got = metric_value("average_precision", st, np.array([[2.0, 1.0]]))[0]
    assert got == pytest.approx(_ap_by_thresholds(*both))
    from decathlon.benchmark.metrics import auroc

    assert metric_value("auroc", st)[0] == pytest.approx(auroc(s[keep], y[keep]))
