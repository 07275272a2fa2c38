"""The chapter-2 exercise checkers accept the solutions below and reject wrong answers."""

import math

import torch
import torch.nn.functional as F

from codec_lib import exercises
from codec_lib.exercises import check


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def my_gdn(u, beta, gamma):
    C = u.shape[1]
    return u / torch.sqrt(F.conv2d(u * u, gamma.reshape(C, C, 1, 1), beta))


def my_loss(likelihoods, x, x_hat, lmbda):
    B, _, H, W = x.shape
    bits = sum(-torch.log2(v).sum() for v in likelihoods.values())
    return float(bits / (B * H * W) + lmbda * 255**2 * torch.mean((x - x_hat) ** 2))


def latent_shape(H, W, M):
    return M, math.ceil(H / 16), math.ceil(W / 16)


def slope_lambda(p1, p2):
    return -(p2[0] - p1[0]) / (255**2 * (p2[1] - p1[1]))


# ---------------------------------------------------------------- tests
def test_registered():
    assert exercises.list_exercises("02") == ["02.1", "02.2", "02.3", "02.4"]


def test_solutions_accepted(capsys):
    assert check("02.1", my_gdn)
    assert check("02.2", my_loss)
    assert check("02.3", latent_shape)
    assert check("02.4", slope_lambda)
    assert capsys.readouterr().out.count("correct!") == 4


def test_wrong_answers_get_hints(capsys):
    assert not check("02.1", lambda u, b, g: u / torch.sqrt(F.conv2d(u * u, g.t().reshape(*g.shape, 1, 1), b)))
    assert "transposed" in capsys.readouterr().out
    assert not check("02.2", lambda lik, x, xh, l: float(
        sum(-torch.log2(v).sum() for v in lik.values()) / x[:, 0].numel() + l * torch.mean((x - xh) ** 2)))
    assert "8-bit" in capsys.readouterr().out
    assert not check("02.3", lambda H, W, M: (M, H // 16, W // 16))
    assert "round up" in capsys.readouterr().out
    assert not check("02.4", lambda p1, p2: -slope_lambda(p1, p2))
    assert "sign" in capsys.readouterr().out
    assert not check("02.1", None)
    assert "waiting" in capsys.readouterr().out
