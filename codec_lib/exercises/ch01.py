"""Checkers for the exercises of chapter 1."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import exercise


def _photo_gray(name: str) -> np.ndarray:
    """An embedded scikit-image photo as uint8 luma (JFIF Y), the same on every machine."""
    import skimage.data
    from .. import classic
    x = getattr(skimage.data, name)()
    if x.ndim == 2:
        return x
    return np.clip(np.rint(classic.rgb_to_ycbcr(x)[..., 0]), 0, 255).astype(np.uint8)


@exercise("01.1", "Zig-zag order of a 4x4 block")
def _zigzag4(answer: Any) -> tuple[bool, str]:
    from .. import classic
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
    from .. import classic
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
    from .. import classic
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
    from .. import classic
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
