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
# # Chapter 1: Transform coding, or JPEG built by hand
#
# **What you will learn.**
#
# * The three stages of every classic image codec (transform, quantization, entropy coding) and
#   what each one contributes to the bits.
# * How to build a working JPEG-like codec from scratch: the 8×8 DCT, quantization tables and the
#   quality knob, the zig-zag scan, and Huffman coding into real bytes.
# * How to measure a codec honestly: count every byte of the file, report bits per pixel (bpp)
#   and PSNR, and compare against a real implementation (Pillow's libjpeg) on rate-distortion curves.
# * Why a transform helps at all: energy compaction and coding gain, measured on real 8×8 blocks
#   for no transform, the DCT and the data-optimal Karhunen-Loève transform (KLT).
#
# **Why it matters.** The learned codecs in the rest of this book keep exactly this skeleton. They
# replace the hand-designed parts (the DCT, the fixed quantization tables, the hand-tuned entropy
# code) with neural networks and learned probability models trained end to end for rate and
# distortion. To see what they gain, and why, we first need the baseline they replace, built
# piece by piece and measured.

# %% [markdown]
# ## 1.1 The visual communication problem
#
# A sender holds an image $x$ and wants a receiver to see an image $\hat x$ that looks like $x$,
# while sending as few bits as possible. Before any image is sent, both sides agree on a **codec**:
# an encoder that maps $x$ to a bitstream and a decoder that maps the bitstream to $\hat x$. Only
# the bitstream travels. Two numbers describe one use of a codec:
#
# * the **rate** $R$: the length of the bitstream, which we report in bits per pixel,
#   $\text{bpp} = 8 \cdot \text{bytes} / (H W)$;
# * the **distortion** $D$: how far $\hat x$ is from $x$. We use the mean squared error over all
#   pixels and channels and its logarithmic form, the peak signal-to-noise ratio
#   $\mathrm{PSNR} = 10 \log_{10} \left( 255^2 / \mathrm{MSE} \right)$ dB.
#
# The standardised codecs that carry most images and videos today, JPEG (ITU-T T.81, 1992),
# MPEG-2 (ITU-T H.262, 1995) and H.264/AVC (Wiegand et al., 2003), are all **transform coding**
# pipelines:
#
# ```
# x ──▶ transform ──▶ y ──▶ quantize ──▶ y_hat ──▶ entropy code ──▶ bits
#                                                                    │
# x_hat ◀── inverse transform ◀── y_hat ◀── entropy decode ◀─────────┘
# ```
#
# Each stage is designed by hand and frozen by the standard: the standard fixes the bitstream
# syntax and the decoder, so every decoder in the world can read every compliant file. Learned
# codecs (chapters to come) keep the pipeline but *learn* the transform, the quantizer's
# step sizes and the entropy model from data. In this chapter everything is hand-designed.

# %%
import heapq
import io
import time
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import scipy.fft
from PIL import Image

from codec_lib import classic, metrics
from codec_lib import classic_entropy as ent
from codec_lib.data import eval_images
from codec_lib.exercises import check

plt.rcParams.update({"figure.dpi": 80, "image.cmap": "gray", "axes.titlesize": 10})
np.set_printoptions(linewidth=110)

# Kodak images if $CODEC_LIB_DATA/kodak exists, else scikit-image's embedded photos.
photos = [(name, np.asarray(img.convert("RGB"))) for name, img in eval_images(limit=3)]
name, x = photos[0]                                   # x: (H, W, 3) uint8, our running example

fig, axes = plt.subplots(1, len(photos), figsize=(12, 4))
for ax, (n, p) in zip(axes, photos):
    ax.imshow(p); ax.set_title(f"{n}  {p.shape[1]}×{p.shape[0]}"); ax.axis("off")
plt.show()

# %% [markdown]
# Distortion and rate, from their definitions. Everything below is measured with these two
# functions (section 1.6 checks them against `codec_lib.metrics`).

# %%
def psnr(x, x_hat, data_range=255.0):
    """PSNR in dB between two uint8 images of the same shape."""
    mse = np.mean((np.asarray(x, np.float64) - np.asarray(x_hat, np.float64)) ** 2)
    return float(10 * np.log10(data_range ** 2 / mse))


def bpp(num_bytes, x):
    """Bits per pixel of a file of `num_bytes` bytes for image x (H, W[, 3])."""
    return 8 * num_bytes / (x.shape[0] * x.shape[1])


print(f"raw {name}: {x.nbytes} bytes = {bpp(x.nbytes, x):.0f} bpp")

