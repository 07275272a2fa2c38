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
# # Chapter 2: Compressive autoencoders
#
# **What you will learn.**
#
# * How a learned codec replaces the fixed DCT of chapter 1 with two trained networks, an
#   analysis transform $g_a$ and a synthesis transform $g_s$, and what their shapes are.
# * Generalized divisive normalization (GDN), the nonlinearity of Ballé et al.'s codecs, written
#   in three lines and checked against `codec_lib.layers.GDN`; and what it does (and does not yet
#   do) inside our shipped model.
# * The rate-distortion Lagrangian $J = R + \lambda D$ that trains the whole codec, written from
#   scratch and checked against `codec_lib.train.rd_loss`.
# * A small codec trained live in this notebook for a few hundred steps, then the shipped
#   reference models: what changes with $\lambda$, in bits, in decibels and in pictures.
# * ReLU versus GDN versus residual transforms, trained side by side on the same budget.
#
# **Why it matters.** Everything after this chapter (quantization proxies, entropy models, the
# bitstream) plugs into the autoencoder built here. It is the one place where the codec's
# *transform* is learned rather than designed, and the Lagrangian is the one number that all its
# parts are trained to lower.

# %%
import json
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from codec_lib import zoo
from codec_lib.codec import encode_image
from codec_lib.data import eval_images, to_tensor, training_folders
from codec_lib.exercises import check
from codec_lib.layers import GDN, analysis_transform, synthesis_transform
from codec_lib.metrics import psnr
from codec_lib.models import pad_to
from codec_lib.train import TrainConfig, evaluate_loss, fit, rd_loss

torch.set_num_threads(1)          # small computations; leave the other core alone
plt.rcParams.update({"figure.dpi": 80, "axes.titlesize": 10})
name, photo = eval_images(limit=1)[0]     # Kodak's first image, or an embedded sample photo
x = to_tensor(photo)                      # (1, 3, H, W) in [0, 1]
print(f"test photo: {name}, {photo.size[0]}x{photo.size[1]}")

# %% [markdown]
# ## 2.1 From a fixed transform to learned ones
#
# Chapter 1's codec was *transform coding*: an orthogonal transform (the 8×8 DCT) turns pixels
# into coefficients whose energy sits in few places, a uniform quantizer rounds them, an entropy
# coder writes the integers. A compressive autoencoder (Ballé, Laparra & Simoncelli 2017;
# Theis et al. 2017) keeps that pipeline and learns the transforms:
#
# $$ y = g_a(x;\phi), \qquad \hat y = \lfloor y \rceil, \qquad \hat x = g_s(\hat y;\theta). $$
#
# $g_a$ is a stack of four $5\times 5$ convolutions with stride 2, so each latent position
# summarizes a $16\times16$ neighbourhood (more, counting the kernels' overlap), and $M$ channels
# replace the DCT's 64 coefficients per block. $g_s$ mirrors it with transposed convolutions.
# Unlike the DCT, the transforms are nonlinear and overlap, so there are no block edges.

# %%
N, M = 64, 96
g_a, g_s = analysis_transform(N, M), synthesis_transform(N, M)
with torch.no_grad():
    y = g_a(x[..., :256, :256])                       # (1, M, 16, 16)
    x_hat = g_s(torch.round(y))                       # (1, 3, 256, 256)
print("x", tuple(x[..., :256, :256].shape), "-> y", tuple(y.shape), "-> x_hat", tuple(x_hat.shape))
n_a = sum(p.numel() for p in g_a.parameters())
print(f"g_a: {n_a:,} parameters; latents per pixel: {M / 16**2:.3f} "
      f"(the DCT keeps 1 coefficient per pixel per colour channel)")
print(g_a)

