"""PSNR, MS-SSIM and bpp against definitions and an independent implementation."""
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from codec_lib.metrics import _gaussian_window, _ssim_terms, bpp, ms_ssim, psnr


def test_psnr_definition(photos):
    a = np.asarray(photos[0][1]).astype(np.float64)
    b = np.clip(a + 5, 0, 255)
    mse = np.mean((a - b) ** 2)
    assert math.isclose(psnr(a, b), 10 * math.log10(255**2 / mse))
    assert psnr(a, a) == float("inf")
    with pytest.raises(ValueError):
        psnr(a, a[:10])


def test_single_scale_ssim_matches_scikit_image(photos):
    a = np.asarray(photos[2][1].convert("L")).astype(np.float64)
    rng = np.random.default_rng(0)
    b = np.clip(a + rng.normal(0, 10, a.shape), 0, 255)
    ours, _ = _ssim_terms(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None],
                          _gaussian_window(), 255.0)
    ref = structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, full=True)[1][5:-5, 5:-5].mean()
    assert math.isclose(float(ours), ref, rel_tol=1e-6)


def test_ms_ssim_behaviour(photos):
    a = np.asarray(photos[0][1])
    assert math.isclose(ms_ssim(a, a), 1.0, rel_tol=1e-9)
    rng = np.random.default_rng(0)
    scores = [ms_ssim(a, np.clip(a + rng.normal(0, s, a.shape), 0, 255)) for s in (2, 8, 32)]
    assert 1 > scores[0] > scores[1] > scores[2] > 0
    small = a[:40, :40]
    assert 0 < ms_ssim(small, np.clip(small + 3.0, 0, 255)) <= 1   # fewer scales for small images


def test_bpp():
    assert bpp(1000, 100, 80) == 1.0