# %% [markdown]
# ## 1.2 Colour: RGB to YCbCr
#
# The eye resolves fine detail in brightness much better than in colour. JPEG files (in the JFIF
# container, Hamilton 1992) therefore first rotate RGB into a luma channel $Y$ and two colour
# differences $C_b, C_r$ (ITU-R BT.601 weights, full range):
#
# $$
# \begin{pmatrix} Y \\ C_b \\ C_r \end{pmatrix} =
# \begin{pmatrix} 0.299 & 0.587 & 0.114 \\ -0.168736 & -0.331264 & 0.5 \\ 0.5 & -0.418688 & -0.081312 \end{pmatrix}
# \begin{pmatrix} R \\ G \\ B \end{pmatrix} + \begin{pmatrix} 0 \\ 128 \\ 128 \end{pmatrix}
# $$
#
# and then usually store $C_b, C_r$ at half resolution in both directions ("4:2:0").

# %%
M = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
ycc = x.astype(np.float64) @ M.T + [0, 128, 128]     # (H, W, 3)
assert np.allclose(ycc, classic.rgb_to_ycbcr(x))
assert np.allclose(classic.ycbcr_to_rgb(ycc), x)   # and back (the inverse is exercise 01.4)

fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, c, title in zip(axes, range(3), ["Y (luma)", "Cb", "Cr"]):
    ax.imshow(ycc[..., c], vmin=0, vmax=255); ax.set_title(f"{title}: std {ycc[..., c].std():.1f}"); ax.axis("off")
plt.show()

# %% [markdown]
# Most of the structure, and most of the variance, sits in $Y$; the chroma planes are smooth and
# low in contrast. From now on we work on one plane at a time, starting with luma.
#
# ## 1.3 The 8×8 discrete cosine transform
#
# JPEG cuts each plane into 8×8 blocks and applies the two-dimensional DCT-II (Ahmed, Natarajan
# & Rao 1974) to each. In one dimension, for a length-$N$ signal $x_0, \dots, x_{N-1}$,
#
# $$
# y_k = \alpha_k \sum_{i=0}^{N-1} x_i \cos\!\left(\frac{\pi (2i+1) k}{2N}\right),
# \qquad \alpha_0 = \sqrt{1/N},\ \ \alpha_k = \sqrt{2/N}\ (k>0),
# $$
#
# i.e. $y = C x$ with an $N\times N$ matrix $C$. These $\alpha_k$ make $C$ orthonormal,
# $C^\top C = I$, so the inverse is simply $x = C^\top y$ and squared errors are the same in the
# pixel and the coefficient domain. In two dimensions the transform is separable:
# $Y = C X C^\top$ for an 8×8 block $X$.

# %%
N = 8
k, i = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
C = np.sqrt(2 / N) * np.cos(np.pi * (2 * i + 1) * k / (2 * N))   # (N, N), row k = frequency k
C[0] /= np.sqrt(2)                                                 # alpha_0 = sqrt(1/N)

assert np.allclose(C @ C.T, np.eye(N))                                 # orthonormal
assert np.allclose(C, classic.dct_matrix(N))                           # same as the library
assert np.allclose(C, scipy.fft.dct(np.eye(N), norm="ortho", axis=0))  # same as SciPy's DCT-II

# The 64 basis images: block X = C[u]^T C[v] has a single nonzero coefficient, at (u, v).
fig, axes = plt.subplots(N, N, figsize=(6, 6))
for u in range(N):
    for v in range(N):
        axes[u, v].imshow(np.outer(C[u], C[v]), vmin=-0.25, vmax=0.25); axes[u, v].axis("off")
fig.suptitle("8×8 DCT basis images (row u: vertical frequency, column v: horizontal)")
plt.show()

# %% [markdown]
# Now transform every block of the luma plane. Reshaping $(H, W)$ into
# $(H/8, W/8, 8, 8)$ blocks lets one matrix product do all blocks at once. We subtract 128
# first, as JPEG does, so that coefficients are centred on zero.