# %% [markdown]
# The latent has $M/256 = 0.375$ numbers per pixel against the image's 3, so the bottleneck
# already discards information; but the *rate* is decided by how predictable the rounded latents
# are, not by their count (chapter 4). An untrained $g_s$ of course reconstructs nothing useful;
# training does the rest.
#
# ## 2.2 Generalized divisive normalization
#
# Between the convolutions sits GDN (Ballé, Laparra & Simoncelli 2016). For channel $i$ at one
# position,
#
# $$ v_i = \frac{u_i}{\sqrt{\beta_i + \sum_j \gamma_{ij}\, u_j^2}}, $$
#
# a divisive gain control: each response is divided by a weighted energy of all channels at the
# same place. It models the contrast normalization of early vision and, for natural images,
# removes much of the dependency between the magnitudes of filter responses that a linear
# transform leaves behind. The decoder uses the inverse form, IGDN, which multiplies by the
# square root instead. In three lines:

# %%
def gdn(u, beta, gamma, inverse=False):
    """u: (B, C, H, W); beta: (C,); gamma: (C, C)."""
    norm = beta[None, :, None, None] + torch.einsum("ij,bjhw->bihw", gamma, u * u)
    return u * torch.sqrt(norm) if inverse else u / torch.sqrt(norm)


layer = GDN(8)
with torch.no_grad():                   # give it non-trivial parameters to test against
    layer.beta.copy_(layer.beta_reparam.init(torch.rand(8) + 0.5))
    layer.gamma.copy_(layer.gamma_reparam.init(torch.rand(8, 8) * 0.2))
u = torch.randn(2, 8, 5, 7)
beta, gamma = layer.beta_reparam(layer.beta), layer.gamma_reparam(layer.gamma)
assert torch.allclose(gdn(u, beta, gamma), layer(u), atol=1e-6)
inv = GDN(8, inverse=True)
inv.load_state_dict(layer.state_dict())
assert torch.allclose(gdn(u, beta, gamma, inverse=True), inv(u), atol=1e-6)
print("gdn() from scratch agrees with codec_lib.layers.GDN (forward and inverse)")

# %% [markdown]
# The library stores $\beta$ and $\gamma$ through a reparametrization (`beta_reparam`,
# `gamma_reparam`) that keeps them non-negative and well conditioned near zero; the arithmetic is
# the formula above.
#
# **Contrast gain control, measured.** Take the first convolution of the shipped model's $g_a$,
# feed it the test photo at full contrast and at a quarter of it, and compare the response
# energy with and without a strong normalization ($\beta = 10^{-4}$, $\gamma_{ij} = 1/C$):

# %%
model = zoo.load_model("mean-scale", 4)
conv1 = model.g_a[0]
C = conv1.out_channels
strong_beta, strong_gamma = torch.full((C,), 1e-4), torch.full((C, C), 1.0 / C)
with torch.no_grad():
    for contrast in (1.0, 0.25):           # the filters without their bias: responses to detail
        u = F.conv2d(contrast * (x - 0.5), conv1.weight, stride=2, padding=2)
        v = gdn(u, strong_beta, strong_gamma)
        print(f"contrast {contrast:4.2f}: RMS of the linear responses {u.pow(2).mean().sqrt():.4f}, "
              f"after strong GDN {v.pow(2).mean().sqrt():.4f}")

# %% [markdown]
# The linear responses scale with the contrast (by exactly 4: convolution is linear); the
# normalized ones change far less, because numerator and denominator shrink together until
# $\beta$ takes over. How strong is the GDN that our shipped model actually learned? Its divisor
# $\sqrt{\beta_i + \sum_j\gamma_{ij}u_j^2}$ on the test photo, layer by layer:

# %%
with torch.no_grad():
    h = x
    for i, layer in enumerate(model.g_a):
        if isinstance(layer, GDN):
            b, g = layer.beta_reparam(layer.beta), layer.gamma_reparam(layer.gamma)
            div = torch.sqrt(b[None, :, None, None] + torch.einsum("ij,bjhw->bihw", g, h * h))
            q = np.percentile(div.numpy(), [5, 50, 95])
            print(f"g_a.{i}: divisor 5/50/95 % = {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f}, "
                  f"mean beta {b.mean():.3f}, mean diagonal gamma {g.diag().mean():.3f}")
        h = layer(h)

