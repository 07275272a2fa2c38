"""Perception measures: sliced Wasserstein distances between patch sets, the texture statistic."""
import numpy as np
import pytest
from PIL import ImageFilter

from codec_lib import perception


def test_sliced_wasserstein_known_values():
    a = np.random.default_rng(0).normal(size=(4000, 3))
    assert perception.sliced_wasserstein(a, a) == 0.0
    # a shift by t along one axis: W1 on direction u is t|u_x|, and E|u_x| = 1/2 in 3-D
    assert perception.sliced_wasserstein(a, a + [2.0, 0, 0], projections=800) == pytest.approx(1.0, abs=0.03)
    b = a[:1000] + [2.0, 0, 0]                                  # unequal sizes: quantiles
    assert perception.sliced_wasserstein(a, b, projections=800) == pytest.approx(1.0, abs=0.08)
    with pytest.raises(ValueError, match="equal dimension"):
        perception.sliced_wasserstein(a, a[:, :2])


def test_patch_distance_and_texture_ratio_rank_degradations(photos):
    imgs = [im for _, im in photos[:2]]
    blur = [im.filter(ImageFilter.GaussianBlur(1.5)) for im in imgs]
    mirror = [im.transpose(0) for im in imgs]                   # same statistics, other pixels
    rng = np.random.default_rng(1)
    noisy = [np.clip(np.asarray(im) + rng.normal(0, 6, np.asarray(im).shape), 0, 255).astype(np.uint8)
             for im in imgs]
    swd = {k: perception.patch_swd(imgs, v)["mean"]
           for k, v in (("same", imgs), ("mirror", mirror), ("blur", blur))}
    assert swd["same"] == 0.0
    assert 0 < swd["mirror"] < swd["blur"] / 3                 # distribution, not pixels
    assert perception.high_frequency_ratio(imgs, imgs) == pytest.approx(1.0)
    assert perception.high_frequency_ratio(imgs, mirror) == pytest.approx(1.0, rel=1e-6)
    assert perception.high_frequency_ratio(imgs, blur) < 0.05
    assert perception.high_frequency_ratio(imgs, noisy) > 1.1
    with pytest.raises(ValueError, match="same, non-zero number"):
        perception.patch_swd(imgs, imgs[:1])
