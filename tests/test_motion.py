"""Backward warping and synthetic clips with exact flow."""
import numpy as np
import pytest
import torch

from codec_lib.motion import synthetic_clip, warp


def test_warp_by_constant_and_zero_flow():
    img = torch.rand(2, 3, 16, 20)
    assert torch.allclose(warp(img, torch.zeros(2, 2, 16, 20)), img, atol=1e-6)
    f = torch.zeros(2, 2, 16, 20)
    f[:, 0], f[:, 1] = 2, -1                       # read 2 px to the right and 1 px up
    assert torch.allclose(warp(img, f)[..., 1:, :18], img[..., :-1, 2:], atol=1e-5)
    f[:, 0], f[:, 1] = 0.5, 0
    half = warp(img, f)[..., :, :19]
    assert torch.allclose(half, (img[..., :, :19] + img[..., :, 1:]) / 2, atol=1e-5)


def test_synthetic_clip_flow_predicts_the_next_frame(photos):
    photo = np.asarray(photos[0][1])
    x, flow = synthetic_clip(photo, 4, (96, 128), seed=1)
    assert x.shape == (4, 3, 96, 128) and flow.shape == (3, 2, 96, 128)
    assert 0 <= x.min() and x.max() <= 1
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    for t in range(1, 4):
        warped = (warp(x[t - 1: t], flow[t - 1: t]) - x[t: t + 1])[inner].abs().mean()
        still = (x[t - 1: t] - x[t: t + 1])[inner].abs().mean()
        assert warped < still / 4                   # the flow is the real motion
    again, _ = synthetic_clip(photo, 4, (96, 128), seed=1)
    assert torch.equal(x, again)                    # seeded
    with pytest.raises(ValueError, match="too small"):
        synthetic_clip(photo[:100, :100], 4, (96, 128))
