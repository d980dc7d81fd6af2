"""The synthetic SR-Raw generator (nbs/22_raw.synthetic.ipynb) beyond what fits in the notebook: determinism across
processes and worker counts, recovery of the recorded misalignment by image alignment, the SR-Raw loader reading
the layout, and (with LZU_TEST_FLAGS=slow) the default size's generation time."""
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from lzu.files import sha256_file
from lzu.raw.synthetic import (FOCAL_LENGTHS, FRAME_NAMES, generate_sequence, generate_srraw, ideal_canvas_from_pixel,
                                 load_meta, make_sensor, pair_homography, warp_frame)

ROOT = Path(__file__).resolve().parent.parent
SLOW = 'slow' in os.environ.get('LZU_TEST_FLAGS', '').split()


def tree_hash(root: Path) -> str:
    "sha256 over every file of a generated data set (names and bytes, in sorted order)."
    h = hashlib.sha256()
    for p in sorted(root.rglob('*')):
        if p.is_file(): h.update(str(p.relative_to(root)).encode() + b'\0' + p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_in_another_process(tmp_path):
    """Two fresh interpreters (other hash seeds) write byte-identical data sets (DNG, JPG, json). Both run under the
    pipeline's pinned numerics (lzu.pipeline.PINNED_NUMERICS), as every stage does: the pytest process may not (numpy
    reads them at import), and on a CPU with AVX-512 the unpinned kernels round differently."""
    from lzu.pipeline import PINNED_NUMERICS
    code = ("import sys; from lzu.raw.synthetic import generate_srraw; "
            "generate_srraw(sys.argv[1], n_sequences=2, sensor_hw=(48, 64), seed=11, progress=False)")
    for name, hash_seed in (('here', '0'), ('other', '123')):
        subprocess.run([sys.executable, '-c', code, str(tmp_path / name)], check=True, cwd=ROOT,
                       env={**os.environ, **PINNED_NUMERICS, 'PYTHONHASHSEED': hash_seed})
    dngs = sorted((tmp_path / 'here').rglob('*.DNG'))
    assert len(dngs) == 14
    for p in dngs:
        assert sha256_file(p) == sha256_file(tmp_path / 'other' / p.relative_to(tmp_path / 'here')), p
    assert tree_hash(tmp_path / 'here') == tree_hash(tmp_path / 'other')


def test_workers_do_not_change_the_files(tmp_path):
    "Rendering sequences in parallel processes writes exactly the same files."
    a = generate_srraw(tmp_path / 'a', n_sequences=3, sensor_hw=(48, 64), seed=5, progress=False, workers=1)
    b = generate_srraw(tmp_path / 'b', n_sequences=3, sensor_hw=(48, 64), seed=5, progress=False, workers=2)
    assert tree_hash(a) == tree_hash(b)
    assert tree_hash(a) != tree_hash(generate_srraw(tmp_path / 'c', n_sequences=3, sensor_hw=(48, 64), seed=6, progress=False))


def test_overwrite(tmp_path):
    "overwrite=True regenerates in place, with the same bytes."
    a = generate_srraw(tmp_path / 'a', n_sequences=1, sensor_hw=(32, 48), seed=2, progress=False)
    h = tree_hash(a)
    with pytest.raises(FileExistsError, match='overwrite=True'):
        generate_srraw(a, n_sequences=1, sensor_hw=(32, 48), seed=2, progress=False)
    generate_srraw(a, n_sequences=1, sensor_hw=(32, 48), seed=2, progress=False, overwrite=True)
    assert tree_hash(a) == h


def _displacement(A, B, mask):
    "Largest distance between where two homographies take the pixels of `mask`, in pixels."
    y, x = np.nonzero(mask)
    c = np.stack([x, y, np.ones_like(x)]).astype(np.float64)
    a, b = A @ c, B @ c
    return float(np.linalg.norm(a[:2] / a[2] - b[:2] / b[2], axis=0).max())


@pytest.mark.parametrize('src,dst', [(3, 4), (4, 5), (5, 6)])
def test_ecc_recovers_the_recorded_misalignment(src, dst):
    """After the ideal zoom, the residual transform between two frames' JPGs estimated by ECC (homography) is the
    recorded one (`pair_homography` composed with the inverse ideal zoom) to within a pixel."""
    hw = (192, 288)
    seq = generate_sequence(4, make_sensor(hw, seed=0), seed=0)
    meta = seq.meta
    zoomed, valid = warp_frame(seq.rgbs[src], meta, src, dst, ideal=True)  # frame src, ideally zoomed onto dst's pixels
    gray = lambda im: cv2.cvtColor(np.asarray(im, np.float32), cv2.COLOR_RGB2GRAY)
    # the truth: dst pixel of a point -> ideal-zoom dst pixel of the same point
    fl = meta['focal_lengths']
    Ci = [ideal_canvas_from_pixel(f, hw, max(fl)) for f in fl]
    true = np.linalg.inv(Ci[dst]) @ Ci[src] @ np.linalg.inv(pair_homography(meta, src, dst))  # dst px -> zoomed px
    true /= true[2, 2]
    region = valid  # dst pixels that the zoomed frame covers
    none = _displacement(np.eye(3), true, region)
    assert none > 1.5, f"the misalignment is too small to test ({none:.2f} px)"
    warp = np.eye(3, dtype=np.float32)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-7)
    mask = (cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0).astype(np.uint8)
    # the zoomed frame (where valid) is the template; ECC finds W with dst(W x) ~ zoomed(x): W maps zoomed px -> dst px
    _, W = cv2.findTransformECC(gray(zoomed) / 255, gray(seq.rgbs[dst]) / 255, warp, cv2.MOTION_HOMOGRAPHY, crit, mask, 5)
    W = np.linalg.inv(W.astype(np.float64))
    err = _displacement(W, true, region)
    print(f"frames {src}->{dst}: misalignment up to {none:.2f} px, ECC within {err:.2f} px of the record")
    assert err < 1.0, f"ECC {err:.2f} px from the recorded transform (misalignment {none:.2f} px)"


def test_the_srraw_loader_reads_the_layout(tmp_path):
    "lzu.raw.srraw.scan_srraw finds the sequences, 7 frames each, focal lengths from the DNGs' EXIF."
    srraw = pytest.importorskip('lzu.raw.srraw')
    root = generate_srraw(tmp_path / 'd', n_sequences=2, sensor_hw=(32, 48), seed=0, progress=False)
    seqs = srraw.scan_srraw(root)
    assert [s.name for s in seqs] == ['00001', '00002']
    for s in seqs:
        assert len(s.frames) == 7
        assert [float(f) for f in s.focal_lengths] == [float(f) for f in FOCAL_LENGTHS]
        assert [Path(r).stem for r, _ in s.frames] == list(FRAME_NAMES)
    m = load_meta(root / '00001')
    assert m['homographies'].shape == (7, 3, 3) and m['seed'] == 0


@pytest.mark.skipif(not SLOW, reason='slow: set LZU_TEST_FLAGS=slow')
def test_default_size_generates(tmp_path):
    "The generator's default data set (20 sequences of 384 x 576), one process; `pytest -s` prints the time it took."
    t0 = time.time()
    root = generate_srraw(tmp_path / 'default', progress=False)
    print(f'default synthetic SR-Raw: {time.time() - t0:.1f} s')
    assert len(list(root.rglob('*.DNG'))) == 140
