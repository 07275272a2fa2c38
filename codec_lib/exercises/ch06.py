"""Checkers for the exercises of chapter 6."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import exercise


@exercise("06.1", "PSNR of a set of images")
def _set_psnr(answer: Any) -> tuple[bool, str]:
    from ..metrics import psnr
    if not callable(answer):
        return False, "answer should be a function set_psnr(pairs) -> float."
    rng = np.random.default_rng(61)
    pairs = []
    for (h, w), noise in (((32, 48), 2.0), ((20, 20), 12.0), ((64, 16), 30.0)):
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        b = np.clip(a + rng.normal(0, noise, a.shape).round(), 0, 255).astype(np.uint8)
        pairs.append((a, b))
    want = float(np.mean([psnr(a, b) for a, b in pairs]))
    try:
        got = float(answer([(a.copy(), b.copy()) for a, b in pairs]))
    except (TypeError, ValueError):
        return False, "set_psnr(pairs) should return a number."
    if abs(got - want) <= 1e-6:
        return True, ""
    mse = np.mean([np.mean((a.astype(float) - b) ** 2) for a, b in pairs])
    if abs(got - 10 * np.log10(255**2 / mse)) <= 1e-6:
        return False, "that is the PSNR of the mean MSE; average the per-image PSNRs instead."
    if abs(got - float(np.mean([10 * np.log10(1 / np.mean((a / 255.0 - b / 255.0) ** 2)) for a, b in pairs]))) > 1e-6:
        return False, "per image, PSNR = 10 log10(255^2 / MSE) with the MSE over all pixels and channels."
    return False, "close, but not the mean of the per-image PSNRs."


def _curves():
    """A few anchor/test curve pairs, some with few points and uneven spacing."""
    rng = np.random.default_rng(62)
    out = []
    for n_a, n_t in ((4, 4), (6, 5), (9, 7)):
        a_r = np.sort(rng.uniform(0.1, 2.0, n_a))
        t_r = np.sort(rng.uniform(0.1, 2.0, n_t))
        a = [{"bpp": float(r), "psnr": float(24 + 7 * np.log2(1 + r))} for r in a_r]
        t = [{"bpp": float(r), "psnr": float(25 + 7.5 * np.log2(1 + r) + rng.normal(0, 0.1))}
             for r in t_r]
        out.append((a, t))
    return out


@exercise("06.2", "BD-rate")
def _bd(answer: Any) -> tuple[bool, str]:
    from ..bdrate import bd_rate
    if not callable(answer):
        return False, "answer should be a function bd(anchor, test) -> percent."
    for a, t in _curves():
        want = bd_rate(a, t)
        try:
            got = float(answer([dict(p) for p in a], [dict(p) for p in t]))
        except (TypeError, ValueError):
            return False, "bd(anchor, test) should return a number (percent)."
        if abs(got - want) <= 1e-6 * max(1.0, abs(want)):
            continue
        if abs(got - want / 100) <= 1e-8 * max(1.0, abs(want)):
            return False, "return percent: 100 * (exp(mean log-rate gap) - 1)."
        if abs(got - bd_rate(t, a)) <= 1e-6 * max(1.0, abs(want)):
            return False, "check the direction: test minus anchor, negative when the test codec saves bits."
        return False, (f"for curves of {len(a)} and {len(t)} points the BD-rate is off: interpolate "
                       "log-rate over PSNR piecewise (PCHIP), over the common PSNR range only.")
    return True, ""


@exercise("06.3", "MACs of a convolution")
def _layer_macs(answer: Any) -> tuple[bool, str]:
    import torch
    from ..complexity import count_macs
    if not callable(answer):
        return False, "answer should be a function layer_macs(layer, H, W) -> int."
    layers = [torch.nn.Conv2d(3, 8, 5, stride=2, padding=2), torch.nn.Conv2d(4, 6, 3, padding=0),
              torch.nn.ConvTranspose2d(8, 5, 5, stride=2, padding=2, output_padding=1),
              torch.nn.ConvTranspose2d(6, 3, 18, stride=16, padding=1)]
    for layer in layers:
        for H, W in ((16, 24), (7, 9)):
            want = count_macs(layer, torch.zeros(1, layer.in_channels, H, W))
            try:
                got = int(answer(layer, H, W))
            except (TypeError, ValueError):
                return False, "layer_macs should return an integer."
            if got == want:
                continue
            kind = type(layer).__name__
            return False, (f"{kind}({layer.in_channels}, {layer.out_channels}, k={layer.kernel_size[0]}, "
                           f"stride={layer.stride[0]}, padding={layer.padding[0]}) on {H}x{W}: not {got}.")
    return True, ""