# %% [markdown]
# The divisors sit close to 1 for most positions: after its CPU-limited training (see the
# model's entry in `codec-lib models`), our model's GDN layers are still near their initialization
# ($\beta = 1$, $\gamma = 0.1\,I$) and act almost as a per-channel identity with a mild
# compression of the largest responses. Fully trained models learn much larger $\gamma$.
# Section 2.6 compares GDN with ReLU and residual transforms at an equal training budget.
#
# ## 2.3 The rate-distortion Lagrangian
#
# Rounding makes $\hat y$ discrete, and an entropy model assigns each latent a probability
# $p(\hat y_i)$ (chapter 4); an entropy coder then spends about $-\log_2 p(\hat y_i)$ bits on it
# (chapter 5). The codec is trained to minimize, over images $x$ of $H\times W$ pixels,
#
# $$ J = R + \lambda D = \underbrace{\frac{1}{HW}\sum_i -\log_2 p(\hat y_i)}_{\text{bits per pixel}}
#    \;+\; \lambda \cdot 255^2\cdot \underbrace{\tfrac{1}{3HW}\lVert x-\hat x\rVert^2}_{\text{MSE}} .$$
#
# The $255^2$ puts the MSE on the 8-bit scale, so that $\lambda$ matches CompressAI's quality
# ladder ($\lambda = 0.0018 \ldots 0.18$). Each $\lambda$ is one point on the trade-off: minimizing
# $J$ finds where the RD curve has slope $-1/\lambda$ in $(D, R)$, as a Lagrange multiplier should.

# %%
def lagrangian(likelihoods, x, x_hat, lmbda):
    B, _, H, W = x.shape
    bpp = sum(-torch.log2(l).sum() for l in likelihoods.values()) / (B * H * W)
    mse = torch.mean((x - x_hat) ** 2)
    return bpp + lmbda * 255 ** 2 * mse


crop = x[..., :256, :256]
with torch.no_grad():
    out = model(crop)                     # eval mode: real rounding, likelihoods of y and z
ours = lagrangian(out["likelihoods"], crop, out["x_hat"], 0.013)
lib = rd_loss(out, crop, 0.013)
assert torch.isclose(ours, lib["loss"], rtol=1e-5)
print(f"J = {float(ours):.4f} = {float(lib['bpp']):.4f} bpp + 0.013 * 255^2 * {float(lib['mse']):.6f}")

# %% [markdown]
# ## 2.4 Training a codec, live
#
# `codec_lib.train.fit` is the one training loop of the library (and of `codec-lib train`):
# random crops with flips and mild down-scaling, Adam on the network, a separate Adam on the
# entropy model's quantiles, the "mixed" quantization proxy of chapter 3, checkpoints that resume
# exactly. Here a small factorized-prior codec ($N=32$, $M=48$) trains for 300 steps on
# $64\times64$ crops, on BSDS500 if `CODEC_LIB_DATA` points at it, otherwise on the embedded
# sample photos.

