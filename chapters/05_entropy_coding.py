# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 5: Entropy coding and bitstreams
#
# **What you will learn.**
#
# * What a probability is worth in bits: information content, entropy, cross-entropy, and the
#   ideal code length $-\sum_i \log_2 p(s_i)$ of a whole sequence, measured on the quantized
#   latents of a trained codec.
# * How range asymmetric numeral systems (rANS) turn symbols and their probabilities into bytes,
#   written from scratch in about thirty lines that produce *exactly* the bytes of the library's
#   coders, and of a real `.clb` file.
# * Why coders need integer frequency tables, why every symbol must keep a frequency of at least
#   one, and what rounding probabilities to integers costs.
# * Where every byte of a real file goes: the model's rate estimate against the file size,
#   broken down into the scale table, the integer CDFs, the coder's flush and the container.
# * Why the narrowest Gaussian a coder allows, the scale bound, is worth a few percent of the
#   rate, and how it is chosen without touching the decoded image.
# * How the file format is laid out, how it catches damaged and foreign files, and what a single
#   flipped bit does to a picture when nothing catches it.
#
# **Why it matters.** The entropy models of the previous chapters output *likelihoods*, and
# training minimizes $-\sum \log_2$ of them, a number of bits that no file has ever contained.
# An entropy coder makes that number real: given the same probabilities at the encoder and the
# decoder, arithmetic coding and ANS write a sequence in a number of bits within a few bytes of
# its ideal code length (Shannon 1948). This chapter checks that promise on real files, byte by
# byte, and builds the part of the codec that users actually see: the bitstream.

# %%
import copy
import math
import sys
import tempfile
import time
import warnings
import zlib
from bisect import bisect_right
from collections import Counter
from io import BytesIO
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

warnings.filterwarnings("ignore", message="IProgress not found")   # tqdm, via codec_lib.evaluate
from codec_lib import bitstream, codec, metrics, zoo
from codec_lib.bitstream import BitstreamError
from codec_lib.calibrate import rate_by_bound
from codec_lib.data import eval_images, to_image, to_tensor
from codec_lib.entropy_coding import FastCoder, ReferenceCoder, pmf_to_quantized_cdf
from codec_lib.evaluate import estimate_bits
from codec_lib.exercises import check
from codec_lib.models import MeanScaleHyperprior, pad_to

plt.rcParams.update({"figure.dpi": 80, "axes.titlesize": 10})
np.set_printoptions(linewidth=110)

model = zoo.load_model()                             # the default model: a mean-scale hyperprior
entry = zoo.resolve()
assert isinstance(model, MeanScaleHyperprior)
print(f"model {entry['name']!r} quality {entry['quality']}: {entry['arch']}, N={entry['N']}, "
      f"M={entry['M']}, lambda={entry['lmbda']}")

# Kodak images if $CODEC_LIB_DATA/kodak exists, else scikit-image's embedded photos.
photos = eval_images(limit=4)
name, img = photos[0]                                # our running example
print("photos:", ", ".join(f"{n} {im.size[0]}x{im.size[1]}" for n, im in photos))

# %% [markdown]
# Everything the encoder computes for one image, step by step with the model's own modules, so
# that we can look at the symbols the coder sees. The mean-scale hyperprior (Ballé et al. 2018;
# Minnen, Ballé & Toderici 2018) maps the image $x$ to a latent $y = g_a(x)$ and side
# information $z = h_a(y)$. $z$ is rounded around the medians of its factorized prior;
# $h_s(\hat z)$ then predicts a mean $\mu_i$ and a scale $\sigma_i$ for every element of $y$,
# which is coded as the integer $\operatorname{round}(y_i - \mu_i)$ with a Gaussian of scale
# $\sigma_i$. At coding time the library runs $h_s$ in float64 so that encoder and decoder agree
# to the last bit; we do the same.

# %%
@torch.no_grad()
def latents(model, img):
    """The integer symbols, table indexes and entropy parameters of one image."""
    eb, gc = model.entropy_bottleneck, model.gaussian_conditional
    x = pad_to(to_tensor(img.convert("RGB")), model.downsampling)
    y = model.g_a(x)                                            # (1, M, H/16, W/16)
    z = model.h_a(y)                                            # (1, N, H/64, W/64)
    medians = eb.medians.view(1, -1, 1, 1)
    z_sym = torch.round(z - medians)
    z_hat = z_sym + medians
    scales, means = copy.deepcopy(model.h_s).double()(z_hat.double()).chunk(2, dim=1)
    y_sym = torch.round(y.double() - means)                     # what the coder writes
    return {"y": y, "z": z, "z_hat": z_hat, "y_hat": y_sym + means, "scales": scales,
            "means": means, "y_sym": y_sym.int().numpy().ravel(),
            "y_idx": gc.build_indexes(scales).numpy().ravel(),  # which Gaussian table
            "z_sym": z_sym.int().numpy().ravel(),
            "z_idx": np.repeat(np.arange(z.shape[1]), z[0, 0].numel()).astype(np.int32),
            "x_shape": tuple(x.shape[-2:])}


lat = latents(model, img)
enc = codec.encode_image(img, model)                 # a real file, for comparison
header, groups = bitstream.unpack(enc.data)
y_string, z_string = groups[0][0], groups[1][0]
fast = FastCoder()
assert fast.encode(lat["y_sym"], lat["y_idx"], model.gaussian_conditional.tables()) == y_string
assert fast.encode(lat["z_sym"], lat["z_idx"], model.entropy_bottleneck.tables()) == z_string
print(f"{name}: y {tuple(lat['y'].shape)}, z {tuple(lat['z'].shape)}; file {len(enc.data)} bytes "
      f"(y string {len(y_string)}, z string {len(z_string)})")

