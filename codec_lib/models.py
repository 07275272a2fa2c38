"""Learned image codecs with CompressAI's contract: ``forward``, ``compress``, ``decompress``.

Workflow::

    model = MeanScaleHyperprior(N=128, M=192)
    out = model(x)                         # training: {"x_hat", "likelihoods": {"y", "z"}, "y_hat"}
    enc = model.compress(x)                # {"strings": [[y bytes], [z bytes]], "shape": (h, w)}
    x_hat = model.decompress(**enc)["x_hat"]

``x`` is ``(B, 3, H, W)`` in ``[0, 1]``. Any ``H, W`` works: inputs are padded by edge
replication to a multiple of :attr:`downsampling` and ``x_hat`` is cropped back (``compress``
records the size). The probability tables refresh themselves when the weights change.

Determinism: the hyper-synthesis ``h_s`` that predicts the entropy parameters runs in float64
at coding time, so encoder and decoder derive the same table indexes and means even when their
float32 arithmetic would differ in the last bit; a mismatch there would garble the rest of the
bitstream. The synthesis ``g_s`` runs in float32 on channels-last tensors: oneDNN's
channels-first (NCHW) transposed convolutions sum in an order that depends on the thread count
(measured: 7 pixels of a Kodak image changed by one level between 1 and 2 threads), its
channels-last kernels did not at 1 to 4 threads on this project's AVX2 CPU (tested), and
they are as fast. On a CPU the decoded pixels
are then the same for any number of threads, and equal to the encoder's ``x_hat``. (Across
different hardware, e.g. a GPU encoder and a CPU decoder, the entropy decoding stays exact;
pixels may differ by one level.)
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from .entropy_models import EntropyBottleneck, GaussianConditional
from .layers import analysis_transform, conv, deconv, synthesis_transform
from .quantization import quantize

__all__ = ["CompressionModel", "FactorizedPrior", "ScaleHyperprior", "MeanScaleHyperprior",
           "ARCHITECTURES", "build_model"]


def pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    H, W = x.shape[-2:]
    ph, pw = (-H) % multiple, (-W) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def _channels_last(y: torch.Tensor) -> torch.Tensor:
    """``y`` in channels-last layout: on a CPU, convolutions whose results do not depend on the
    thread count (see the module docstring)."""
    return y.contiguous(memory_format=torch.channels_last)


class CompressionModel(nn.Module):
    """Base class: padding, the auxiliary loss, the training quantization proxy, table upkeep.

    ``proxy`` chooses how ``forward`` quantizes while training (see
    :mod:`codec_lib.quantization`); ``"mixed"`` uses noise for the rate and straight-through
    rounding for the decoder input (Minnen & Singh, ICIP 2020). ``proxy_kw`` carries the
    ``alpha`` of soft rounding or the ``tau`` of Gumbel annealing, for schedules.
    """

    downsampling = 16
    clamp = True            # decoded images lie in [0, 1]; False for signed signals (flow, residuals)

    def __init__(self):
        super().__init__()
        self.proxy, self.proxy_kw = "mixed", {}

    def _q(self, em, *args, **kwargs):
        """Run entropy model ``em`` in float32, also under mixed-precision autocast (likelihoods
        need the precision); return (decoder input, likelihoods)."""
        with torch.autocast(args[0].device.type, enabled=False):
            args = tuple(a.float() for a in args)
            kwargs = {k: v.float() if torch.is_tensor(v) else v for k, v in kwargs.items()}
            return self._q32(em, *args, **kwargs)

    def _q32(self, em, *args, **kwargs):
        if not self.training:
            return em(*args, mode="round", **kwargs)
        if self.proxy == "mixed":
            y_tilde, lik = em(*args, mode="noise", **kwargs)
            means = kwargs.get("means")
            if means is None and isinstance(em, EntropyBottleneck):
                means = em.medians.view(1, -1, 1, 1)
            return quantize(args[0], "ste", means), lik
        return em(*args, mode=self.proxy, **kwargs, **self.proxy_kw)

    def aux_loss(self) -> torch.Tensor:
        """Sum of the factorized densities' quantile losses (optimized separately)."""
        return sum(m.loss() for m in self.modules() if isinstance(m, EntropyBottleneck))

    def update_tables(self, force: bool = False) -> None:
        """Rebuild stale CDF tables now (``compress``/``decompress`` also do it on their own)."""
        for m in self.modules():
            if hasattr(m, "update_tables") and m is not self:
                m.update_tables(force)

    def analysis(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The latents the encoder codes for a padded ``x``: ``{"y"}`` (and ``"z"``)."""
        raise NotImplementedError

    def from_latents(self, latents: dict, quantize=None) -> dict:
        """``x_hat``, ``likelihoods`` and ``y_hat`` of ``latents``, each quantized by
        ``quantize(entropy_model, values, *params, **kw) -> (hat, likelihoods)`` (default: the
        training proxy in train mode, rounding in eval mode); :mod:`codec_lib.refine` passes
        its own."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> dict:
        H, W = x.shape[-2:]
        out = self.from_latents(self.analysis(pad_to(x, self.downsampling)))
        out["x_hat"] = out["x_hat"][..., :H, :W]
        return out

    @torch.no_grad()
    def compress(self, x: torch.Tensor, coder=None, return_x_hat: bool = False,
                 latents: dict | None = None) -> dict:
        """Code ``x``; with ``return_x_hat`` also give the encoder's reconstruction, which is
        bit-identical to what ``decompress`` will produce. ``latents`` (``{"y", "z"}`` of the
        padded ``x``, e.g. from :func:`codec_lib.refine.refine_latents`) replace ``g_a`` and
        ``h_a``'s output (:meth:`analysis`)."""
        H, W = x.shape[-2:]
        out, y_hat = self._compress(latents or self.analysis(pad_to(x, self.downsampling)), coder)
        out["size"] = (H, W)
        if return_x_hat:
            x_hat = self.g_s(_channels_last(y_hat.float()))
            x_hat = (x_hat.clamp_(0, 1) if self.clamp else x_hat)[..., :H, :W]
            out["x_hat"] = x_hat.contiguous()
        return out

    @torch.no_grad()
    def decompress(self, strings: list[list[bytes]], shape: tuple[int, int],
                   size: tuple[int, int] | None = None, coder=None) -> dict:
        x_hat = self._decompress(strings, tuple(shape), coder)
        x_hat = x_hat.clamp_(0, 1) if self.clamp else x_hat
        if size is not None:
            x_hat = x_hat[..., : size[0], : size[1]]
        return {"x_hat": x_hat.contiguous()}

    def _double_call(self, module: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
        """Run ``module`` in float64 without touching its (float32) parameters."""
        params = {k: v.double() for k, v in module.named_parameters()}
        params.update({k: v.double() if v.is_floating_point() else v
                       for k, v in module.named_buffers()})
        return functional_call(module, params, tuple(t.double() for t in inputs))


class FactorizedPrior(CompressionModel):
    """Factorized-prior codec (Balle, Laparra & Simoncelli, "End-to-end optimized image
    compression", ICLR 2017; the learned density of Balle et al. 2018).

    ``x -> g_a -> y -> Q -> y_hat -> g_s -> x_hat`` with ``p(y_hat) = prod_c p_c(y_hat_c)``.
    """

    def __init__(self, N: int = 128, M: int = 192, act: str = "gdn", synthesis: str = "deep"):
        super().__init__()
        self.N, self.M, self.act, self.synthesis = N, M, act, synthesis
        self.g_a = analysis_transform(N, M, act)        # (B, 3, H, W) -> (B, M, H/16, W/16)
        self.g_s = synthesis_transform(N, M, act, kind=synthesis)
        self.entropy_bottleneck = EntropyBottleneck(M)

    def analysis(self, x):
        return {"y": self.g_a(x)}                         # (B, M, H/16, W/16)

    def from_latents(self, latents, quantize=None):
        y_hat, y_likelihoods = (quantize or self._q)(self.entropy_bottleneck, latents["y"])
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": y_likelihoods}, "y_hat": y_hat}

    def _compress(self, latents, coder):
        y = latents["y"]
        eb = self.entropy_bottleneck
        y_hat = eb.round(y)
        return {"strings": [eb.compress(y, coder)], "shape": tuple(y.shape[-2:])}, y_hat

    def _decompress(self, strings, shape, coder):
        y_hat = self.entropy_bottleneck.decompress(strings[0], shape, coder)
        return self.g_s(_channels_last(y_hat))


class ScaleHyperprior(CompressionModel):
    """Scale hyperprior (Balle, Minnen, Singh, Hwang & Johnston, "Variational image compression
    with a scale hyperprior", ICLR 2018).

    Side information ``z = h_a(|y|)`` is coded with a factorized prior and tells the decoder the
    scale of every latent: ``sigma = h_s(z_hat)``, ``y_hat ~ N(0, sigma^2)``.
    """

    downsampling = 64
    per_channel_bound = True    # the Gaussian's scale bound may be one per channel of y

    def __init__(self, N: int = 128, M: int = 192, act: str = "gdn", synthesis: str = "deep"):
        super().__init__()
        self.N, self.M, self.act, self.synthesis = N, M, act, synthesis
        self.g_a = analysis_transform(N, M, act)
        self.g_s = synthesis_transform(N, M, act, kind=synthesis)
        self.h_a = nn.Sequential(                       # (B, M, h, w) -> (B, N, h/4, w/4)
            conv(M, N, 3, 1), nn.ReLU(inplace=True),
            conv(N, N), nn.ReLU(inplace=True),
            conv(N, N),
        )
        self.h_s = nn.Sequential(                       # (B, N, h/4, w/4) -> (B, M, h, w)
            deconv(N, N), nn.ReLU(inplace=True),
            deconv(N, N), nn.ReLU(inplace=True),
            conv(N, M, 3, 1), nn.ReLU(inplace=True),
        )
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional()

    def _hyper_in(self, y):
        return torch.abs(y)

    def _params(self, z_hat, double: bool = False):
        """``(scales, means)`` from ``z_hat``; float64 at coding time."""
        out = self._double_call(self.h_s, z_hat) if double else self.h_s(z_hat)
        return out, None

    def analysis(self, x):
        y = self.g_a(x)                                   # (B, M, H/16, W/16)
        return {"y": y, "z": self.h_a(self._hyper_in(y))}  # z: (B, N, H/64, W/64)

    def from_latents(self, latents, quantize=None):
        q = quantize or self._q
        z_hat, z_likelihoods = q(self.entropy_bottleneck, latents["z"])
        scales, means = self._params(z_hat)
        y_hat, y_likelihoods = q(self.gaussian_conditional, latents["y"], scales, means=means)
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": y_likelihoods, "z": z_likelihoods},
                "y_hat": y_hat}

    def _compress(self, latents, coder):
        y, z = latents["y"], latents["z"]
        eb = self.entropy_bottleneck
        z_strings = eb.compress(z, coder)
        z_hat = eb.round(z)
        scales, means = self._params(z_hat, double=True)
        indexes = self.gaussian_conditional.build_indexes(scales)
        y_strings, y_hat = self.gaussian_conditional.compress(y, indexes, means, coder)
        return {"strings": [y_strings, z_strings], "shape": tuple(z.shape[-2:])}, y_hat

    def _decompress(self, strings, shape, coder):
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape, coder)
        scales, means = self._params(z_hat, double=True)
        indexes = self.gaussian_conditional.build_indexes(scales)
        y_hat = self.gaussian_conditional.decompress(strings[0], indexes, means, coder)
        return self.g_s(_channels_last(y_hat.float()))


