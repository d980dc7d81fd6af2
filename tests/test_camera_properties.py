"""Property-based tests of the monocular 3D geometry (lzu.perception.camera, hypothesis).

For random pinhole cameras (focal lengths 50-5000 px, any principal point, small skew) and camera-frame points
at depths 0.1-200 m: back-projection inverts projection; the intrinsics of a resized image project where the
resize's pixel map (`scale_boxes`) moves the original projection. For random boxes: the corners' centroid is the
centre, the edges have the box's sizes, a half turn of yaw gives the same corners; a box wholly in front of the
near plane has the bounds of its corners' projections as footprint. For any yaw and direction offset, decoding
the encoding returns the yaw, on the bins' edges too.
"""
import math

import torch
from hypothesis import given, settings, strategies as st, HealthCheck

from lzu.perception.camera import (box_corners, decode_yaw, encode_yaw, project, projected_boxes, resize_intrinsics,
                                   unproject, wrap_angle)
from lzu.perception.detection import scale_boxes

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
f64 = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def cameras(draw):
    fx, fy = draw(f64(50, 5000)), draw(f64(50, 5000))
    return torch.tensor([[fx, draw(f64(-5, 5)), draw(f64(-500, 2500))], [0, fy, draw(f64(-500, 1500))], [0, 0, 1]], dtype=torch.float64)


@st.composite
def points(draw, n=st.integers(1, 8)):
    k = draw(n)
    xyz = [[draw(f64(-60, 60)), draw(f64(-10, 10)), draw(f64(0.1, 200))] for _ in range(k)]
    return torch.tensor(xyz, dtype=torch.float64)


@st.composite
def boxes(draw, n=st.integers(1, 6), zlo=0.5):
    rows = [[draw(f64(-30, 30)), draw(f64(-3, 3)), draw(f64(zlo, 80)), draw(f64(0.2, 3.5)), draw(f64(0.2, 14)),
             draw(f64(0.3, 4.5)), draw(f64(-4 * math.pi, 4 * math.pi))] for _ in range(draw(n))]
    return torch.tensor(rows, dtype=torch.float64)


@SETTINGS
@given(cameras(), points())
def test_unproject_inverts_project(K, pts):
    uv, z = project(pts, K)
    assert torch.allclose(unproject(uv, z, K), pts, rtol=1e-9, atol=1e-7)


@SETTINGS
@given(cameras(), points(), st.integers(2, 2000), st.integers(2, 2000), st.integers(2, 2000), st.integers(2, 2000))
def test_resized_intrinsics_follow_the_resize(K, pts, H, W, Ho, Wo):
    uv, _ = project(pts, K)
    uv_resized, _ = project(pts, resize_intrinsics(K, (H, W), (Ho, Wo)))
    moved = scale_boxes(torch.cat([uv, uv], 1), (H, W), (Ho, Wo))[:, :2]
    assert torch.allclose(uv_resized, moved, rtol=1e-9, atol=1e-6 * (1 + moved.abs().max()))


@SETTINGS
@given(boxes())
def test_corners_have_the_box_centre_sizes_and_half_turn_symmetry(b):
    c = box_corners(b)
    assert torch.allclose(c.mean(1), b[:, :3], atol=1e-9)
    for (i, j), k in (((0, 4), 4), ((0, 3), 5), ((0, 1), 3)):     # length, height, width edges
        assert torch.allclose((c[:, i] - c[:, j]).norm(dim=-1), b[:, k], atol=1e-9)
    turned = b.clone(); turned[:, 6] += math.pi
    d = (box_corners(turned)[:, :, None] - c[:, None]).norm(dim=-1).amin(2)
    assert d.max() < 1e-9


@SETTINGS
@given(cameras(), boxes(zlo=20.0))
def test_footprint_of_a_box_in_front_bounds_its_corners(K, b):
    fp, valid = projected_boxes(b, K, near=0.1)
    assert valid.all()
    uv, _ = project(box_corners(b), K)
    assert torch.allclose(fp, torch.cat([uv.amin(1), uv.amax(1)], 1), rtol=1e-9, atol=1e-6)


@SETTINGS
@given(f64(-20, 20), f64(-math.pi, math.pi), f64(0.01, 100), st.integers(-3, 3), st.booleans())
def test_decode_inverts_encode(yaw, offset, gain, turns, on_edge):
    y = torch.tensor([offset + turns * math.pi if on_edge else yaw], dtype=torch.float64)   # on a bin's edge, or anywhere
    half_turn, dir_bin = encode_yaw(y, offset)
    got = decode_yaw(gain * half_turn, dir_bin, offset)
    diff = wrap_angle(got - y).abs().item()
    assert diff < 1e-9 or abs(diff - 2 * math.pi) < 1e-9, (y, offset, got)
    assert -math.pi < got.item() <= math.pi
