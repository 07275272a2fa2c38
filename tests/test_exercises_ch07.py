"""The chapter-7 exercise checkers accept the solutions below and reject wrong answers."""
import numpy as np
import torch.nn.functional as F

from codec_lib import exercises
from codec_lib.exercises import check


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def w1(a, b):
    return float(np.abs(np.sort(a) - np.sort(b)).mean())


def d_loss(real, fake):
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def front(points):
    return [p["name"] for p in points
            if not any(q is not p and q["psnr"] >= p["psnr"] and q["swd"] <= p["swd"] for q in points)]


# ---------------------------------------------------------------- tests
def test_registered():
    assert exercises.list_exercises("07") == ["07.1", "07.2", "07.3"]


def test_solutions_pass(capsys):
    assert check("07.1", w1) and check("07.2", d_loss) and check("07.3", front)
    assert capsys.readouterr().out.count("correct!") == 3


def test_wrong_answers_get_hints(capsys):
    assert not check("07.1", lambda a, b: float(np.abs(a - b).mean()))
    assert "rank" in capsys.readouterr().out
    assert not check("07.2", lambda r, f: F.softplus(r).mean() + F.softplus(-f).mean())
    assert "swapped" in capsys.readouterr().out
    assert not check("07.3", lambda pts: [p["name"] for p in pts])
    assert "front" in capsys.readouterr().out
    assert not check("07.1", None)
    assert "waiting" in capsys.readouterr().out
