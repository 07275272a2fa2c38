"""Layers and transforms: GDN, strided convolutions, residual blocks, analysis/synthesis stacks.

A learned image codec is transform coding with learned transforms (Balle et al. 2017):

    x --g_a--> y --Q--> y_hat --g_s--> x_hat

``g_a`` (analysis) maps an image ``(B, 3, H, W)`` to a latent ``(B, M, H/16, W/16)`` with four
stride-2 convolutions; ``g_s`` (synthesis) mirrors it with transposed convolutions. Between the
convolutions sits a nonlinearity, selectable by name:

- ``"gdn"``: generalized divisive normalization (Balle, Laparra & Simoncelli, ICLR 2016),
  ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)``; its inverse (IGDN) multiplies instead.
- ``"relu"``: plain rectified linear units (Theis et al. 2017 style CAE).
- ``"residual"``: a residual block of two 3x3 convolutions after each strided convolution
  (in the spirit of Cheng et al., CVPR 2020).

The module layout (``g_a.0.weight``, ``g_a.1.beta``, ...) matches CompressAI's models of the
same architecture, so their state dicts load here (see :mod:`codec_lib.interop`).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["GDN", "conv", "deconv", "ResidualBlock", "analysis_transform", "synthesis_transform",
           "NONLINEARITIES", "SYNTHESES"]


class _NonNegative(nn.Module):
    """Reparametrize a non-negative parameter as ``max(p, bound)**2 - pedestal``.

    Keeps GDN's ``beta`` and ``gamma`` positive and well-conditioned near zero (Balle 2018,
    "Efficient nonlinear transforms for lossy image compression"). The buffers are named as in
    CompressAI (``pedestal``, ``lower_bound.bound``) so state dicts are interchangeable.
    """

    def __init__(self, minimum: float = 0.0, offset: float = 2**-18):
        super().__init__()
        self.register_buffer("pedestal", torch.tensor([offset**2]))
        self.lower_bound = _Bound((minimum + offset**2) ** 0.5)

    def init(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(torch.clamp(x + self.pedestal, min=float(self.pedestal)))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.lower_bound(p) ** 2 - self.pedestal


class _Bound(nn.Module):
    """``max(x, bound)`` whose gradient still flows when it pushes ``x`` back above the bound."""

    def __init__(self, bound: float):
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lower_bound(x, self.bound)


def lower_bound(x: torch.Tensor, bound: torch.Tensor | float) -> torch.Tensor:
    """``max(x, bound)`` whose gradient still flows where it would lift ``x`` above the bound
    (a plain ``clamp_min`` stops it: a latent whose predicted scale sits on the bound could never
    get a wider one; CompressAI and TensorFlow Compression bound the same way)."""
    b = bound.to(x.device, x.dtype) if isinstance(bound, torch.Tensor) else x.new_full((1,), bound)
    return _LowerBoundFn.apply(x, b if b.dim() else b.reshape(1))   # new_full: no host copy


class _LowerBoundFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad):
        x, bound = ctx.saved_tensors
        pass_through = (x >= bound) | (grad < 0)   # let the gradient lift x off the bound
        return pass_through * grad, None


class GDN(nn.Module):
    """Generalized divisive normalization (Balle, Laparra & Simoncelli, ICLR 2016).

    ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij * x_j^2)``; with ``inverse=True`` (IGDN) the
    square root multiplies, approximately undoing GDN in the synthesis transform.
    """

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_reparam = _NonNegative(minimum=beta_min)
        self.gamma_reparam = _NonNegative()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H, W)
        C = x.shape[1]
        beta = self.beta_reparam(self.beta)                          # (C,)
        gamma = self.gamma_reparam(self.gamma).reshape(C, C, 1, 1)   # 1x1 conv over x^2
        norm = F.conv2d(x * x, gamma.to(x.dtype), beta.to(x.dtype))
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))


def conv(c_in: int, c_out: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """'Same' convolution that downsamples by ``stride``."""
    return nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2)


def deconv(c_in: int, c_out: int, kernel_size: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    """Transposed convolution that upsamples by exactly ``stride``."""
    return nn.ConvTranspose2d(c_in, c_out, kernel_size, stride=stride,
                              output_padding=stride - 1, padding=kernel_size // 2)


class ResidualBlock(nn.Module):
    """``x + conv3x3(lrelu(conv3x3(lrelu(x))))``: extra depth at the same resolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.leaky_relu(x))
        return x + self.conv2(F.leaky_relu(out))


NONLINEARITIES = ("gdn", "relu", "residual")


def _act(kind: str, channels: int, inverse: bool) -> nn.Module:
    if kind == "gdn":
        return GDN(channels, inverse=inverse)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "residual":
        return ResidualBlock(channels)
    raise ValueError(f"unknown nonlinearity {kind!r}; choose one of {NONLINEARITIES}")


def analysis_transform(N: int, M: int, act: str = "gdn", c_in: int = 3) -> nn.Sequential:
    """``g_a``: ``(B, c_in, H, W) -> (B, M, H/16, W/16)``, four 5x5 stride-2 convolutions."""
    return nn.Sequential(
        conv(c_in, N), _act(act, N, False),
        conv(N, N), _act(act, N, False),
        conv(N, N), _act(act, N, False),
        conv(N, M),
    )


SYNTHESES = ("deep", "two-layer", "linear")


def synthesis_transform(N: int, M: int, act: str = "gdn", c_out: int = 3,
                        kind: str = "deep") -> nn.Sequential:
    """``g_s``: ``(B, M, h, w) -> (B, c_out, 16h, 16w)``.

    ``kind="deep"`` mirrors ``g_a`` (four transposed convolutions). The shallow decoders of
    Yang & Mandt ("Computationally-efficient neural image compression with shallow decoders",
    ICCV 2023) trade rate-distortion for far fewer operations per pixel:

    - ``"two-layer"``: an 13x13 stride-8 transposed convolution, IGDN, a 5x5 stride-2 one;
    - ``"linear"``: one 18x18 stride-16 transposed convolution, a JPEG-like synthesis whose
      18x18 basis images (one per latent channel) overlap their neighbours by one pixel.
    """
    if kind == "linear":
        return nn.Sequential(nn.ConvTranspose2d(M, c_out, 18, stride=16, padding=1))
    if kind == "two-layer":
        return nn.Sequential(nn.ConvTranspose2d(M, N, 13, stride=8, padding=3, output_padding=1),
                             GDN(N, inverse=True), deconv(N, c_out))
    if kind != "deep":
        raise ValueError(f"unknown synthesis {kind!r}; choose one of {SYNTHESES}")
    return nn.Sequential(
        deconv(M, N), _act(act, N, True),
        deconv(N, N), _act(act, N, True),
        deconv(N, N), _act(act, N, True),
        deconv(N, c_out),
    )
