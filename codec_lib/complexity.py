"""Complexity of a codec: parameters and multiply-accumulates (MACs) per pixel, per transform.

Operation counts are the hardware-neutral half of "how expensive is this codec" (seconds, the
other half, depend on the machine; :mod:`codec_lib.bench` measures them). The count here is
the one used in the learned-compression literature (e.g. Yang & Mandt 2023 report the
synthesis transform's FLOPs per pixel): every convolution contributes

- ``Conv2d``: ``output elements x (C_in / groups) x k_h x k_w``;
- ``ConvTranspose2d``: ``input elements x (C_out / groups) x k_h x k_w`` (each input value is
  scattered through the whole kernel);
- ``GDN``/IGDN: a 1x1 convolution over the squares, ``positions x C^2``;

and the total is divided by the pixels of the *image* (not of the layer), so that transforms
that work at different resolutions add up. Additions, nonlinearities, rounding and entropy
coding are not counted.

Example::

    from codec_lib import complexity, zoo
    model = zoo.load_model()
    complexity.model_complexity(model, 512, 768)
    # {'g_a': {'params': 375968, 'macs_per_pixel': ...}, 'g_s': {...}, 'h_a': ..., 'h_s': ...}
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .layers import GDN

__all__ = ["count_macs", "model_complexity"]


def _layer_macs(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    if isinstance(m, nn.ConvTranspose2d):
        kh, kw = m.kernel_size
        return inp.numel() * (m.out_channels // m.groups) * kh * kw
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        return out.numel() * (m.in_channels // m.groups) * kh * kw
    if isinstance(m, GDN):
        C = inp.shape[1]
        return inp[:, 0].numel() * C * C
    return 0


@torch.no_grad()
def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass of ``module`` on ``inputs`` (all layers)."""
    total, hooks = [0], []
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, GDN)):
            hooks.append(m.register_forward_hook(
                lambda m, i, o: total.__setitem__(0, total[0] + _layer_macs(m, i[0], o))))
    try:
        module(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return total[0]


@torch.no_grad()
def model_complexity(model: nn.Module, H: int = 512, W: int = 768) -> dict[str, dict]:
    """Parameters and MACs per image pixel of each transform of ``model`` on an ``H x W`` image.

    Returns ``{"g_a": {"params", "macs_per_pixel"}, "g_s": ..., ["h_a", "h_s"]}``; ``H`` and
    ``W`` should be multiples of the model's downsampling (Kodak's 512x768 is).
    """
    x = torch.zeros(1, 3, H, W)
    y = model.g_a(x)
    parts = {"g_a": (model.g_a, x), "g_s": (model.g_s, y)}
    if hasattr(model, "h_a"):
        z = model.h_a(model._hyper_in(y))
        parts.update({"h_a": (model.h_a, model._hyper_in(y)), "h_s": (model.h_s, z)})
    return {name: {"params": sum(p.numel() for p in m.parameters()),
                   "macs_per_pixel": count_macs(m, inp) / (H * W)}
            for name, (m, inp) in parts.items()}
