"""Coding choices tuned on validation images: the Gaussian scale bound.

A mean-scale hyperprior codes each latent ``y`` with a Gaussian whose ``sigma`` comes from
``h_s``, but never with a ``sigma`` below ``scale_bound`` (0.11, CompressAI's). A trained model
predicts many latents as certain (a third of them at low rates: ``sigma`` below the bound),
and almost all of those are zero: they cost nothing. The few that are not cost 18 bits or more
each (``-log2 P(|v| >= 1/2)`` with ``sigma = 0.11``), and at high rates they add up to about 9 %
of the rate. A larger bound makes those cheaper and the zeros a little dearer; as ``y_hat``
does not depend on ``sigma``, the decoded image is the same bit for bit, only the rate moves.
The bound travels with the weights (a buffer of :class:`~codec_lib.entropy_models.GaussianConditional`,
so the decoder uses the encoder's), which makes it a choice made once per model::

    bound, table = tune_scale_bound(model, val_images)   # never the test images
    model.gaussian_conditional.scale_bound               # now ``bound``; ``codec-lib export
                                                         # --tune-bound FOLDER`` does this

The choice minimizes the model's own rate estimate (``-sum log2 likelihoods``, the same one
training minimizes) over ``bounds``; the real bytes follow it (measured on Kodak, README).
"""
from __future__ import annotations

import torch
from PIL import Image

from .evaluate import estimate_bits

__all__ = ["BOUNDS", "rate_by_bound", "tune_scale_bound"]

# candidates, from CompressAI's 0.11 up; a trained mean-scale model's best lies inside
BOUNDS = (0.11, 0.13, 0.15, 0.17, 0.19, 0.21, 0.23, 0.25, 0.28, 0.31, 0.35, 0.4)


@torch.no_grad()
def rate_by_bound(model, images: list[Image.Image], bounds=BOUNDS) -> dict[float, float]:
    """Estimated bits (:func:`codec_lib.evaluate.estimate_bits`) of ``images``, each cropped to
    a multiple of 64 pixels (no padded latents), for each bound."""
    crops = [img.crop((0, 0, img.width // 64 * 64, img.height // 64 * 64)) for img in images
             if img.width >= 64 and img.height >= 64]
    if not crops:
        raise ValueError("no image of at least 64x64 pixels to tune the scale bound on")
    gc = model.gaussian_conditional
    kept = gc.scale_bound.clone()
    bits = {}
    try:
        for b in bounds:
            gc.scale_bound.fill_(b)
            bits[b] = sum(estimate_bits(model, img) for img in crops)
    finally:
        gc.scale_bound.copy_(kept)
    return bits


def tune_scale_bound(model, images: list[Image.Image], bounds=BOUNDS) -> tuple[float, dict]:
    """Set ``model``'s scale bound to the one of ``bounds`` with the fewest estimated bits on
    ``images``; return it and each bound's rate relative to the model's bound before."""
    before = round(float(model.gaussian_conditional.scale_bound), 6)
    bits = rate_by_bound(model, images, tuple(sorted({*bounds, before})))
    best = min(bits, key=bits.get)
    model.gaussian_conditional.scale_bound.fill_(best)
    model.update_tables()
    return best, {b: bits[b] / bits[before] for b in bits}
