"""Entropy models: the probability of each quantized latent, for the rate term and for coding.

Two models cover the classic learned codecs:

- :class:`EntropyBottleneck`: a learned *factorized* density, one univariate density per
  channel, defined by a small monotone network that outputs its cumulative ``c(y)``
  (Balle, Minnen, Singh, Hwang & Johnston, ICLR 2018, appendix 6.1). The likelihood of a
  quantized value is the mass of its bin: ``p(y_hat) = c(y_hat + 1/2) - c(y_hat - 1/2)``.
- :class:`GaussianConditional`: ``y_i ~ N(mu_i, sigma_i^2)`` convolved with ``U(-1/2, 1/2)``,
  with ``mu, sigma`` predicted per element from side information (the hyperprior of Balle et
  al. 2018; means added by Minnen, Balle & Toderici, NeurIPS 2018).

Both return ``(y_hat, likelihoods)`` in ``forward`` (training: a quantization proxy; evaluation:
rounding) and code real bytes with ``compress``/``decompress`` through integer CDF tables
(:mod:`codec_lib.entropy_coding`). The tables are rebuilt automatically whenever the weights have
changed since they were last built (and saved in checkpoints, so that an encoder and a decoder on
different machines share the very same integers): nobody has to call ``update()``.

The parameter and buffer names follow CompressAI's (``matrices.0``, ``quantiles``,
``_quantized_cdf``, ``scale_table``, ...), which keeps :mod:`codec_lib.interop` short.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .entropy_coding import CdfTables, get_coder, pmf_to_quantized_cdf
from .layers import lower_bound
from .quantization import quantize

__all__ = ["EntropyBottleneck", "GaussianConditional", "default_scale_table"]

LIKELIHOOD_BOUND = 1e-9   # floor on likelihoods, keeps log2 finite
SCALE_BOUND = 0.11        # GaussianConditional's default smallest sigma (CompressAI's)


class _TabledModel(nn.Module):
    """Shared machinery: integer CDF buffers, staleness tracking, byte coding."""

    def __init__(self):
        super().__init__()
        for name in ("_quantized_cdf", "_cdf_length", "_offset"):
            self.register_buffer(name, torch.zeros(0, dtype=torch.int32))
        self._tables_key = None
        self._tables_cache = None
        self._tables_loaded = False
        self.register_load_state_dict_post_hook(_mark_loaded_tables)

    # -- tables ---------------------------------------------------------------------------
    def _key(self) -> str:
        """Fingerprint of the values the tables are built from (a few thousand numbers)."""
        h = hashlib.sha1()
        for t in self._table_inputs():
            h.update(t.detach().float().cpu().numpy().tobytes())
        return h.hexdigest()

    def _table_inputs(self):
        raise NotImplementedError

    def _build_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def update_tables(self, force: bool = False) -> None:
        """Rebuild the integer CDFs if the weights changed (or ``force``)."""
        if not force and self._tables_key == self._key() and self._quantized_cdf.numel():
            return
        cdf, lengths, offsets = self._build_tables()
        dev = self._quantized_cdf.device
        self._quantized_cdf = torch.from_numpy(cdf).to(dev)
        self._cdf_length = torch.from_numpy(lengths.astype(np.int32)).to(dev)
        self._offset = torch.from_numpy(offsets.astype(np.int32)).to(dev)
        self._tables_key, self._tables_cache = self._key(), None

    def tables(self) -> CdfTables:
        self.update_tables()
        if self._tables_cache is None:
            self._tables_cache = CdfTables(self._quantized_cdf.cpu().numpy(),
                                           self._cdf_length.cpu().numpy(),
                                           self._offset.cpu().numpy())
        return self._tables_cache

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        present = []
        for name in ("_quantized_cdf", "_cdf_length", "_offset", "scale_table", "scale_bound"):
            if prefix + name in state_dict and name in self._buffers:        # (vary in size)
                self._buffers[name] = torch.empty_like(state_dict[prefix + name],
                                                       device=getattr(self, name).device)
                if name not in ("scale_table", "scale_bound"):
                    present.append(state_dict[prefix + name].numel() > 0)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._tables_cache, self._tables_key = None, None
        self._tables_loaded = bool(present) and all(present)

    # -- bytes ----------------------------------------------------------------------------
    def _encode(self, symbols: torch.Tensor, indexes: torch.Tensor, coder=None) -> list[bytes]:
        coder, tables = coder or get_coder(), self.tables()
        return [coder.encode(s.cpu().numpy(), i.cpu().numpy(), tables)
                for s, i in zip(symbols.int(), indexes.int())]

    def _decode(self, strings: list[bytes], indexes: torch.Tensor, coder=None) -> torch.Tensor:
        coder = coder or get_coder()
        return self._decode_part([coder.stream(s, i.numel()) for s, i in zip(strings, indexes)],
                                 indexes)

    def _decode_part(self, streams: list, indexes: torch.Tensor) -> torch.Tensor:
        """The next ``indexes.shape`` symbols of each image's stream (``coder.stream``)."""
        tables = self.tables()
        out = [torch.from_numpy(st.decode(i.cpu().numpy(), tables)).reshape(i.shape)
               for st, i in zip(streams, indexes.int())]
        return torch.stack(out).to(indexes.device)


