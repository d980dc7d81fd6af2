"""LPIPS from local weights only: unavailable without the AlexNet checkpoint, exact with one (random, test-only)."""
import math

import pytest
import torch
import torchvision

from lzu.sr.metrics import aligned_metrics, alexnet_checkpoint, lpips_available, lpips_distance


@pytest.fixture
def image():
    return torch.rand(3, 40, 48, generator=torch.Generator().manual_seed(0))


def test_lpips_unavailable(tmp_path, monkeypatch, image):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ok, reason = lpips_available()
    assert not ok and "alexnet-owt-7be5be79.pth" in reason
    with pytest.raises(RuntimeError, match="not present"):
        lpips_distance(image, image)
    r = aligned_metrics(image, image, max_shift=2)
    assert math.isnan(r["lpips"]) and "not present" in r["note"] and r["psnr"] == math.inf


def test_lpips_available_with_local_weights(tmp_path, monkeypatch, image):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ck = alexnet_checkpoint()
    ck.parent.mkdir(parents=True)
    torch.manual_seed(0)
    sd = {k: v for k, v in torchvision.models.alexnet(weights=None).state_dict().items() if k.startswith("features.")}
    torch.save(sd, ck)
    assert lpips_available()[0]
    assert lpips_distance(image, image) == 0.0
    assert lpips_distance(image, image.flip(-1)) > 0
    r = aligned_metrics(image, image, max_shift=2)
    assert r["lpips"] == 0.0 and r["note"] is None and r["shift"] == (0, 0)
