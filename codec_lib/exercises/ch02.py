"""Checkers for the exercises of chapter 2."""
from __future__ import annotations

from typing import Any

from . import exercise


@exercise("02.1", "GDN")
def _gdn(answer: Any) -> tuple[bool, str]:
    import torch
    from ..layers import GDN
    if not callable(answer):
        return False, "answer should be a function my_gdn(u, beta, gamma) -> tensor."
    gen = torch.Generator().manual_seed(21)
    for C in (3, 8):
        layer = GDN(C)
        with torch.no_grad():
            layer.beta.copy_(layer.beta_reparam.init(torch.rand(C, generator=gen) + 0.2))
            layer.gamma.copy_(layer.gamma_reparam.init(torch.rand(C, C, generator=gen) * 0.3))
        u = torch.randn(2, C, 4, 6, generator=gen)
        beta, gamma = layer.beta_reparam(layer.beta).detach(), layer.gamma_reparam(layer.gamma).detach()
        with torch.no_grad():
            want = layer(u)
            got = answer(u.clone(), beta.clone(), gamma.clone())
        if not torch.is_tensor(got) or got.shape != want.shape:
            return False, f"for u of shape {tuple(u.shape)} return a tensor of the same shape."
        if torch.allclose(got, want, atol=1e-5):
            continue
        transposed = u / torch.sqrt(beta[None, :, None, None] + torch.einsum("ji,bjhw->bihw", gamma, u * u))
        if torch.allclose(got, transposed, atol=1e-5):
            return False, "gamma is used transposed: channel i is normalized by sum_j gamma[i, j] u_j^2."
        if torch.allclose(got, u * u / (beta[None, :, None, None] + torch.einsum("ij,bjhw->bihw", gamma, u * u)), atol=1e-5):
            return False, "the denominator needs a square root."
        return False, f"with C = {C} channels the output differs from the library's GDN."
    return True, ""


@exercise("02.2", "The Lagrangian J = R + lmbda D")
def _lagrangian(answer: Any) -> tuple[bool, str]:
    import torch
    from ..train import rd_loss
    if not callable(answer):
        return False, "answer should be a function my_loss(likelihoods, x, x_hat, lmbda) -> float."
    gen = torch.Generator().manual_seed(22)
    for B, H, W, lmbda in ((1, 32, 48, 0.013), (3, 16, 16, 0.0483)):
        x = torch.rand(B, 3, H, W, generator=gen)
        x_hat = (x + 0.05 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
        lik = {"y": 0.01 + 0.98 * torch.rand(B, 8, H // 16 or 1, W // 16 or 1, generator=gen),
               "z": 0.01 + 0.98 * torch.rand(B, 4, 1, 1, generator=gen)}
        want = float(rd_loss({"likelihoods": lik, "x_hat": x_hat}, x, lmbda)["loss"])
        try:
            got = float(answer({k: v.clone() for k, v in lik.items()}, x.clone(), x_hat.clone(), lmbda))
        except (TypeError, ValueError):
            return False, "my_loss(...) should return a number."
        if abs(got - want) <= 1e-4 * abs(want):
            continue
        bits = sum(float(-torch.log2(v).sum()) for v in lik.values())
        mse = float(torch.mean((x - x_hat) ** 2))
        if abs(got - (bits / (3 * B * H * W) + lmbda * 255**2 * mse)) <= 1e-4 * abs(want):
            return False, "the rate is per pixel (B * H * W), not per colour sample."
        if abs(got - (bits / (B * H * W) + lmbda * mse)) <= 1e-4 * abs(want):
            return False, "the distortion is on the 8-bit scale: multiply the MSE by 255^2."
        if abs(got - (bits / (H * W) + lmbda * 255**2 * mse)) <= 1e-4 * abs(want):
            return False, "divide the bits by the pixels of the whole batch (B * H * W)."
        return False, f"for a batch of {B} images of {H}x{W} pixels, J is off."
    return True, ""


@exercise("02.3", "Latent shapes")
def _latent_shape(answer: Any) -> tuple[bool, str]:
    import torch
    from ..models import FactorizedPrior, pad_to
    if not callable(answer):
        return False, "answer should be a function latent_shape(H, W, M) -> (M, h, w)."
    model = FactorizedPrior(N=8, M=5).eval()
    for H, W in ((16, 16), (17, 31), (768, 512), (1, 100), (33, 64)):
        with torch.no_grad():
            want = tuple(model.g_a(pad_to(torch.zeros(1, 3, H, W), 16)).shape[1:])
        try:
            got = tuple(int(v) for v in answer(H, W, 5))
        except (TypeError, ValueError):
            return False, "latent_shape should return a tuple (M, h, w) of integers."
        if got != want:
            floor = (5, H // 16, W // 16)
            if got == floor:
                return False, f"for H={H}, W={W} the image is padded up first: round up, not down."
            return False, f"for H={H}, W={W}, M=5 the shape is not {got}."
    return True, ""


@exercise("02.4", "Reading lambda off an RD curve")
def _slope(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "answer should be a function slope_lambda(p1, p2) -> float."
    cases = [((0.30, 0.0040), (0.45, 0.0028)), ((1.1, 0.0009), (0.8, 0.0013))]
    for p1, p2 in cases:
        want = -(p2[0] - p1[0]) / (255**2 * (p2[1] - p1[1]))
        try:
            got = float(answer(p1, p2))
        except (TypeError, ValueError):
            return False, "slope_lambda(p1, p2) should return a number."
        if abs(got - want) <= 1e-6 * abs(want):
            continue
        if abs(got + want) <= 1e-6 * abs(want):
            return False, "the sign: more bits buy less distortion, and lambda is positive."
        if abs(got - want * 255**2) <= 1e-6 * abs(want * 255**2):
            return False, "D is on the 8-bit scale: 255^2 times the MSE on [0, 1]."
        return False, f"for the points {p1} and {p2} the estimate is off."
    return True, ""