def _mark_loaded_tables(module, incompatible_keys) -> None:
    """After a whole load (children included), loaded tables belong to the loaded weights."""
    if module._tables_loaded:
        module._tables_key, module._tables_loaded = module._key(), False


class EntropyBottleneck(_TabledModel):
    """Learned factorized prior ``p(z) = prod_c p_c(z_c)`` (Balle et al. 2018, appendix 6.1).

    Each channel's cumulative ``c(x) = sigmoid(f_K(...f_1(x)))`` is a tiny monotone network with
    ``filters`` hidden units per layer: positive matrices (``softplus``), biases and
    ``tanh``-gated residual factors. ``quantiles`` are learned by the auxiliary loss to sit at
    the ``tail_mass / 2``, 50 % and ``1 - tail_mass / 2`` points; the median centres rounding
    and the outer two bound the coding range (values outside are escaped).
    """

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3, 3),
                 init_scale: float = 10.0, tail_mass: float = 1e-9):
        super().__init__()
        self.channels, self.filters, self.tail_mass = channels, tuple(filters), tail_mass
        dims = (1,) + self.filters + (1,)
        scale = init_scale ** (1 / (len(self.filters) + 1))
        K = len(self.filters) + 1
        self.matrices = nn.ParameterList(
            torch.full((channels, dims[i + 1], dims[i]), math.log(math.expm1(1 / scale / dims[i + 1])))
            for i in range(K))
        self.biases = nn.ParameterList(
            torch.empty(channels, dims[i + 1], 1).uniform_(-0.5, 0.5) for i in range(K))
        self.factors = nn.ParameterList(torch.zeros(channels, dims[i + 1], 1) for i in range(K - 1))
        self.quantiles = nn.Parameter(
            torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1))   # (C, 1, 3)
        t = math.log(2 / tail_mass - 1)
        self.register_buffer("target", torch.tensor([-t, 0.0, t]))

    def _table_inputs(self):
        return list(self.parameters())

    def _logits_cumulative(self, x: torch.Tensor, stop_gradient: bool = False) -> torch.Tensor:
        """``logit(c(x))`` for ``x`` of shape ``(C, 1, n)``."""
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            x = torch.matmul(F.softplus(matrix).to(x.dtype), x) + bias.to(x.dtype)
            if i < len(self.factors):
                factor = self.factors[i].detach() if stop_gradient else self.factors[i]
                x = x + torch.tanh(factor).to(x.dtype) * torch.tanh(x)
        return x

    def _likelihood(self, y_hat: torch.Tensor) -> torch.Tensor:
        """Bin mass ``c(y + 1/2) - c(y - 1/2)`` for ``y_hat`` of shape ``(C, 1, n)``."""
        lower = self._logits_cumulative(y_hat - 0.5)
        upper = self._logits_cumulative(y_hat + 0.5)
        sign = -torch.sign(lower + upper).detach()   # evaluate in the accurate tail of the sigmoid
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))

    @property
    def medians(self) -> torch.Tensor:   # (C,)
        return self.quantiles[:, 0, 1].detach()

    def loss(self) -> torch.Tensor:
        """Auxiliary loss that moves ``quantiles`` to their targets (not part of the RD loss)."""
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return torch.abs(logits - self.target).sum()

    def forward(self, y: torch.Tensor, mode: str | None = None, **kw) -> tuple[torch.Tensor, torch.Tensor]:
        """``y (B, C, H, W) -> (y_hat, likelihoods)``; ``mode`` defaults to noise/round."""
        mode = mode or ("noise" if self.training else "round")
        B, C, H, W = y.shape
        medians = self.medians.view(1, C, 1, 1)
        y_hat = quantize(y, mode, medians, **kw)
        flat = y_hat.permute(1, 0, 2, 3).reshape(C, 1, -1)                # (C, 1, B*H*W)
        lik = self._likelihood(flat).reshape(C, B, H, W).permute(1, 0, 2, 3)
        return y_hat, lower_bound(lik, LIKELIHOOD_BOUND)

    @torch.no_grad()
    def _build_tables(self):
        q = self.quantiles.detach().double()
        med = q[:, 0, 1]
        minima = torch.ceil(med - q[:, 0, 0]).clamp_min(0).long()         # symbols below median
        maxima = torch.ceil(q[:, 0, 2] - med).clamp_min(0).long()
        length = (minima + maxima + 1)                                      # symbols per channel
        L = int(length.max())
        samples = (torch.arange(L, dtype=torch.float64, device=q.device)[None, :]
                   - minima[:, None] + med[:, None])                       # (C, L) bin centres
        lower = self._logits_cumulative(samples[:, None, :] - 0.5, True)[:, 0]
        upper = self._logits_cumulative(samples[:, None, :] + 0.5, True)[:, 0]
        sign = -torch.sign(lower + upper)
        pmf = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))   # (C, L)
        tail = torch.sigmoid(lower[:, :1]) + torch.sigmoid(-upper.gather(1, (length - 1)[:, None]))
        pmf = torch.cat([pmf, torch.zeros_like(pmf[:, :1])], dim=1)
        pmf.scatter_(1, length[:, None], tail)                              # escape symbol at the end
        n = (length + 1).cpu().numpy()
        cdf = pmf_to_quantized_cdf(pmf.cpu().numpy(), n)
        return cdf, n + 1, (-minima).cpu().numpy()

    def round(self, y: torch.Tensor) -> torch.Tensor:
        """``y_hat`` as the decoder will see it: ``y`` rounded around each channel's median."""
        medians = self.medians.view(1, -1, 1, 1)
        return torch.round(y - medians) + medians

    def compress(self, y: torch.Tensor, coder=None) -> list[bytes]:
        """Code ``round(y - median)`` per batch element; returns one string per element."""
        symbols = torch.round(y - self.medians.view(1, -1, 1, 1))
        return self._encode(symbols, self._channel_indexes(y.shape).to(y.device), coder)

    def decompress(self, strings: list[bytes], shape: tuple[int, int], coder=None) -> torch.Tensor:
        """Inverse of :meth:`compress`: ``(B, C, *shape)`` dequantized latents."""
        size = (len(strings), self.channels, *shape)
        idx = self._channel_indexes(size).to(self.quantiles.device)
        return self._decode(strings, idx, coder).float() + self.medians.view(1, -1, 1, 1)

    def _channel_indexes(self, size) -> torch.Tensor:
        B, C, H, W = size
        return torch.arange(C, dtype=torch.int32).view(1, C, 1, 1).expand(B, C, H, W)


