"""Learned inter-frame (P-frame) codecs: the parts both share, and the residual codec.

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

The conditional codec of DCVC (Li, Li & Lu, NeurIPS 2021) is in :mod:`codec_lib.video_conditional`
and shares motion estimation, motion coding and the rate control below.

**One model, several rates.** Each latent that is entropy coded (motion and frame) passes a
:class:`Gain`: ``y * g_k`` before quantization and ``y_hat * g'_k`` after, with learned
per-channel vectors ``g_k, g'_k`` for each rate ``k`` (Cui, Wang, Chen, Wen & Yu, "Asymmetric gained
deep image compression with continuous rate adaptation", CVPR 2021). A larger gain quantizes more
finely: more bits, less distortion. Training draws ``k`` with its ``lmbdas[k]``, so one set of
weights serves every rate; :meth:`set_rate` picks one for coding.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import ResidualBlock, analysis_transform, synthesis_transform
from .models import CompressionModel, MeanScaleHyperprior
from .motion import warp

__all__ = ["Gain", "MotionEstimator", "signal_coder", "PFrameCodec", "ResidualVideoCodec",
           "MOTION_N", "MOTION_M"]

MOTION_N, MOTION_M = 32, 32          # the motion coder's widths: a flow field is smooth


class Gain(nn.Module):
    """``y (B, C, h, w) -> y * g_k``, a learned positive gain per channel for the rate ``k``.

    ``init`` gives each rate's starting gain (the same for all channels); the gains are stored
    as logarithms so that they stay positive."""

    def __init__(self, channels: int, init: list[float]):
        super().__init__()
        self.log_gain = nn.Parameter(torch.tensor(init).log()[:, None].repeat(1, channels))  # (K, C)
        self.k = 0

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.log_gain[self.k].exp().view(1, -1, 1, 1)


def rate_gains(lmbdas: list[float]) -> list[float]:
    """Starting gains: the quantization step shrinks as ``1 / sqrt(lmbda)`` around their middle."""
    mid = math.exp(sum(math.log(l) for l in lmbdas) / len(lmbdas))
    return [math.sqrt(l / mid) for l in lmbdas]


def gained(g_a: nn.Module, g_s: nn.Module, M: int, lmbdas: list[float]) -> tuple[nn.Module, nn.Module]:
    """``g_a`` followed by a :class:`Gain`, and ``g_s`` preceded by its inverse gain."""
    g = rate_gains(lmbdas)
    return nn.Sequential(g_a, Gain(M, g)), nn.Sequential(Gain(M, [1 / v for v in g]), g_s)


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


def signal_coder(channels: int, N: int, M: int, lmbdas: list[float]) -> MeanScaleHyperprior:
    """A mean-scale hyperprior for a signed signal of ``channels`` channels (flow, residual),
    with a :class:`Gain` per rate around its quantizer."""
    m = MeanScaleHyperprior(N, M)
    m.g_a, m.g_s = gained(analysis_transform(N, M, "gdn", c_in=channels),
                          synthesis_transform(N, M, "gdn", c_out=channels), M, lmbdas)
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


class PFrameCodec(CompressionModel):
    """What both P-frame codecs share: sizes, rates, the intra model that codes the first frame,
    motion estimation and motion coding; :meth:`set_rate` and :meth:`load_parts`."""

    coding: str = ""
    downsampling = 64

    def __init__(self, N: int, M: int, C: int, intra: MeanScaleHyperprior | None,
                 lmbdas: list[float]):
        super().__init__()
        self.N, self.M, self.C, self.lmbdas, self.rate = N, M, C, list(lmbdas), 0   # Gains start at 0
        self.intra = intra or MeanScaleHyperprior(N, M)
        self.motion_estimator = MotionEstimator()
        self.motion_coder = signal_coder(2, min(N, MOTION_N), min(M, MOTION_M), lmbdas)

    def set_rate(self, k: int) -> None:
        """Code at rate ``k`` (``self.lmbdas[k]``) from now on."""
        if not 0 <= k < len(self.lmbdas):
            raise ValueError(f"rate {k} out of range: the model has {len(self.lmbdas)} rates")
        self.rate = k
        for m in self.modules():
            if isinstance(m, Gain):
                m.k = k

    def load_parts(self, state: dict) -> None:
        """Load the P-frame parts from ``state`` (keys of all children but ``intra``, which may
        be present and is ignored). Loaded child by child: a load into the whole model would
        mark the intra model's tables stale."""
        parts = {n: c for n, c in self.named_children() if n != "intra"}
        if {k.split(".")[0] for k in state} - {"intra"} != set(parts):
            raise ValueError("the weights do not fit this codec's architecture")
        for n, child in parts.items():
            child.load_state_dict({k[len(n) + 1:]: v for k, v in state.items() if k.startswith(n + ".")})

    def latent_shape(self, H: int, W: int) -> tuple[int, int]:
        """The hyper-latents' height and width for an ``H x W`` frame."""
        return -(-H // self.downsampling), -(-W // self.downsampling)


class ResidualVideoCodec(PFrameCodec):
    """DVC-style P-frame codec (see the module docstring); ``N, M`` size both coders."""

    coding = "residual"

    def __init__(self, N: int = 48, M: int = 64, C: int = 16,
                 intra: MeanScaleHyperprior | None = None, lmbdas: list[float] = (0.013,)):
        super().__init__(N, M, C, intra, lmbdas)
        self.refine = Refine(C)
        self.residual_coder = signal_coder(3, N, M, lmbdas)

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
        shape = self.latent_shape(H, W)
        v_hat = self.motion_coder.decompress(groups[:2], shape, size=(H, W))["x_hat"]
        x_pred = self.predict(x_ref, v_hat)
        r_hat = self.residual_coder.decompress(groups[2:], shape, size=(H, W))["x_hat"]
        return (x_pred + r_hat).clamp_(0, 1)