# %%
luma = ycc[..., 0] - 128.0
H8, W8 = luma.shape[0] // 8 * 8, luma.shape[1] // 8 * 8      # whole blocks only, for now
blocks = luma[:H8, :W8].reshape(H8 // 8, 8, W8 // 8, 8).swapaxes(1, 2)   # (Hb, Wb, 8, 8)
y = C @ blocks @ C.T                                          # (Hb, Wb, 8, 8) coefficients

assert np.allclose(C.T @ y @ C, blocks)                       # perfect reconstruction
assert np.allclose(y, classic.block_dct(luma[:H8, :W8]))      # the library pads odd sizes too
energy = (y ** 2).mean(axis=(0, 1))                           # (8, 8) mean energy per frequency
low = np.add.outer(np.arange(8), np.arange(8)) <= 2           # the 6 lowest frequencies
print(f"{y.shape[0] * y.shape[1]} blocks; DC carries {energy[0, 0] / energy.sum():.1%} of the energy, "
      f"the 6 coefficients with u+v <= 2 carry {energy[low].sum() / energy.sum():.1%}")

fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1, 1.6]})
im = axes[0].imshow(10 * np.log10(energy), cmap="viridis")
axes[0].set_title("mean energy per DCT coefficient (dB)"); axes[0].set_xlabel("v"); axes[0].set_ylabel("u")
fig.colorbar(im, ax=axes[0], shrink=0.8)
# Regroup: tile (u, v) shows coefficient (u, v) of every block, a small image per frequency.
mosaic = y.transpose(2, 0, 3, 1).reshape(8 * y.shape[0], 8 * y.shape[1])
axes[1].imshow(np.log1p(np.abs(mosaic)), cmap="magma"); axes[1].axis("off")
axes[1].set_title("log(1+|y|), regrouped by frequency: DC tile top left")
plt.show()

# %% [markdown]
# Natural images are smooth almost everywhere, so nearly all the energy lands in a few
# low-frequency coefficients: that is **energy compaction**. The high-frequency tiles are dark
# except on edges and textures. A transform does not remove any information (it is invertible),
# but it concentrates it, so that the quantizer can spend bits where the energy is.
#
# ## 1.4 Quantization and the quality knob
#
# Quantization is where information is thrown away, and the only lossy step. Each coefficient
# gets its own step size $Q_{uv}$ from an 8×8 table:
#
# $$
# \hat y_{uv} = \operatorname{round}\!\left( \frac{y_{uv}}{Q_{uv}} \right), \qquad
# \tilde y_{uv} = Q_{uv}\, \hat y_{uv}.
# $$
#
# The error of each coefficient is at most $Q_{uv}/2$ (about $Q_{uv}^2/12$ in mean square when the
# step is small). The T.81 standard gives example tables in its Annex K (Tables K.1 and K.2),
# with larger steps at high frequencies, where the eye is less sensitive. The familiar
# "quality" $q \in \{1..100\}$ is not part of the standard: it is the Independent JPEG Group's
# (libjpeg) rule for scaling those tables, which most software, Pillow included, follows:
#
# $$
# s(q) = \begin{cases} \lfloor 5000 / q \rfloor & q < 50 \\ 200 - 2q & q \ge 50 \end{cases}
# \qquad
# Q_{uv}(q) = \operatorname{clip}\!\left( \left\lfloor \frac{T_{uv}\, s(q) + 50}{100} \right\rfloor, 1, 255 \right).
# $$

