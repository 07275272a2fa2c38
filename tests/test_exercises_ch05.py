"""The chapter-5 exercise checkers accept the solutions below and reject wrong answers."""

import numpy as np
import pytest

from codec_lib import exercises
from codec_lib.exercises import check


# ---------------------------------------------------------------- solutions (kept out of the notebook)
def code_length(symbols, pmf):
    return float(-np.log2(np.asarray(pmf)[np.asarray(symbols)]).sum())


def quantize_pmf(pmf, precision):
    """Floor of one per symbol, the rest shared by largest remainders."""
    p = np.asarray(pmf, np.float64) / np.sum(pmf)
    budget = (1 << precision) - len(p)
    share = p * budget
    freq = 1 + np.floor(share).astype(np.int64)
    left = (1 << precision) - freq.sum()
    freq[np.argsort(-(share - np.floor(share)), kind="stable")[:left]] += 1
    return freq


def quantize_pmf_naive(pmf, precision):
    """Round, lift zeros to one, and repair the total on the most probable symbol: also valid."""
    p = np.asarray(pmf, np.float64) / np.sum(pmf)
    freq = np.maximum(1, np.round(p * (1 << precision))).astype(np.int64)
    freq[np.argmax(freq)] += (1 << precision) - freq.sum()
    return freq


def rans_decode(data, cdf, count):
    words = np.frombuffer(data, dtype="<u4").tolist()
    x, pos, out = words[0] | words[1] << 32, 2, []
    for _ in range(count):
        slot = x & 0xFFFF
        s = int(np.searchsorted(cdf, slot, side="right")) - 1
        x = (cdf[s + 1] - cdf[s]) * (x >> 16) + slot - cdf[s]
        if x < 1 << 31:
            x, pos = x << 32 | words[pos], pos + 1
        out.append(s)
    return out


def header_bytes(model_name):
    fixed = 4 + 1 + 1 + 1 + 8 + 4 + 4 + 1 + 1 + 1     # magic .. group count
    per_string = 1 + 4                                 # string count of its group, its length
    return fixed + len(model_name.encode()) + 2 * per_string + 4   # + CRC-32


# ---------------------------------------------------------------- tests
def test_solutions_accepted(capsys):
    assert check("05.1", code_length)
    assert check("05.2", quantize_pmf)
    assert check("05.2", quantize_pmf_naive)
    assert check("05.3", rans_decode)
    assert check("05.4", header_bytes)
    assert capsys.readouterr().out.count("correct!") == 5


def _uniform_freq(pmf, precision):
    n = len(pmf)
    f = np.full(n, (1 << precision) // n)
    f[0] += (1 << precision) - f.sum()
    return f


@pytest.mark.parametrize("exercise_id, wrong", [
    ("05.1", lambda s, p: float(-np.log(np.asarray(p)[s]).sum())),              # nats
    ("05.1", lambda s, p: float(-np.log2(np.asarray(p)[s]).mean())),            # per symbol
    ("05.1", lambda s, p: len(s) * float(-(p[p > 0] * np.log2(p[p > 0])).sum())),   # N * H(p)
    ("05.1", lambda s, p: float(np.log2(np.asarray(p)[s]).sum())),              # sign
    ("05.1", 12.5),
    ("05.2", lambda p, k: np.floor(np.asarray(p) * (1 << k))),                  # zeros, wrong total
    ("05.2", lambda p, k: quantize_pmf(p, k)[:-1]),
    ("05.2", lambda p, k: quantize_pmf(p, k) + 0.5),
    ("05.2", lambda p, k: quantize_pmf(p, k - 1)),                              # wrong total
    ("05.2", _uniform_freq),                                                    # valid, ignores pmf
    ("05.2", lambda p, k: quantize_pmf(np.asarray(p)[::-1], k)),                # valid, wrong order
    ("05.3", lambda d, c, n: rans_decode(d, c, n)[::-1]),                       # reversed
    ("05.3", lambda d, c, n: rans_decode(d, c, n)[:-1]),
    ("05.3", lambda d, c, n: [0] * n),
    ("05.3", "0 1 2"),
    ("05.4", lambda name: header_bytes(name) - 4),                              # no checksum
    ("05.4", lambda name: header_bytes(name) - len(name.encode()) + len(name)),   # characters
    ("05.4", lambda name: header_bytes(name) - 10),                             # no string lengths
    ("05.4", lambda name: float(header_bytes(name))),
    ("05.4", 40),
])
def test_wrong_answers_rejected(exercise_id, wrong, capsys):
    assert check(exercise_id, wrong) is False
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"[{exercise_id}") and "not quite" in out and "\n" not in out


def test_hints_are_specific(capsys):
    check("05.1", lambda s, p: float(-np.log(np.asarray(p)[s]).sum()))
    assert "nats" in capsys.readouterr().out
    check("05.2", lambda p, k: np.floor(np.asarray(p) * (1 << k)))
    assert "at least 1" in capsys.readouterr().out
    check("05.3", lambda d, c, n: rans_decode(d, c, n)[::-1])
    assert "reversed" in capsys.readouterr().out
    check("05.4", lambda name: header_bytes(name) - len(name.encode()) + len(name))
    assert "UTF-8" in capsys.readouterr().out


def test_hints_do_not_reveal_solution(capsys):
    check("05.4", lambda name: 0)
    out = capsys.readouterr().out
    assert str(header_bytes("mean-scale")) not in out and str(header_bytes("x")) not in out


def test_placeholder_none_does_not_fail(capsys):
    ids = exercises.list_exercises("05")
    assert ids == ["05.1", "05.2", "05.3", "05.4"]
    for exercise_id in ids:
        assert check(exercise_id, None) is False
    assert capsys.readouterr().out.count("waiting for your answer") == 4


def test_answer_that_raises_is_a_verdict_not_a_crash(capsys):
    assert check("05.3", lambda d, c, n: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
