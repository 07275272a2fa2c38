"""Learned inter-frame (P-frame) codecs. Groundwork: the residual codec, untrained.

Residual coding in the manner of DVC (Lu, Ouyang, Xu, Zhang, Cai & Gao, "DVC: an end-to-end deep
video compression framework", CVPR 2019) codes frame ``x_t`` given the previous decoded frame
``x_ref``:

1. **motion estimation**: ``v = ME(x_t, x_ref)``, a flow field ``(B, 2, H, W)`` in pixels;
2. **motion compression**: ``v_hat``, coded by a mean-scale hyperprior on two channels;
3. **motion compensation**: ``x_warp = warp(x_ref, v_hat)``, refined by a small network that also
   sees ``x_ref`` and ``v_hat``: the prediction ``x_pred``;
4. **residual compression**: ``r = x_t - x_pred`` coded by a second mean-scale hyperprior;
   ``x_hat = x_pred + r_hat``.

The decoder repeats steps 3 and 4 from the decoded ``v_hat`` and ``r_hat``, so encoder and
decoder hold the same reference for the next frame. The rate is the bits of both codes.

The conditional codec of DCVC (Li, Li & Lu, NeurIPS 2021) and the video training loop are not
written yet; neither model has been trained.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import ResidualBlock, analysis_transform, synthesis_transform
from .models import CompressionModel, MeanScaleHyperprior
from .motion import warp

__all__ = ["MotionEstimator", "signal_coder", "add_shared_parts", "ResidualVideoCodec"]


class MotionEstimator(nn.Module):
    """``(x_t, x_ref) -> flow (B, 2, H, W)``: a small encoder-decoder at 1/4 resolution.

    The last layer starts at zero, so an untrained estimator predicts no motion (copying the
    reference), the right first guess for most of a video."""

    def __init__(self, C: int = 32):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(6, C, 5, 2, 2), nn.LeakyReLU(0.1),
                                  nn.Conv2d(C, C, 5, 2, 2), nn.LeakyReLU(0.1),
                                  ResidualBlock(C), ResidualBlock(C))
        self.out = nn.Conv2d(C, 2, 3, padding=1)
        nn.init.zeros_(self.out.weight), nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, x_ref: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        f = self.out(self.down(torch.cat([x, x_ref], 1)))                   # (B, 2, H/4, W/4)
        return 4 * F.interpolate(f, size=(H, W), mode="bilinear", align_corners=False)


def signal_coder(channels: int, N: int, M: int) -> MeanScaleHyperprior:
    """A mean-scale hyperprior for a signed signal of ``channels`` channels (flow, residual)."""
    m = MeanScaleHyperprior(N, M)
    m.g_a = analysis_transform(N, M, "gdn", c_in=channels)
    m.g_s = synthesis_transform(N, M, "gdn", c_out=channels)
    m.clamp = False
    return m


class Refine(nn.Module):
    """Motion compensation: ``(x_warp, x_ref, v_hat) -> x_pred``, a correction of the warp."""

    def __init__(self, C: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(8, C, 3, padding=1), nn.LeakyReLU(0.1),
                                 ResidualBlock(C), nn.Conv2d(C, 3, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight), nn.init.zeros_(self.net[-1].bias)

    def forward(self, x_warp, x_ref, v_hat):
        return x_warp + self.net(torch.cat([x_warp, x_ref, v_hat / 4], 1))


def add_shared_parts(codec: nn.Module, N: int, M: int, C: int,
                     intra: MeanScaleHyperprior | None) -> None:
    """The parts both P-frame codecs have: sizes, the intra model that codes the first frame,
    motion estimation and motion coding."""
    codec.N, codec.M, codec.C = N, M, C
    codec.intra = intra or MeanScaleHyperprior(N, M)
    codec.motion_estimator = MotionEstimator(C)
    codec.motion_coder = signal_coder(2, N, M)


class ResidualVideoCodec(CompressionModel):
    """DVC-style P-frame codec (see the module docstring); ``N, M`` size both coders."""

    coding = "residual"
    downsampling = 64

    def __init__(self, N: int = 64, M: int = 96, C: int = 32,
                 intra: MeanScaleHyperprior | None = None):
        super().__init__()
        add_shared_parts(self, N, M, C, intra)
        self.refine = Refine(C)
        self.residual_coder = signal_coder(3, N, M)

    def predict(self, x_ref: torch.Tensor, v_hat: torch.Tensor) -> torch.Tensor:
        """Motion compensation, shared by encoder and decoder: ``(B, 3, H, W)``."""
        return self.refine(warp(x_ref, v_hat), x_ref, v_hat)

    def forward(self, x: torch.Tensor, x_ref: torch.Tensor) -> dict:
        """Training pass: ``x_hat``, ``likelihoods`` of both coders, and the intermediate signals."""
        v = self.motion_estimator(x, x_ref)
        m = self.motion_coder(v)
        x_pred = self.predict(x_ref, m["x_hat"])
        r = self.residual_coder(x - x_pred)
        lik = {f"motion_{k}": l for k, l in m["likelihoods"].items()}
        lik.update({f"residual_{k}": l for k, l in r["likelihoods"].items()})
        return {"x_hat": x_pred + r["x_hat"], "likelihoods": lik, "flow": v,
                "flow_hat": m["x_hat"], "x_pred": x_pred}

    @torch.no_grad()
    def compress(self, x: torch.Tensor, x_ref: torch.Tensor) -> tuple[list[list[bytes]], torch.Tensor]:
        """``(groups, x_hat)``: the four string groups (motion y, z; residual y, z) and the
        decoded frame, bit-identical to :meth:`decompress`'s (in [0, 1])."""
        v = self.motion_estimator(x, x_ref)
        m = self.motion_coder.compress(v, return_x_hat=True)
        x_pred = self.predict(x_ref, m["x_hat"])
        r = self.residual_coder.compress(x - x_pred, return_x_hat=True)
        x_hat = (x_pred + r["x_hat"]).clamp_(0, 1)
        return [list(s) for s in m["strings"]] + [list(s) for s in r["strings"]], x_hat

    @torch.no_grad()
    def decompress(self, groups: list[list[bytes]], x_ref: torch.Tensor) -> torch.Tensor:
        """The decoded frame ``(1, 3, H, W)`` from the four string groups and the reference."""
        H, W = x_ref.shape[-2:]
        shape = (-(-H // self.downsampling), -(-W // self.downsampling))
        v_hat = self.motion_coder.decompress(groups[:2], shape, size=(H, W))["x_hat"]
        x_pred = self.predict(x_ref, v_hat)
        r_hat = self.residual_coder.decompress(groups[2:], shape, size=(H, W))["x_hat"]
        return (x_pred + r_hat).clamp_(0, 1)
