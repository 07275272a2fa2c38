"""Checkers for the exercises of chapter 3."""
from __future__ import annotations

from typing import Any

from . import exercise


@exercise("03.1", "Variance of uniform quantization noise")
def _noise_variance(answer: Any) -> tuple[bool, str]:
    import torch
    from ..quantization import quantize
    if not callable(answer):
        return False, "answer should be a function noise_variance(delta) -> float."
    gen = torch.Generator().manual_seed(31)
    y = torch.randn(1_000_000, generator=gen, dtype=torch.float64) * 50     # spread over many steps
    for delta in (1.0, 0.25, 2.0, 7.5):
        want = float((delta * quantize(y / delta, "round") - y).var())       # measured, ~ delta^2/12
        got = answer(delta)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return False, f"noise_variance({delta}) should return a number, got {type(got).__name__}."
        if abs(got - want) <= 0.01 * want:
            continue
        if abs(got ** 2 - want) <= 0.01 * want:
            return False, "that looks like a standard deviation; return the variance."
        if abs(got - want / delta) <= 0.01 * want / delta or abs(got - want / delta ** 2) <= 0.01 * want / delta ** 2:
            return False, f"right for step 1, but off for step {delta}: how does the error scale with the step?"
        return False, (f"for step {delta} the rounding error's variance is off; the error is uniform "
                       "on an interval of width delta.")
    return True, ""


@exercise("03.2", "Straight-through rounding")
def _ste(answer: Any) -> tuple[bool, str]:
    import torch
    from ..quantization import quantize
    if not callable(answer):
        return False, "answer should be a function ste(y) -> tensor."
    gen = torch.Generator().manual_seed(32)
    y = (torch.randn(500, generator=gen) * 4).requires_grad_()
    w = torch.randn(500, generator=gen)                    # an arbitrary upstream gradient
    got = answer(y)
    if not torch.is_tensor(got) or got.shape != y.shape:
        return False, "return a tensor of the same shape as y."
    want = quantize(y.detach(), "ste")
    if not torch.equal(got.detach().to(want.dtype), want):
        return False, "the forward value must be exactly torch.round(y)."
    if not got.requires_grad:
        return False, "the output carries no gradient: the rounding must not cut the graph."
    (grad,) = torch.autograd.grad((w * got).sum(), y, allow_unused=True)
    if grad is None or not torch.any(grad != 0):
        return False, "the gradient is zero everywhere, as plain rounding's is: let it pass through."
    if not torch.allclose(grad, w, atol=1e-6):
        return False, "the value is right but the gradient is not one per element."
    return True, ""


@exercise("03.3", "Soft rounding")
def _soft_round(answer: Any) -> tuple[bool, str]:
    import math
    import torch
    from ..quantization import soft_round
    if not callable(answer):
        return False, "answer should be a function soft_round_fn(x, alpha) -> tensor."
    x = torch.linspace(-3.2, 3.2, 257, dtype=torch.float64)
    for alpha in (0.7, 2.0, 5.0, 13.0):
        got = torch.as_tensor(answer(x.clone(), alpha), dtype=torch.float64)
        want = soft_round(x, alpha)
        if got.shape != x.shape:
            return False, f"expected shape {tuple(x.shape)}, got {tuple(got.shape)}."
        if torch.allclose(got, want, atol=1e-6):
            continue
        m = torch.floor(x) + 0.5
        if torch.allclose(got, m + torch.tanh(alpha * (x - m)) / 2, atol=1e-6):
            return False, ("the shape is right but the ends do not meet at the half-integers: "
                           "normalize tanh so that r = +-1/2 maps to +-1/2.")
        if torch.allclose(got, torch.round(x) + torch.tanh(alpha * (x - torch.round(x))) / (2 * math.tanh(alpha / 2)), atol=1e-6):
            return False, "measure r from the midpoint between two integers, floor(x) + 1/2."
        return False, f"for alpha = {alpha} the values are off; compare with the formula of section 3.4."
    return True, ""


@exercise("03.4", "Probability of a rounded Gaussian")
def _p_round(answer: Any) -> tuple[bool, str]:
    import torch
    from ..entropy_models import GaussianConditional
    if not callable(answer):
        return False, "answer should be a function p_round(k, sigma) -> float."
    gc = GaussianConditional()
    for k, sigma in ((0, 1.0), (1, 1.0), (-2, 0.8), (3, 2.5), (0, 0.3), (-5, 4.0)):
        want = float(gc.likelihood(torch.tensor(float(k), dtype=torch.float64),
                                   torch.tensor(sigma, dtype=torch.float64)))
        got = answer(k, sigma)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return False, f"p_round({k}, {sigma}) should return a number."
        if abs(got - want) <= 1e-6 + 1e-4 * want:
            continue
        dens = float(torch.exp(torch.tensor(-0.5 * (k / sigma) ** 2)) / (sigma * (2 * torch.pi) ** 0.5))
        if abs(got - dens) <= 1e-6 + 1e-4 * dens:
            return False, "that is the density of y at k; integrate it over the bin of k instead."
        return False, (f"for k = {k}, sigma = {sigma} the probability is off: which interval of y "
                       "rounds to k?")
    return True, ""