# %%
def quality_table(table, q):
    s = 5000 // q if q < 50 else 200 - 2 * q
    return np.clip((table * s + 50) // 100, 1, 255)


for q in range(1, 101):
    for T in (classic.JPEG_LUMA_QTABLE, classic.JPEG_CHROMA_QTABLE):
        assert np.array_equal(quality_table(T, q), classic.quality_table(T, q))
for q in (10, 50, 90):
    print(f"luma table at quality {q}:\n{quality_table(classic.JPEG_LUMA_QTABLE, q)}")

# %% [markdown]
# Quantize the luma blocks at three qualities and go back to pixels. The fraction of
# coefficients that become zero is what the entropy coder will exploit.

# %%
for q in (10, 50, 90):
    Q = quality_table(classic.JPEG_LUMA_QTABLE, q)
    y_hat = np.rint(y / Q)                              # (Hb, Wb, 8, 8) integers
    luma_hat = (C.T @ (y_hat * Q) @ C).swapaxes(1, 2).reshape(H8, W8)
    err = luma_hat - luma[:H8, :W8]
    print(f"quality {q:3d}: {np.mean(y_hat == 0):6.1%} of coefficients are zero, "
          f"luma PSNR {10 * np.log10(255 ** 2 / np.mean(err ** 2)):5.2f} dB")

# %% [markdown]
# ## 1.5 Zig-zag scan and run-length symbols
#
# After quantization a block is mostly zeros, and the nonzeros cluster at low frequencies. JPEG
# reads the 64 coefficients along anti-diagonals, the **zig-zag** order (T.81, Figure A.6), so
# that the low frequencies come first and the zeros bunch up at the end. Walk the diagonals
# $d = u + v$, alternating direction:

# %%
order = []
for d in range(2 * N - 1):
    cells = [(u, d - u) for u in range(N) if 0 <= d - u < N]     # one anti-diagonal, u increasing
    order += cells if d % 2 else cells[::-1]                      # even diagonals go up and right
zigzag = np.array([u * N + v for u, v in order])                  # (64,) flat indices
assert np.array_equal(zigzag, classic.zigzag_order(8))
print(np.argsort(zigzag).reshape(8, 8))                           # the scan position of each cell

# %% [markdown]
# A block in zig-zag order becomes a short list of **symbols**: the DC coefficient is coded as the
# difference to the previous block's DC, and each nonzero AC coefficient as
# (number of zeros before it, its value). A special end-of-block (EOB) symbol says "only zeros
# from here". Here is one block from the middle of the photo at quality 50:

# %%
Q50 = quality_table(classic.JPEG_LUMA_QTABLE, 50)
blk = np.rint(y[y.shape[0] // 2, y.shape[1] // 2] / Q50).astype(int)   # one quantized 8x8 block
seq = blk.ravel()[zigzag]
print("zig-zag:", seq.tolist())
symbols, run = [], 0
for v in seq[1:]:                                       # AC coefficients
    if v == 0:
        run += 1
    else:
        symbols.append((run, int(v))); run = 0
symbols.append("EOB") if run else None
print("symbols: DC", seq[0], symbols)

# %% [markdown]
# JPEG's actual alphabet (T.81, Annex F) splits each value into a **size** category (its bit
# length, coded with a variable-length code) and that many raw **extra bits**. An AC symbol is one
# byte, `run << 4 | size`, with `0xF0` for sixteen zeros and `0x00` for EOB; DC symbols are just
# the size of the difference. The library's `classic_entropy.plane_symbols` does this for a
# whole plane.
#
# ## 1.6 Entropy coding into real bytes
#
# If a symbol $s$ occurs with probability $p(s)$, no uniquely decodable code can spend fewer than
# the **entropy** (Shannon 1948)
#
# $$
# H = -\sum_s p(s) \log_2 p(s) \quad \text{bits per symbol}
# $$
#
# on average. A Huffman code (Huffman 1952) gets within one bit of it: $H \le L < H + 1$ for the
# average code length $L$. Our coder builds Huffman codes from the image's own symbol counts, one
# pair of tables (DC, AC) for luma and one for chroma, and writes the code tables into the file,
# so that their cost is counted. First, a Huffman code from scratch, on the luma AC symbols at
# quality 50:

# %%
c50 = classic.analyze(x, 50)                        # quantized planes y_hat, zig-zag order
dc_syms, dc_extra, ac_syms, ac_extra = ent.plane_symbols(c50.planes[0].reshape(-1, 64))
counts = Counter(s for blk_syms in ac_syms for s in blk_syms)

heap = [(n, sym, {sym: 0}) for sym, n in counts.items()]        # (count, tie-break, depths)
heapq.heapify(heap)
while len(heap) > 1:                                # merge the two rarest subtrees
    n1, t1, d1 = heapq.heappop(heap)
    n2, t2, d2 = heapq.heappop(heap)
    heapq.heappush(heap, (n1 + n2, min(t1, t2), {s: d + 1 for s, d in {**d1, **d2}.items()}))
lengths = heap[0][2]                                # symbol -> code length in bits

n_total = sum(counts.values())
prob = np.array(list(counts.values())) / n_total
H_ac = -(prob * np.log2(prob)).sum()
L_ac = sum(counts[s] * lengths[s] for s in counts) / n_total
L_lib = sum(counts[s] * n for s, n in ent.huffman_lengths(counts).items()) / n_total
print(f"{len(counts)} distinct AC symbols, {n_total} in total")
print(f"entropy {H_ac:.3f} bits/symbol, Huffman {L_ac:.3f}, library (max 16-bit codes) {L_lib:.3f}")
assert H_ac <= L_ac < H_ac + 1 and L_ac <= L_lib < L_ac + 0.01

# %% [markdown]
# The library puts it all together: `classic.encode` writes a small header (size, channels,
# subsampling), the two quantization tables, the Huffman tables and the bitstream;
# `classic.decode` reads them back. The decoder reproduces the encoder's reconstruction exactly,
# and we can account for every byte.

# %%
data = classic.encode(x, quality=50)                # 4:2:0 by default, like libjpeg
x_hat = classic.decode(data)
assert np.array_equal(x_hat, classic.reconstruct(x, 50))   # decode(encode(x)) is bit-exact
assert np.isclose(psnr(x, x_hat), metrics.psnr(x, x_hat))   # our PSNR = the library's
assert bpp(len(data), x) == metrics.bpp(len(data), *x.shape[:2])

def entropy_bits(symbols):
    """Total bits for a symbol sequence coded at its empirical (first-order) entropy."""
    n = np.array(list(Counter(symbols).values()))
    return -(n * np.log2(n / n.sum())).sum()


syms = [ent.plane_symbols(plane.reshape(-1, 64)) for plane in c50.planes]   # Y, Cb, Cr
ideal = 0.0
for planes in ([0], [1, 2]):                        # luma tables; Cb and Cr share the chroma tables
    dc = [s for i in planes for s in syms[i][0]]
    ac = [s for i in planes for blk in syms[i][2] for s in blk]
    extra = [nb for i in planes for _, nb in syms[i][1]] + [nb for i in planes for blk in syms[i][3] for _, nb in blk]
    ideal += entropy_bits(dc) + entropy_bits(ac) + sum(extra)
print(f"{name} at quality 50: {len(data)} bytes = {bpp(len(data), x):.3f} bpp, PSNR {psnr(x, x_hat):.2f} dB")
print(f"symbol entropy + extra bits would need {ideal / 8:.0f} bytes; "
      f"Huffman codes, tables and header cost {len(data) - ideal / 8:.0f} bytes more "
      f"({len(data) / (ideal / 8) - 1:.1%})")

# %% [markdown]
# ## 1.7 The quality knob in pictures
#
# Each quality gives one point on the rate-distortion plane. Low qualities show the typical
# JPEG artefacts: blocking (each 8×8 block is reduced to a few basis images) and ringing around
# edges; chroma subsampling smears colour edges.

# %%
qualities = (5, 15, 40, 90)
h, w = x.shape[:2]
crop = (slice(h // 2 - 96, h // 2 + 96), slice(w // 2 - 96, w // 2 + 96))   # 192x192 centre crop
fig, axes = plt.subplots(1, len(qualities) + 1, figsize=(15, 3.6))
axes[0].imshow(x[crop]); axes[0].set_title(f"original, {bpp(x.nbytes, x):.0f} bpp")
for ax, q in zip(axes[1:], qualities):
    data = classic.encode(x, q)
    x_hat = classic.decode(data)
    ax.imshow(x_hat[crop]); ax.set_title(f"q={q}: {bpp(len(data), x):.2f} bpp, {psnr(x, x_hat):.1f} dB")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 1.8 Against the real thing: Pillow's JPEG encoder
#
# Pillow wraps libjpeg(-turbo), a production JPEG encoder. We call it with the same quality
# values, 4:2:0 chroma subsampling (`subsampling=2`) and either `optimize=False` (the example
# Huffman tables of T.81 Annex K) or `optimize=True` (Huffman tables built from the image, like
# ours). Rates count the whole file, markers included; PSNR is computed on the RGB image that
# Pillow decodes.

# %%
def pillow_jpeg(x, q, optimize):
    buf = io.BytesIO()
    Image.fromarray(x).save(buf, "JPEG", quality=q, subsampling=2, optimize=optimize)
    data = buf.getvalue()
    return data, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


sweep = (5, 10, 20, 30, 50, 70, 90, 95)
rd = {}                                              # (photo, codec) -> list of (bpp, PSNR, bytes)
for n, p in photos:
    for q in sweep:
        data = classic.encode(p, q)
        rd.setdefault((n, "ours"), []).append((bpp(len(data), p), psnr(p, classic.decode(data)), len(data)))
        for opt in (False, True):
            data, p_hat = pillow_jpeg(p, q, opt)
            rd.setdefault((n, f"Pillow optimize={opt}"), []).append((bpp(len(data), p), psnr(p, p_hat), len(data)))

print(f"{'photo':10s} {'q':>3s} | {'ours: bytes':>11s} {'bpp':>6s} {'PSNR':>6s} | "
      f"{'Pillow opt.: bytes':>18s} {'bpp':>6s} {'PSNR':>6s} | bytes ours/Pillow")
for n, _ in photos:
    for q in (10, 50, 90):
        (b0, p0, n0), (b1, p1, n1) = (rd[n, c][sweep.index(q)] for c in ("ours", "Pillow optimize=True"))
        print(f"{n:10s} {q:3d} | {n0:11d} {b0:6.3f} {p0:6.2f} | {n1:18d} {b1:6.3f} {p1:6.2f} | {n0 / n1:.3f}")

# %%
fig, axes = plt.subplots(1, len(photos), figsize=(15, 4.5))
for ax, (n, _) in zip(axes, photos):
    for codec, style in (("ours", "o-"), ("Pillow optimize=True", "s--"), ("Pillow optimize=False", "^:")):
        pts = np.array(rd[n, codec])
        ax.plot(pts[:, 0], pts[:, 1], style, label=codec, ms=4)
    ax.set_title(n); ax.set_xlabel("bpp"); ax.set_ylabel("PSNR (dB)"); ax.grid(alpha=0.3)
axes[0].legend()
fig.suptitle(f"RD curves, quality sweep {sweep}, 4:2:0")
plt.show()

# %% [markdown]
# Where do the remaining differences come from? Both codecs use the same tables, the same quality
# rule and the same subsampling, so their quantized coefficients are nearly identical. Let us
# open one file of each. In a JPEG file everything before the start-of-scan marker (`FF DA`) is
# header (JFIF marker, quantization and Huffman tables, frame description), and inside the scan
# every data byte `FF` is followed by a stuffed `00` byte so that it cannot be mistaken for a
# marker (T.81, B.1.1.5).

# %%
data_ours = classic.encode(x, 50)
data_pil, _ = pillow_jpeg(x, 50, optimize=True)
sos = data_pil.index(b"\xff\xda")
scan_start = sos + 2 + int.from_bytes(data_pil[sos + 2:sos + 4], "big")
scan = data_pil[scan_start:-2]                      # entropy-coded segment, before the EOI marker
stuffed = scan.count(b"\xff\x00")
print(f"Pillow: {len(data_pil)} bytes = headers and tables {scan_start} + entropy-coded data "
      f"{len(scan) - stuffed} + stuffed zero bytes {stuffed} + end marker 2")
print(f"ours  : {len(data_ours)} bytes = " + " + ".join(f"{k} {v}" for k, v in classic.stream_sections(data_ours).items()))

t0 = time.perf_counter(); classic.decode(classic.encode(x, 50)); t_ours = time.perf_counter() - t0
t0 = time.perf_counter(); pillow_jpeg(x, 50, True); t_pil = time.perf_counter() - t0
print(f"encode + decode time on this machine: ours {t_ours * 1e3:.0f} ms, Pillow {t_pil * 1e3:.1f} ms")

# %% [markdown]
# **Where our codec stands.** On these photos the hand-made codec lands essentially on top of
# libjpeg with `optimize=True`: a few percent fewer bytes and about the same PSNR (the table above
# and the RD plot are measured in this notebook). This is not a better codec, it is the same
# algorithm. The byte differences are bookkeeping: JPEG's markers, byte stuffing, and small
# differences in Huffman code construction and in the coefficients themselves. The PSNR differences come from rounding: libjpeg
# uses an integer DCT and 8-bit YCbCr intermediates where we use floating point. Against
# `optimize=False` (fixed example Huffman tables), image-specific codes save more, most of all at
# low rates. What our codec lacks is everything that made JPEG practical and everything
# that came after it: our pure-Python coder is orders of magnitude slower than libjpeg (measured
# above), it has no progressive mode or arithmetic coding (both in T.81), no rate-distortion
# optimized quantization (e.g. Crouse & Ramchandran 1997), and no in-loop filtering or
# intra prediction as in H.264/AVC and HEVC (Sullivan et al. 2012), whose intra coding compresses
# photos markedly better than JPEG. The learned codecs of later chapters are measured against
# this same kind of RD curve.
#
# ## 1.9 Why transforms help: energy compaction and coding gain
#
# Suppose a block is a vector of $d = 64$ numbers and we code it with an orthonormal transform
# $y = T x$, then quantize each coefficient $y_k$ with its own step. At high rate, with the bits
# shared optimally among the coefficients, the mean squared error for $R$ bits per sample is
# (Goyal 2001)
#
# $$
# D_T(R) \approx c \, \Big( \prod_{k=1}^{d} \sigma_k^2 \Big)^{1/d} \, 2^{-2R},
# $$
#
# where $\sigma_k^2$ is the variance of coefficient $k$, while coding the pixels directly gives
# $D_I(R) \approx c\, \sigma_x^2\, 2^{-2R}$. Because $T$ is orthonormal,
# $\frac{1}{d}\sum_k \sigma_k^2 = \sigma_x^2$, so the ratio is the **coding gain**
#
# $$
# G_T = \frac{\frac{1}{d} \sum_k \sigma_k^2}{\left( \prod_k \sigma_k^2 \right)^{1/d}}
# \qquad (\text{arithmetic over geometric mean}),
# $$
#
# and every factor of 4 in $G_T$ saves one bit per sample at the same distortion ($10\log_{10} G_T$
# dB of distortion at the same rate). The geometric mean is small when the energy is
# concentrated in a few coefficients, which is energy compaction again. Among orthonormal
# transforms, the one that maximizes $G_T$ decorrelates the coefficients: the Karhunen-Loève
# transform (KLT), whose rows are the eigenvectors of the block covariance. It is optimal for
# Gaussian sources, but it depends on the data and would have to be sent to the decoder. The DCT
# is fixed, fast, and close to the KLT of a strongly correlated first-order Markov source
# (Ahmed, Natarajan & Rao 1974). Let us measure all three on real luma blocks.

# %%
lumas = {n: classic.rgb_to_ycbcr(p)[..., 0] for n, p in photos}
blocks = {n: classic.image_blocks(l) for n, l in lumas.items()}           # n -> (N, 64) vectors
blocks["all photos"] = np.concatenate(list(blocks.values()))
dct = classic.dct_basis()                                                  # (64, 64), rows = basis images

print(f"coding gain in dB on real 8x8 luma blocks (KLT fitted on the same blocks):")
print(f"{'':12s} {'blocks':>7s} {'identity':>9s} {'DCT':>7s} {'KLT':>7s}")
for n, b in blocks.items():
    gains = {t: classic.coding_gain(b, m) for t, m in
             (("identity", np.eye(64)), ("DCT", dct), ("KLT", classic.klt_basis(b)))}
    print(f"{n:12s} {len(b):7d}" + "".join(f"{10 * np.log10(g):{w}.2f}" for g, w in zip(gains.values(), (10, 8, 8))))
    assert gains["KLT"] >= gains["DCT"] > gains["identity"]

# %% [markdown]
# The identity gains nothing (every pixel of a block has about the same variance), while the DCT
# comes within about a dB of the KLT, with no side information to send. These high-rate numbers
# overstate what a real codec gets at low rates, where many coefficients receive no bits at all,
# but the ranking holds. Now the flip side of the KLT's optimality: fitted on one photo and used
# on another, it is no longer optimal, and it can fall behind the fixed DCT.

# %%
names = [n for n, _ in photos]
for fit, test in zip(names, names[1:] + names[:1]):
    g_klt = classic.coding_gain(blocks[test], classic.klt_basis(blocks[fit]))
    g_dct = classic.coding_gain(blocks[test], dct)
    print(f"KLT fitted on {fit:10s} tested on {test:10s}: {10 * np.log10(g_klt):.2f} dB   (DCT: {10 * np.log10(g_dct):.2f} dB)")

# %%
all_blocks = blocks["all photos"]
T = {"identity": np.eye(64), "DCT": dct, "KLT": classic.klt_basis(all_blocks)}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for t, m in T.items():
    kept = classic.energy_compaction(all_blocks, m)                # (64,) cumulative fraction
    axes[0].semilogy(np.arange(1, 64), 1 - kept[:-1], label=t)
    axes[1].semilogy(np.sort(classic.coefficient_variances(all_blocks, m))[::-1], label=t)
axes[0].set_xlabel("k, coefficients kept (largest variance first)"); axes[0].set_ylabel("fraction of energy left out")
axes[0].set_title("energy compaction on real 8×8 luma blocks")
axes[1].set_xlabel("coefficient rank"); axes[1].set_ylabel("variance"); axes[1].set_title("sorted coefficient variances")
for ax in axes:
    ax.legend(); ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# Finally, the basis images themselves, both sorted by decreasing variance on all the blocks.
# The KLT's leading vectors look much like the DCT's low frequencies (a near-constant block,
# horizontal and vertical ramps, then saddles and bands), which is why the DCT works so well.
# Further down, the KLT's vectors mix frequencies and orientations and become noisy: they
# are estimated from a few thousand blocks of three photos, and they fit those photos.

# %%
dct_rank = np.argsort(classic.coefficient_variances(all_blocks, dct))[::-1]
fig, axes = plt.subplots(4, 16, figsize=(14, 4))
for j in range(32):
    for row, (t, basis) in enumerate((("DCT", T["DCT"][dct_rank]), ("KLT", T["KLT"]))):
        ax = axes[2 * row + j // 16, j % 16]
        ax.imshow(basis[j].reshape(8, 8), vmin=-0.3, vmax=0.3); ax.axis("off")
        if j % 16 == 0:
            ax.set_title(f"{t} {j + 1}-{j + 16}", fontsize=8, loc="left")
fig.suptitle("the 32 highest-variance basis images: DCT (top two rows) and KLT (bottom two rows)")
plt.show()

# %% [markdown]
# ## Summary
#
# * A transform codec is three hand-designed stages: an invertible transform that compacts
#   energy, a quantizer that throws information away (the only lossy step), and an entropy coder
#   that turns the remaining symbols into close to their entropy in bits.
# * The 8×8 DCT is orthonormal, fast and fixed; on real blocks it gets close to the coding gain
#   of the data-dependent KLT, which cannot be beaten by any orthonormal transform on its own
#   training blocks but must be fitted and transmitted.
# * JPEG's quality knob only scales the quantization tables (IJG rule); rate and PSNR both grow
#   with it.
# * Our few-hundred-line codec writes real, decodable bytes and matches libjpeg's rate-distortion
#   performance on these photos; it is the baseline the learned codecs in this book must beat.
# * What stays hand-designed here (block transform, fixed tables, Huffman codes on a fixed symbol
#   alphabet) is exactly what learned codecs replace with trained analysis/synthesis transforms
#   and learned entropy models (Ballé, Laparra & Simoncelli 2017; Ballé et al. 2018).
#
# ## References
#
# * N. Ahmed, T. Natarajan, K. R. Rao. Discrete cosine transform. *IEEE Transactions on
#   Computers*, C-23(1):90-93, 1974.
# * G. K. Wallace. The JPEG still picture compression standard. *Communications of the ACM*,
#   34(4):30-44, 1991.
# * ITU-T Recommendation T.81 / ISO/IEC 10918-1. Digital compression and coding of
#   continuous-tone still images: requirements and guidelines, 1992 (Annex K: example tables).
# * E. Hamilton. JPEG File Interchange Format, version 1.02. C-Cube Microsystems, 1992.
# * Independent JPEG Group. libjpeg, `jcparam.c` (`jpeg_quality_scaling`): the quality rule.
# * V. K. Goyal. Theoretical foundations of transform coding. *IEEE Signal Processing Magazine*,
#   18(5):9-21, 2001.
# * C. E. Shannon. A mathematical theory of communication. *Bell System Technical Journal*,
#   27:379-423, 623-656, 1948.
# * D. A. Huffman. A method for the construction of minimum-redundancy codes. *Proceedings of the
#   IRE*, 40(9):1098-1101, 1952.
# * ITU-T Recommendation H.262 / ISO/IEC 13818-2 (MPEG-2 Video), 1995.
# * T. Wiegand, G. J. Sullivan, G. Bjøntegaard, A. Luthra. Overview of the H.264/AVC video coding
#   standard. *IEEE Transactions on Circuits and Systems for Video Technology*, 13(7):560-576, 2003.
# * G. J. Sullivan, J.-R. Ohm, W.-J. Han, T. Wiegand. Overview of the High Efficiency Video Coding
#   (HEVC) standard. *IEEE Transactions on Circuits and Systems for Video Technology*,
#   22(12):1649-1668, 2012.
# * M. Crouse, K. Ramchandran. Joint thresholding and quantizer selection for transform image
#   coding: entropy-constrained analysis and applications to baseline JPEG. *IEEE Transactions on
#   Image Processing*, 6(2):285-297, 1997.
# * J. Ballé, V. Laparra, E. P. Simoncelli. End-to-end optimized image compression. *ICLR*, 2017.
# * J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston. Variational image compression with a
#   scale hyperprior. *ICLR*, 2018.
#
# ## Exercises
#
# Replace each `None` with your answer and run the check cell; it prints a verdict and a hint,
# never the solution.
#
# **01.1 Zig-zag by hand.** Without running code, write the zig-zag order of a **4×4** block as a
# list of 16 flat indices `4 * row + col` (it starts `0, 1, 4, ...`).

# %%
answer = None  # your answer here, e.g. [0, 1, 4, ...]

# %%
check("01.1", answer);

# %% [markdown]
# **01.2 Coding gain.** Write `coding_gain(blocks, T)` for blocks of shape `(N, 64)` and an
# orthonormal `T` of shape `(64, 64)` whose rows are basis vectors. Return the plain ratio
# $G_T$ of section 1.9, not decibels. The checker tries it on real blocks with several transforms.

# %%
def coding_gain(blocks, T):
    ...  # your code here


answer = None  # when your function is ready: answer = coding_gain

# %%
check("01.2", answer);

# %% [markdown]
# **01.3 Hitting a rate.** Using `classic.encode` (4:2:0, the default), find the **largest**
# quality whose file for scikit-image's `chelsea` photo (`skimage.data.chelsea()`) fits in
# 1.0 bpp. How many encodes does a bisection need, compared with trying every quality?

# %%
answer = None  # your code here: an integer quality in 1..100

# %%
check("01.3", answer);

# %% [markdown]
# **01.4 Back to RGB.** Write `ycbcr_to_rgb(ycc)` that inverts the colour transform of section
# 1.2 for a float array of shape `(H, W, 3)`, without calling the library.

# %%
def ycbcr_to_rgb(ycc):
    ...  # your code here


answer = None  # when your function is ready: answer = ycbcr_to_rgb

# %%
check("01.4", answer);
