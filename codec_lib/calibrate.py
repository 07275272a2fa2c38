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

Channels differ (some carry texture, some are almost always zero), so the bound may also be
one per channel: the rate is a sum over channels and ``y_hat`` depends on none of them, so
giving each channel the candidate with the fewest bits on its own latents is the best
per-channel choice (``tune_scale_bound(..., per_channel=True)``, the default for the models
that allow it; a channel-conditional model codes slices of channels and keeps one bound).
The choice minimizes the model's own rate estimate (``-sum log2 likelihoods``, the same one
training minimizes) over ``bounds``; the real bytes follow it (measured on Kodak, README).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from PIL import Image

from .evaluate import likelihoods

__all__ = ["BOUNDS", "bits_by_bound", "rate_by_bound", "tune_scale_bound", "tune_video_bounds"]

# candidates, from CompressAI's 0.11 up; a trained mean-scale model's best lies inside
BOUNDS = (0.11, 0.13, 0.15, 0.17, 0.19, 0.21, 0.23, 0.25, 0.28, 0.31, 0.35, 0.4)


def _crops(images: list[Image.Image]) -> list[Image.Image]:
    crops = [img.crop((0, 0, img.width // 64 * 64, img.height // 64 * 64)) for img in images
             if img.width >= 64 and img.height >= 64]
    if not crops:
        raise ValueError("no image of at least 64x64 pixels to tune the scale bound on")
    return crops


@contextmanager
def _recording(gcs: dict):
    """Record, for each Gaussian of ``gcs`` (``{key: GaussianConditional}``), the arguments of its
    calls (``y_hat``, ``scales``, ``means``) during the ``with`` block: its likelihoods under
    another bound then need no pass through the networks (``y_hat`` depends on no bound)."""
    calls = {key: [] for key in gcs}

    def hook(key):
        def record(module, args, kwargs, output):
            scales = args[1] if len(args) > 1 else kwargs["scales"]
            means = args[2] if len(args) > 2 else kwargs.get("means")
            calls[key].append((output[0], scales, means))
        return record

    handles = [gc.register_forward_hook(hook(key), with_kwargs=True) for key, gc in gcs.items()]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()


def _channel_bits(gc, calls: list) -> torch.Tensor:
    """Bits per channel ``(M,)`` of one pass's recorded calls of ``gc`` under its bound now (a
    channel-conditional model calls it once per slice: the slices' channels follow each other)."""
    return torch.cat([(-torch.log2(gc.likelihood(y_hat, scales, means).double())).sum((0, 2, 3))
                      for y_hat, scales, means in calls]).cpu()


@torch.no_grad()
def bits_by_bound(model, images: list[Image.Image], bounds=BOUNDS) -> dict:
    """For each bound (a float, or one per channel), the estimated bits of ``images`` (each
    cropped to a multiple of 64 pixels: no padded latents): ``{bound: (y_bits (M,), rest)}``,
    ``y``'s bits per channel and those of everything else (``z``), from the model's own
    ``likelihoods`` (:func:`codec_lib.evaluate.likelihoods`, as :func:`~codec_lib.evaluate.estimate_bits`).
    The networks run once per image; each bound then only redoes the Gaussian's likelihoods."""
    gc = model.gaussian_conditional
    kept = gc.scale_bound.clone()
    passes, rest = [], 0.0
    for img in _crops(images):
        with _recording({"y": gc}) as calls:
            lik = likelihoods(model, img)
        passes.append(calls["y"])
        rest += sum(float(-torch.log2(v.double()).sum()) for k, v in lik.items() if k != "y")
    out = {}
    try:
        for b in bounds:
            gc.set_scale_bound(b)
            out[b] = (sum(_channel_bits(gc, calls) for calls in passes), rest)
    finally:
        gc.set_scale_bound(kept)
    return out


def _best_per_channel(bits: dict) -> tuple[list, torch.Tensor]:
    """``bits``: ``{candidate: (M,) bits per channel}``. Each channel's candidate with the fewest
    bits (the rate is a sum over channels), and those bits ``(M,)``."""
    cands = list(bits)
    table = torch.stack([bits[b] for b in cands])                         # (candidates, M)
    return [cands[i] for i in table.argmin(0).tolist()], table.min(0).values


def rate_by_bound(model, images: list[Image.Image], bounds=BOUNDS) -> dict[float, float]:
    """Estimated bits of ``images`` (as :func:`bits_by_bound`, summed) for each bound."""
    return {b: float(y.sum()) + rest for b, (y, rest) in bits_by_bound(model, images, bounds).items()}


def tune_scale_bound(model, images: list[Image.Image], bounds=BOUNDS,
                     per_channel: bool | None = None) -> tuple[float | list[float], dict]:
    """Set ``model``'s scale bound to the one of ``bounds`` with the fewest estimated bits on
    ``images``, or, ``per_channel``, each channel's own best of them (the default where the
    model allows it: ``model.per_channel_bound``). Returns it (a float, or a list of M) and
    each candidate's rate relative to the model's bound before (``"per channel"``: the chosen
    per-channel bounds)."""
    gc = model.gaussian_conditional
    if per_channel is None:
        per_channel = getattr(model, "per_channel_bound", False)
    before = gc.scale_bound.clone()
    bits = bits_by_bound(model, images, tuple(sorted(set(bounds))) + (before,))
    y0, rest0 = bits.pop(before)
    total = lambda yr: float(yr[0].sum()) + yr[1]                         # noqa: E731
    rel = {b: total(yr) / total((y0, rest0)) for b, yr in bits.items()}
    if per_channel:
        best, least = _best_per_channel({b: y for b, (y, _) in bits.items()})
        rest = next(iter(bits.values()))[1]                               # z: no bound
        rel["per channel"] = (float(least.sum()) + rest) / total((y0, rest0))
    else:
        best = min(rel, key=rel.get)
    gc.set_scale_bound(best)
    model.update_tables()
    return best, rel


@torch.no_grad()
def tune_video_bounds(model, intras: list, x: torch.Tensor, bounds=BOUNDS) -> dict:
    """Set the scale bounds of a P-frame codec's Gaussians (its motion coder's, and its residual
    coder's or its frame coder's), one per channel, each shared by all its rates: the candidate
    with the fewest estimated bits over clips ``x (B, T, 3, H, W)`` coded low-delay at every rate
    (frame 0 by ``intras[k]``, then each P-frame from the codec's own output, as
    :func:`codec_lib.video_train.evaluate_video_loss`). The frames are the same whatever the
    bounds, so the chain runs once and each candidate only redoes the Gaussians' likelihoods
    from their recorded inputs. Returns per Gaussian (its likelihoods' key) the
    bounds chosen and the rate relative to the bounds before."""
    from .video_train import low_delay
    was_training = model.training
    model.eval()
    gcs = {"motion_y": model.motion_coder.gaussian_conditional}
    gcs.update({"residual_y": model.residual_coder.gaussian_conditional}
               if model.coding == "residual" else {"y": model.gaussian_conditional})
    rate, passes, chain = model.rate, [], low_delay(model, intras, x)
    while True:                                              # the chain, run once: one pass
        with _recording(gcs) as calls:                       # of the Gaussians per P-frame
            if next(chain, None) is None:
                break
        passes.append(calls)

    def bits() -> dict:                                      # {key: (M,)} at the bounds now
        return {key: sum(_channel_bits(gc, p[key]) for p in passes) for key, gc in gcs.items()}

    before, per = bits(), {}                                 # per candidate: {key: (M,)}
    for b in bounds:
        for gc in gcs.values():
            gc.set_scale_bound(b)
        per[b] = bits()
    record = {}
    for key, gc in gcs.items():
        best, least = _best_per_channel({b: p[key] for b, p in per.items()})
        gc.set_scale_bound(best)
        record[key] = {"value": [round(float(v), 6) for v in gc.scale_bound],
                       "rate": round(float(least.sum() / before[key].sum()), 4)}
    model.set_rate(rate)
    model.update_tables()
    model.train(was_training)
    return record
