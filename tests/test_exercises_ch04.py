"""The chapter-4 exercise checkers accept the solutions below and reject wrong answers."""

import math

import numpy as np
import pytest
import torch

from codec_lib import exercises
from codec_lib.exercises import check


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def entropy_bits(pmf):
    p = np.asarray(pmf, np.float64)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _phi(t):
    return 0.5 * (1 + math.erf(t / math.sqrt(2)))


def p_bin(k, mu, sigma):
    return _phi((k - mu + 0.5) / sigma) - _phi((k - mu - 0.5) / sigma)


def bits_of(y_hat, scales, means):
    normal = torch.distributions.Normal(means, scales)
    lik = normal.cdf(y_hat + 0.5) - normal.cdf(y_hat - 0.5)
    return float(-torch.log2(lik).sum())


# ---------------------------------------------------------------- tests
def test_registered():
    assert exercises.list_exercises("04") == ["04.1", "04.2", "04.3"]


def test_solutions_accepted(capsys):
    assert check("04.1", entropy_bits)
    assert check("04.2", p_bin)
    assert check("04.3", bits_of)
    assert capsys.readouterr().out.count("correct!") == 3


@pytest.mark.parametrize("exercise_id", ["04.1", "04.2", "04.3"])
def test_none_is_not_an_error(exercise_id, capsys):
    assert check(exercise_id, None) is False
    assert "waiting for your answer" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", ["04.1", "04.2", "04.3"])
def test_not_callable_rejected(exercise_id):
    assert check(exercise_id, 3.0) is False


@pytest.mark.parametrize("wrong, hint", [
    (lambda p: float(-(np.asarray(p)[np.asarray(p) > 0] * np.log(np.asarray(p)[np.asarray(p) > 0])).sum()), "nats"),
    (lambda p: float(-(np.asarray(p) * np.log2(np.asarray(p))).sum()), "0 log 0"),
    (lambda p: -entropy_bits(p), "sign"),
    (lambda p: float(np.log2(len(p))), "off"),
])
def test_entropy_wrong(wrong, hint, capsys):
    with np.errstate(divide="ignore", invalid="ignore"):
        assert not check("04.1", wrong)
    assert hint in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda k, mu, s: math.exp(-0.5 * ((k - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi)), "density"),
    (lambda k, mu, s: p_bin(k, 0.0, s), "mean is missing"),
    (lambda k, mu, s: p_bin(k, mu, s * s), "off"),
    (lambda k, mu, s: _phi((k - mu + 1) / s) - _phi((k - mu - 1) / s), "off"),
])
def test_p_bin_wrong(wrong, hint, capsys):
    assert not check("04.2", wrong)
    assert hint in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda y, s, m: bits_of(y, s, m) / y.numel(), "mean per element"),
    (lambda y, s, m: bits_of(y, s, m) * math.log(2), "nats"),
    (lambda y, s, m: bits_of(y, s, torch.zeros_like(m)), "off"),
    (lambda y, s, m: bits_of(y, s * s, m), "off"),
])
def test_bits_wrong(wrong, hint, capsys):
    assert not check("04.3", wrong)
    assert hint in capsys.readouterr().out


def test_raising_answer_is_caught(capsys):
    def broken(*args):
        raise RuntimeError("boom")
    assert not check("04.2", broken)
    assert "raised RuntimeError" in capsys.readouterr().out
