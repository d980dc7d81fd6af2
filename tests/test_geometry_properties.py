"""Property-based tests of the zoom/unzoom geometry (hypothesis).

The central property: the inverse is exact for the piecewise-bilinear forward map. For random saliencies
(KDE from random boxes, or random positive maps with amplitudes up to 100), grid sizes 2..64, any fwhm and
output size, inverting input points in float32 and mapping them forward again (in float64) returns them to
within 1e-3 px, for separable and nonseparable warps, anti-crop or cropping. Concentrated saliencies (zero but
for one hot cell, a corner or a few cells, of magnitudes 1e-44..1e38) give finite, monotone, invertible grids
that do not depend on the saliency's scale.
"""
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st, HealthCheck

from lzu.zoom.grids import uniform_grid
from lzu.zoom.inversion import check_no_foldover, invert_grid, invert_grid_at, invert_points, warp_boxes, unwarp_boxes
from lzu.zoom.saliency import kde_saliency
from lzu.zoom.warps import saliency_to_grid

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def forward64(grid: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    "The piecewise-bilinear forward map at zoomed points z (B, ..., 2), in float64, edge tiles extended bilinearly."
    g = grid.double()
    B, h, w, _ = g.shape
    zz = z.double().reshape(B, -1, 2)
    fx, fy = (zz[..., 0] + 1) * (w - 1) / 2, (zz[..., 1] + 1) * (h - 1) / 2
    j, i = fx.floor().clamp(0, w - 2).long(), fy.floor().clamp(0, h - 2).long()
    u, v = (fx - j)[..., None], (fy - i)[..., None]
    b = torch.arange(B)[:, None]
    p00, p10, p01, p11 = g[b, i, j], g[b, i, j + 1], g[b, i + 1, j], g[b, i + 1, j + 1]
    out = p00 + (p10 - p00) * u + (p01 - p00) * v + (p00 - p10 - p01 + p11) * u * v
    return out.reshape(z.shape)


@st.composite
def saliencies(draw):
    "A saliency batch: either KDE of random boxes or a random positive map with a large dynamic range."
    h, w = draw(st.integers(2, 64)), draw(st.integers(2, 64))
    B = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    amplitude = draw(st.floats(0.5, 100.0))
    g = torch.Generator().manual_seed(seed)
    if draw(st.booleans()):
        H, W = draw(st.integers(16, 1200)), draw(st.integers(16, 1920))
        boxes = []
        for _ in range(B):
            n = int(torch.randint(0, 12, (1,), generator=g))
            xy = torch.rand(n, 2, generator=g) * torch.tensor([W, H])
            wh = (torch.rand(n, 2, generator=g) * 0.3 + 0.01) * torch.tensor([W, H])
            boxes.append(torch.cat([xy, (xy + wh).minimum(torch.tensor([W, H]).float())], 1))
        sal = kde_saliency(boxes, (H, W), (h, w), amplitude=amplitude, bandwidth=draw(st.floats(4.0, 128.0)))
    else:
        sal = 1 + amplitude * torch.rand(B, 1, h, w, generator=g) ** draw(st.integers(1, 8))
    return sal


@SETTINGS
@given(sal=saliencies(), fwhm=st.floats(1.0, 40.0), separable=st.booleans(), anti_crop=st.booleans(),
       out_h=st.integers(2, 700), out_w=st.integers(2, 1000), in_scale=st.floats(1.0, 2.5))
def test_inverse_then_forward_is_identity(sal, fwhm, separable, anti_crop, out_h, out_w, in_scale):
    grid = saliency_to_grid(sal, fwhm, separable=separable, anti_crop=anti_crop)
    inv, valid = invert_grid(grid, (out_h, out_w), separable=separable)
    in_h, in_w = int(out_h * in_scale), int(out_w * in_scale)          # the input image the inverse lives in
    x = uniform_grid((out_h, out_w), grid.shape[0], dtype=torch.float64)
    err = (forward64(grid, inv) - x)[valid]
    err_px = (err * torch.tensor([(in_w - 1) / 2, (in_h - 1) / 2], dtype=torch.float64)).norm(dim=-1)
    assert err_px.numel() == 0 or err_px.max() <= 1e-3, float(err_px.max())
    if anti_crop: assert valid.all()                                    # anti-crop warps cover the whole input


@SETTINGS
@given(sal=saliencies(), fwhm=st.floats(1.0, 40.0), anti_crop=st.booleans(), n=st.integers(1, 400))
def test_points_inverse_matches_forward(sal, fwhm, anti_crop, n):
    "Random zoomed points, mapped forward in float64 then inverted in float32, come back to themselves."
    grid = saliency_to_grid(sal, fwhm, separable=False, anti_crop=anti_crop)
    g = torch.Generator().manual_seed(n)
    z = torch.rand(grid.shape[0], n, 2, generator=g, dtype=torch.float64) * 2 - 1
    x = forward64(grid, z)
    x32 = x.float()
    back, valid = invert_points(grid, x32)
    assert valid.all()          # images of points inside the tiles are always covered
    # compare in the input frame (the zoomed point may be ambiguous where a cropping warp collapsed a tile): the float32
    # result's own rounding (6e-8) is stretched by the forward map, at most by its largest slope between grid nodes
    g64 = grid.double(); h, w = grid.shape[1:3]
    stretch = max(float((g64[:, :, 1:] - g64[:, :, :-1]).abs().max()) * (w - 1) / 2, float((g64[:, 1:] - g64[:, :-1]).abs().max()) * (h - 1) / 2)
    err = (forward64(grid, back) - x).abs().max()
    assert err < 2e-6 * max(1.0, stretch / 4), (float(err), stretch)


@SETTINGS
@given(sal=saliencies(), fwhm=st.floats(1.0, 40.0))
def test_cropping_warp_marks_exactly_the_uncovered_points_invalid(sal, fwhm):
    grid = saliency_to_grid(sal, fwhm, separable=True, anti_crop=False)
    xs, ys = torch.linspace(-1, 1, 37), torch.linspace(-1, 1, 29)
    _, valid = invert_grid_at(grid, xs, ys, separable=True)
    gx, gy = grid[:, 0, :, 0], grid[:, :, 0, 1]
    inside = ((xs[None, None] >= gx[:, :1, None] - 1e-5) & (xs[None, None] <= gx[:, -1:, None] + 1e-5)).squeeze(1)
    inside_y = ((ys[None, None] >= gy[:, :1, None] - 1e-5) & (ys[None, None] <= gy[:, -1:, None] + 1e-5)).squeeze(1)
    assert torch.equal(valid, inside_y[:, :, None] & inside[:, None, :])


@SETTINGS
@given(sal=saliencies(), fwhm=st.floats(1.0, 40.0), seed=st.integers(0, 1000))
def test_separable_box_round_trip(sal, fwhm, seed):
    grid = saliency_to_grid(sal[:1], fwhm, separable=True)
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(8, 2, generator=g, dtype=torch.float64) * torch.tensor([1500., 900.], dtype=torch.float64)
    boxes = torch.cat([xy, xy + torch.rand(8, 2, generator=g, dtype=torch.float64) * 300], 1)
    zb = warp_boxes(boxes, grid, (1200, 1920), (600, 960))
    back = unwarp_boxes(zb, grid, (1200, 1920), (600, 960))
    assert (back - boxes).abs().max() < 1e-3


@SETTINGS
@given(h=st.integers(2, 64), w=st.integers(2, 64), fwhm=st.floats(0.5, 50.0), separable=st.booleans(),
       anti_crop=st.booleans())
def test_uniform_saliency_gives_identity(h, w, fwhm, separable, anti_crop):
    grid = saliency_to_grid(torch.full((2, 1, h, w), 3.0), fwhm, separable=separable, anti_crop=anti_crop)
    assert (grid - uniform_grid((h, w), 2)).abs().max() < 1e-5


@st.composite
def concentrated(draw):
    "A saliency batch that is zero (or tiny) except in a few cells: one hot cell, a corner, or up to four cells, of huge or tiny magnitude."
    h, w = draw(st.integers(2, 40)), draw(st.integers(2, 40))
    B = draw(st.integers(1, 2))
    background = draw(st.sampled_from([0.0, 0.0, 1e-30, 1e-12]))
    sal = torch.full((B, 1, h, w), background)
    for b in range(B):
        kind = draw(st.sampled_from(['one', 'corner', 'few']))
        if kind == 'corner': cells = [(draw(st.sampled_from([0, h - 1])), draw(st.sampled_from([0, w - 1])))]
        else: cells = [(draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))) for _ in range(1 if kind == 'one' else draw(st.integers(2, 4)))]
        for i, j in cells: sal[b, 0, i, j] = 10.0 ** draw(st.floats(-44.0, 38.0)) * draw(st.floats(1.0, 3.0))
    return sal


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(sal=concentrated(), fwhm=st.floats(1.0, 40.0), separable=st.booleans(), anti_crop=st.booleans(),
       out_h=st.integers(2, 90), out_w=st.integers(2, 120))
