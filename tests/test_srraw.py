"""SR-Raw loader (lzu.raw.srraw) checks that do not fit the notebook: large and downscaled ECC alignments, ECC failure,
resized JPGs, the caches (disk, environment, monkeypatched readers), and DataLoader workers. Trees are written by `toy_srraw`."""
import json
import math
import shutil
import warnings

import cv2
import numpy as np
import pytest
import torch

import lzu.raw.srraw as S
from lzu.raw.srraw import SRRawDataset, align_pair, jpg_scale, read_jpg, scan_srraw, toy_srraw, zoom_pairs
from lzu.raw.io import isp

HW = (240, 320)
F = S.TOY_FOCAL_LENGTHS


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    "Two sequences; sequence 00001's 150 mm frame (index 1) is rotated by 1 degree and shifted by (12, -9) px."
    root = tmp_path_factory.mktemp("toy")
    truth = toy_srraw(root, n_sequences=2, hw=HW, motions={(0, 1): (1.0, 12.0, -9.0)}, seed=3)
    return root, truth


@pytest.fixture(autouse=True)
def _fresh_memos():
    "Each test sees the disk caches only (no alignments or focal lengths memoised by another test)."
    S._ALIGN_MEMO.clear(); S._FOCAL_MEMO.clear()
    yield


def _copy_seq(src, dst):
    shutil.copytree(src, dst)
    return dst


def true_matrix(hw, f_in, f_tg, m_in, m_tg, crop, jpg_s=1.0):
    "The exact (2, 3) map from an input crop's sensor pixels to target-JPG pixels of a `toy_srraw` pair."
    def rot(d):
        c, s = math.cos(math.radians(d)), math.sin(math.radians(d))
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    def sh(x, y): return np.array([[1, 0, x], [0, 1, y], [0, 0, 1.0]])
    c = ((hw[1] - 1) / 2, (hw[0] - 1) / 2); r = f_tg / f_in
    M = (sh(*c) @ rot(m_tg[0]).T @ sh(-m_tg[1], -m_tg[2]) @ np.diag([r, r, 1]) @ sh(m_in[1], m_in[2])
         @ rot(m_in[0]) @ sh(-c[0], -c[1]) @ sh(2 * crop[1], 2 * crop[0]))
    jc = ((hw[1] * jpg_s - 1) / 2, (hw[0] * jpg_s - 1) / 2)   # sensor px -> JPG px of a resized JPG
    J = sh(*jc) @ np.diag([jpg_s, jpg_s, 1]) @ sh(-c[0], -c[1])
    return (J @ M)[:2]


def corner_error(M, T, crop):
    h, w = 2 * crop[2], 2 * crop[3]
    pts = np.array([[-0.5, w - 0.5, -0.5, w - 0.5], [-0.5, -0.5, h - 0.5, h - 0.5], [1, 1, 1, 1]])
    return float(np.abs(np.asarray(M) @ pts - np.asarray(T) @ pts).max())


def test_scan_cache_avoids_reading_exif(toy, tmp_path, monkeypatch):
    root, _ = toy
    seqs = scan_srraw(root, cache_dir=tmp_path)
    cache = json.loads((tmp_path / "srraw_focal.json").read_text())
    assert len(cache) == 14 and all(v[2] in F for v in cache.values())
    S._FOCAL_MEMO.clear()
    def boom(*a, **k): raise AssertionError("EXIF read despite the cache")
    monkeypatch.setattr(S, "exif_focal_length", boom); monkeypatch.setattr(S, "read_raw", boom)
    assert [s.focal_lengths for s in scan_srraw(root, cache_dir=tmp_path)] == [s.focal_lengths for s in seqs]


# ---------------------------------------------------------------- alignment

@pytest.mark.parametrize("ecc_max_side", [1024, 48])
def test_ecc_recovers_large_misalignment(tmp_path, ecc_max_side):
    "30 px and 2 degrees (in target px) is found by the pyramid; a downscaled ECC (ecc_max_side=48) too."
    root = tmp_path / "r"
    truth = toy_srraw(root, n_sequences=1, hw=HW, motions={(0, 1): (2.0, 30.0, -20.0)}, seed=3)
    seq = scan_srraw(root)[0]
    pair = zoom_pairs(seq, 4)[1]                                   # 35 -> 150 mm, the moved frame is the target
    # 30 target px are 7 input px, 3% of the input frame: over a 2% plausibility bound, within the default 8%
    with pytest.warns(UserWarning, match="moved a corner"):
        assert not align_pair(seq, pair, tmp_path, ecc_max_side=ecc_max_side, max_shift=0.02).converged
    al = align_pair(seq, pair, tmp_path, ecc_max_side=ecc_max_side)
    T = true_matrix(HW, F[pair.input_idx], F[pair.target_idx], truth["00001"]["motions"][pair.input_idx],
                    truth["00001"]["motions"][pair.target_idx], al.crop)
    assert al.converged and al.warning is None
    assert corner_error(al.nominal, T, al.crop) > 25
    assert corner_error(al.matrix, T, al.crop) < (0.5 if ecc_max_side > 100 else 1.5)


def test_ecc_failure_on_flat_target(toy, tmp_path):
    root, _ = toy
    d = _copy_seq(root / "00002", tmp_path / "r" / "00002")
    cv2.imwrite(str(d / "00003.JPG"), np.full((*HW, 3), 128, np.uint8))   # the 100 mm target: no texture at all
    seq = scan_srraw(tmp_path / "r")[0]
    pair = zoom_pairs(seq, 4)[0]
    with pytest.warns(UserWarning, match="00002/00007-00003: ECC did not converge.*falling back to FOV matching"):
        al = align_pair(seq, pair, tmp_path / "c")
    assert not al.converged and al.warning and np.array_equal(al.ecc, np.eye(2, 3))
    with pytest.warns(UserWarning, match="falling back"):           # the cached failure is reported again
        again = align_pair(seq, pair, tmp_path / "c")
    assert again.cached and again.warning == al.warning
    ds = SRRawDataset(tmp_path / "r", "all", patch=4, cache_dir=tmp_path / "c")
    with pytest.warns(UserWarning): ds.prepare()
    assert [n for n, _ in ds.warnings] == ["00002/00007-00003"]


