"""Encoder-side latent refinement: spend encoding time to close the amortization gap.

``g_a`` maps an image to its latents in one pass; it was trained to be good on average over
many images, not best for this one. With the decoder and the entropy model fixed, a few gradient
steps on the image's own rate-distortion loss ``R(y, z) + lmbda 255^2 D(x, g_s(y_hat))``, taken
on the latents ``y`` and ``z`` themselves, find latents that code *this* image better (Campos,
Meierhans, Djelouah & Schroers, "Content adaptive optimization for neural image compression",
CVPR Workshops 2019). Rounding has no useful gradient, so the steps see stochastic Gumbel
annealing (Yang, Bamler & Mandt, "Improving inference for neural image compression", NeurIPS
2020; :func:`codec_lib.quantization.quantize` mode ``"sga"``) with a temperature that falls from
``tau[0]`` to ``tau[1]``, so that the proxy ends close to the rounding the encoder will do.
Every ``every`` steps the real loss (hard rounding) is measured and the best latents so far are
kept, the starting point ``g_a(x)`` included: refinement never returns latents that the model
itself estimates to be worse.

The decoder does not change: the file is an ordinary file of the same model, decoded by anyone
who has it. Only encoding is slower (each step is a forward and backward pass of the codec)::

    from codec_lib import codec, zoo
    model = zoo.load_model()
    enc = codec.encode_image(img, model, refine=100)      # or codec-lib compress --refine 100

    # by hand, on a tensor x (1, 3, H, W) in [0, 1] (both pad it the same way inside):
    res = refine_latents(model, x, steps=100)
    out = model.compress(x, latents=res["latents"])
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .models import CompressionModel, pad_to

__all__ = ["refine_latents", "rd_of_latents"]


def rd_of_latents(model: CompressionModel, latents: dict, x: torch.Tensor, size: tuple[int, int],
                  mode: str = "round", **kw) -> dict[str, torch.Tensor]:
    """``loss, bpp, mse`` of coding ``latents`` for the image ``x[..., :H, :W]`` (``size``), with
    the latents quantized by ``mode`` (``"round"``: what the file will hold, up to the float64
    entropy parameters used at coding time)."""
    H, W = size
    out = model.from_latents(latents, lambda em, *args, **kwargs: em(*args, mode=mode, **kwargs, **kw))
    x_hat = out["x_hat"][..., :H, :W]
    x_hat = x_hat.clamp(0, 1) if model.clamp else x_hat             # as the decoder shows it
    bpp = sum(-torch.log2(lik).sum() for lik in out["likelihoods"].values()) / (x.shape[0] * H * W)
    mse = F.mse_loss(x_hat, x[..., :H, :W])
    return {"loss": bpp + model.lmbda * 255**2 * mse, "bpp": bpp, "mse": mse}


def refine_latents(model: CompressionModel, x: torch.Tensor, steps: int = 100, lr: float = 0.1,
                   tau: tuple[float, float] = (0.5, 0.05), every: int = 10,
                   progress: bool = False) -> dict:
    """Optimize the latents of ``x (1, 3, H, W)`` for ``model`` (which needs its ``lmbda``).

    Returns ``{"latents": {"y", "z"}, "history": [{"step", "loss", "bpp", "psnr"}, ...]}``:
    the best latents met under hard rounding and the real (rounded) loss at each check.
    ``steps=0`` returns the encoder's own latents. The steps are Adam's, on ``y`` and ``z``
    together; ``lr=0.1`` was chosen on BSDS500 validation photos with the shipped mean-scale
    model (0.003 to 0.2 tried, at 40 and 100 steps; never on Kodak).
    """
    if steps < 0:
        raise ValueError("steps must be 0 or more")
    if getattr(model, "lmbda", None) is None:
        raise ValueError("refinement needs the model's lmbda (an installed or trained model)")
    size = tuple(x.shape[-2:])
    x = pad_to(x, model.downsampling)
    params = list(model.parameters())
    grads = [p.requires_grad for p in params]
    was_training = model.training
    model.eval()
    try:
        for p in params:                                        # the model is fixed
            p.requires_grad_(False)
        with torch.no_grad():
            lat = {k: v.detach().clone() for k, v in model.analysis(x).items()}
        history, best = [], (math.inf, None)

        def check(step):
            nonlocal best
            with torch.no_grad():
                r = rd_of_latents(model, lat, x, size)
            history.append({"step": step, "loss": float(r["loss"]), "bpp": float(r["bpp"]),
                            "psnr": -10 * math.log10(max(float(r["mse"]), 1e-12))})
            if history[-1]["loss"] < best[0]:
                best = (history[-1]["loss"], {k: v.detach().clone() for k, v in lat.items()})

        check(0)
        if steps:
            with torch.enable_grad():
                for v in lat.values():
                    v.requires_grad_(True)
                opt = torch.optim.Adam(lat.values(), lr=lr)
                for step in tqdm(range(1, steps + 1), disable=not progress, desc="refine"):
                    t = (step - 1) / max(1, steps - 1)
                    r = rd_of_latents(model, lat, x, size, "sga", tau=tau[0] * (tau[1] / tau[0]) ** t)
                    opt.zero_grad(set_to_none=True)
                    r["loss"].backward()
                    opt.step()
                    if step % every == 0 or step == steps:
                        check(step)
        return {"latents": best[1], "history": history}
    finally:
        for p, g in zip(params, grads):
            p.requires_grad_(g)
        model.train(was_training)
