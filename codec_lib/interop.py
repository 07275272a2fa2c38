"""Interoperability with CompressAI: move weights between its models and ours.

Our three architectures have the same layers, in the same order and with the same parameter
names, as CompressAI's ``FactorizedPrior``, ``ScaleHyperprior`` and ``MeanScaleHyperprior``
(CompressAI's zoo names: ``bmshj2018-factorized``, ``bmshj2018-hyperprior``, ``mbt2018-mean``).
Converting is therefore a matter of dropping the few bookkeeping buffers that only one side has.
Probability tables travel along, so a bitstream coded by either side decodes on the other.

::

    from compressai.zoo import mbt2018_mean
    ours = from_compressai(mbt2018_mean(quality=3, pretrained=True))   # if you have the weights
    theirs = to_compressai(ours)                                       # and back
"""
from __future__ import annotations

import torch

from .models import ARCHITECTURES, CompressionModel, build_model

__all__ = ["from_compressai", "to_compressai", "COMPRESSAI_CLASSES"]

COMPRESSAI_CLASSES = {"factorized": "FactorizedPrior", "hyperprior": "ScaleHyperprior",
                      "mean-scale": "MeanScaleHyperprior"}

# buffers CompressAI keeps that we do not (constants it rebuilds itself)
_THEIRS_ONLY = ("likelihood_lower_bound.bound", "lower_bound_scale.bound", "scale_bound")


def _arch_of_compressai(model) -> str:
    name = type(model).__name__
    for arch, cls in COMPRESSAI_CLASSES.items():
        if cls == name:
            return arch
    raise ValueError(f"no codec_lib architecture matches CompressAI's {name}")


def _widths(model) -> tuple[int, int]:
    g_a = model.g_a
    return g_a[0].out_channels, g_a[-1].out_channels   # N, M


def from_compressai(model) -> CompressionModel:
    """A codec_lib model with the weights (and tables, if built) of a CompressAI model."""
    arch = _arch_of_compressai(model)
    N, M = _widths(model)
    ours = build_model(arch, N, M)
    theirs = model.state_dict()
    sd = {k: v for k, v in theirs.items() if not k.endswith(_THEIRS_ONLY)
          and not (k.endswith("scale_table") and v.numel() == 0)}   # not updated: use ours
    sd.update({k.replace("lower_bound_scale.bound", "scale_bound"): v.reshape(-1) for k, v in
               theirs.items() if k.endswith("lower_bound_scale.bound")})   # the bound it codes with
    if any(sd[k].numel() == 0 for k in sd if k.endswith("_quantized_cdf")):
        sd = {k: v for k, v in sd.items() if not k.endswith(("_quantized_cdf", "_cdf_length", "_offset"))}
        ours.load_state_dict(sd, strict=False)          # tables get built on first use
    else:
        ours.load_state_dict(sd)
    return ours.eval()


def to_compressai(model: CompressionModel):
    """The CompressAI model of the same architecture carrying our weights and tables."""
    import compressai.models as cm
    arch = {v: k for k, v in ARCHITECTURES.items()}[type(model)]
    theirs = getattr(cm, COMPRESSAI_CLASSES[arch])(N=model.N, M=model.M)
    model.update_tables()
    sd = theirs.state_dict()
    ours = model.state_dict()
    missing = set(sd) - set(ours) - {k for k in sd if k.endswith(_THEIRS_ONLY)}
    if missing:
        raise ValueError(f"cannot map to CompressAI: {sorted(missing)[:3]} have no counterpart")
    sd.update({k: v.clone() for k, v in ours.items()})
    if hasattr(model, "gaussian_conditional"):       # the bound it codes with: (1,) or (1, M, 1, 1)
        b = model.gaussian_conditional.scale_bound
        b = b.clone() if b.numel() == 1 else b.view(1, -1, 1, 1).clone()
        theirs.gaussian_conditional.lower_bound_scale.bound = b
        theirs.gaussian_conditional.scale_bound = model.gaussian_conditional.scale_bound.clone()
        sd["gaussian_conditional.lower_bound_scale.bound"] = b
    theirs.load_state_dict(sd)                           # CompressAI resizes its table buffers
    return theirs.eval()


@torch.no_grad()
def same_likelihoods(ours: CompressionModel, theirs, x: torch.Tensor, atol: float = 1e-5) -> bool:
    """True if both models give the same reconstruction and likelihoods on ``x`` (eval mode)."""
    a, b = ours.eval()(x), theirs.eval()(x)
    return torch.allclose(a["x_hat"], b["x_hat"], atol=atol) and all(
        torch.allclose(a["likelihoods"][k], b["likelihoods"][k], atol=atol) for k in a["likelihoods"])
