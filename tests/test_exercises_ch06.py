"""The chapter-6 exercise checkers accept the solutions below and reject wrong answers."""

import numpy as np
import torch
from scipy.interpolate import PchipInterpolator

from codec_lib import exercises
from codec_lib.exercises import check


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def set_psnr(pairs):
    return float(np.mean([10 * np.log10(255**2 / np.mean((a.astype(float) - b) ** 2))
                          for a, b in pairs]))


def bd(anchor, test):
    fits = []
    for pts in (anchor, test):
        pts = sorted(pts, key=lambda p: p["psnr"])
        q = np.array([p["psnr"] for p in pts])
        fits.append((q, PchipInterpolator(q, np.log([p["bpp"] for p in pts]))))
    lo, hi = max(f[0][0] for f in fits), min(f[0][-1] for f in fits)
    gap = (fits[1][1].integrate(lo, hi) - fits[0][1].integrate(lo, hi)) / (hi - lo)
    return 100 * (np.exp(gap) - 1)


def layer_macs(layer, H, W):
    k = layer.kernel_size[0] * layer.kernel_size[1]
    if isinstance(layer, torch.nn.ConvTranspose2d):
        return layer.in_channels * H * W * layer.out_channels * k
    with torch.no_grad():
        h, w = layer(torch.zeros(1, layer.in_channels, H, W)).shape[-2:]
    return layer.out_channels * h * w * layer.in_channels * k


# ---------------------------------------------------------------- tests
def test_registered():
    assert exercises.list_exercises("06") == ["06.1", "06.2", "06.3"]


def test_solutions_accepted(capsys):
    assert check("06.1", set_psnr)
    assert check("06.2", bd)
    assert check("06.3", layer_macs)
    assert capsys.readouterr().out.count("correct!") == 3


def test_wrong_answers_get_hints(capsys):
    def psnr_of_mean(pairs):
        mse = np.mean([np.mean((a.astype(float) - b) ** 2) for a, b in pairs])
        return 10 * np.log10(255**2 / mse)
    assert not check("06.1", psnr_of_mean)
    assert "mean MSE" in capsys.readouterr().out
    assert not check("06.2", lambda a, t: bd(t, a))
    assert "direction" in capsys.readouterr().out
    assert not check("06.2", lambda a, t: bd(a, t) / 100)
    assert "percent" in capsys.readouterr().out
    assert not check("06.3", lambda layer, H, W: layer.in_channels * layer.out_channels * H * W
                     * layer.kernel_size[0] ** 2)          # ignores stride and padding
    assert "not" in capsys.readouterr().out
    assert not check("06.1", None)
    assert "waiting" in capsys.readouterr().out
