"""The chapter-8 exercise checkers accept the solutions below and reject wrong answers."""
import numpy as np

from codec_lib import exercises
from codec_lib.exercises import check
from codec_lib.video_format import unpack_video


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def best_vector(cur, ref, top, left, block, radius):
    blk = cur[top: top + block, left: left + block]
    cands = [(np.abs(blk - ref[top + dy: top + dy + block, left + dx: left + dx + block]).sum(), i, (dy, dx))
             for i, (dy, dx) in enumerate((dy, dx) for dy in range(-radius, radius + 1)
                                          for dx in range(-radius, radius + 1))]
    return min(cands)[2]


def frame_bits(data):
    return [8 * sum(len(s) for g in c.groups for s in g) for c in unpack_video(data)[1]]


# ---------------------------------------------------------------- tests
def test_registered():
    assert exercises.list_exercises("08") == ["08.1", "08.2"]


def test_solutions_pass(capsys):
    assert check("08.1", best_vector) and check("08.2", frame_bits)
    assert capsys.readouterr().out.count("correct!") == 2


def test_wrong_answers_get_hints(capsys):
    assert not check("08.1", lambda cur, ref, t, l, b, r: best_vector(cur, ref, t, l, b, r)[::-1])
    assert "rows first" in capsys.readouterr().out
    assert not check("08.1", lambda *args: (0, 0))
    assert not check("08.2", lambda data: [b // 8 for b in frame_bits(data)])
    assert "bytes" in capsys.readouterr().out
    assert not check("08.2", None)
