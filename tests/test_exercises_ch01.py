"""The chapter-1 exercise checkers accept the solutions below and reject wrong answers."""

import numpy as np
import pytest
import skimage.data

from codec_lib import classic, exercises
from codec_lib.exercises import check

# ---------------------------------------------------------------- solutions (kept out of the notebook)
ZIGZAG_4X4 = [0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15]


def coding_gain(blocks, t):
    var = np.var(blocks @ t.T, axis=0)
    return var.mean() / np.exp(np.mean(np.log(var)))


def quality_for_one_bpp():
    x = skimage.data.chelsea()
    lo, hi = 1, 100                                       # bpp grows with quality: bisect
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if 8 * len(classic.encode(x, mid)) / (x.shape[0] * x.shape[1]) <= 1.0:
            lo = mid
        else:
            hi = mid - 1
    return lo


def ycbcr_to_rgb(ycc):
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128, ycc[..., 2] - 128
    return np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1)


# ---------------------------------------------------------------- tests
def test_solutions_accepted(capsys):
    assert check("01.1", ZIGZAG_4X4)
    assert check("01.1", np.array(ZIGZAG_4X4).reshape(4, 4))
    assert check("01.2", coding_gain)
    assert check("01.3", quality_for_one_bpp())
    assert check("01.4", ycbcr_to_rgb)
    assert capsys.readouterr().out.count("correct!") == 5


@pytest.mark.parametrize("exercise_id, wrong", [
    ("01.1", list(range(16))),                                   # raster order
    ("01.1", [0, 4, 1, 2, 5, 8, 12, 9, 6, 3, 7, 10, 13, 14, 11, 15]),   # transposed zig-zag
    ("01.1", ZIGZAG_4X4[:-1]),
    ("01.2", lambda b, t: 10 * np.log10(coding_gain(b, t))),   # decibels, not a ratio
    ("01.2", lambda b, t: np.var(b @ t.T, axis=0).mean()),
    ("01.2", "7.5"),
    ("01.3", 1), ("01.3", 100), ("01.3", 0), ("01.3", 50.0),
    ("01.4", lambda ycc: ycc),
    ("01.4", lambda ycc: ycbcr_to_rgb(ycc + 128)),
])
def test_wrong_answers_rejected(exercise_id, wrong, capsys):
    assert check(exercise_id, wrong) is False
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"[{exercise_id}") and "not quite" in out and "\n" not in out


def test_hints_do_not_reveal_solution(capsys):
    check("01.1", list(range(16)))
    assert str(ZIGZAG_4X4)[1:-1] not in capsys.readouterr().out
    check("01.3", 1)
    assert str(quality_for_one_bpp()) not in capsys.readouterr().out.split("quality 1 ")[-1]


def test_placeholder_none_does_not_fail(capsys):
    for exercise_id in exercises.list_exercises("01"):
        assert check(exercise_id, None) is False
    assert capsys.readouterr().out.count("waiting for your answer") >= 4


def test_answer_that_raises_is_a_verdict_not_a_crash(capsys):
    assert check("01.4", lambda ycc: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_registry():
    assert {"01.1", "01.2", "01.3", "01.4"} <= set(exercises.list_exercises("01"))
    with pytest.raises(ValueError):
        check("99.9", 1)
    with pytest.raises(ValueError):
        exercises.exercise("01.1", "duplicate")(lambda a: (True, ""))

    @exercises.exercise("00.test", "registered by a later chapter")
    def _(answer):
        return answer == 42, "not 42"
    try:
        assert check("00.test", 42) and not check("00.test", 41)
    finally:
        exercises._REGISTRY.pop("00.test")
