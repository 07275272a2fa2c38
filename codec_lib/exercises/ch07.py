"""Checkers for the exercises of chapter 7."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import exercise


@exercise("07.1", "Wasserstein-1 distance in one dimension")
def _w1(answer: Any) -> tuple[bool, str]:
    from scipy.stats import wasserstein_distance
    if not callable(answer):
        return False, "answer should be a function w1(a, b) -> float for two 1-D arrays of equal length."
    rng = np.random.default_rng(71)
    cases = [(rng.normal(0, 1, 50), rng.normal(0.5, 2, 50)), (rng.uniform(0, 1, 7), rng.uniform(0, 3, 7)),
             (np.arange(5.0), np.arange(5.0)[::-1])]
    for a, b in cases:
        want = wasserstein_distance(a, b)
        try:
            got = float(answer(a.copy(), b.copy()))
        except (TypeError, ValueError):
            return False, "w1(a, b) should return a number."
        if abs(got - want) > 1e-9:
            if abs(got - np.abs(a - b).mean()) < 1e-9:
                return False, "that pairs the samples in the order given; pair them by rank instead."
            return False, "compare the two samples quantile by quantile, as distributions."
    return True, ""


@exercise("07.2", "Discriminator loss")
def _d_loss(answer: Any) -> tuple[bool, str]:
    import torch
    import torch.nn.functional as F
    if not callable(answer):
        return False, "answer should be a function d_loss(real_logits, fake_logits) -> tensor."
    g = torch.Generator().manual_seed(72)
    real, fake = torch.randn(4, 1, 3, 5, generator=g) + 1, torch.randn(4, 1, 3, 5, generator=g) - 1
    want = float(F.softplus(-real).mean() + F.softplus(fake).mean())
    try:
        got = float(answer(real.clone(), fake.clone()))
    except (TypeError, ValueError, RuntimeError):
        return False, "d_loss should return a number (a 0-d tensor is fine)."
    if abs(got - want) < 1e-5:
        return True, ""
    if abs(got - float(F.softplus(real).mean() + F.softplus(-fake).mean())) < 1e-5:
        return False, "the signs are swapped: the discriminator should say 'real' (large logits) on originals."
    return False, "the discriminator's cross-entropy: -log sigmoid(real) on originals, -log(1 - sigmoid(fake)) on reconstructions."


@exercise("07.3", "Perception-distortion front")
def _front(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function front(points) -> list of names."
    rng = np.random.default_rng(73)
    for n in (6, 12):
        pts = [{"name": f"p{i}", "psnr": float(rng.uniform(20, 30)), "swd": float(rng.uniform(1, 10))}
               for i in range(n)]
        want = sorted(p["name"] for p in pts if not any(
            q["psnr"] >= p["psnr"] and q["swd"] <= p["swd"] and q is not p for q in pts))
        try:
            got = sorted(answer([dict(p) for p in pts]))
        except (TypeError, ValueError):
            return False, "front(points) should return a list of the names on the front."
        if got != want:
            return False, ("a point is on the front when no other point has both a PSNR at least as "
                           "high and a patch distance at least as low.")
    return True, ""
