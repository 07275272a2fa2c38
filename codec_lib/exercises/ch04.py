"""Checkers for the exercises of chapter 4."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import exercise
from .ch05 import _pmf_cases


@exercise("04.1", "Entropy of a pmf")
def _entropy_pmf(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function entropy_bits(pmf) -> float."
    rng = np.random.default_rng(41)
    cases = _pmf_cases(41) + [np.array([1.0]), np.array([0.5, 0.5]), np.array([0.7, 0.0, 0.3])]
    for pmf in cases + [rng.dirichlet(np.ones(9))]:
        nz = pmf[pmf > 0]
        want = float(-(nz * np.log2(nz)).sum())
        try:
            got = float(answer(pmf.copy()))
        except (TypeError, ValueError):
            return False, "entropy_bits(pmf) should return a number."
        if np.isfinite(got) and np.isclose(got, want, rtol=1e-9, atol=1e-9):
            continue
        if not np.isfinite(got):
            return False, "you got nan or inf: a symbol of probability 0 contributes 0 bits (0 log 0 = 0)."
        if np.isclose(got * np.log(2), want, rtol=1e-9, atol=1e-9) or np.isclose(got / np.log(2), want, rtol=1e-9, atol=1e-9):
            return False, "that looks like nats (natural log); measure in bits (log base 2)."
        if np.isclose(-got, want, rtol=1e-9, atol=1e-9) and want > 0:
            return False, "the sign is off: entropy is never negative."
        return False, f"for a pmf over {len(pmf)} values the entropy is off."
    return True, ""


@exercise("04.2", "Likelihood of a quantized Gaussian latent")
def _gauss_bin(answer: Any) -> tuple[bool, str]:
    import torch
    from ..entropy_models import GaussianConditional
    if not callable(answer):
        return False, "answer should be a function p_bin(k, mu, sigma) -> float."
    gc = GaussianConditional()
    for k, mu, sigma in ((0, 0.0, 1.0), (2, 0.3, 1.5), (-1, 0.4, 0.6), (3, -1.2, 2.5), (0, 0.45, 0.25),
                         (-4, -3.7, 5.0)):
        t = lambda v: torch.tensor(float(v), dtype=torch.float64)
        want = float(gc.likelihood(t(k), t(sigma), t(mu)))
        try:
            got = float(answer(k, mu, sigma))
        except (TypeError, ValueError):
            return False, f"p_bin({k}, {mu}, {sigma}) should return a number."
        if abs(got - want) <= 1e-7 + 1e-5 * want:
            continue
        dens = float(np.exp(-0.5 * ((k - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi)))
        if abs(got - dens) <= 1e-6 + 1e-4 * dens:
            return False, "that is the density at k; integrate it over the interval of width 1 around k."
        no_mu = float(gc.likelihood(t(k), t(sigma)))
        if abs(got - no_mu) <= 1e-7 + 1e-5 * no_mu and mu != 0:
            return False, "the mean is missing: the Gaussian is centred at mu."
        return False, f"for k = {k}, mu = {mu}, sigma = {sigma} the probability is off."
    return True, ""


@exercise("04.3", "Bits of y_hat under a mean-scale model")
def _bits_y(answer: Any) -> tuple[bool, str]:
    import torch
    from ..entropy_models import GaussianConditional
    if not callable(answer):
        return False, "answer should be a function bits_of(y_hat, scales, means) -> float."
    gc = GaussianConditional()
    gen = torch.Generator().manual_seed(43)
    for shape in ((1, 4, 3, 5), (2, 8, 6, 6)):
        scales = 0.2 + 4 * torch.rand(shape, generator=gen, dtype=torch.float64)
        means = 3 * torch.randn(shape, generator=gen, dtype=torch.float64)
        y_hat = torch.round(means + scales * torch.randn(shape, generator=gen, dtype=torch.float64))
        want = float(-torch.log2(gc.likelihood(y_hat, scales, means)).sum())
        try:
            got = float(answer(y_hat.clone(), scales.clone(), means.clone()))
        except (TypeError, ValueError):
            return False, "bits_of(...) should return a number (the total over all elements)."
        if abs(got - want) <= 1e-6 * max(1.0, want):
            continue
        if abs(got * y_hat.numel() - want) <= 1e-6 * max(1.0, want):
            return False, "that is the mean per element; return the total number of bits."
        if abs(got / np.log(2) - want) <= 1e-6 * max(1.0, want):
            return False, "that looks like nats; measure in bits (log base 2)."
        return False, f"for y_hat of shape {shape} the total is off: sum -log2 of each element's bin mass."
    return True, ""
