"""Checkers for the exercises of chapter 10."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import exercise


def _runs(img: np.ndarray) -> float:
    """Mean length of the maximal horizontal runs of identical pixels of ``img (H, W, 3)``."""
    same = (img[:, 1:] == img[:, :-1]).all(-1)                   # (H, W - 1)
    runs = img.shape[0] * img.shape[1] - int(same.sum())         # each difference starts a run
    return img.shape[0] * img.shape[1] / runs


@exercise("10.1", "Runs of identical pixels")
def _mean_run_length(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function mean_run_length(img) -> pixels."
    rng = np.random.default_rng(101)
    flat = np.zeros((3, 7, 3), np.uint8)
    palette = rng.integers(0, 256, (3, 3), dtype=np.uint8)
    blocks = palette[rng.integers(0, 3, (5, 12))].repeat(2, axis=1)    # (5, 24, 3), runs >= 2
    only_red = np.zeros((2, 6, 3), np.uint8)
    only_red[:, ::2, 0] = 9                     # alternating in one channel only: runs of 1
    cases = [flat, blocks, only_red, rng.integers(0, 256, (4, 9, 3), dtype=np.uint8)]
    for img in cases:
        want = _runs(img)
        try:
            got = float(answer(img.copy()))
        except (TypeError, ValueError):
            return False, "mean_run_length should return a number."
        if abs(got - want) <= 1e-9:
            continue
        per_value = img.size / (img.size - int((img[:, 1:] == img[:, :-1]).sum()))
        if abs(got - per_value) <= 1e-9:
            return False, "two pixels are identical only when all three channels are equal."
        if abs(got - _runs(img.reshape(1, -1, 3))) <= 1e-9:
            return False, "a run ends at the end of each row: count every row's runs separately."
        if img is flat:
            return False, "an image of one colour has one run per row, as long as the row."
        return False, "count the runs (a new one starts wherever a pixel differs from its left neighbour) and divide the pixels by them."
    return True, ""


@exercise("10.2", "The costliest positions")
def _costliest_share(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function costliest_share(bits, fraction) -> share."
    rng = np.random.default_rng(102)
    cases = [(rng.exponential(2.0, (8, 12)), 0.2), (rng.exponential(1.0, (5, 7)), 0.5),
             (np.array([[3.0, 1.0], [1.0, 3.0]]), 0.5), (rng.uniform(0, 1, (4, 4)), 1.0),
             (rng.uniform(0, 1, (6, 6)), 0.0)]
    for bits, fraction in cases:
        k = int(round(fraction * bits.size))
        want = float(np.sort(bits.ravel())[::-1][:k].sum() / bits.sum())
        try:
            got = float(answer(bits.copy(), fraction))
        except (TypeError, ValueError):
            return False, "costliest_share should return a number between 0 and 1."
        if abs(got - want) <= 1e-9:
            continue
        if abs(got - 100 * want) <= 1e-7:
            return False, "return a share between 0 and 1, not a percentage."
        if abs(got - float(np.sort(bits.ravel())[:k].sum() / bits.sum())) <= 1e-9:
            return False, "take the largest values, not the smallest."
        return False, (f"for {bits.size} values and fraction {fraction}: sum the "
                       f"round(fraction * size) largest values and divide by the total.")
    return True, ""
