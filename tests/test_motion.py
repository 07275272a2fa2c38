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


def test_block_match_finds_a_known_shift_and_flow_colours(photos):
    from codec_lib.motion import block_match, flow_to_rgb
    luma = np.asarray(photos[0][1].convert("L"), np.float64)[:100, :150]
    cur = luma[10:74, 20:120]                       # (64, 100): shifted 3 down, 2 right of ref
    ref = luma[7:71, 18:118]
    flow = block_match(cur, ref, block=16, radius=4)
    assert flow.shape == (2, 64, 100)
    inner = flow[:, 16:48, 16:80]                   # away from the replicated borders
    assert (inner[0] == 2).all() and (inner[1] == 3).all()
    pred = warp(torch.from_numpy(ref)[None, None], torch.from_numpy(flow)[None])[0, 0].numpy()
    assert np.allclose(pred[16:48, 16:80], cur[16:48, 16:80])
    rgb = flow_to_rgb(flow)
    assert rgb.shape == (64, 100, 3) and rgb.dtype == np.uint8
    assert (flow_to_rgb(np.zeros((2, 4, 4))) == 255).all()          # no motion: white


def test_eval_clip_falls_back_to_the_embedded_photo(monkeypatch):
    from codec_lib.video_io import eval_clip
    monkeypatch.delenv("CODEC_LIB_DATA", raising=False)
    name, frames = eval_clip(4)
    assert "embedded" in name and frames.shape == (4, 240, 320, 3) and frames.dtype == np.uint8
    assert np.abs(frames[1].astype(int) - frames[0]).mean() > 1      # the camera moves
