"""Checkers for the exercises of chapter 8."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import exercise


def _sad_search(cur, ref, top, left, block, radius):
    blk = cur[top: top + block, left: left + block]
    best, arg = np.inf, (0, 0)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            sad = np.abs(blk - ref[top + dy: top + dy + block, left + dx: left + dx + block]).sum()
            if sad < best:
                best, arg = sad, (dy, dx)
    return arg


@exercise("08.1", "Motion vectors by hand")
def _best_vector(answer: Any) -> tuple[bool, str]:
    from ..motion import synthetic_clip
    if not callable(answer):
        return False, "answer should be a function best_vector(cur, ref, top, left, block, radius) -> (dy, dx)."
    rng = np.random.default_rng(81)
    photo = (rng.random((200, 200, 3)) * 255).astype(np.uint8)
    x, _ = synthetic_clip(photo, 2, (64, 64), seed=8, max_shift=3)
    ref, cur = (x[i].mean(0).numpy() * 255 for i in (0, 1))
    for top, left, block, radius in ((16, 16, 8, 4), (24, 8, 16, 3), (30, 40, 4, 2)):
        want = _sad_search(cur, ref, top, left, block, radius)
        try:
            got = tuple(int(v) for v in answer(cur.copy(), ref.copy(), top, left, block, radius))
        except (TypeError, ValueError):
            return False, "best_vector should return two integers (dy, dx)."
        if got != want:
            if got == (want[1], want[0]):
                return False, "the order is (dy, dx): rows first."
            if got == (-want[0], -want[1]):
                return False, "the sign is flipped: the vector points from the block to where it sits in ref."
            return False, "compare the block with every displaced block of ref and keep the smallest SAD."
    return True, ""


@exercise("08.2", "Bits per frame")
def _frame_bits(answer: Any) -> tuple[bool, str]:
    from ..video_format import Chunk, VideoHeader, pack_video, unpack_video
    if not callable(answer):
        return False, "answer should be a function frame_bits(data) -> list of ints."
    rng = np.random.default_rng(82)
    chunks = [Chunk("I", [[rng.bytes(13)], [rng.bytes(4)]])] + [
        Chunk("P", [[rng.bytes(int(n))] for n in rng.integers(1, 9, 4)]) for _ in range(3)]
    data = pack_video(VideoHeader("m", 1, b"\0" * 8, 64, 48, 4, (50, 1)), chunks)
    want = [8 * sum(len(s) for g in c.groups for s in g) for c in unpack_video(data)[1]]
    try:
        got = [int(v) for v in answer(data)]
    except (TypeError, ValueError):
        return False, "frame_bits should return a list with one number per frame."
    if got == want:
        return True, ""
    if got == [w // 8 for w in want]:
        return False, "those are bytes; the question asks for bits."
    if len(got) != len(want):
        return False, f"there are {len(want)} frames in this file."
    return False, "add up the lengths of every string of every group in each chunk."