def default_scale_table(lo: float = SCALE_BOUND, hi: float = 256.0, levels: int = 256) -> torch.Tensor:
    """Log-spaced scales for the Gaussian tables (CompressAI's range, 0.11 to 256).

    256 levels (a 3 % step) rather than CompressAI's 64 (13 %): rounding each sigma up to the
    table costs about 0.3 % of the rate instead of about 1.6 % (measured on Kodak; chapter 5)."""
    return torch.exp(torch.linspace(math.log(lo), math.log(hi), levels))


def _std_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-x / math.sqrt(2))


class GaussianConditional(_TabledModel):
    """``p(y_hat | mu, sigma) = Phi((y_hat - mu + 1/2) / sigma) - Phi((y_hat - mu - 1/2) / sigma)``.

    For coding, each ``sigma`` is rounded *up* to the next entry of ``scale_table`` (an index into
    one of ``len(scale_table)`` CDF tables) and ``y`` is coded as ``round(y - mu)``.

    ``scale_bound`` (a buffer, saved with the weights) is the smallest ``sigma`` used, in training
    and in coding alike. It is a coding choice as much as a learned one: a latent the model
    predicts as certain (``sigma`` far below the bound) but that is not zero costs 18 bits and
    more, so a larger bound can save bits at no loss in quality
    (:func:`codec_lib.calibrate.tune_scale_bound` picks it on validation images). It holds one
    value for all latents, shape (1,), or one per channel, shape (M,). Checkpoints written
    before it existed load with CompressAI's 0.11, the table's first entry.
    """

    def __init__(self, scale_table: torch.Tensor | None = None, scale_bound: float = SCALE_BOUND,
                 tail_mass: float = 1e-9):
        super().__init__()
        self.tail_mass = tail_mass
        self.register_buffer("scale_table", default_scale_table() if scale_table is None
                             else torch.as_tensor(scale_table, dtype=torch.float32))
        self.register_buffer("scale_bound", torch.tensor([float(scale_bound)]))
        self.register_load_state_dict_pre_hook(_default_scale_bound)

    def _table_inputs(self):
        return [self.scale_table]

    def set_scale_bound(self, bound) -> None:
        """One bound (a float) or one per channel (a sequence or tensor of M values)."""
        b = torch.as_tensor(bound, dtype=torch.float32).reshape(-1)
        if b.numel() == 0 or not bool(torch.all(b > 0)):
            raise ValueError("the scale bound must be positive")
        self.scale_bound = b.to(self.scale_bound.device)

    def bound_for(self, scales: torch.Tensor) -> torch.Tensor:
        """``scale_bound`` shaped to broadcast against ``scales`` (B, C, ...)."""
        b = self.scale_bound
        if b.numel() == 1:
            return b
        if scales.dim() < 2 or scales.shape[1] != b.numel():
            raise ValueError(f"a scale bound per channel ({b.numel()}) does not fit scales of "
                             f"shape {tuple(scales.shape)}")
        return b.view(1, -1, *[1] * (scales.dim() - 2))                   # (1, C, 1, 1)

    def likelihood(self, y_hat: torch.Tensor, scales: torch.Tensor,
                   means: torch.Tensor | None = None) -> torch.Tensor:
        v = torch.abs(y_hat - means if means is not None else y_hat)
        s = lower_bound(scales, self.bound_for(scales))
        lik = _std_normal_cdf((0.5 - v) / s) - _std_normal_cdf((-0.5 - v) / s)   # symmetric: use |v|
        return lower_bound(lik, LIKELIHOOD_BOUND)

    def forward(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None,
                mode: str | None = None, **kw) -> tuple[torch.Tensor, torch.Tensor]:
        mode = mode or ("noise" if self.training else "round")
        y_hat = quantize(y, mode, means, **kw)
        return y_hat, self.likelihood(y_hat, scales, means)

    @torch.no_grad()
    def _build_tables(self):
        s = self.scale_table.detach().double().cpu()
        multiplier = -_ndtri(self.tail_mass / 2)                       # about 6.1 sigmas
        centre = torch.ceil(s * multiplier).long()                      # (K,)
        L = int(2 * centre.max() + 1)
        v = torch.arange(L, dtype=torch.float64)[None, :] - centre[:, None]   # (K, L)
        pmf = _std_normal_cdf((0.5 - v.abs()) / s[:, None]) - _std_normal_cdf((-0.5 - v.abs()) / s[:, None])
        length = 2 * centre + 1
        pmf = torch.where(torch.arange(L)[None, :] < length[:, None], pmf, 0.0)
        tail = 2 * _std_normal_cdf((-0.5 - centre.double()) / s)
        pmf = torch.cat([pmf, torch.zeros_like(pmf[:, :1])], dim=1)
        pmf.scatter_(1, length[:, None], tail[:, None])
        n = (length + 1).numpy()
        return pmf_to_quantized_cdf(pmf.numpy(), n), n + 1, (-centre).numpy()

    def build_indexes(self, scales: torch.Tensor) -> torch.Tensor:
        """Index of the smallest table scale ``>= sigma`` (clamped to the table's ends).

        Scales below ``scale_bound`` are raised to it first; at the default bound, the table's
        first entry, that is index 0. Both are float32, so a float64 ``sigma`` is compared with
        exactly the table's values (a bound within float32 rounding of the first entry is it).
        """
        table = self.scale_table.to(scales.dtype)
        b = self.bound_for(scales).to(scales.dtype)
        b = torch.where((b - table[0]).abs() <= 1e-6 * table[0], table[:1], b)
        return torch.bucketize(torch.maximum(scales, b).contiguous(), table[:-1]).int()

    def compress(self, y: torch.Tensor, indexes: torch.Tensor, means: torch.Tensor | None = None,
                 coder=None) -> tuple[list[bytes], torch.Tensor]:
        """Returns the strings and ``y_hat`` exactly as the decoder will see it."""
        y = y.to(means.dtype) if means is not None else y
        symbols = torch.round(y - means if means is not None else y)
        y_hat = symbols + means if means is not None else symbols
        return self._encode(symbols, indexes, coder), y_hat

    def decompress(self, strings: list[bytes], indexes: torch.Tensor,
                   means: torch.Tensor | None = None, coder=None) -> torch.Tensor:
        symbols = self._decode(strings, indexes, coder)
        symbols = symbols.to(means.dtype if means is not None else torch.float32)
        return symbols + means if means is not None else symbols

    def decompress_part(self, streams: list, indexes: torch.Tensor,
                        means: torch.Tensor) -> torch.Tensor:
        """Like :meth:`decompress`, for the next part of streams that hold several parts
        (``coder.stream``): a channel-conditional model decodes one slice at a time."""
        return self._decode_part(streams, indexes).to(means.dtype) + means


def _default_scale_bound(module, state_dict, prefix, *args) -> None:
    """Checkpoints from before ``scale_bound`` was a buffer used 0.11 (``load_state_dict`` hook)."""
    state_dict.setdefault(prefix + "scale_bound", torch.tensor([SCALE_BOUND]))


def _ndtri(p: float) -> float:
    """Inverse standard normal CDF (for the table width only; bisection is plenty)."""
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 0.5 * math.erfc(-mid / math.sqrt(2)) < p else (lo, mid)
    return (lo + hi) / 2
