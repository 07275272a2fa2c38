"""A channel-conditional entropy model on top of a trained mean-scale hyperprior.

Minnen & Singh ("Channel-wise autoregressive entropy models for learned image compression",
ICIP 2020) split the latent ``y`` into ``S`` slices along the channels and code them in order:
the Gaussian parameters of slice ``k`` come from the hyperprior *and* from the slices already
decoded, ``y_hat[:, :k]``. Channels of one latent are far from independent given ``z`` (edges
show up in many channels at once), so the slices that come later cost fewer bits. Unlike a
spatial context model (Minnen et al. 2018) each slice is decoded in one parallel step: ``S``
network calls per image, not one per latent position.

Here the idea is an *add-on*: :class:`ChannelContextHyperprior` is a
:class:`~codec_lib.models.MeanScaleHyperprior` whose ``g_a``, ``g_s``, ``h_a`` and ``h_s``
come unchanged from a shipped model, plus one small network ``cc[k]`` per slice ``k >= 1``::

    scales_h, means_h = h_s(z_hat)                          # (B, M, h, w) each, as before
    for k in range(S):                                      # y_k: (B, M/S, h, w)
        d_scale, d_mean = cc[k](scales_h_k, means_h_k, y_hat[:, :k])   # zero for k = 0
        y_hat_k = round(y_k - (means_h_k + d_mean)) + means_h_k + d_mean

Each ``cc[k]`` ends in a zero-initialized convolution, so before training the model *is* its
parent, bit for bit in rate; training only the ``cc`` networks on the rate term (``fit`` with
``--arch channel-context --init <mean-scale file> --trainable cc``) can only lower the bits. Only the ``cc`` weights
are stored (the checkpoint names its parent, :func:`codec_lib.zoo.save_checkpoint`). All
slices go into one rANS string, in order: the encoder knows every symbol and table before it
writes, and the decoder reads the string in parts (``coder.stream``), one slice at a time, so a
file has the same two string groups (``y``, ``z``) as any hyperprior model and no framing per
slice. Without the spatial context and the latent residual prediction of the paper; both would
need ``g_s`` to be trained again.

Example::

    from codec_lib import zoo
    parent = zoo.load_model("mean-scale", 4)
    model = ChannelContextHyperprior.from_parent(parent, slices=6)
    out = model(x)                                # same contract as every other model
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .entropy_coding import get_coder
from .layers import conv
from .models import MeanScaleHyperprior, _channels_last
from .quantization import quantize

__all__ = ["ChannelContextHyperprior", "SliceParams"]


class SliceParams(nn.Module):
    """``(scales_h_k, means_h_k, y_hat_<k)`` -> ``(d_scale, d_mean)`` of slice ``k`` (3x3 convs;
    the last one starts at zero, so the model starts as its parent)."""

    def __init__(self, width: int, previous: int, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            conv(2 * width + previous, hidden, 3, 1), nn.LeakyReLU(inplace=True),
            conv(hidden, hidden, 3, 1), nn.LeakyReLU(inplace=True),
            conv(hidden, 2 * width, 3, 1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, scales_h, means_h, y_prev):       # (B, w, h, w'), (B, w, ..), (B, k w, ..)
        d_scale, d_mean = self.net(torch.cat([scales_h, means_h, y_prev], 1)).chunk(2, 1)
        return scales_h + d_scale, means_h + d_mean


def _one_scale_bound(module, state_dict, prefix, *args) -> None:
    """The Gaussian codes a slice of channels at a time: a parent's bound per channel (chapter
    5) becomes one, their median (``load_state_dict`` hook)."""
    b = state_dict.get(prefix + "gaussian_conditional.scale_bound")
    if b is not None and b.numel() > 1:
        state_dict[prefix + "gaussian_conditional.scale_bound"] = b.median().reshape(1)


class ChannelContextHyperprior(MeanScaleHyperprior):
    """Mean-scale hyperprior with a channel-conditional entropy model (Minnen & Singh, ICIP 2020,
    without spatial context and latent residual prediction); see the module docstring.

    ``slices`` must divide ``M``; ``hidden`` is the width of each slice's parameter network.
    """

    per_channel_bound = False   # the Gaussian codes a slice of channels at a time: one bound

    def __init__(self, N: int = 128, M: int = 192, act: str = "gdn", synthesis: str = "deep",
                 slices: int = 6, hidden: int = 32):
        super().__init__(N, M, act, synthesis)
        if M % slices:
            raise ValueError(f"slices ({slices}) must divide M ({M})")
        self.slices, self.hidden = slices, hidden
        w = M // slices
        self.cc = nn.ModuleList([SliceParams(w, k * w, hidden) for k in range(1, slices)])
        self.register_load_state_dict_pre_hook(_one_scale_bound)

    @classmethod
    def from_parent(cls, parent: MeanScaleHyperprior, slices: int = 6,
                    hidden: int = 32) -> "ChannelContextHyperprior":
        """A model that starts as ``parent`` (its weights copied, the ``cc`` networks at zero)."""
        if not isinstance(parent, MeanScaleHyperprior) or isinstance(parent, cls):
            raise ValueError("the parent must be a mean-scale hyperprior")
        model = cls(parent.N, parent.M, parent.act, parent.synthesis, slices, hidden)
        model.load_state_dict(parent.state_dict(), strict=False)   # all but cc (same shapes)
        return model

    def _slice_params(self, k: int, scales_h, means_h, y_hat_prev, double: bool = False):
        """Gaussian ``(scales, means)`` of slice ``k`` (float64 at coding time)."""
        w = self.M // self.slices
        s, m = scales_h[:, k * w:(k + 1) * w], means_h[:, k * w:(k + 1) * w]
        if k == 0:
            return s, m
        if double:
            return self._double_call(self.cc[k - 1], s, m, y_hat_prev)
        return self.cc[k - 1](s, m, y_hat_prev)

    def _code_slices(self, scales_h, means_h, code, double: bool = False) -> torch.Tensor:
        """The one autoregressive loop of training, encoder and decoder: for each slice ``k`` in
        order, its Gaussian from the hyperprior and the slices before it, then
        ``code(k, scales, means)`` gives its ``y_hat``. Returns all of ``y_hat`` (B, M, h, w)."""
        y_hats = []
        for k in range(self.slices):
            prev = torch.cat(y_hats, 1) if y_hats else None
            scales, means = self._slice_params(k, scales_h, means_h, prev, double)
            y_hats.append(code(k, scales, means))                        # (B, M/S, h, w)
        return torch.cat(y_hats, 1)

    def from_latents(self, latents, quantize=None):
        q = quantize or self._q
        z_hat, z_likelihoods = q(self.entropy_bottleneck, latents["z"])
        scales_h, means_h = self._params(z_hat)
        y_k, liks = latents["y"].chunk(self.slices, 1), []

        def code(k, scales, means):
            y_hat_k, lik_k = q(self.gaussian_conditional, y_k[k], scales, means=means)
            liks.append(lik_k)
            return y_hat_k

        y_hat = self._code_slices(scales_h, means_h, code)               # (B, M, h, w)
        # Rounding around the means (straight-through or noise) gives y_hat no gradient with
        # respect to the means; with g_a frozen (y needs no gradient) nothing upstream of g_s
        # can learn through it, so g_s's backward pass is skipped (training only ``cc``).
        frozen = not latents["y"].requires_grad and self.proxy in ("mixed", "noise", "ste")
        return {"x_hat": self.g_s(y_hat.detach() if frozen else y_hat), "y_hat": y_hat,
                "likelihoods": {"y": torch.cat(liks, 1), "z": z_likelihoods}}

    def _compress(self, latents, coder):
        y, z = latents["y"], latents["z"]
        eb, gc = self.entropy_bottleneck, self.gaussian_conditional
        z_strings = eb.compress(z, coder)
        scales_h, means_h = self._params(eb.round(z), double=True)
        y_k, indexes, means_all = y.chunk(self.slices, 1), [], []

        def code(k, scales, means):
            indexes.append(gc.build_indexes(scales))
            means_all.append(means)
            return quantize(y_k[k].to(means.dtype), "round", means)     # what the decoder sees

        self._code_slices(scales_h, means_h, code, double=True)
        # one rANS string per image for all slices, in slice order (channels are the outer axis)
        y_strings, y_hat = gc.compress(y, torch.cat(indexes, 1), torch.cat(means_all, 1), coder)
        return {"strings": [y_strings, z_strings], "shape": tuple(z.shape[-2:])}, y_hat

    def _decompress(self, strings, shape, coder):
        gc, coder = self.gaussian_conditional, coder or get_coder()
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape, coder)
        scales_h, means_h = self._params(z_hat, double=True)
        streams = [coder.stream(s, scales_h[0].numel()) for s in strings[0]]
        y_hat = self._code_slices(          # decode a slice, then derive the next one's tables
            scales_h, means_h, lambda k, scales, means:
            gc.decompress_part(streams, gc.build_indexes(scales), means), double=True)
        return self.g_s(_channels_last(y_hat.float()))
