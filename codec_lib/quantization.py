"""Quantization and its differentiable training proxies.

At test time a codec rounds: ``y_hat = round(y - mu) + mu`` (``mu`` is a per-element offset,
the entropy model's mean or median, so that rounding happens where the density is centred).
Rounding has zero gradient almost everywhere, so training replaces it by a proxy:

====================  =====================================================================
``"round"``           hard rounding (no gradient; evaluation only)
``"noise"``           additive uniform noise ``y + u, u ~ U(-1/2, 1/2)`` (Balle et al. 2017)
``"ste"``             straight-through rounding: round forward, identity backward
                      (Theis et al. 2017)
``"soft"``            ``s_alpha(s_alpha(y) + u)``: soft rounding, noise, soft rounding again
                      (Agustsson & Theis, NeurIPS 2020); ``alpha -> 0`` gives the noise
                      proxy, ``alpha -> inf`` rounding
``"sga"``             stochastic Gumbel annealing (Yang, Bamler & Mandt, NeurIPS 2020):
                      a tempered random choice between floor and ceil; ``tau -> 0`` rounds
====================  =====================================================================

All proxies share one signature: ``quantize(y, mode, means=None, alpha=..., tau=...)``; ``alpha``
and ``tau`` can be annealed during training (``TrainConfig.anneal``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["quantize", "soft_round", "soft_round_inverse", "PROXIES"]

PROXIES = ("round", "noise", "ste", "soft", "sga")


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


def soft_round(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Soft rounding ``s_alpha(x) = m + tanh(alpha r) / (2 tanh(alpha/2)) + 1/2``.

    with ``m = floor(x)`` and ``r = x - m - 1/2`` (Agustsson & Theis 2020, eq. 7). Continuous and
    differentiable; approaches ``round(x)`` as ``alpha`` grows and ``x`` as it shrinks.
    """
    if alpha < 1e-3:
        return x
    m = torch.floor(x) + 0.5
    r = x - m
    return m + torch.tanh(alpha * r) / (2 * math.tanh(alpha / 2))


def soft_round_inverse(y: torch.Tensor, alpha: float) -> torch.Tensor:
    """Inverse of :func:`soft_round` (Agustsson & Theis 2020, eq. 8)."""
    if alpha < 1e-3:
        return y
    m = torch.floor(y) + 0.5
    t = (1 - 1e-6) * 2 * math.tanh(alpha / 2) * (y - m)   # keep atanh finite
    return m + torch.atanh(t) / alpha


def _sga(x: torch.Tensor, tau: float) -> torch.Tensor:
    """Stochastic Gumbel annealing: pick floor or ceil with tempered, distance-based odds."""
    lo = torch.floor(x)
    d = torch.stack([x - lo, lo + 1 - x], dim=-1)                       # distances to floor, ceil
    logits = -torch.atanh(d.clamp(-1 + 1e-5, 1 - 1e-5)) / max(tau, 1e-5)
    w = F.gumbel_softmax(logits, tau=1.0, hard=False)                  # (..., 2) soft one-hot
    return w[..., 0] * lo + w[..., 1] * (lo + 1)


def quantize(y: torch.Tensor, mode: str = "round", means: torch.Tensor | None = None,
             alpha: float = 5.0, tau: float = 0.5) -> torch.Tensor:
    """Quantize ``y`` around ``means`` (or 0) with the named proxy; returns ``y_hat``."""
    if mode not in PROXIES:
        raise ValueError(f"unknown quantization proxy {mode!r}; choose one of {PROXIES}")
    if means is not None:
        y = y - means
    if mode == "round":
        out = torch.round(y)
    elif mode == "noise":
        out = y + torch.empty_like(y).uniform_(-0.5, 0.5)
    elif mode == "ste":
        out = _round_ste(y)
    elif mode == "soft":   # the outer s_alpha removes the noise as alpha grows
        out = soft_round(soft_round(y, alpha) + torch.empty_like(y).uniform_(-0.5, 0.5), alpha)
    else:
        out = _sga(y, tau)
    return out + means if means is not None else out
