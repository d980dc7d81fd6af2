"""Contextual losses (lzu.sr.contextual) beyond the notebook: larger blocked-vs-dense checks, sampling in both
modes, CoBi = CX at w_s = 0, and unique matches of a translated map."""
import math

import pytest
import torch

from lzu.sr.contextual import (OFFICIAL_MAX_POSITIONS, cobi_rgb_loss, contextual_loss, rgb_patches, sample_positions,
                            unique_match_ratio)


def _val_grad(p, t, **kw):
    p = p.clone().requires_grad_(True)
    v = contextual_loss(p, t, **kw)
    v.backward()
    return v.detach(), p.grad


@pytest.mark.parametrize("kw", [dict(), dict(distance="l2", w_spatial=0.3), dict(spatial="official", w_spatial=0.1),
                                dict(spatial="official", distance="l2")])
@pytest.mark.parametrize("block", [1, 7, 64])
def test_blocked_equals_dense(kw, block):
    g = torch.Generator().manual_seed(0)
    p, t = torch.randn(2, 16, 12, 11, generator=g), torch.randn(2, 16, 12, 11, generator=g)
    vd, gd = _val_grad(p, t, block_size=None, **kw)
    vb, gb = _val_grad(p, t, block_size=block, **kw)
    assert torch.allclose(vb, vd, atol=1e-5) and torch.allclose(gb, gd, atol=1e-5, rtol=1e-4)


def test_target_gradients_blocked():
    g = torch.Generator().manual_seed(1)
    p, t = torch.randn(1, 4, 5, 5, generator=g, dtype=torch.float64), torch.randn(1, 4, 5, 5, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: contextual_loss(a, b, block_size=3, w_spatial=0.2),
                                    (p.requires_grad_(), t.requires_grad_()))


def test_official_samples_by_default_paper_does_not():
    g = torch.Generator().manual_seed(2)
    p, t = torch.randn(1, 8, 64, 64, generator=g), torch.randn(1, 8, 64, 64, generator=g)  # 4096 > 3969 positions
    a = contextual_loss(p, t, spatial="official", generator=torch.Generator().manual_seed(0))
    b = contextual_loss(p, t, spatial="official", generator=torch.Generator().manual_seed(1))
    c = contextual_loss(p, t, spatial="official", max_positions=math.inf)
    assert a != b and a != c
    d1 = contextual_loss(p, t, generator=torch.Generator().manual_seed(0))
    d2 = contextual_loss(p, t, generator=torch.Generator().manual_seed(1))
    assert d1 == d2  # paper mode: no sampling
    assert len(sample_positions(4096, OFFICIAL_MAX_POSITIONS)) == 3969


@pytest.mark.parametrize("spatial", ["paper", "official"])
def test_cobi_w0_is_cx(spatial):
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(1, 3, 16, 16, generator=g), torch.rand(1, 3, 16, 16, generator=g)
    scale = 255.0 if spatial == "official" else (3 * 25) ** -0.5
    cx = contextual_loss(rgb_patches(a, 5, scale), rgb_patches(b, 5, scale), distance="l2", spatial=spatial)
    assert torch.allclose(cobi_rgb_loss(a, b, patch_size=5, w_spatial=0, spatial=spatial), cx)


def test_unique_matches_translation():
    "A translated map keeps a bijection for CX; a strong spatial weight matches in place and loses it."
    g = torch.Generator().manual_seed(4)
    f = torch.randn(1, 32, 10, 10, generator=g)
    shifted = f.roll(3, -1)
    assert unique_match_ratio(shifted, f) == 1.0
    assert unique_match_ratio(shifted, f, w_spatial=100.0) == 1.0  # in-place matching is also one-to-one
    col = f[..., :1].expand_as(f).contiguous()  # every column the same: 10 distinct features
    assert unique_match_ratio(col, f, count="matched") <= 0.1 + 1e-12