def test_cache_invalidated_by_new_content(toy, tmp_path):
    root, _ = toy
    d = _copy_seq(root / "00002", tmp_path / "r" / "00002")
    seq = scan_srraw(tmp_path / "r")[0]
    pair = zoom_pairs(seq, 4)[0]
    a = align_pair(seq, pair, tmp_path / "c")
    files = list((tmp_path / "c" / "align").glob("*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())
    assert stored["key"]["target_jpg"][0].endswith("00003.JPG") and stored["alignment"]["name"] == "00002/00007-00003"
    S._ALIGN_MEMO.clear()
    jpg = read_jpg(d / "00003.JPG")                                 # shift the target by 6 px: same size, new content
    cv2.imwrite(str(d / "00003.JPG"), np.ascontiguousarray(np.roll(jpg, 6, axis=1)[..., ::-1]))
    b = align_pair(seq, pair, tmp_path / "c")
    assert not b.cached and abs((b.matrix - a.matrix)[0, 2] - 6) < 0.5   # content moved right


def test_default_cache_dir_from_env(toy, tmp_path, monkeypatch):
    root, _ = toy
    monkeypatch.setenv("LZU_CACHE_DIR", str(tmp_path))
    ds = SRRawDataset(root, "all", patch=4)
    ds[0]
    assert len(list((tmp_path / "srraw" / "align").glob("*.json"))) == 1
    assert (tmp_path / "srraw" / "srraw_focal.json").exists()
    SRRawDataset(root, "all", patch=4, cache_dir=False)[1]          # no disk cache at all
    assert len(list((tmp_path / "srraw" / "align").glob("*.json"))) == 1


def test_resized_jpgs(tmp_path):
    "JPGs at half the sensor size (a resized JPG): geometry, alignment and png-mode inputs still agree."
    root = tmp_path / "r"
    truth = toy_srraw(root, n_sequences=1, hw=HW, motions={(0, 2): (0.0, 8.0, 6.0)}, seed=5)
    for j in (root / "00001").glob("*.JPG"):
        img = cv2.imread(str(j)); cv2.imwrite(str(j), cv2.resize(img, (HW[1] // 2, HW[0] // 2), interpolation=cv2.INTER_AREA))
    assert jpg_scale(HW, (HW[0] // 2, HW[1] // 2)) == (0.5, 0.5)
    seq = scan_srraw(root)[0]
    pair = zoom_pairs(seq, 4)[0]                                   # 24 -> 100 mm; the 100 mm frame moved
    al = align_pair(seq, pair, tmp_path / "c")
    T = true_matrix(HW, 24, 100, (0, 0, 0), truth["00001"]["motions"][2], al.crop, jpg_s=0.5)
    assert al.converged and corner_error(al.matrix, T, al.crop) < 0.5
    ds = SRRawDataset(root, "all", zoom=4, patch=6, mode="png", cache_dir=tmp_path / "c", random_crop=False)
    it = ds[0]
    assert tuple(it["input"].shape) == (3, 12, 12) and tuple(it["target"].shape) == (3, 48, 48)
    t = cv2.resize(it["target"].numpy().transpose(1, 2, 0), (12, 12), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)
    assert np.abs(it["input"].numpy() - t).mean() < 0.08


# ---------------------------------------------------------------- dataset

def test_raw_input_matches_target(toy, tmp_path):
    "Each packed input patch, rendered by the ISP, shows what its target patch shows (all pairs, 4X and 8X)."
    root, _ = toy
    warnings.filterwarnings("error", message="SR-Raw pair")       # every pair aligns (the moved one included)
    for zoom, p in ((4, 10), (8, 5)):
        ds = SRRawDataset(root, "all", zoom=zoom, patch=p, cache_dir=tmp_path, random_crop=True, repeat=2)
        assert len(ds) == 2 * len(ds.pairs)
        for i in range(len(ds)):
            it = ds[i]
            rgb = isp(it["input"].numpy(), it["wb"].numpy())
            t = cv2.resize(it["target"].numpy().transpose(1, 2, 0), (2 * p, 2 * p), interpolation=cv2.INTER_AREA)
            assert np.abs(rgb - t.transpose(2, 0, 1)).mean() < 0.08, (zoom, it["name"])


def test_dataloader_workers_reproducible(toy, tmp_path):
    root, _ = toy
    ds = SRRawDataset(root, "all", zoom=4, patch=8, seed=7, cache_dir=tmp_path)
    ds.random_crop = True
    ds.prepare()
    main = [ds[i] for i in range(len(ds))]
    dl = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
    got = [b for b in dl]
    inputs = torch.cat([b["input"] for b in got]); targets = torch.cat([b["target"] for b in got])
    assert torch.equal(inputs, torch.stack([m["input"] for m in main]))
    assert torch.equal(targets, torch.stack([m["target"] for m in main]))
    assert [n for b in got for n in b["name"]] == [m["name"] for m in main]
    boxes0 = [ds.crop_box(i) for i in range(len(ds))]
    ds.set_epoch(1)
    assert [ds.crop_box(i) for i in range(len(ds))] != boxes0
    ds.set_epoch(0)
    assert [ds.crop_box(i) for i in range(len(ds))] == boxes0
