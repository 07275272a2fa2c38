"""Exercise checkers shared by every chapter of the book.

A chapter registers a checker with the `exercise` decorator; the reader calls
``check("01.2", answer)``. A checker receives the reader's answer and returns
``(ok, message)``; it computes the expected result itself from `codec_lib`, so
no solution is written in the notebooks, and its hints never reveal one.

    @exercise("07.1", "Rate of a factorized prior")
    def _(answer):
        ...
        return ok, "hint if not ok"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

Checker = Callable[[Any], "tuple[bool, str]"]


@dataclass(frozen=True)
class Exercise:
    exercise_id: str
    title: str
    checker: Checker


_REGISTRY: dict[str, Exercise] = {}


def exercise(exercise_id: str, title: str) -> Callable[[Checker], Checker]:
    """Decorator registering ``checker(answer) -> (ok, message)`` under ``exercise_id`` ("CC.N")."""
    def register(checker: Checker) -> Checker:
        if exercise_id in _REGISTRY:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        _REGISTRY[exercise_id] = Exercise(exercise_id, title, checker)
        return checker
    return register


def list_exercises(chapter: str | None = None) -> list[str]:
    """Registered exercise ids, optionally only those of one chapter ("01")."""
    return sorted(i for i in _REGISTRY if chapter is None or i.split(".")[0] == chapter)


def check(exercise_id: str, answer: Any) -> bool:
    """Check an answer, print a one-line verdict and return whether it is correct.

    An unfinished answer (``None``) is not an error: it prints a reminder and returns False.
    """
    if exercise_id not in _REGISTRY:
        raise ValueError(f"unknown exercise {exercise_id!r}; known: {', '.join(list_exercises())}")
    ex = _REGISTRY[exercise_id]
    if answer is None:
        print(f"[{exercise_id} {ex.title}] waiting for your answer: replace `None` and run the cell again.")
        return False
    try:
        ok, msg = ex.checker(answer)
    except Exception as err:                          # the reader's function may raise anything
        ok, msg = False, f"your answer raised {type(err).__name__}: {err}".splitlines()[0]
    print(f"[{exercise_id} {ex.title}] " + ("correct!" if ok else f"not quite: {msg}"))
    return ok


# ======================================================================= chapter 1
def _photo_gray(name: str) -> np.ndarray:
    """An embedded scikit-image photo as uint8 luma (JFIF Y), the same on every machine."""
    import skimage.data
    from . import classic
    x = getattr(skimage.data, name)()
    if x.ndim == 2:
        return x
    return np.clip(np.rint(classic.rgb_to_ycbcr(x)[..., 0]), 0, 255).astype(np.uint8)


@exercise("01.1", "Zig-zag order of a 4x4 block")
def _zigzag4(answer: Any) -> tuple[bool, str]:
    from . import classic
    got, want = np.asarray(answer).ravel(), classic.zigzag_order(4)
    if got.size != 16:
        return False, f"expected 16 flat indices (row-major, 0..15), got {got.size} values."
    if sorted(got.tolist()) != list(range(16)):
        return False, "every index 0..15 must appear exactly once (flat index = 4 * row + col)."
    bad = int(np.argmax(got != want)) if (got != want).any() else -1
    if bad >= 0:
        return False, f"the first {bad} positions are right; position {bad} is off (check the direction of that diagonal)."
    return True, ""


@exercise("01.2", "Coding gain of an orthonormal transform")
def _coding_gain(answer: Any) -> tuple[bool, str]:
    from . import classic
    if not callable(answer):
        return False, "answer should be a function coding_gain(blocks, T) -> float."
    blocks = classic.image_blocks(_photo_gray("camera"))           # (N, 64) real 8x8 blocks
    rng = np.random.default_rng(0)
    random_t = np.linalg.qr(rng.standard_normal((64, 64)))[0]
    for name, t in [("DCT", classic.dct_basis()), ("identity", np.eye(64)), ("a random rotation", random_t)]:
        got, want = float(answer(blocks, t)), classic.coding_gain(blocks, t)
        if abs(got - 10 * np.log10(want)) < 1e-6 * max(1.0, abs(want)) and abs(want - 1) > 1e-3:
            return False, f"for the {name} you returned decibels; return the plain ratio."
        if not np.isclose(got, want, rtol=1e-6):
            return False, (f"for the {name} the gain is off (arithmetic over geometric mean of the "
                           "variances of y = T x, one variance per coefficient across blocks).")
    return True, ""


@exercise("01.3", "Quality for a 1 bpp budget")
def _quality_for_rate(answer: Any) -> tuple[bool, str]:
    """Largest quality whose stream fits 1.0 bpp on chelsea (4:2:0), checked at q and q + 1."""
    import skimage.data
    from . import classic
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)) or not 1 <= answer <= 100:
        return False, "answer should be an integer quality in 1..100."
    x = skimage.data.chelsea()
    rate = lambda q: classic.bits_per_pixel(classic.encode(x, int(q)), x)
    if rate(answer) > 1.0:
        return False, f"at quality {answer} the stream takes {rate(answer):.3f} bpp, above the 1.0 bpp budget."
    if answer < 100 and rate(answer + 1) <= 1.0:
        return False, f"quality {answer} fits, but a higher quality still fits the budget."
    return True, ""


@exercise("01.4", "Inverse colour transform")
def _ycbcr_to_rgb(answer: Any) -> tuple[bool, str]:
    from . import classic
    if not callable(answer):
        return False, "answer should be a function ycbcr_to_rgb(ycc) -> (H, W, 3) float array."
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    got = np.asarray(answer(classic.rgb_to_ycbcr(x)), np.float64)
    if got.shape != x.shape:
        return False, f"expected shape {x.shape}, got {got.shape}."
    err = np.abs(got - x).max()
    if err > 1e-3:
        return False, f"max error after RGB -> YCbCr -> your inverse is {err:.3g}; check the matrix and the 128 offsets of Cb, Cr."
    return True, ""
