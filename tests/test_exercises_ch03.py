"""The chapter-3 exercise checkers accept the solutions below and reject wrong answers."""

import math

import pytest
import torch

from codec_lib.exercises import check


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def noise_variance(delta):
    return delta ** 2 / 12


def ste(y):
    return y + (torch.round(y) - y).detach()


def soft_round_fn(x, alpha):
    m = torch.floor(x) + 0.5
    return m + torch.tanh(alpha * (x - m)) / (2 * math.tanh(alpha / 2))


def p_round(k, sigma):
    cdf = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))
    return cdf((k + 0.5) / sigma) - cdf((k - 0.5) / sigma)


# ---------------------------------------------------------------- tests
def test_solutions_accepted(capsys):
    assert check("03.1", noise_variance)
    assert check("03.2", ste)
    assert check("03.3", soft_round_fn)
    assert check("03.4", p_round)
    assert capsys.readouterr().out.count("correct!") == 4


def test_none_is_not_an_error(capsys):
    for i in ("03.1", "03.2", "03.3", "03.4"):
        assert not check(i, None)
    assert capsys.readouterr().out.count("waiting for your answer") == 4


def _ste_detached(y):                      # right value, no gradient path
    return torch.round(y.detach())


def _ste_half(y):                          # right value, gradient 1/2
    return 0.5 * y + (torch.round(y) - 0.5 * y).detach()


@pytest.mark.parametrize("exercise_id, wrong, hint", [
    ("03.1", lambda d: d / math.sqrt(12), "standard deviation"),
    ("03.1", lambda d: 1 / 12, "how does the error scale"),
    ("03.1", lambda d: d ** 2 / 4, "variance is off"),
    ("03.1", lambda d: "1/12", "should return a number"),
    ("03.1", 1 / 12, "should be a function"),
    ("03.2", torch.round, "zero everywhere"),
    ("03.2", _ste_detached, "carries no gradient"),
    ("03.2", lambda y: y, "exactly torch.round"),
    ("03.2", lambda y: y + (torch.floor(y) - y).detach(), "exactly torch.round"),
    ("03.2", _ste_half, "gradient is not one"),
    ("03.2", lambda y: torch.round(y)[:-1], "same shape"),
    ("03.3", lambda x, a: torch.round(x), "values are off"),
    ("03.3", lambda x, a: x, "values are off"),
    ("03.3", lambda x, a: torch.floor(x) + 0.5 + torch.tanh(a * (x - torch.floor(x) - 0.5)) / 2,
     "normalize tanh"),
    ("03.3", lambda x, a: torch.round(x) + torch.tanh(a * (x - torch.round(x))) / (2 * math.tanh(a / 2)),
     "midpoint"),
    ("03.4", lambda k, s: math.exp(-0.5 * (k / s) ** 2) / (s * math.sqrt(2 * math.pi)), "density of y"),
    ("03.4", lambda k, s: p_round(k, 1.0), "probability is off"),
    ("03.4", lambda k, s: 0.5 * (1 + math.erf((k + 0.5) / s / math.sqrt(2))), "probability is off"),
])
def test_wrong_answers_rejected(exercise_id, wrong, hint, capsys):
    assert not check(exercise_id, wrong)
    out = capsys.readouterr().out
    assert "not quite" in out and hint in out, out
