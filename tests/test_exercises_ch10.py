"""The chapter-10 exercise checkers accept the solutions below and reject wrong answers."""
import numpy as np

from codec_lib import exercises
from codec_lib.exercises import check


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def mean_run_length(img):
    runs = 0
    for row in img:
        runs += 1 + sum(not np.array_equal(a, b) for a, b in zip(row[1:], row[:-1]))
    return img.shape[0] * img.shape[1] / runs


def costliest_share(bits, fraction):
    k = int(round(fraction * bits.size))
    return float(np.sort(bits, axis=None)[::-1][:k].sum() / bits.sum())


# ---------------------------------------------------------------- tests
def test_registered():
    assert exercises.list_exercises("10") == ["10.1", "10.2"]


def test_solutions_pass(capsys):
    assert check("10.1", mean_run_length) and check("10.2", costliest_share)
    assert capsys.readouterr().out.count("correct!") == 2


def test_wrong_answers_get_hints(capsys):
    per_channel = lambda img: img.size / (img.size - (img[:, 1:] == img[:, :-1]).sum())  # noqa: E731
    assert not check("10.1", per_channel)
    assert "all three channels" in capsys.readouterr().out
    one_row = lambda img: mean_run_length(img.reshape(1, -1, 3))   # noqa: E731
    assert not check("10.1", one_row)
    assert "each row" in capsys.readouterr().out
    assert not check("10.2", lambda b, f: 100 * costliest_share(b, f))
    assert "percentage" in capsys.readouterr().out
    assert not check("10.2", lambda b, f: costliest_share(-b, f) * (-1))
    assert "largest" in capsys.readouterr().out
    assert not check("10.2", "0.5") and not check("10.1", None)