def test_concentrated_saliency_gives_a_finite_monotone_invertible_grid(sal, fwhm, separable, anti_crop, out_h, out_w):
    "Underflow (a narrow kernel, windows without saliency) and overflow (1e38) never make NaN, a fold or a refused inverse."
    grid = saliency_to_grid(sal, fwhm, separable=separable, anti_crop=anti_crop)
    assert torch.isfinite(grid).all() and grid.abs().max() <= 1
    check_no_foldover(grid)
    if anti_crop:
        assert (grid[:, :, 0, 0] == -1).all() and (grid[:, :, -1, 0] == 1).all()
        assert (grid[:, 0, :, 1] == -1).all() and (grid[:, -1, :, 1] == 1).all()
    if separable or anti_crop:   # (a cropping nonseparable warp of one cell collapses onto a point: slow, nothing to invert)
        _, valid = invert_grid(grid, (out_h, out_w), separable=separable)
        if anti_crop: assert valid.all()


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(sal=concentrated(), fwhm=st.floats(1.0, 40.0), separable=st.booleans(), anti_crop=st.booleans(),
       exponent=st.floats(-30.0, 30.0))
def test_concentrated_saliency_grid_ignores_the_scale(sal, fwhm, separable, anti_crop, exponent):
    "Only relative saliency matters: scaling a concentrated saliency by 1e-30..1e30 (within float32) leaves the grid alone."
    scaled = sal * 10.0 ** exponent
    assume(bool(torch.isfinite(scaled).all() and ((scaled > 0) == (sal > 0)).all()))   # no value over- or underflowed
    a = saliency_to_grid(sal, fwhm, separable=separable, anti_crop=anti_crop)
    b = saliency_to_grid(scaled, fwhm, separable=separable, anti_crop=anti_crop)
    assert (a - b).abs().max() < 1e-5, float((a - b).abs().max())