class MeanScaleHyperprior(ScaleHyperprior):
    """Mean-scale hyperprior (Minnen, Balle & Toderici, "Joint autoregressive and hierarchical
    priors for learned image compression", NeurIPS 2018, without the autoregressive context).

    ``h_s`` predicts a mean as well as a scale per latent, and ``y`` is rounded around its mean.
    """

    def __init__(self, N: int = 128, M: int = 192, act: str = "gdn", synthesis: str = "deep"):
        super().__init__(N, M, act, synthesis)
        self.h_a = nn.Sequential(
            conv(M, N, 3, 1), nn.LeakyReLU(inplace=True),
            conv(N, N), nn.LeakyReLU(inplace=True),
            conv(N, N),
        )
        self.h_s = nn.Sequential(
            deconv(N, M), nn.LeakyReLU(inplace=True),
            deconv(M, M * 3 // 2), nn.LeakyReLU(inplace=True),
            conv(M * 3 // 2, M * 2, 3, 1),
        )

    def _hyper_in(self, y):
        return y

    def _params(self, z_hat, double: bool = False):
        out = self._double_call(self.h_s, z_hat) if double else self.h_s(z_hat)
        scales, means = out.chunk(2, dim=1)
        return scales, means


ARCHITECTURES = {"factorized": FactorizedPrior, "hyperprior": ScaleHyperprior,
                 "mean-scale": MeanScaleHyperprior}


def build_model(arch: str, N: int = 128, M: int = 192, act: str = "gdn",
                synthesis: str = "deep") -> CompressionModel:
    """Instantiate an architecture by name (``factorized``, ``hyperprior``, ``mean-scale``,
    ``channel-context``);
    ``synthesis`` picks a deep or shallow ``g_s`` (:func:`codec_lib.layers.synthesis_transform`)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](N=N, M=M, act=act, synthesis=synthesis)


from .channel_context import ChannelContextHyperprior  # noqa: E402  (it subclasses the above)

ARCHITECTURES["channel-context"] = ChannelContextHyperprior