# %%
STEPS, LMBDA = 300, 0.013
folders = [str(f) for f in training_folders()]
print("training on", ", ".join(folders) or "the embedded sample photos")
held_out = []
for _, img in eval_images(limit=4):        # centre 256x256 crops of the test photos
    t = to_tensor(img)
    H, W = t.shape[-2:]
    held_out.append(t[..., (H - 256) // 2:(H + 256) // 2, (W - 256) // 2:(W + 256) // 2])


def train_small(act="gdn", steps=STEPS, lmbda=LMBDA):
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(arch="factorized", N=32, M=48, act=act, lmbda=lmbda, steps=steps,
                          crop=64, batch_size=8, lr=1e-3, train=folders, out=out,
                          checkpoint_every=25)
        t0 = time.time()
        small = fit(cfg, progress=False)
        with open(f"{out}/history.json") as f:
            history = [h for h in json.load(f) if "bpp" in h]
    return small, history, time.time() - t0


small, history, secs_gdn = train_small()
res = evaluate_loss(small, held_out, LMBDA)
print(f"{STEPS} steps in {secs_gdn:.0f} s; on the held-out crops: {res['bpp']:.3f} bpp, "
      f"{res['psnr']:.2f} dB, J = {res['loss']:.3f}")

fig, axes = plt.subplots(1, 3, figsize=(12, 3))
steps_axis = [h["step"] for h in history]
for ax, key, label in zip(axes, ("loss", "bpp", "mse"), ("J (training, smoothed)", "bpp", "PSNR (dB)")):
    vals = [h[key] for h in history]
    ax.plot(steps_axis, vals if key != "mse" else [-10 * np.log10(v) for v in vals])
    ax.set_xlabel("step"); ax.set_title(label)
plt.tight_layout(); plt.show()

# %% [markdown]
# The loss falls fast at first; rate and distortion trade places as the optimizer discovers how
# cheap a few bits of latent are against the squared error they remove. A few hundred steps make
# a codec that works, not a good one: real models train for $10^5$ to $10^6$ steps. The shipped
# reference models had as long as a CPU session allowed (their training commands, steps, device
# and wall time are in `data/checkpoints/manifest.json`). Side by side on the test photo, as real
# files:

# %%
small.codec_name, small.codec_quality = "live", 0
encs = {"trained here (300 steps)": encode_image(photo, small),
        "shipped mean-scale q4": encode_image(photo, model)}
box = (photo.size[0] // 2 - 96, photo.size[1] // 2 - 64, photo.size[0] // 2 + 96, photo.size[1] // 2 + 64)
fig, axes = plt.subplots(1, 3, figsize=(10, 2.6))
axes[0].imshow(photo.crop(box)); axes[0].set_title("original (crop)")
for ax, (label, enc) in zip(axes[1:], encs.items()):
    bpp = 8 * len(enc.data) / (photo.size[0] * photo.size[1])
    ax.imshow(enc.x_hat.crop(box))
    ax.set_title(f"{label}\n{bpp:.3f} bpp, {psnr(photo, enc.x_hat):.2f} dB")
for ax in axes:
    ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# ## 2.5 What changes with $\lambda$
#
# The shipped mean-scale hyperprior comes at several $\lambda$ (qualities on CompressAI's ladder).
# A larger $\lambda$ makes distortion dearer, so the model spends more bits. Where do the bits go?
# Below: the file size, PSNR, the share of latents that round to something other than their mean
# (the "active" latents), and how many of the $M$ channels carry any.

# %%
entry = next(m for m in zoo.list_models() if m["name"] == "mean-scale")
rows = []
for q in entry["qualities"]:
    mq = zoo.load_model("mean-scale", q)
    enc = encode_image(photo, mq)
    with torch.no_grad():
        xp = pad_to(x, mq.downsampling)
        y = mq.g_a(xp)
        scales, means = mq._params(mq.entropy_bottleneck(mq.h_a(y), mode="round")[0])
        active = (torch.round(y - means) != 0).float()               # (1, M, h, w)
    rows.append({"q": q, "lmbda": mq.lmbda, "bpp": 8 * len(enc.data) / x[0, 0].numel(),
                 "psnr": psnr(photo, enc.x_hat), "active": float(active.mean()),
                 "channels": int((active.mean((0, 2, 3)) > 0.01).sum()), "x_hat": enc.x_hat})
print(f"{'q':>2} {'lambda':>7} {'bpp':>6} {'PSNR':>6} {'active latents':>15} {'channels in use':>16}")
for r in rows:
    print(f"{r['q']:>2} {r['lmbda']:7.4f} {r['bpp']:6.3f} {r['psnr']:6.2f} {r['active']:15.1%} "
          f"{r['channels']:>10d} / {M}")

fig, axes = plt.subplots(1, len(rows) + 1, figsize=(2.5 * (len(rows) + 1), 2.2))
axes[0].imshow(photo.crop(box)); axes[0].set_title("original")
for ax, r in zip(axes[1:], rows):
    ax.imshow(r["x_hat"].crop(box)); ax.set_title(f"λ={r['lmbda']}\n{r['bpp']:.2f} bpp, {r['psnr']:.1f} dB")
for ax in axes:
    ax.axis("off")
plt.tight_layout(); plt.show()

# %% [markdown]
# Two things happen as $\lambda$ grows: more latents become active (fewer round to their
# predicted mean), and more channels are used at all. A low-rate model switches channels off
# entirely (their latents are always at the mean and cost almost nothing), which is how a single
# architecture covers a range of rates: the network learns its own effective bottleneck width.
# In the pictures, the low rates lose fine texture first and keep edges, the opposite of JPEG's
# blocking.
#
# What does one latent *mean*? Decode a latent that is zero everywhere except one channel at one
# position: the result is that channel's "basis image", the learned counterpart of a DCT basis
# function (chapter 1). Because $g_s$ is nonlinear the picture depends on the amplitude; we use
# $\pm 4$ around an all-zero background and show the difference.

# %%
h, w = 4, 4
base = torch.zeros(1, M, h, w)
order = model.g_s[0].weight.detach().pow(2).sum((1, 2, 3)).argsort(descending=True)[:8]
fig, axes = plt.subplots(1, 8, figsize=(12, 1.8))
with torch.no_grad():
    ref = model.g_s(base)
    for ax, c in zip(axes, order.tolist()):
        e = base.clone(); e[0, c, h // 2, w // 2] = 4.0
        d = (model.g_s(e) - ref)[0].permute(1, 2, 0).numpy()
        ax.imshow(0.5 + d / (2 * np.abs(d).max()))
        ax.set_title(f"channel {c}"); ax.axis("off")
plt.suptitle("synthesis basis images of the 8 channels with the largest g_s weights", y=1.05)
plt.show()

# %% [markdown]
# Like DCT basis functions they are oriented, band-pass patterns, some colour-opponent; unlike
# them they are not confined to a block: each spreads over roughly $40\times40$ pixels, smoothly
# fading, so neighbouring latents blend without seams.
#
# ## 2.6 ReLU, GDN or residual transforms?
#
# The nonlinearity is a design choice. `codec_lib.layers` offers three: GDN, plain ReLU (as in
# Theis et al. 2017) and residual blocks of two $3\times3$ convolutions after each strided one
# (in the spirit of Cheng et al. 2020). We train all three with the same budget as in 2.4 and
# compare their Lagrangian on the held-out crops, with their size and speed.

# %%
acts = {}
for act in ("gdn", "relu", "residual"):
    m_act, _, secs = (small, None, secs_gdn) if act == "gdn" else train_small(act)   # 2.4's is GDN
    r = evaluate_loss(m_act, held_out, LMBDA)
    params = sum(p.numel() for p in m_act.parameters())
    acts[act] = {**r, "secs": secs, "params": params}
print(f"{'transform':>9} {'params':>8} {'train s':>8} {'bpp':>6} {'PSNR':>6} {'J':>6}")
for act, r in acts.items():
    print(f"{act:>9} {r['params']:8,d} {r['secs']:8.1f} {r['bpp']:6.3f} {r['psnr']:6.2f} {r['loss']:6.3f}")

# %% [markdown]
# Read the table with its budget in mind: 300 steps of a small model, one seed, four held-out
# crops. What it measures is how fast each transform *starts* to compress, not where it ends up.
# The published comparisons, at convergence: Ballé (2018) found GDN transforms beat ReLU
# transforms of the same size, and matched ReLU networks with more layers; residual and attention
# blocks (Cheng et al. 2020) add parameters and operations per pixel and win at convergence,
# which is why most recent codecs use them. Section 2.6's table shows the cost side of that
# bargain directly: the residual transform's extra parameters and seconds per step.
#
# ## Summary
#
# * A compressive autoencoder is transform coding with learned, nonlinear, overlapping
#   transforms: $g_a$ down to a latent of $M$ channels at $1/16$ resolution, rounding, $g_s$ back.
# * GDN divides each response by a learned energy of its neighbours across channels; it is a
#   contrast gain control, and our shipped model's is still close to its initialization.
# * Training minimizes $J = R + \lambda D$ in bits per pixel plus $\lambda\cdot255^2\cdot$MSE;
#   $\lambda$ picks the operating point, and higher $\lambda$ turns on more latents and channels.
# * A codec trained for a few hundred steps already works; good ones need orders of magnitude
#   more training, which is why the book ships reference checkpoints.
#
# ## References
#
# * J. Ballé, V. Laparra, E. P. Simoncelli. *Density modeling of images using a generalized
#   normalization transformation.* ICLR 2016.
# * J. Ballé, V. Laparra, E. P. Simoncelli. *End-to-end optimized image compression.* ICLR 2017.
# * L. Theis, W. Shi, A. Cunningham, F. Huszár. *Lossy image compression with compressive
#   autoencoders.* ICLR 2017.
# * J. Ballé. *Efficient nonlinear transforms for lossy image compression.* PCS 2018.
# * Z. Cheng, H. Sun, M. Takeuchi, J. Katto. *Learned image compression with discretized Gaussian
#   mixture likelihoods and attention modules.* CVPR 2020.
#
# ## Exercises
#
# Each cell calls a checker from `codec_lib.exercises`; replace `None` with your answer.
#
# **2.1 GDN.** Write `my_gdn(u, beta, gamma)` for `u` of shape `(B, C, H, W)`, `beta` of shape
# `(C,)` and `gamma` of shape `(C, C)`, without `einsum` this time (a $1\times1$ convolution, or
# broadcasting, will do).

# %%
answer = None   # e.g. def my_gdn(u, beta, gamma): ...; answer = my_gdn
check("02.1", answer);

# %% [markdown]
# **2.2 The Lagrangian.** Write `my_loss(likelihoods, x, x_hat, lmbda)` returning $J$ as a
# float, where `likelihoods` is a dict of tensors as a model's forward returns it. Careful with
# the normalization: bits are per *pixel*, not per colour sample.

# %%
answer = None   # e.g. def my_loss(likelihoods, x, x_hat, lmbda): ...; answer = my_loss
check("02.2", answer);

# %% [markdown]
# **2.3 Latent shapes.** The library pads an image to a multiple of 16 pixels (by repeating its
# edge) before $g_a$. Write `latent_shape(H, W, M)` giving the shape `(M, h, w)` of $y$ for an
# $H\times W$ image.

# %%
answer = None   # e.g. def latent_shape(H, W, M): ...; answer = latent_shape
check("02.3", answer);

# %% [markdown]
# **2.4 Reading $\lambda$ off a curve.** At the optimum of $J = R + \lambda D$ the RD curve's slope
# is $dR/dD = -\lambda$ (with $D$ the 8-bit-scale MSE, i.e. $255^2$ times the MSE on $[0,1]$).
# Given two nearby points `(bpp1, mse1)` and `(bpp2, mse2)` of a model family (MSE on the $[0,1]$
# scale), write `slope_lambda(p1, p2)` that estimates the $\lambda$ in between.

# %%
answer = None   # e.g. def slope_lambda(p1, p2): ...; answer = slope_lambda
check("02.4", answer);
