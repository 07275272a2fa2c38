"""Checkers for the exercises of chapter 9."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import exercise


@exercise("09.1", "First-order entropy")
def _entropy(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function entropy_bits(values) -> bits per sample."
    rng = np.random.default_rng(91)
    for values in (rng.integers(-3, 4, 500), np.round(rng.laplace(0, 4, 2000)).astype(int), np.zeros(9, int)):
        _, counts = np.unique(values, return_counts=True)
        p = counts / counts.sum()
        want = float(-(p * np.log2(p)).sum())
        try:
            got = float(answer(values.copy()))
        except (TypeError, ValueError):
            return False, "entropy_bits should return a number."
        if abs(got - want) > 1e-9:
            if abs(got - want * np.log(2)) < 1e-9:
                return False, "that is in nats: use log base 2."
            if abs(got - want * len(values)) < 1e-6:
                return False, "that is the total; the question asks for bits per sample."
            return False, "estimate each value's probability by its frequency, then -sum p log2 p."
    return True, ""


def _laplace_cdf(t, mu, b):
    z = (t - mu) / b
    return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)), 1 - 0.5 * np.exp(-np.maximum(z, 0)))


@exercise("09.2", "Bits under a discretized Laplacian")
def _laplace_bits(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function laplace_bits(x, mu, b) -> total bits."
    rng = np.random.default_rng(92)
    x = rng.integers(0, 256, 300).astype(float)
    mu, b = x + rng.normal(0, 3, 300), rng.uniform(0.5, 6, 300)
    p = _laplace_cdf(x + 0.5, mu, b) - _laplace_cdf(x - 0.5, mu, b)
    want = float(-np.log2(np.maximum(p, 1e-12)).sum())
    try:
        got = float(answer(x.copy(), mu.copy(), b.copy()))
    except (TypeError, ValueError):
        return False, "laplace_bits should return a number."
    if abs(got - want) < 1e-6 * want:
        return True, ""
    dens = float(-np.log2(0.5 / b * np.exp(-np.abs(x - mu) / b)).sum())
    if abs(got - dens) < 1e-3 * abs(dens):
        return False, "that uses the density at x; integer x has the probability of the interval [x - 1/2, x + 1/2]."
    return False, "p(x) = F(x + 1/2) - F(x - 1/2) with the Laplace CDF F; sum -log2 p(x)."
