"""The real raw fixture (tests/fixtures/raw/, a Canon EOS 550D DNG from syoyo/tinydng, MIT) read by `lzu.raw.io`.

Facts measured with rawpy 0.28.0 / LibRaw 0.22.2 and tifffile; see tests/fixtures/raw/README.md.
"""
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from lzu.files import sha256_file
from lzu.raw.io import RawImage, RawReadError, isp, pack, read_raw, unpack, write_dng

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "raw" / "canon_eos_550d_magiclantern_colorchart.dng"
SHA256 = "592dba160b03770752667847f60ef07e9d96c17bf841e78e2b0cb5cbc5616edd"


@pytest.fixture(scope="module")
def raw() -> RawImage:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the as-shot white balance is there: no fallback warning
        return read_raw(FIXTURE)


def test_fixture_is_the_published_file():
    assert FIXTURE.stat().st_size == 3_906_864
    assert sha256_file(FIXTURE) == SHA256


def test_mosaic(raw):
    assert raw.bayer.shape == (1156, 1734)  # the visible area, already even
    assert raw.bayer.dtype == np.uint16 and raw.bayer.flags.c_contiguous
    assert (int(raw.bayer.min()), int(raw.bayer.max())) == (1958, 12128)
    assert raw.cfa == "RGGB"
    means = {name: raw.bayer[i::2, j::2].mean() for name, (i, j) in
             dict(R=(0, 0), G=(0, 1), G2=(1, 0), B=(1, 1)).items()}
    np.testing.assert_allclose([means[k] for k in ("R", "G", "B", "G2")], [2391, 2779, 2583, 2783], atol=1)


def test_levels(raw):
    assert raw.black_level.dtype == np.float32
    np.testing.assert_array_equal(raw.black_level, [2056] * 4)
    assert raw.white_level == 15000


def test_white_balance_normalised_to_green(raw):
    # the file normalises its as-shot gains to RED (camera_whitebalance [1.0, 0.4037, 0.6840, 0.0])
    assert raw.wb_source == "as_shot"
    assert raw.wb.dtype == np.float32 and raw.wb.shape == (3,)
    np.testing.assert_allclose(raw.wb, [1 / 0.4037141799926758, 1, 0.6839945316314697 / 0.4037141799926758], rtol=1e-6)
    np.testing.assert_allclose(raw.wb, [2.477, 1, 2.477 / 1.462], rtol=1e-4)  # = AsShotNeutral[G] / AsShotNeutral


def test_color_matrix(raw):
    assert raw.color_matrix is not None and raw.color_matrix.shape == (3, 3)
    np.testing.assert_allclose(raw.color_matrix.sum(1), 1, atol=1e-5)  # camera white -> sRGB white
    np.testing.assert_allclose(raw.color_matrix[0], [1.8177627, -0.964303, 0.14654028], atol=1e-5)


def test_exif_facts(raw):
    # Make/Model are in IFD0; the camera names itself by its Japanese name, "550D" does not occur.
    assert raw.make == "Canon"
    assert raw.model == "Canon EOS Kiss X4"
    # Magic Lantern writes an EXIF IFD whose values are all zero: unknown, not zero.
    assert (raw.focal_length, raw.iso, raw.exposure_time) == (None, None, None)
    assert raw.path == str(FIXTURE)


def test_pack(raw):
    p = pack(raw)
    assert p.shape == (4, 578, 867) and p.dtype == np.float32
    np.testing.assert_allclose(p.mean((1, 2)), (np.array([2391, 2779, 2583, 2783]) - 2056) / (15000 - 2056), atol=1e-4)
    back = np.rint(unpack(p, raw.cfa) * (15000 - 2056) + 2056)
    np.testing.assert_array_equal(back, raw.bayer)


def test_isp(raw):
    out = isp(pack(raw), raw.wb, raw.color_matrix)
    assert out.shape == (3, 1156, 1734) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1


def test_rewritten_as_dng_reads_back_the_same(raw, tmp_path):
    f = tmp_path / "rewritten.dng"
    write_dng(f, raw.bayer, raw.cfa, raw.black_level, raw.white_level, raw.wb, bits=14,
              color_matrix=raw.color_matrix, make=raw.make, model=raw.model)
    again = read_raw(f)
    np.testing.assert_array_equal(again.bayer, raw.bayer)
    assert (again.cfa, again.white_level, again.wb_source, again.make, again.model) == \
        (raw.cfa, raw.white_level, "as_shot", raw.make, raw.model)
    np.testing.assert_array_equal(again.black_level, raw.black_level)
    np.testing.assert_allclose(again.wb, raw.wb, rtol=1e-6)
    np.testing.assert_allclose(again.color_matrix, raw.color_matrix, atol=1e-4)


@pytest.mark.parametrize("cut", [0.5, 0.99, 1000])
def test_truncated_copy_is_rejected(tmp_path, cut):
    data = FIXTURE.read_bytes()
    n = cut if isinstance(cut, int) else int(len(data) * cut)
    f = tmp_path / "truncated.dng"
    f.write_bytes(data[:n])
    with pytest.raises(RawReadError, match="truncated.dng.*truncated"):
        read_raw(f)


def test_copy_with_another_name_reads_the_same(raw, tmp_path):
    f = tmp_path / "IMG_0001.DNG"
    shutil.copy(FIXTURE, f)
    np.testing.assert_array_equal(read_raw(f).bayer, raw.bayer)
