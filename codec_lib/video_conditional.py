"""Conditional coding of P-frames in the manner of DCVC.

Li, Li & Lu ("Deep contextual video compression", NeurIPS 2021) replace the residual
``x_t - x_pred`` by a *context*: features of the previous decoded frame, warped by the decoded
motion and refined, ``ctx (B, C, H, W)``. The context conditions all three parts of the codec:

- the **encoder** ``y = g_a([x_t, x_warp, ctx])`` sees the frame and the context (here the warped
  reference pixels as well as the features), so it can spend bits only on what the context does
  not explain;
- the **entropy model**: the mean and scale of each latent come from the hyperprior ``h_s(z_hat)``
  *and* a temporal prior computed from the context: ``h_s + fuse([h_s, temporal_prior(ctx)])``;
- the **decoder** ``x_hat = x_warp + g_s(y_hat)[:3] + reconstruct([g_s(y_hat), ctx])``, where
  ``g_s`` makes ``C`` feature channels and our decoder keeps a skip from the motion-compensated
  reference ``x_warp``.

Since ``H(x_t | ctx) <= H(x_t - x_pred)`` for any prediction computed from the context,
residual coding is the special case where the encoder and decoder are forced to subtract and add
``x_pred``. **We start training from that special case**: the encoder's first layer computes
``x_t - x_warp`` (its ``x_warp`` weights are minus its ``x_t`` weights, the context's are small),
and the last layers of ``fuse`` and ``reconstruct`` are zero, so an untrained conditional codec is a
residual codec with a hyperprior. Training is free to leave it. (A first CPU run that started
from a random encoder and a decoder whose only path to the output went through a zero layer
spent its first several hundred steps not using the latent at all: without a gradient from the
distortion, the rate term drives the latent to zero.)

Motion estimation and motion coding are shared with the residual codec
(:mod:`codec_lib.video_models`), and so are the per-rate gains around the quantizers. The
entropy parameters are computed in float64 at coding time, as in the image models, so encoder
and decoder pick the same tables.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .entropy_models import EntropyBottleneck, GaussianConditional
from .layers import ResidualBlock, analysis_transform, conv, deconv, synthesis_transform
from .models import MeanScaleHyperprior, _channels_last, pad_to
from .motion import warp
from .video_models import PFrameCodec, gained

__all__ = ["ConditionalVideoCodec"]


class ConditionalVideoCodec(PFrameCodec):
    """DCVC-style P-frame codec (see the module docstring); ``C`` context channels."""

    coding = "conditional"

    def __init__(self, N: int = 48, M: int = 64, C: int = 16,
                 intra: MeanScaleHyperprior | None = None, lmbdas: list[float] = (0.013,)):
        super().__init__(N, M, C, intra, lmbdas)
        self.feature = nn.Sequential(nn.Conv2d(3, C, 3, padding=1), ResidualBlock(C))
        self.context_refine = nn.Sequential(nn.Conv2d(C, C, 3, padding=1), ResidualBlock(C))
        self.g_a, self.g_s = gained(analysis_transform(N, M, "gdn", c_in=6 + C),  # (B, 6+C, H, W) -> (B, M, H/16, W/16)
                                    synthesis_transform(N, M, "gdn", c_out=C),    # -> (B, C, H, W) features
                                    M, lmbdas)
        with torch.no_grad():        # start as the residual codec (see the module docstring)
            w = self.g_a[0][0].weight                                    # (N, 6+C, 5, 5)
            w[:, 3:6] = -w[:, :3]
            w[:, 6:] *= 0.1
        self.reconstruct = nn.Sequential(nn.Conv2d(2 * C, C, 3, padding=1), ResidualBlock(C),
                                         nn.Conv2d(C, 3, 3, padding=1))
        nn.init.zeros_(self.reconstruct[-1].weight), nn.init.zeros_(self.reconstruct[-1].bias)
        self.h_a = nn.Sequential(conv(M, N, 3, 1), nn.LeakyReLU(inplace=True), conv(N, N),
                                 nn.LeakyReLU(inplace=True), conv(N, N))
        self.h_s = nn.Sequential(deconv(N, M), nn.LeakyReLU(inplace=True), deconv(M, M * 3 // 2),
                                 nn.LeakyReLU(inplace=True), conv(M * 3 // 2, M * 2, 3, 1))
        self.temporal_prior = nn.Sequential(conv(C, N), nn.LeakyReLU(inplace=True), conv(N, N),
                                            nn.LeakyReLU(inplace=True), conv(N, N),
                                            nn.LeakyReLU(inplace=True), conv(N, M))   # (B, M, H/16, W/16)
        self.fuse = nn.Sequential(nn.Conv2d(3 * M, 2 * M, 1), nn.LeakyReLU(inplace=True),
                                  nn.Conv2d(2 * M, 2 * M, 1))
        nn.init.zeros_(self.fuse[-1].weight), nn.init.zeros_(self.fuse[-1].bias)
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional()

    # -- shared by encoder and decoder ---------------------------------------------------------
    def context(self, x_ref: torch.Tensor, v_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The temporal context ``(B, C, H, W)`` from the reference frame and decoded motion,
        and the warped reference ``(B, 3, H, W)``."""
        f = warp(torch.cat([x_ref, self.feature(x_ref)], 1), v_hat)
        return self.context_refine(f[:, 3:]), f[:, :3]

    def _encoder_input(self, x, x_warp, ctx_pad):
        """``(B, 6+C, H', W')``: the frame, the warped reference and the context features."""
        return torch.cat([pad_to(torch.cat([x, x_warp], 1), self.downsampling), ctx_pad], 1)

    def _params(self, z_hat, ctx_pad, double: bool = False):
        """``(scales, means)`` of ``y`` from the hyperprior and the temporal prior."""
        if double:
            hs = self._double_call(self.h_s, z_hat)
            tp = self._double_call(self.temporal_prior, ctx_pad)
            out = hs + self._double_call(self.fuse, torch.cat([hs, tp], 1))
        else:
            hs = self.h_s(z_hat)
            out = hs + self.fuse(torch.cat([hs, self.temporal_prior(ctx_pad)], 1))
        return out.chunk(2, dim=1)

    def _decode(self, y_hat, ctx, x_warp, H, W):
        """``x_hat``: the warped reference plus what the latent and the context add."""
        feat = self.g_s(_channels_last(y_hat))[..., :H, :W]                # (B, C, H, W)
        return x_warp + feat[:, :3] + self.reconstruct(torch.cat([feat, ctx], 1))

    # -- the codec ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, x_ref: torch.Tensor) -> dict:
        """Training pass: ``x_hat``, ``likelihoods`` (motion and frame), intermediate signals."""
        H, W = x.shape[-2:]
        v = self.motion_estimator(x, x_ref)
        m = self.motion_coder(v)
        ctx, x_warp = self.context(x_ref, m["x_hat"])
        ctx_pad = pad_to(ctx, self.downsampling)
        y = self.g_a(self._encoder_input(x, x_warp, ctx_pad))
        z = self.h_a(y)
        z_hat, z_lik = self._q(self.entropy_bottleneck, z)
        scales, means = self._params(z_hat, ctx_pad)
        y_hat, y_lik = self._q(self.gaussian_conditional, y, scales, means=means)
        lik = {f"motion_{k}": l for k, l in m["likelihoods"].items()}
        lik.update({"y": y_lik, "z": z_lik})
        return {"x_hat": self._decode(y_hat, ctx, x_warp, H, W), "likelihoods": lik, "flow": v,
                "flow_hat": m["x_hat"], "y_hat": y_hat}

    @torch.no_grad()
    def compress(self, x: torch.Tensor, x_ref: torch.Tensor) -> tuple[list[list[bytes]], torch.Tensor]:
        """``(groups, x_hat)``: motion y, z and frame y, z strings, and the decoded frame."""
        H, W = x.shape[-2:]
        v = self.motion_estimator(x, x_ref)
        m = self.motion_coder.compress(v, return_x_hat=True)
        ctx, x_warp = self.context(x_ref, m["x_hat"])
        ctx_pad = pad_to(ctx, self.downsampling)
        y = self.g_a(self._encoder_input(x, x_warp, ctx_pad))
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.round(z)
        scales, means = self._params(z_hat, ctx_pad, double=True)
        indexes = self.gaussian_conditional.build_indexes(scales)
        y_strings, y_hat = self.gaussian_conditional.compress(y, indexes, means)
        x_hat = self._decode(y_hat.float(), ctx, x_warp, H, W).clamp_(0, 1)
        return [list(s) for s in m["strings"]] + [list(y_strings), list(z_strings)], x_hat

    @torch.no_grad()
    def decompress(self, groups: list[list[bytes]], x_ref: torch.Tensor) -> torch.Tensor:
        """The decoded frame ``(1, 3, H, W)`` from the four string groups and the reference."""
        H, W = x_ref.shape[-2:]
        shape = self.latent_shape(H, W)
        v_hat = self.motion_coder.decompress(groups[:2], shape, size=(H, W))["x_hat"]
        ctx, x_warp = self.context(x_ref, v_hat)
        ctx_pad = pad_to(ctx, self.downsampling)
        z_hat = self.entropy_bottleneck.decompress(groups[3], shape)
        scales, means = self._params(z_hat, ctx_pad, double=True)
        indexes = self.gaussian_conditional.build_indexes(scales)
        y_hat = self.gaussian_conditional.decompress(groups[2], indexes, means)
        return self._decode(y_hat.float(), ctx, x_warp, H, W).clamp_(0, 1)

    @torch.no_grad()
    def init_from_residual(self, residual: dict) -> None:
        """Start from a trained residual codec's weights (a ``ResidualVideoCodec`` state dict):
        the same motion parts, and its residual coder as the special case of this codec (the
        encoder codes ``x_t - x_warp``, the context muted; ``g_s``'s first three channels are the
        residual's synthesis; the entropy model is its hyperprior). Its motion-compensation
        refinement has no counterpart here: ``reconstruct`` learns it from the context."""
        def part(prefix):
            return {k[len(prefix):]: v for k, v in residual.items() if k.startswith(prefix)}
        self.motion_estimator.load_state_dict(part("motion_estimator."))
        self.motion_coder.load_state_dict(part("motion_coder."))
        coder = part("residual_coder.")
        for name in ("h_a", "h_s", "entropy_bottleneck", "gaussian_conditional"):
            getattr(self, name).load_state_dict({k[len(name) + 1:]: v for k, v in coder.items()
                                                 if k.startswith(name + ".")})
        for name in ("g_a", "g_s"):
            own = getattr(self, name).state_dict()
            for k, v in coder.items():
                if not k.startswith(name + "."):
                    continue
                k = k[len(name) + 1:]
                if own[k].shape == v.shape:
                    own[k] = v
                elif name == "g_a":                       # first conv: (N, 3) -> (N, 6 + C)
                    own[k] = torch.cat([v, -v, torch.zeros_like(own[k][:, 6:])], 1)
                else:                                     # last deconv: 3 -> C outputs
                    w = torch.zeros_like(own[k])
                    w[(slice(None),) * (v.dim() > 1) + (slice(0, 3),)] = v
                    own[k] = w
            getattr(self, name).load_state_dict(own)