# %% [markdown]
# The two asserts say that these symbols and indexes, coded by the library, give exactly the two
# strings stored in the file. From here on we can reason about the file symbol by symbol.
#
# ## 5.1 Information content and entropy
#
# A symbol $s$ that a model expects with probability $p(s)$ carries
#
# $$
# I(s) = -\log_2 p(s) \quad \text{bits}
# $$
#
# of information: a fair coin flip is worth one bit, a 1-in-1000 event almost ten. If the symbols
# really are drawn from $p$, the average information per symbol is the **entropy**
#
# $$
# H(p) = -\sum_s p(s) \log_2 p(s),
# $$
#
# and Shannon's source coding theorem (Shannon 1948) says that no lossless code can average
# fewer bits per symbol. If the data follow $p$ but we code with a model $q$, we pay the
# **cross-entropy**
#
# $$
# H(p, q) = -\sum_s p(s) \log_2 q(s) = H(p) + D_{\mathrm{KL}}(p \,\|\, q) \ \ge\ H(p),
# $$
#
# with the Kullback-Leibler divergence as the price of a wrong model. For one concrete sequence
# $s_1, \dots, s_n$ coded with (possibly different) models $q_i$, the **ideal code length** is
#
# $$
# L = -\sum_{i=1}^{n} \log_2 q_i(s_i) \quad \text{bits},
# $$
#
# which is exactly the rate term that training minimizes, $-\sum \log_2$ `likelihoods`. Huffman
# codes (Huffman 1952; chapter 1) spend a whole number of bits per symbol and so can lose up to a
# bit per symbol against $L$; arithmetic coding (Rissanen & Langdon 1979; Witten, Neal & Cleary
# 1987) and ANS (Duda 2013) code the whole sequence as one number and get within a few bytes of
# $L$, however small $-\log_2 q_i(s_i)$ is. That matters here, because many latents of a learned
# codec cost a small fraction of a bit each.
#
# Let us measure the statistics of the symbols $\operatorname{round}(y_i - \mu_i)$ of our photo:
# their histogram, and the information content of the common values.

# %%
y_sym = lat["y_sym"]
counts = Counter(y_sym.tolist())
n_sym = len(y_sym)
p_hat = {s: c / n_sym for s, c in counts.items()}        # empirical pmf of the pooled symbols
print(f"{n_sym} symbols, {len(counts)} distinct values, range {y_sym.min()}..{y_sym.max()}")
print(f"{'value':>6s} {'count':>7s} {'p':>8s} {'-log2 p':>8s}")
for s in range(-3, 4):
    if s in counts:
        print(f"{s:6d} {counts[s]:7d} {p_hat[s]:8.4f} {-math.log2(p_hat[s]):8.2f}")
H_pooled = -sum(p * math.log2(p) for p in p_hat.values())
print(f"entropy of the pooled histogram: {H_pooled:.3f} bits/symbol")

# %% [markdown]
# The pooled histogram gives every latent the same pmf. A code can do better when it knows more
# about each symbol. Three codes for the same symbols, from the least to the most informed:
#
# 1. one pmf for all symbols, the photo's own histogram (an oracle: the decoder would need it);
# 2. one pmf per channel, each channel's own histogram (the idea of a factorized prior, again as
#    an oracle);
# 3. the hyperprior's Gaussian $\mathcal N(\mu_i, \sigma_i^2)$ for each element, whose parameters
#    the decoder really gets, from the $z$ string.

# %%
gc, eb = model.gaussian_conditional, model.entropy_bottleneck
M = lat["y"].shape[1]
per_channel = lat["y_sym"].reshape(M, -1)
bits_channel = 0.0
for row in per_channel:                                  # sum over channels of n_c * H(p_c)
    c = np.array(list(Counter(row.tolist()).values()))
    bits_channel += -(c * np.log2(c / c.sum())).sum()
with torch.no_grad():
    lik_y = gc.likelihood(lat["y_hat"], lat["scales"], lat["means"])       # exact sigmas
    _, lik_z = eb(lat["z"], mode="round")
bits_y_map = -torch.log2(lik_y)[0].numpy()               # (M, h, w) information content
bits_z = float(-torch.log2(lik_z).sum())
rows = [("one pooled histogram (oracle)", n_sym * H_pooled),
        ("one histogram per channel (oracle)", bits_channel),
        ("hyperprior Gaussian, y only", bits_y_map.sum()),
        ("hyperprior Gaussian, y + z", bits_y_map.sum() + bits_z)]
for label, bits in rows:
    print(f"{label:36s} {bits / 8:9.0f} bytes  {bits / n_sym:.3f} bits per y symbol")
print(f"the hyperprior (y + z) spends {rows[3][1] / rows[1][1]:.2f}x the bits of the per-channel oracle")

# %%
W, H = img.size
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
axes[0].imshow(img); axes[0].set_title(f"{name}"); axes[0].axis("off")
bits_map = bits_y_map.sum(axis=0)                        # bits per 16x16 block of pixels
h, w = lat["x_shape"]
im = axes[1].imshow(bits_map, cmap="magma", extent=(0, w, h, 0))
axes[1].set_xlim(0, W); axes[1].set_ylim(H, 0); axes[1].axis("off")
axes[1].set_title("bits of y per 16×16 block, -Σ log2 p(ŷ | ẑ)")
fig.colorbar(im, ax=axes[1], shrink=0.8)
vals = np.arange(-6, 7)
axes[2].bar(vals, [counts.get(v, 0) / n_sym for v in vals], color="tab:blue")
axes[2].set_yscale("log"); axes[2].set_xlabel("round(y - μ)"); axes[2].set_ylabel("frequency")
axes[2].set_title("histogram of the y symbols (all channels)")
plt.tight_layout(); plt.show()

# %% [markdown]
# Most symbols are zero, and the bits concentrate where the image has edges and texture: the
# hyperprior predicts *where* a latent is likely to be large, and spends its bits there. On a
# well-trained model the per-element Gaussians beat both oracle histograms even after paying
# for $z$ (the ratio above is below one): knowing the scale of each element is worth more than
# knowing the exact histogram of every channel. A checkpoint early in its training can lose to
# the oracles, because its predicted scales do not fit the data yet; section 5.4 shows other
# symptoms of that.
#
# ## 5.2 rANS from scratch
#
# Asymmetric numeral systems (Duda 2013) keep the whole message in one integer, the **state**
# $x$. Every symbol gets an integer frequency $f_s$ and a start $c_s = \sum_{t < s} f_t$, out of
# a total $2^{n}$ with precision $n = 16$. Coding $s$ maps
#
# $$
# x \;\mapsto\; \left\lfloor \frac{x}{f_s} \right\rfloor 2^{n} + c_s + (x \bmod f_s),
# $$
#
# which multiplies $x$ by about $2^n / f_s = 1 / p(s)$: the state grows by $I(s)$ bits, exactly
# the information content. The decoder undoes it: the low $n$ bits of the state,
# $\text{slot} = x \bmod 2^n$, fall in $[c_s, c_s + f_s)$, which identifies $s$, and then
# $x \mapsto f_s \lfloor x / 2^n \rfloor + \text{slot} - c_s$ restores the previous state. Two
# practical points (Giesen 2014, ryg_rans):
#
# * **Renormalization.** The state lives in $[2^{31}, 2^{63})$, so it fits a 64-bit register.
#   Before coding a symbol that would push it past $2^{63}$, the encoder writes out the low 32
#   bits; the decoder reads 32 bits back in whenever the state drops below $2^{31}$. At the end
#   the encoder flushes the final 64-bit state as two 32-bit words.
# * **Last in, first out.** The decoder pops symbols in the reverse order of the encoder's
#   pushes, so the encoder walks the symbols backwards and the decoder gets them forwards.
#
# The library's byte format is the one of CompressAI's coder: little-endian 32-bit words,
# starting with the flushed state (low word first), then the renormalization words in the order
# the decoder needs them. Here is the whole coder, with one CDF table per index, as in the
# library:

# %%
PREC = 16                        # frequencies add up to 2^16
RANS_L = 1 << 31                 # the state lives in [2^31, 2^63)


def rans_encode(symbols, indexes, cdfs):
    """symbols[i] is a position in table cdfs[indexes[i]], a list rising from 0 to 2^16."""
    x, words = RANS_L, []
    for s, k in zip(reversed(symbols), reversed(indexes)):      # LIFO: encode backwards
        start, freq = cdfs[k][s], cdfs[k][s + 1] - cdfs[k][s]
        if x >= ((RANS_L >> PREC) << 32) * freq:                # would leave [2^31, 2^63)
            words.append(x & 0xFFFFFFFF)                        # so emit the low 32 bits
            x >>= 32
        x = (x // freq << PREC) + x % freq + start              # x grows by 2^16 / freq
    words += [x >> 32, x & 0xFFFFFFFF]                          # flush the 64-bit state
    return np.array(words[::-1], dtype="<u4").tobytes()         # decoder reads from the end


def rans_decode(data, indexes, cdfs):
    words = np.frombuffer(data, dtype="<u4").tolist()
    x, pos, out = words[0] | words[1] << 32, 2, []
    for k in indexes:
        cdf = cdfs[k]
        slot = x & ((1 << PREC) - 1)                            # in [cdf[s], cdf[s + 1])
        s = bisect_right(cdf, slot) - 1
        x = (cdf[s + 1] - cdf[s]) * (x >> PREC) + slot - cdf[s]
        if x < RANS_L:                                          # refill 32 bits
            x, pos = x << 32 | words[pos], pos + 1
        out.append(s)
    return out


# %% [markdown]
# The library's tables (`CdfTables`) store, for table $k$, the CDF `cdfs[k]`, its length and an
# offset, the value coded by position 0, and reserve the last position for an **escape** symbol:
# a value outside the table is sent as the escape followed by its raw bits in 4-bit groups. Our
# version codes positions inside the table only, so we check which symbols fall inside, then
# compare bytes with the library's two coders, the pure-Python `ReferenceCoder` and the compiled
# `FastCoder` (CompressAI's C++ rANS).

# %%
def table_positions(symbols, indexes, tables):
    """Symbol values -> positions in their tables, and a mask of those that need no escape."""
    pos = symbols - tables.offsets[indexes]
    return pos, (pos >= 0) & (pos < tables.lengths[indexes] - 2)


tables_y = gc.tables()
pos, inside = table_positions(lat["y_sym"], lat["y_idx"], tables_y)
print(f"{inside.sum()} of {inside.size} y symbols lie inside their tables ({(~inside).sum()} would be escaped)")
pos, idx = pos[inside].tolist(), lat["y_idx"][inside].tolist()
cdfs = tables_y.as_lists()[0]                 # each row cut to its length

t0 = time.perf_counter()
ours = rans_encode(pos, idx, cdfs)
t_ours = time.perf_counter() - t0
sym_in = lat["y_sym"][inside]
assert ours == ReferenceCoder().encode(sym_in, lat["y_idx"][inside], tables_y)
assert ours == FastCoder().encode(sym_in, lat["y_idx"][inside], tables_y)
assert rans_decode(ours, idx, cdfs) == pos
assert np.array_equal(FastCoder().decode(ours, lat["y_idx"][inside], tables_y), sym_in)
if inside.all():                 # nothing to escape: our bytes are the file's y string itself
    assert ours == y_string
print(f"identical bytes: {len(ours)} bytes for {len(pos)} symbols, encoded in {t_ours:.2f} s; "
      f"the file's y string is {len(y_string)} bytes")

# %% [markdown]
# Thirty lines of Python reproduce the library's bytes exactly; when no symbol needs an escape,
# these bytes are the $y$ payload of the real file. Where does the ideal code length stand
# against them? Compute $L$ with the very integer frequencies the coder used:

# %%
f = np.array([cdfs[k][s + 1] - cdfs[k][s] for s, k in zip(pos, idx)])
ideal = -np.log2(f / 2**PREC).sum()
print(f"ideal code length with these frequencies: {ideal:.1f} bits = {ideal / 8:.1f} bytes; "
      f"rANS wrote {len(ours)} bytes, {8 * len(ours) - ideal:.1f} bits more")

# %% [markdown]
# The difference is the flush. The state starts at $2^{31}$, so the first 31 bits of the output
# carry nothing, and at the end the 64-bit state is written whole, however many of its bits are
# in use. Together that is between 32 and 64 bits (4 to 8 bytes) per string, whatever its
# length. The arithmetic itself loses almost nothing: with a 64-bit state and 16-bit
# frequencies, the rounding in $\lfloor x / f_s \rfloor$ is far below a millibit per symbol.
#
# ## 5.3 From probabilities to integer CDFs
#
# The coder needs integers, and the encoder and the decoder must hold *identical* integers:
# a single differing frequency and the decoder loses track of the state. So every entropy
# model is turned into tables of integer frequencies that sum to $2^{16}$, built once (and saved
# in the checkpoint) rather than computed from floating point on each machine.
# `pmf_to_quantized_cdf` does it: each symbol first gets a frequency of **one**, and the rest
# of the $2^{16}$ is shared in proportion to the probabilities, rounding by largest remainders
# so that the total is exact.
#
# Why at least one? A symbol with frequency zero has no slot: the encoder would divide by zero,
# and no state could ever decode to it. And every symbol of a table can occur, however unlikely,
# the escape symbol included. Rounding naively shows the problem on the narrowest Gaussian
# table ($\sigma = 0.11$):

# %%
def gaussian_pmfs(gc, tables):
    """The exact pmf behind each Gaussian table: bins of N(0, sigma^2) and the escape's tail."""
    sigma = gc.scale_table.double()[:, None]
    centre = torch.from_numpy(-tables.offsets).long()[:, None]             # values -c..c
    n = tables.lengths.astype(np.int64) - 1                                 # symbols + escape
    v = (torch.arange(int(n.max()), dtype=torch.float64)[None] - centre).abs()
    Phi = torch.special.ndtr
    pmf = torch.where(v <= centre, Phi((0.5 - v) / sigma) - Phi((-0.5 - v) / sigma), 0.0)
    pmf[torch.arange(len(n)), torch.from_numpy(n - 1)] = 2 * Phi((-0.5 - centre[:, 0]) / sigma[:, 0])
    return pmf.numpy(), n


pmf_tables, n_tables = gaussian_pmfs(gc, tables_y)
assert np.array_equal(pmf_to_quantized_cdf(pmf_tables, n_tables), tables_y.cdfs)   # same tables

p0 = pmf_tables[0, :n_tables[0]]                     # sigma = 0.11: values -1, 0, 1, escape
naive = np.round(p0 * 2**PREC).astype(int)
naive[np.argmax(naive)] += 2**PREC - naive.sum()
library = np.diff(tables_y.cdfs[0, :n_tables[0] + 1])
print("pmf          ", np.array2string(p0, precision=10))
print("naive round  ", naive)
print("library      ", library)
try:
    rans_encode([n_tables[0] - 1], [0], [np.concatenate([[0], np.cumsum(naive)]).tolist()])
except ZeroDivisionError as e:
    print("coding the escape with the naive table:", type(e).__name__, e)

# %% [markdown]
# The floor of one makes rare symbols *cheaper* than their probability says (here 16 bits
# for an escape worth far more), and the mass it needs is taken from the likely symbols, which
# become slightly more expensive. How much does quantization cost on average? If symbols follow
# $p$ and are coded with $q_s = f_s / 2^{16}$, each costs $D_{\mathrm{KL}}(p \,\|\, q)$ extra bits.
# We compute it for every table of the model, at the library's 16 bits and, for comparison, at
# lower precisions, and mark which tables our photo actually uses.

# %%
def kl_bits(pmf, freq, precision):
    """Extra bits per symbol, D(p || freq / 2^precision), row by row."""
    q = np.maximum(freq, 1) / 2.0**precision          # entries past a table's end have pmf 0
    return np.where(pmf > 0, pmf * np.log2(np.maximum(pmf, 1e-300) / q), 0.0).sum(axis=1)


sigmas = gc.scale_table.numpy()
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for prec in (12, 14, 16):
    freq = np.diff(pmf_to_quantized_cdf(pmf_tables, n_tables, prec), axis=1)
    axes[0].semilogx(sigmas, kl_bits(pmf_tables, freq[:, :pmf_tables.shape[1]], prec), "o-", ms=3,
                     label=f"{prec}-bit frequencies")
axes[0].set_xlabel("σ of the table"); axes[0].set_ylabel("extra bits per symbol")
axes[0].set_title("cost of integer frequencies, per Gaussian table"); axes[0].legend(); axes[0].grid(alpha=0.3)
use = np.bincount(lat["y_idx"], minlength=len(sigmas)) / len(lat["y_idx"])
axes[1].bar(np.arange(len(sigmas)), use); axes[1].set_yscale("log")
axes[1].set_xlabel("table index (σ grows to the right)"); axes[1].set_ylabel("fraction of y symbols")
axes[1].set_title(f"which tables {name}'s latents use")
plt.tight_layout(); plt.show()

# %% [markdown]
# Wide tables suffer most: they have thousands of symbols, each claiming its floor of one, so
# the likely symbols give up a few percent of their mass. But most latents of a photo use narrow
# tables, where 16-bit frequencies cost very little. The net effect on the photo, measured with
# the real symbols: the bits under the tables' continuous pmfs against the bits under their
# integer frequencies.

# %%
def table_bits(symbols, indexes, tables):
    """-sum log2(f / 2^16) under the integer tables, escapes included (4 raw bits per group)."""
    pos, inside = table_positions(symbols, indexes, tables)
    esc = tables.lengths[indexes] - 2
    pos = np.where(inside, pos, esc)
    freq = tables.cdfs[indexes, pos + 1] - tables.cdfs[indexes, pos]
    v = symbols - tables.offsets[indexes]
    zz = np.where(v < 0, -2 * v - 1, 2 * (v - esc))[~inside]             # zig-zag to >= 0
    nibbles = np.array([(int(r).bit_length() + 3) // 4 for r in zz], dtype=np.int64)
    raw = 4 * (nibbles // 15 + 1 + nibbles).sum()                        # length prefix + value
    return float(-np.log2(freq / 2**PREC).sum() + raw)


with torch.no_grad():
    table_scales = gc.scale_table.double()[torch.from_numpy(lat["y_idx"]).long()].view_as(lat["scales"])
    bits_table_sigma = float(-torch.log2(gc.likelihood(lat["y_hat"], table_scales, lat["means"])).sum())
bits_int = table_bits(lat["y_sym"], lat["y_idx"], tables_y)
print(f"y of {name}: {bits_table_sigma / 8:.1f} bytes with the table's exact pmfs, "
      f"{bits_int / 8:.1f} bytes with its 16-bit frequencies "
      f"({bits_int / bits_table_sigma - 1:+.3%}, {(bits_int - bits_table_sigma) / n_sym * 1000:+.2f} millibits per symbol)")

# %% [markdown]
# ## 5.4 Measured overhead against the estimate
#
# `codec_lib.evaluate.estimate_bits` returns the model's own rate, $-\sum \log_2$ `likelihoods`
# over $y$ and $z$, the number a training curve shows. A real file differs from it for four
# reasons, which we can now measure one by one:
#
# 1. **scale table**: for coding, each $\sigma_i$ is rounded *up* to the next of the table's
#    log-spaced scales (256 in `codec_lib`, 3 % apart; CompressAI uses 64, 13 % apart), so the
#    Gaussian used is slightly wider than predicted (the estimate uses the exact $\sigma_i$);
# 2. **integer CDFs**: the tables hold 16-bit frequencies, not the exact pmfs (section 5.3),
#    for $y$ and for $z$;
# 3. **rANS flush**: the coder's few bytes per string (section 5.2);
# 4. **container**: the header, the string lengths and the CRC-32 of the file format
#    (section 5.5).
#
# The estimate runs $h_s$ in float32 and the coder in float64; whatever that changes is the
# small "rest" term, so that the parts add up exactly to the file size.

# %%
def overhead(model, img):
    """File bytes and the model's estimate, with the difference split into its causes (bytes)."""
    gc, eb = model.gaussian_conditional, model.entropy_bottleneck
    lat = latents(model, img)
    data = codec.encode_image(img, model).data
    _, groups = bitstream.unpack(data)
    payload = sum(len(s) for g in groups for s in g)
    with torch.no_grad():
        bits = lambda lik: float(-torch.log2(lik).sum())
        y_exact = bits(gc.likelihood(lat["y_hat"], lat["scales"], lat["means"]))
        idx = torch.from_numpy(lat["y_idx"]).long().view_as(lat["scales"])
        y_table = bits(gc.likelihood(lat["y_hat"], gc.scale_table.double()[idx], lat["means"]))
        z_exact = bits(eb(lat["z"], mode="round")[1])
    coded = (table_bits(lat["y_sym"], lat["y_idx"], gc.tables())
             + table_bits(lat["z_sym"], lat["z_idx"], eb.tables()))
    est = estimate_bits(model, img)
    parts = {"scale table": y_table - y_exact, "integer CDFs": coded - y_table - z_exact,
             "rANS flush": 8 * payload - coded, "container": 8 * (len(data) - payload),
             "rest": y_exact + z_exact - est}
    return len(data), est / 8, {k: v / 8 for k, v in parts.items()}


results = {n: overhead(model, im) for n, im in photos}
print(f"{'photo':10s} {'file':>7s} {'estimate':>9s} {'excess':>7s} | " +
      " ".join(f"{k:>12s}" for k in results[name][2]))
for n, (size, est, parts) in results.items():
    assert abs(est + sum(parts.values()) - size) < 1e-3 * size     # the parts add up
    print(f"{n:10s} {size:7d} {est:9.1f} {(size - est) / size:7.2%} | " +
          " ".join(f"{v:12.1f}" for v in parts.values()))

# %%
labels = list(results[name][2]) + ["total"]
fig, ax = plt.subplots(figsize=(10, 3.8))
width = 0.8 / len(results)
for j, (n, (size, est, parts)) in enumerate(results.items()):
    vals = [100 * parts[k] / size for k in labels[:-1]] + [100 * (size - est) / size]
    ax.bar(np.arange(len(labels)) + (j - (len(results) - 1) / 2) * width, vals, width, label=n)
ax.set_xticks(np.arange(len(labels)), labels); ax.axhline(0, color="k", lw=0.5)
ax.set_ylabel("% of the file"); ax.legend(); ax.grid(axis="y", alpha=0.3)
ax.set_title("where the bytes beyond the model's estimate go")
plt.show()

# %% [markdown]
# The bars add up to the gap between the estimate and the file (the table gives the exact
# figures). Two of them are always positive: the container, a fixed cost that weighs most on
# small files, and the flush, 4 to 8 bytes per string. The other two compare two *models* of the
# same symbols, the exact $\sigma_i$ against $\sigma_i$ rounded up, and the exact pmfs against
# 16-bit frequencies, and can go either way. They cost bits when the model's probabilities fit
# the data, and they *save* bits when the model is overconfident, because a wider Gaussian, or
# a floor of one count for rare values, is then closer to the truth. Negative bars are therefore
# a symptom of scales that are too small, typical of a checkpoint early in training; on a
# well-trained model they are small and usually positive. These two grow with the number of symbols
# and are the ones a design can shrink: a finer scale table (going from 64 to 256 levels took
# `codec_lib`'s overhead on Kodak from about 1.6 % to about 0.3 %), or a frequency quantizer
# that minimizes $D_{\mathrm{KL}}$ exactly (exercise 05.2).
#
# ### The scale bound: certain latents that are not zero
#
# No Gaussian narrower than a floor is used, in training or in coding: the *scale bound*
# (CompressAI's 0.11, the first entry of the scale table). A model trained with the bound as a
# plain `clamp_min` predicts many of its latents as certain, $\sigma_i$ at or below the bound
# (the shipped mean-scale models did until their stage s21: 18 to 40 % of the latents of
# BSDS500 val photos, from q5 to q2), and nearly all of them are indeed zero and cost next to
# nothing. The few that are not zero are expensive: with $\sigma = 0.11$ a symbol of
# $\pm 1$ costs $-\log_2 \Phi(-0.5 / 0.11) \approx 18$ bits, a $\pm 2$ hits the likelihood floor of
# $10^{-9}$ (30 bits); with the s20 weights those few (0.1 to 0.9 % of the latents) carried
# 3.5 to 8.9 % of $y$'s bits. The shipped model of today was trained through the bound (below),
# and the count, from scratch, on the running example cropped to whole 64-pixel blocks, shows
# what that did:

# %%
img64 = img.crop((0, 0, img.width // 64 * 64, img.height // 64 * 64))
lat64 = latents(model, img64)
v = (lat64["y_hat"] - lat64["means"]).abs()                  # |symbol|: 0, 1, 2, ...


def y_bits(bound):
    """-log2 P(symbol) per latent when no sigma is below ``bound`` (float64)."""
    s = lat64["scales"].clamp_min(bound) * math.sqrt(2)
    p = 0.5 * torch.erfc((v - 0.5) / s) - 0.5 * torch.erfc((v + 0.5) / s)   # Phi(.5-v) - Phi(-.5-v)
    return -torch.log2(p.clamp_min(1e-9))


b011, low, nonzero = y_bits(0.11), lat64["scales"] < 0.11, v > 0
print(f"{name}: {low.double().mean():.0%} of y predicted at or below the bound 0.11; "
      f"{int((low & nonzero).sum())} of those are not zero ({(low & nonzero).double().mean():.2%} "
      f"of all latents) and take {b011[low & nonzero].sum() / b011.sum():.1%} of y's bits")

# %% [markdown]
# A larger bound makes those latents cheaper and every certain zero a little dearer. Since
# $\hat y = \operatorname{round}(y - \mu) + \mu$ does not depend on $\sigma$, the decoded image does
# not change at all: only the rate moves. For a model trained with the clamp the curve below has
# a clear minimum (the s21 files chose 0.17 to 0.25, for 1.5 to 6.2 % fewer bits estimated on
# val photos); for one that learned to widen its $\sigma$ it is nearly flat from 0.11 to about
# 0.2, then rises. The bits of $y$ for a range of bounds, checked against
# `codec_lib.calibrate.rate_by_bound` (the model's own estimate, float32, $z$ included: $z$
# does not depend on the bound, so the differences must agree):

# %%
bounds = np.round(np.arange(0.11, 0.405, 0.01), 2)
y_total = np.array([float(y_bits(b).sum()) for b in bounds])
lib = rate_by_bound(copy.deepcopy(model), [img64], tuple(bounds[::6]))
for b, lib_bits in lib.items():
    i = int(np.argmin(np.abs(bounds - b)))
    assert abs((lib_bits - lib[bounds[0]]) - (y_total[i] - y_total[0])) < 1e-3 * y_total[0]
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(bounds, 100 * (y_total / y_total[0] - 1), marker=".")
ax.axhline(0, color="k", lw=0.5); ax.grid(alpha=0.3)
ax.set_xlabel("scale bound"); ax.set_ylabel("bits of y vs bound 0.11 (%)")
ax.set_title(f"{name}: one number, chosen once per model")
plt.show()
print(f"fewest bits at bound {bounds[y_total.argmin()]:.2f}: {y_total.min() / y_total[0] - 1:+.1%}")

# %% [markdown]
# One number for all 96 channels is a compromise: some channels carry texture and often break
# the model's certainty, others are almost always zero. The rate is a sum over channels and
# $\hat y$ depends on no bound, so the best bound *per channel* is simply each channel's own
# minimum, and it can only do better than the best single bound (on the images it is chosen
# on; on others, `codec-lib export --tune-bound` measures it, as the shipped models show below):

# %%
per_channel = torch.stack([y_bits(b).sum((0, 2, 3)) for b in bounds])   # (bounds, M)
best_c = per_channel.argmin(0)                                           # (M,)
print(f"single best bound: {y_total.min() / y_total[0] - 1:+.2%} of y's bits, one per channel: "
      f"{float(per_channel.min(0).values.sum()) / y_total[0] - 1:+.2%}; the channels chose "
      f"{bounds[int(best_c.min())]:.2f} to {bounds[int(best_c.max())]:.2f}")
assert float(per_channel.min(0).values.sum()) <= y_total.min() + 1e-6

# %% [markdown]
# The bound is a coding choice stored with the weights (a buffer of `GaussianConditional`, so the
# decoder uses the encoder's). `codec-lib export --tune-bound FOLDER` picks it on validation
# images, never on the images it is then measured on: the shipped models were tuned on BSDS500
# val (the manifest records the choice). Why does training not fix it by itself? With a plain
# `clamp_min`, a $\sigma$ below the bound gets no gradient at all, however many bits its latent
# costs; `codec_lib` now bounds with `layers.lower_bound`, which lets the gradient lift a value
# off the bound (as CompressAI's `LowerBound` does). The shipped models' last training stage was
# the first with it, and it did fix it: their weights now widen those $\sigma$ themselves, so
# the best bound is back near 0.11 and the tuned one saves little (README, "The scale bound";
# the P-frame codecs of chapters 8 and 9, trained with the clamp, still gain a lot). The real
# files, before and after:

# %%
tuned = model.gaussian_conditional.scale_bound
tuned = (f"{float(tuned):.2f}" if tuned.numel() == 1 else
         f"{float(tuned.min()):.2f}..{float(tuned.max()):.2f}")
plain = copy.deepcopy(model)
plain.gaussian_conditional.set_scale_bound(0.11)
for n, im in photos:
    a, b = codec.encode_image(im, plain), codec.encode_image(im, model)
    assert np.array_equal(np.asarray(a.x_hat), np.asarray(b.x_hat))      # the same image
    print(f"{n:10s} bound 0.11: {len(a.data):6d} bytes, bound {tuned}: {len(b.data):6d} bytes "
          f"({len(b.data) / len(a.data) - 1:+.1%})")
sb = entry["training"].get("scale_bound")
if sb:
    rates = {k: v for k, v in sb["rate"].items() if k != "per channel"}
    print(f"the manifest: chosen on {sb['tuned_on']}; estimated rate there against the bound "
          f"before: best single bound {min(rates.values()) - 1:+.2%}"
          + (f", one per channel {sb['rate']['per channel'] - 1:+.2%}"
             if "per channel" in sb["rate"] else ""))
else:
    print("the manifest: this model's bound was not tuned (CompressAI's 0.11)")
#
# ## 5.5 Anatomy of a codec_lib file
#
# The docstring of `codec_lib.bitstream` gives the layout; `bitstream.describe` reads a file
# into a dict. All integers are big-endian, as is customary for file formats. `header_bytes`
# counts everything that is not entropy-coded payload.

# %%
info = bitstream.describe(enc.data)
for k, v in info.items():
    print(f"{k:>15s}: {v}")

# %% [markdown]
# And every byte of the file, labelled, walking the layout by hand:

# %%
def file_fields(data):
    """(offset, field name, bytes) for every field of a codec_lib file."""
    fields, pos = [], 0

    def take(label, size):
        nonlocal pos
        fields.append((pos, label, data[pos:pos + size]))
        pos += size
        return data[pos - size:pos]

    take("magic", 4); take("format version", 1)
    take("model name", take("model name length", 1)[0])
    for label, size in [("quality", 1), ("weights hash", 8), ("width", 4), ("height", 4),
                        ("colour mode", 1), ("bit depth", 1)]:
        take(label, size)
    for g in range(take("string groups", 1)[0]):
        group = ("y", "z", "alpha")[g]
        for i in range(take(f"{group}: number of strings", 1)[0]):
            size = int.from_bytes(take(f"{group}: string {i} length", 4), "big")
            take(f"{group}: string {i} (rANS payload)", size)
    take("CRC-32 of all the above", 4)
    assert pos == len(data)
    return fields


fields = file_fields(enc.data)
for offset, label, raw in fields:
    shown = raw.hex(" ") if len(raw) <= 8 else raw[:8].hex(" ") + " ..."
    value = (repr(raw) if label == "magic" else raw.decode() if label == "model name"
             else raw.hex() if label == "weights hash" else "..." if "payload" in label
             else int.from_bytes(raw, "big"))
    if label == "colour mode":
        value = f"{value} ({bitstream.MODES[value]})"
    print(f"{offset:6d}  {len(raw):5d}  {shown:27s}  {label:32s} {value}")
assert zlib.crc32(enc.data[:-4]) == int.from_bytes(fields[-1][2], "big")
assert sum(len(r) for _, l, r in fields if "payload" not in l) == info["header_bytes"]

# %% [markdown]
# The magic number starts with the byte `0x89`, as PNG's does, so that tools that sniff for text
# see a binary file; the model name, quality and weights hash tell the decoder *which* network
# and tables it needs (a file is useless without the exact same integer tables, so
# `decode_image` refuses a model whose weights hash differs). The command line prints the same
# information:

# %%
tmp = Path(tempfile.mkdtemp())
clb = tmp / f"{name}.clb"
clb.write_bytes(enc.data)
# !{sys.executable} -m codec_lib info {clb}

# %% [markdown]
# (`codec-lib info photo.clb` is the same command once the package's scripts are on your
# `PATH`; add `--json` for machine-readable output.)
#
# ## 5.6 What corruption does, and how the format catches it
#
# An entropy-coded stream has no redundancy left, so it has no slack for errors either. Flip a
# single bit in the middle of the $y$ payload and decode the strings directly with the model's
# `decompress`, bypassing the file's checksum. The decoder cannot know that anything is wrong
# unless it stumbles: the `ReferenceCoder` raises an error if the stream runs out of words or an
# escaped value does not fit in 32 bits, and the compiled `FastCoder` checks neither (on a
# damaged stream it may read past the end of its buffer). So, to see the picture, we hand the
# damaged string to the `FastCoder` with zero words appended, and ask the `ReferenceCoder`
# whether it notices.

# %%
ref = ReferenceCoder()
shape = (-(-H // model.downsampling), -(-W // model.downsampling))      # z's height and width
x_ok = model.decompress([[y_string], [z_string]], shape, size=(H, W))["x_hat"]
bit = 4 * len(y_string) + 1                                             # a bit in the middle
bad = bytearray(y_string)
bad[bit // 8] ^= 1 << (bit % 8)
try:
    ref.decode(bytes(bad), lat["y_idx"], tables_y)
    verdict = "decodes it without noticing anything"
except (ValueError, OverflowError) as e:
    verdict = f"notices this time ({type(e).__name__}: {e})"
print(f"ReferenceCoder on the damaged y string: {verdict}")

# The compiled coder does not check where a stream ends: give it zero words to run into. In
# zeros a symbol costs at most 16 bits (frequency 1) and an escape 4 more, so this is enough.
padded = bytes(bad) + bytes(4 * len(lat["y_sym"]))
x_bad = model.decompress([[padded], [z_string]], shape, size=(H, W), coder=fast)["x_hat"]
changed = fast.decode(padded, lat["y_idx"], tables_y) != lat["y_sym"]
first = int(np.argmax(changed))
print(f"flipped bit {bit % 8} of byte {bit // 8} of {len(y_string)}: {changed.mean():.1%} of the "
      f"y symbols change, from symbol {first} of {changed.size} (channel {first // (changed.size // M)}) on")

x_ok_img, x_bad_img = to_image(x_ok), to_image(x_bad)
assert x_ok_img.tobytes() == enc.x_hat.tobytes()
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, im, title in ((axes[0], x_ok_img, "decoded file"), (axes[1], x_bad_img, "one bit flipped")):
    ax.imshow(im); ax.axis("off"); ax.set_title(f"{title}: PSNR {metrics.psnr(img.convert('RGB'), im):.2f} dB")
plt.show()

# %% [markdown]
# The symbols before the flipped word decode correctly (they were read earlier), and from
# there on the decoder follows a wrong state. It still produces *plausible* symbols, drawn from
# the model's own distributions, with now and then a wild one, and the damage shows up as
# structured noise over the whole picture, from the channels that come later in the coding
# order. Whether a decoder stumbles on the way is luck, and when it does not, nothing in the
# bits says that anything went wrong. That is why the file carries a CRC-32 (Peterson & Brown
# 1961), which
# detects every single-bit error and every burst of up to 32 bits, and lets any other damage
# through with probability $2^{-32}$. `decode_image` checks it, and the magic number and the
# lengths, before any coder runs:

# %%
flipped = bytearray(enc.data)
start = next(off for off, label, _ in fields if label.startswith("y: string 0 (rANS"))
flipped[start + bit // 8] ^= 1 << (bit % 8)                             # the same bit, in the file
buf = BytesIO()
img.save(buf, format="PNG")
for label, data in [("one flipped bit", bytes(flipped)), ("truncated file", enc.data[:len(enc.data) // 2]),
                    ("a PNG file", buf.getvalue()), ("empty file", b"")]:
    try:
        codec.decode_image(data)
        print(f"{label:16s} decoded?!")
    except BitstreamError as e:
        print(f"{label:16s} -> {type(e).__name__}: {e}")

# %% [markdown]
# ## 5.7 Speed: reference coder against compiled coder
#
# The two library coders write the same bytes; they differ in speed. We time both, and our
# from-scratch coder, on the same symbols: the $y$ symbols of the photo that fall inside their
# tables.

# %%
def best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t0)
    return min(times), out


sym, ind = lat["y_sym"][inside], lat["y_idx"][inside]
coders = {"from scratch (5.2)": (lambda: rans_encode(pos, idx, cdfs), lambda d: rans_decode(d, idx, cdfs), 2),
          "ReferenceCoder": (lambda: ref.encode(sym, ind, tables_y), lambda d: ref.decode(d, ind, tables_y), 2),
          "FastCoder": (lambda: fast.encode(sym, ind, tables_y), lambda d: fast.decode(d, ind, tables_y), 5)}
speed = {}
for label, (encode, decode, repeat) in coders.items():
    t_enc, data = best_time(encode, repeat)
    t_dec, out = best_time(lambda: decode(data), repeat)
    assert data == ours and np.array_equal(np.asarray(out), pos if label.startswith("from") else sym)
    speed[label] = (len(sym) / t_enc, len(sym) / t_dec)
    print(f"{label:20s} encode {len(sym) / t_enc / 1e6:7.3f} M symbols/s   decode {len(sym) / t_dec / 1e6:7.3f} M symbols/s")
r = speed["FastCoder"][0] / speed["ReferenceCoder"][0], speed["FastCoder"][1] / speed["ReferenceCoder"][1]
print(f"FastCoder is {r[0]:.0f}x faster at encoding and {r[1]:.0f}x at decoding than ReferenceCoder, same bytes")

# %% [markdown]
# The reference coder is there to be read; the compiled one is what `encode_image` uses by
# default (`CODEC_LIB_CODER=reference` or `codec-lib compress --coder reference` switches).
# Even the compiled coder spends a good part of its time converting Python lists at its
# boundary; production codecs interleave several rANS states to keep a CPU's pipelines busy
# (Giesen 2014) or decode on GPUs, but the bytes they write follow the same arithmetic.
#
# ## Summary
#
# * An entropy model's likelihoods set the ideal code length $-\sum \log_2 p$; an rANS coder
#   turns its integer tables into bytes within 4 to 8 bytes per string of that length, so the
#   rate term of training is a real file size, up to small, measurable overheads.
# * rANS keeps the message in one integer state: each symbol multiplies it by about $1/p$,
#   renormalization keeps it in 64 bits by moving 32-bit words in and out, and decoding runs
#   the arithmetic backwards (last in, first out). Thirty lines reproduce the library's bytes.
# * Coders need identical integer frequency tables at both ends; every symbol keeps a
#   frequency of at least one. Quantizing probabilities to 16 bits costs little on the narrow
#   tables most latents use, more on wide ones.
# * Between the estimate and the file: the rounded-up scales, the integer CDFs, the rANS flush
#   and the container, all measured above; together a few percent, and the first two can even
#   be negative when the model is overconfident.
# * An entropy-coded stream has no redundancy, so one flipped bit garbles everything decoded
#   after it, silently; the file format's magic, lengths and CRC-32 reject damaged, truncated
#   and foreign files before decoding.
#
# ## References
#
# * C. E. Shannon. A mathematical theory of communication. *Bell System Technical Journal*,
#   27:379-423, 623-656, 1948.
# * D. A. Huffman. A method for the construction of minimum-redundancy codes. *Proceedings of the
#   IRE*, 40(9):1098-1101, 1952.
# * W. W. Peterson, D. T. Brown. Cyclic codes for error detection. *Proceedings of the IRE*,
#   49(1):228-235, 1961.
# * J. Rissanen, G. G. Langdon. Arithmetic coding. *IBM Journal of Research and Development*,
#   23(2):149-162, 1979.
# * I. H. Witten, R. M. Neal, J. G. Cleary. Arithmetic coding for data compression.
#   *Communications of the ACM*, 30(6):520-540, 1987.
# * J. Duda. Asymmetric numeral systems: entropy coding combining speed of Huffman coding with
#   compression rate of arithmetic coding. arXiv:1311.2540, 2013.
# * F. Giesen. Interleaved entropy coders. arXiv:1402.3392, 2014; and the ryg_rans public-domain
#   rANS implementation (github.com/rygorous/ryg_rans), 2014.
# * J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston. Variational image compression with a
#   scale hyperprior. *ICLR*, 2018.
# * D. Minnen, J. Ballé, G. Toderici. Joint autoregressive and hierarchical priors for learned
#   image compression. *NeurIPS*, 2018.
# * J. Bégaint, F. Racapé, S. Feltman, A. Pushparaja. CompressAI: a PyTorch library and
#   evaluation platform for end-to-end compression research. arXiv:2011.03029, 2020.
#
# ## Exercises
#
# Replace each `None` with your answer and run the check cell; it prints a verdict and a hint,
# never the solution.
#
# **05.1 Ideal code length.** Write `code_length(symbols, pmf)` that returns the ideal code
# length in bits of a whole sequence of integer `symbols` (each an index into `pmf`) coded with
# the probabilities `pmf`. Then try it on the $y$ symbols of section 5.1 with their own
# histogram as the pmf (shift the values so that the smallest is 0): why is the result exactly
# `n_sym * H_pooled`?

# %%
def code_length(symbols, pmf):
    ...  # your code here


answer = None  # when your function is ready: answer = code_length

# %%
check("05.1", answer);

# %% [markdown]
# **05.2 Integer frequencies.** Write `quantize_pmf(pmf, precision)` returning one integer
# frequency per symbol, each at least 1, adding up to exactly `2**precision`, and close to the
# pmf: the checker measures the extra bits per symbol $D_{\mathrm{KL}}(p \,\|\, f / 2^{k})$
# of your table and accepts any valid table that is not much worse than the library's. Can you
# beat `pmf_to_quantized_cdf` on the wide Gaussian tables of section 5.3?

# %%
def quantize_pmf(pmf, precision):
    ...  # your code here


answer = None  # when your function is ready: answer = quantize_pmf

# %%
check("05.2", answer);

# %% [markdown]
# **05.3 Decoding by hand.** Write `rans_decode_one_table(data, cdf, count)` that decodes `count`
# symbols from the bytes `data` written by `ReferenceCoder` with a single CDF table `cdf` (a
# list rising from 0 to $2^{16}$; symbol $s$ owns the slots `cdf[s]` to `cdf[s + 1] - 1`). Try
# not to look at section 5.2: state initialization, the symbol search, the state update and the
# refill are all you need.

# %%
def rans_decode_one_table(data, cdf, count):
    ...  # your code here


answer = None  # when your function is ready: answer = rans_decode_one_table

# %%
check("05.3", answer);

# %% [markdown]
# **05.4 Counting header bytes.** From the layout in section 5.5 alone, write
# `header_bytes(model_name)`: the number of bytes that are *not* entropy-coded payload
# (`describe(...)["header_bytes"]`) in a file of an RGB image made by a hyperprior model
# called `model_name`, with one $y$ string and one $z$ string. Model names may contain any
# Unicode characters.

# %%
def header_bytes(model_name):
    ...  # your code here


answer = None  # when your function is ready: answer = header_bytes

# %%
check("05.4", answer);
