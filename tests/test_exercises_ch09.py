"""The chapter-9 exercise checkers accept the solutions below and reject wrong answers."""
import numpy as np

from codec_lib import exercises
from codec_lib.exercises import check


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def entropy_bits(values):
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def laplace_bits(x, mu, b):
    F = lambda t: np.where(t < mu, 0.5 * np.exp((t - mu) / b), 1 - 0.5 * np.exp(-(t - mu) / b))
    return float(-np.log2(F(x + 0.5) - F(x - 0.5)).sum())


# ---------------------------------------------------------------- tests
def test_registered():
    assert exercises.list_exercises("09") == ["09.1", "09.2"]


def test_solutions_pass(capsys):
    assert check("09.1", entropy_bits) and check("09.2", laplace_bits)
    assert capsys.readouterr().out.count("correct!") == 2


def test_wrong_answers_get_hints(capsys):
    assert not check("09.1", lambda v: entropy_bits(v) * np.log(2))
    assert "nats" in capsys.readouterr().out
    assert not check("09.2", lambda x, mu, b: float(-np.log2(0.5 / b * np.exp(-np.abs(x - mu) / b)).sum()))
    assert "density" in capsys.readouterr().out
