"""Quality and rate metrics: PSNR, MS-SSIM, bits per pixel.

- ``psnr = 10 log10(peak^2 / MSE)`` over all pixels and channels (8-bit: ``peak = 255``).
- MS-SSIM (Wang, Simoncelli & Bovik, Asilomar 2003): SSIM's contrast-structure term at five
  scales (2x average-pooling between them) and its luminance term at the coarsest, combined with
  the paper's exponents ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``; 11x11 Gaussian window,
  ``sigma = 1.5``, ``K1 = 0.01``, ``K2 = 0.03``. Images too small for five scales (a side under
  161 pixels) use as many scales as fit, with the exponents renormalized.
- ``bpp = 8 * bytes / (H * W)``, from the real file size.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = ["psnr", "ms_ssim", "bpp", "as_array"]

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def as_array(img) -> np.ndarray:
    """PIL image, array or ``(1, C, H, W)`` tensor in [0, 1] -> float64 array on the 0..255 scale."""
    if isinstance(img, Image.Image):
        return np.asarray(img, dtype=np.float64)
    if isinstance(img, torch.Tensor):
        t = img.detach().cpu().double()
        t = t[0] if t.dim() == 4 else t
        return t.permute(1, 2, 0).numpy() * 255.0
    return np.asarray(img, dtype=np.float64)


def psnr(a, b, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB between two images of the same shape."""
    a, b = as_array(a), as_array(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * math.log10(data_range**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size, dtype=torch.float64) - size // 2) ** 2) / (2 * sigma**2))
    return g / g.sum()


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, win: torch.Tensor, L: float):
    """Mean SSIM and mean contrast-structure over valid windows; ``x, y (1, C, H, W)``."""
    C = x.shape[1]
    wx = win.view(1, 1, 1, -1).repeat(C, 1, 1, 1)
    wy = win.view(1, 1, -1, 1).repeat(C, 1, 1, 1)
    blur = lambda t: F.conv2d(F.conv2d(t, wx, groups=C), wy, groups=C)   # separable, 'valid'
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    return (lum * cs).mean(dim=(-2, -1)), cs.mean(dim=(-2, -1))   # per channel


def ms_ssim(a, b, data_range: float = 255.0) -> float:
    """Multi-scale SSIM in [0, 1] (1 = identical), averaged over colour channels."""
    x = torch.from_numpy(as_array(a)).double()
    y = torch.from_numpy(as_array(b)).double()
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch {tuple(x.shape)} vs {tuple(y.shape)}")
    x = (x[..., None] if x.dim() == 2 else x).permute(2, 0, 1)[None]     # (1, C, H, W)
    y = (y[..., None] if y.dim() == 2 else y).permute(2, 0, 1)[None]
    win = _gaussian_window()
    levels = 5
    while levels > 1 and min(x.shape[-2:]) < (win.numel() - 1) * 2 ** (levels - 1) + 1:
        levels -= 1
    if min(x.shape[-2:]) < win.numel():
        raise ValueError("MS-SSIM needs images of at least 11x11 pixels")
    w = torch.tensor(MS_SSIM_WEIGHTS[:levels], dtype=torch.float64)
    w = w / w.sum()
    values = []
    for i in range(levels):
        ssim, cs = _ssim_terms(x, y, win, data_range)
        values.append(ssim if i == levels - 1 else cs)
        if i < levels - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stack = torch.stack(values).clamp_min(0)                             # (levels, 1, C)
    return float(torch.prod(stack ** w.view(-1, 1, 1), dim=0).mean())


def bpp(num_bytes: int, height: int, width: int) -> float:
    """Bits per pixel of a file of ``num_bytes`` bytes for an ``height x width`` image."""
    return 8.0 * num_bytes / (height * width)
