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


# the chapters' checkers register themselves on import
from . import ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08, ch09, ch10  # noqa: E402,F401
