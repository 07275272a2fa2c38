"""Perception measures that run offline: distribution distances and a texture statistic.

PSNR and MS-SSIM compare each reconstruction with its original. Blau & Michaeli ("The
perception-distortion tradeoff", CVPR 2018) define *perceptual quality* instead as how close the
*distribution* of reconstructions is to the distribution of natural images, whatever the
pairing. Two measures of that kind that need no pretrained network:

- :func:`patch_swd`: the sliced Wasserstein distance between the sets of small patches of the
  originals and of the reconstructions, on each level of a Laplacian pyramid (as Karras et al.,
  "Progressive growing of GANs", ICLR 2018, measure GAN samples). Blur removes the sharp
  patches of the fine levels, and the distance grows; a generator that synthesizes plausible
  texture keeps it small even where its pixels differ from the original's.
- :func:`high_frequency_ratio`: the texture statistic, the reconstructions' spectral energy
  above a cut-off frequency over the originals'. MSE-trained codecs blur (ratio below 1), noise
  and GAN hallucination add energy (ratio near or above 1).

The sliced Wasserstein distance (Rabin et al., "Wasserstein barycenter and its application to
texture mixing", SSVM 2011) projects both sample sets on random unit directions and averages the
1-D Wasserstein-1 distances, each computed exactly from sorted samples.

Example::

    from codec_lib import perception
    perception.patch_swd(originals, reconstructions)          # lists of PIL images or arrays
    perception.high_frequency_ratio(originals, reconstructions)
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .data import to_tensor
from .metrics import as_array

__all__ = ["sliced_wasserstein", "laplacian_pyramid", "patch_descriptors", "patch_swd",
           "high_frequency_ratio"]


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, projections: int = 256, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between samples ``a (n, d)`` and ``b (m, d)``.

    Each random unit direction gives two 1-D samples; their W1 distance is the mean absolute
    difference of matched quantiles (exact when ``n == m``; otherwise both are read at ``max(n,
    m)`` evenly spaced quantiles). The result is the mean over directions, in the units of the
    samples. ``seed`` fixes the directions, so repeated calls are comparable.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(f"need two non-empty sample sets of equal dimension, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((a.shape[1], projections))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    pa = np.sort(np.ascontiguousarray((a @ dirs).T), axis=1)              # (P, n)
    pb = np.sort(np.ascontiguousarray((b @ dirs).T), axis=1)              # (P, m)
    if pa.shape[1] != pb.shape[1]:
        n = max(pa.shape[1], pb.shape[1])
        q = (np.arange(n) + 0.5) / n
        pa, pb = (p[:, np.clip(np.ceil(q * p.shape[1]).astype(int) - 1, 0, None)]   # quantiles
                  for p in (pa, pb))
    return float(np.abs(pa - pb).mean())


def laplacian_pyramid(x: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """Band-pass levels of ``x (1, C, H, W)``, finest first, then the low-pass residual."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    k = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 5, 5)
    out = []
    for _ in range(levels):
        low = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])
        down = low[..., ::2, ::2]
        up = F.interpolate(down, size=x.shape[-2:], mode="bilinear", align_corners=False)
        out.append(x - up)
        x = down
    return out + [x]


def patch_descriptors(images, size: int = 7, levels: int = 3, per_image: int = 2048,
                      seed: int = 0) -> list[np.ndarray]:
    """Per pyramid level, ``(n, 3 * size * size)`` patches of every image at ``per_image``
    random positions (fixed by ``seed``: two sets of equally sized images are sampled at the
    same places, which lowers the variance of a comparison)."""
    rng = np.random.default_rng(seed)
    per_level: list[list[np.ndarray]] = [[] for _ in range(levels)]
    for img in images:
        pyr = laplacian_pyramid(to_tensor(img), levels)[:levels]
        for lvl, band in enumerate(pyr):
            b = band[0].numpy()                                            # (3, h, w)
            if min(b.shape[1:]) < size:
                continue
            win = np.lib.stride_tricks.sliding_window_view(b, (size, size), axis=(1, 2))
            n = win.shape[1] * win.shape[2]                                # (3, h', w', s, s)
            pick = rng.choice(n, size=min(per_image, n), replace=False)
            p = win[:, pick // win.shape[2], pick % win.shape[2]]          # (3, k, s, s)
            per_level[lvl].append(p.transpose(1, 0, 2, 3).reshape(len(pick), -1))
    return [np.concatenate(ps) if ps else np.zeros((0, 3 * size * size)) for ps in per_level]


def patch_swd(originals, reconstructions, size: int = 7, levels: int = 3,
              per_image: int = 2048, seed: int = 0) -> dict[str, float]:
    """Sliced Wasserstein distance between the patch distributions of two image sets, per
    Laplacian level (``"level0"`` finest) and their mean (``"mean"``), in units of 1/1000 of
    the 8-bit range. Lower is closer in distribution."""
    if len(originals) != len(reconstructions) or not len(originals):
        raise ValueError("need the same, non-zero number of originals and reconstructions")
    a = patch_descriptors(originals, size, levels, per_image, seed)
    b = patch_descriptors(reconstructions, size, levels, per_image, seed)
    out = {f"level{i}": 1000 * sliced_wasserstein(x, y, seed=seed) for i, (x, y) in enumerate(zip(a, b))}
    out["mean"] = float(np.mean(list(out.values())))
    return out


def _hf_energy(img, cutoff: float) -> float:
    a = as_array(img).astype(np.float64)
    luma = a @ np.array([0.299, 0.587, 0.114])                            # (H, W)
    luma = luma - luma.mean()
    H, W = luma.shape
    win = np.outer(np.hanning(H), np.hanning(W))                          # no edge leakage
    power = np.abs(np.fft.fft2(luma * win)) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(H), np.fft.fftfreq(W), indexing="ij")
    return float(power[np.hypot(fy, fx) > cutoff].sum())


def high_frequency_ratio(originals, reconstructions, cutoff: float = 0.25) -> float:
    """Spectral energy of the reconstructions' luma above ``cutoff`` cycles per pixel (0.5 is
    Nyquist) over the originals', summed over the set: 1 means as much fine detail as the
    originals, below 1 blur, above 1 added texture or noise."""
    if len(originals) != len(reconstructions) or not len(originals):
        raise ValueError("need the same, non-zero number of originals and reconstructions")
    num = sum(_hf_energy(r, cutoff) for r in reconstructions)
    den = sum(_hf_energy(o, cutoff) for o in originals)
    return num / den
