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
# # Chapter 4: Entropy models
#
# **What you will learn.**
#
# * Why the rate term of training is a cross-entropy: the number of bits that the model's
#   `likelihoods` assign to the quantized latents, which entropy (Shannon 1948) bounds from below.
# * How the *factorized prior* (Ballé, Laparra & Simoncelli 2017; Ballé et al. 2018) models each
#   channel of a latent with one learned density, written from scratch as a small monotone
#   network and checked against `codec_lib`.
# * How the *hyperprior* (Ballé et al. 2018) and its *mean-scale* variant (Minnen, Ballé &
#   Toderici 2018) send side information $z$ that tells the decoder a mean and a scale for every
#   element of $y$, and where in an image the bits then go.
# * How many bits the conditional model saves over the best factorized model of the same
#   latents, measured on photos.
# * How conditioning each slice of channels on the slices decoded before it (Minnen & Singh
#   2020) lowers the rate further, with networks added to the shipped model.
#
# **Why it matters.** An entropy coder (chapter 5) spends about $-\log_2 p$ bits on a symbol
# that the model gives probability $p$. The transforms decide *what* the latents are; the
# entropy model decides *how much they cost*. For the same latents, hence the same
# reconstruction, a better model means fewer bits: every gain here is pure rate saving.

# %%
import json
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore", message="IProgress not found")
from codec_lib import bdrate, zoo
from codec_lib.data import eval_images, results_dir, to_tensor
from codec_lib.exercises import check
from codec_lib.models import MeanScaleHyperprior, pad_to

torch.set_num_threads(1)
plt.rcParams.update({"figure.dpi": 80, "axes.titlesize": 10})

model = zoo.load_model().eval()                      # the default model: a mean-scale hyperprior
entry = zoo.resolve()
assert isinstance(model, MeanScaleHyperprior)
eb, gc = model.entropy_bottleneck, model.gaussian_conditional
print(f"model {entry['name']!r} quality {entry['quality']}: {entry['arch']}, N={entry['N']}, "
      f"M={entry['M']}, lambda={entry['lmbda']}")

photos = eval_images(limit=4)       # Kodak if $CODEC_LIB_DATA/kodak exists, else embedded photos
name, img = photos[0]
print("photos:", ", ".join(f"{n} {im.size[0]}x{im.size[1]}" for n, im in photos))

# %% [markdown]
# The default model is small ($N = 64$, $M = 96$ channels) and was trained briefly on a CPU, so
# its absolute numbers are far from the state of the art; the *mechanisms* are the same as in
# large models. We run its modules one by one on a photo, in evaluation mode (real rounding):
# $y = g_a(x)$, $z = h_a(y)$, $\hat z$ is $z$ rounded around the medians of the factorized prior,
# $h_s(\hat z)$ gives a scale $\sigma_i$ and a mean $\mu_i$ per element of $y$, and
# $\hat y = \lfloor y - \mu \rceil + \mu$.

# %%
@torch.no_grad()
def analyse(model, img):
    """Latents, entropy parameters and likelihoods of one image, module by module."""
    x = pad_to(to_tensor(img.convert("RGB")), model.downsampling)
    y = model.g_a(x)
    z = model.h_a(y)
    z_hat, lik_z = model.entropy_bottleneck(z, mode="round")
    scales, means = model._params(z_hat)
    q = torch.round(y - means)                      # the integers the coder writes
    y_hat = q + means
    lik_y = model.gaussian_conditional.likelihood(y_hat, scales, means)
    return dict(x=x, y=y, z=z, z_hat=z_hat, scales=scales, means=means, q=q, y_hat=y_hat,
                lik_y=lik_y, lik_z=lik_z, pixels=img.size[0] * img.size[1])


a = analyse(model, img)
with torch.no_grad():
    out = model(a["x"])                              # the library's own forward pass
for k in ("y", "z"):
    assert torch.allclose(out["likelihoods"][k], a[f"lik_{k}"], rtol=1e-4, atol=1e-7)
bits_y = float(-torch.log2(a["lik_y"]).sum())
bits_z = float(-torch.log2(a["lik_z"]).sum())
print(f"{name}: x {tuple(a['x'].shape)}, y {tuple(a['y'].shape)}, z {tuple(a['z'].shape)}")
print(f"rate: y {bits_y:.0f} bits + z {bits_z:.0f} bits = "
      f"{(bits_y + bits_z) / a['pixels']:.3f} bpp")

# %% [markdown]
# The assert checks that our step-by-step pass gives the same `likelihoods` as `model(x)`.
#
# ## 4.1 Entropy is the lower bound on rate
#
# If the symbols $s$ come from a distribution $p$, no lossless code can spend fewer than
#
# $$
# H(p) = -\sum_s p(s) \log_2 p(s) \quad \text{bits per symbol}
# $$
#
# on average (Shannon 1948). A codec does not know $p$; it codes with its model $q$ and pays the
# **cross-entropy**
#
# $$
# H(p, q) = -\mathbb{E}_{s \sim p}\left[\log_2 q(s)\right] = H(p) + D_{\mathrm{KL}}(p \,\|\, q)
# \ \ge\ H(p).
# $$
#
# The rate term of training, $R = -\sum_i \log_2 q(\hat y_i) - \sum_j \log_2 q(\hat z_j)$, is
# this cross-entropy summed over the latents of an image (an empirical estimate of it). Lowering
# $R$ at fixed latents means moving $q$ towards the true distribution of the latents.
#
# There is a catch in "the" distribution of the latents: $H(p)$ depends on what $p$ may
# condition on. The empirical entropy of each channel's histogram is the best any model that
# gives all elements of a channel the same pmf can do on this image (an oracle, since the decoder
# would need the histogram). A conditional model gives every element its own pmf and can go
# below it. We compare, on the coded integers $\lfloor y - \mu \rceil$:

# %%
def histogram_bits(sym):
    """sum over channels of n_c * H(empirical pmf of channel c); sym is (1, C, h, w) integers."""
    total = 0.0
    for row in sym[0].reshape(sym.shape[1], -1).numpy():
        _, counts = np.unique(row, return_counts=True)
        total += float(-(counts * np.log2(counts / counts.sum())).sum())
    return total


n_y = a["y"].numel()
h_chan = histogram_bits(a["q"])
print(f"{n_y} elements of y")
print(f"per-channel histograms (oracle):  {h_chan / n_y:.3f} bits/element")
print(f"the model's likelihoods for y:     {bits_y / n_y:.3f} bits/element")
print(f"  the same, plus the bits of z:     {(bits_y + bits_z) / n_y:.3f} bits/element")

# %% [markdown]
# The model's cross-entropy for $y$ is below the per-channel entropy of the very same
# integers, though the histograms were measured on this very image: a channel's histogram mixes
# flat areas and busy texture, whereas the hyperprior knows, element by element, which is which.
# The conditional model pays for that knowledge with the bits of $z$, which the oracle gets for
# free; with them the two are close on this photo (compare the last two lines). Section 4.4
# makes the comparison fair, against factorized models of $y$ itself. The next two sections build
# the models that produce these likelihoods.
#
# ## 4.2 The factorized prior
#
# The simplest model treats the channels as independent and the elements of a channel as i.i.d.:
# $q(\hat z) = \prod_{c} \prod_{i} p_c(\hat z_{c,i})$ (Ballé, Laparra & Simoncelli 2017). Each
# $p_c$ must be flexible, yet be a proper density whose bin masses are cheap to evaluate. Ballé et
# al. (2018, appendix 6.1) parametrize its cumulative $c(t)$ directly, as a composition of
# small layers that are monotone by construction:
#
# $$
# f_k(t) = g_k(H_k t + b_k), \qquad g_k(u) = u + \tanh(a_k) \odot \tanh(u), \qquad
# c(t) = \operatorname{sigmoid}(f_K \circ \dots \circ f_1(t)),
# $$
#
# where $H_k = \operatorname{softplus}(\tilde H_k)$ has positive entries and $\tanh(a_k) > -1$
# keeps every $g_k$ increasing (the last layer has no $g_K$). The mass of the bin of an integer
# offset is $p_c(\hat z) = c(\hat z + \tfrac12) - c(\hat z - \tfrac12)$. In the hyperprior this
# model codes $z$, one density per channel of $z$. From scratch:

# %%
def logits_cumulative(eb, t):
    """logit c(t) for t of shape (C, 1, n): one monotone network per channel."""
    K = len(eb.matrices)
    for k in range(K):
        t = F.softplus(eb.matrices[k]) @ t + eb.biases[k]        # (C, d_k, d_{k-1}) @ (C, d_{k-1}, n)
        if k < K - 1:
            t = t + torch.tanh(eb.factors[k]) * torch.tanh(t)
    return t


def bin_mass(eb, t):
    return torch.sigmoid(logits_cumulative(eb, t + 0.5)) - torch.sigmoid(logits_cumulative(eb, t - 0.5))


C_z = a["z"].shape[1]
with torch.no_grad():
    t = a["z_hat"][0].reshape(C_z, 1, -1)                        # each channel's values of z_hat
    assert torch.allclose(logits_cumulative(eb, t), eb._logits_cumulative(t), atol=1e-5)
    assert torch.allclose(bin_mass(eb, t), eb._likelihood(t), atol=1e-6)
print("widths of the layers:", [tuple(m.shape[1:]) for m in eb.matrices])
print("parameters per channel:", sum(p[0].numel() for p in eb.parameters()) - 3, "+ 3 quantiles")

# %% [markdown]
# Both asserts pass: our dozen lines are the library's factorized prior. With filters
# (3, 3, 3, 3), each density has a few dozen parameters. (The library evaluates
# $c(\hat z + \tfrac12) - c(\hat z - \tfrac12)$ on the side of the sigmoid where it is accurate;
# in the bulk of the density the two agree.)
#
# What did the default model learn? The bin masses $p_c$ of a few channels of $z$, on the
# integers around each channel's median:

# %%
with torch.no_grad():
    grid = torch.arange(-12, 13, dtype=torch.float32)
    offsets = eb.medians.view(C_z, 1, 1) + grid.view(1, 1, -1)
    pmfs = bin_mass(eb, offsets)[:, 0]                            # (C_z, 25)
    H_z = -(pmfs * torch.log2(pmfs.clamp_min(1e-12))).sum(1)      # entropy of each density
order = torch.argsort(H_z)
picks = [int(order[i]) for i in (0, C_z // 3, 2 * C_z // 3, C_z - 1)]
fig, axes = plt.subplots(1, 4, figsize=(12, 2.6), sharey=True)
for ax, c in zip(axes, picks):
    ax.bar(grid.numpy(), pmfs[c].numpy(), width=0.8)
    ax.set_title(f"channel {c}: H = {H_z[c]:.2f} bits")
    ax.set_xlabel(r"$\hat z - \mathrm{median}$")
axes[0].set_ylabel("bin mass")
fig.tight_layout()
plt.show()
print(f"entropies of the {C_z} learned densities: min {H_z.min():.2f}, median {H_z.median():.2f}, "
      f"max {H_z.max():.2f} bits")

# %% [markdown]
# Some channels have collapsed to (almost) a single value and are nearly free; others spread
# over several integers, and they are not necessarily symmetric nor Gaussian-shaped, which is
# the point of a non-parametric density.
#
# ## 4.3 The hyperprior and the mean-scale model
#
# A factorized model of $y$ itself would have to give every element of a channel the same pmf,
# though images are not stationary: a latent of a textured region is far larger, on average, than
# one of a flat sky. Ballé et al. (2018) send that information explicitly. A hyper-analysis
# $z = h_a(y)$ summarizes the local statistics of $y$; $\hat z$ is coded with the factorized prior
# of section 4.2, and the hyper-synthesis predicts the entropy parameters of $y$ from it. In the
# mean-scale model (Minnen, Ballé & Toderici 2018), $(\sigma, \mu) = h_s(\hat z)$ and each element
# is a Gaussian convolved with a unit-width uniform (the density of the noisy proxy, chapter 3),
# whose value at an integer is a bin mass:
#
# $$
# p(\hat y_i \mid \hat z) = \Phi\!\left(\frac{\hat y_i - \mu_i + \frac12}{\sigma_i}\right)
#   - \Phi\!\left(\frac{\hat y_i - \mu_i - \frac12}{\sigma_i}\right),
# \qquad \Phi(t) = \tfrac12\left(1 + \operatorname{erf}(t / \sqrt 2)\right).
# $$
#
# The total rate is $-\log_2 p(\hat y \mid \hat z) - \log_2 p(\hat z)$: $z$ is worth sending as
# long as the bits it saves on $y$ exceed its own. From scratch, with the model's lower bound
# on $\sigma$ (`gc.scale_bound`: CompressAI's 0.11, or the ones chosen for this model on
# validation images, one per channel of $y$, chapter 5) and floor on the likelihoods (1e-9):

# %%
def gaussian_bin_likelihood(y_hat, scales, means, scale_bound=0.11):
    s = scales.clamp_min(scale_bound)
    v = (y_hat - means).abs()                    # symmetric: work in the lower tail, where
    phi = lambda t: 0.5 * torch.erfc(-t / math.sqrt(2))   # erfc keeps float32's precision
    return (phi((0.5 - v) / s) - phi((-0.5 - v) / s)).clamp_min(1e-9)


args64 = [a[k].double() for k in ("y_hat", "scales", "means")]
bound = gc.bound_for(args64[1]).double()                 # (1,) or (1, M, 1, 1): per channel
ours = gaussian_bin_likelihood(*args64, scale_bound=bound)
lib = gc.likelihood(*args64)
assert torch.allclose(ours, lib, rtol=1e-6, atol=1e-12)
print(f"max |difference| {float((ours - lib).abs().max()):.1e}; bound {float(bound.min()):.2f} "
      f"to {float(bound.max()):.2f}; sigma (after it) ranges from "
      f"{float(args64[1].clamp_min(bound).min()):.2f} to {float(a['scales'].max()):.2f}")

# %% [markdown]
# The raw output of $h_s$ for the scales may be negative; the bound makes those elements simply
# very cheap when they sit on their mean (and dear when they do not: chapter 5 measures both). The library computes the same
# thing with $|\hat y - \mu|$ for accuracy in the tails. Now the
# maps: the photo, the predicted scale $\sigma$ (mean over the channels), the predicted mean $\mu$
# of the channel that costs the most bits, and the bits of $\hat y$ per latent position (summed
# over channels). One latent position covers 16x16 pixels.

# %%
bits_map = -torch.log2(a["lik_y"])[0]                             # (M, h, w)
top_c = int(bits_map.sum((1, 2)).argmax())
sigma_map = a["scales"].clamp_min(bound)[0].mean(0)                   # (h, w)
H_img, W_img = img.size[1], img.size[0]
h, w = -(-H_img // 16), -(-W_img // 16)                           # latent positions inside the image
maps = [(sigma_map, r"mean scale $\sigma$"), (a["means"][0, top_c], rf"mean $\mu$, channel {top_c}"),
        (bits_map.sum(0), "bits of $\\hat y$ per position")]
fig, axes = plt.subplots(1, 4, figsize=(13, 3))
axes[0].imshow(img)
axes[0].set_title(name)
for ax, (m, title) in zip(axes[1:], maps):
    im = ax.imshow(m[:h, :w].numpy(), cmap="viridis")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()

# local contrast of the photo on the latent grid: mean gradient magnitude in each 16x16 block
gray = a["x"][0].mean(0)
grad = torch.zeros_like(gray)
grad[:-1, :-1] = (gray[1:, :-1] - gray[:-1, :-1]).abs() + (gray[:-1, 1:] - gray[:-1, :-1]).abs()
contrast = F.avg_pool2d(grad[None, None], 16)[0, 0]
corr = lambda u, v: float(np.corrcoef(u[:h, :w].flatten().numpy(), v[:h, :w].flatten().numpy())[0, 1])
print(f"correlation over positions: bits vs log sigma {corr(bits_map.sum(0), sigma_map.log()):.2f}, "
      f"bits vs local contrast {corr(bits_map.sum(0), contrast):.2f}")

# %% [markdown]
# The scale map is a blurred picture of the image's structure: the hyperprior predicts large
# $\sigma$ at edges and texture and small $\sigma$ in smooth areas, and the bits follow (the
# correlations printed above are measured, not assumed). A Gaussian with a large $\sigma$ spreads
# its mass over many integers, so every symbol there costs more; with a small $\sigma$ nearly all
# mass sits on $\lfloor\mu\rceil$, and a symbol that lands there costs a fraction of a bit.
#
# ## 4.4 Where the bits go
#
# Bits per channel of $\hat y$, over the embedded photos, sorted:

# %%
results = [(n, analyse(model, im)) for n, im in photos]
per_channel = sum(-torch.log2(r["lik_y"])[0].sum((1, 2)) for _, r in results)
share = (per_channel / per_channel.sum()).sort(descending=True).values
fig, ax = plt.subplots(figsize=(10, 2.8))
ax.bar(np.arange(len(share)), 100 * share.numpy(), width=0.9)
ax.set_xlabel("channel of y (sorted)")
ax.set_ylabel("% of the bits of y")
ax.set_title(f"bits per channel, {len(results)} photos")
fig.tight_layout()
plt.show()
cum = share.cumsum(0)
print(f"the top 10 of {len(share)} channels take {100 * float(cum[9]):.0f} % of the bits of y; "
      f"{int((cum < 0.99).sum()) + 1} channels take 99 %, "
      f"{int((share < 0.001).sum())} channels take under 0.1 % each")

# %% [markdown]
# The bits are spread unevenly: a channel whose latents almost always sit on their predicted
# mean costs almost nothing (the count of such channels is printed above), and the rate term of
# training pushes the model to use only the channels it needs at its $\lambda$.
#
# Finally, what the conditional model buys. On the same latents of each photo we compare, in bpp:
#
# 1. **factorized, histogram**: per-channel empirical histograms of $\lfloor y \rceil$, the best
#    any factorized model of $y$ could do on this image (an oracle, no side information);
# 2. **factorized, Gaussian**: one Gaussian per channel, with mean and scale fitted to the
#    channel's values of $y$ (the hyperprior's model without $z$);
# 3. **means only**: per-channel histograms of the residuals $\lfloor y - \mu \rceil$, i.e. the
#    model's means but a single pmf per channel (oracle);
# 4. **mean-scale hyperprior**: the model's likelihoods for $\hat y$, plus the bits of $\hat z$.

# %%
def compare(r):
    y, px = r["y"].double(), r["pixels"]
    q0 = torch.round(y)
    mu_c = y.mean((0, 2, 3), keepdim=True)
    sd_c = y.std((0, 2, 3), keepdim=True)
    gauss_c = float(-torch.log2(gaussian_bin_likelihood(q0, sd_c.expand_as(y), mu_c.expand_as(y))).sum())
    y_bits = float(-torch.log2(r["lik_y"]).sum())
    z_bits = float(-torch.log2(r["lik_z"]).sum())
    return {"factorized, histogram": histogram_bits(q0.long()) / px,
            "factorized, Gaussian": gauss_c / px,
            "means only": histogram_bits(r["q"].long()) / px,
            "hyperprior: y": y_bits / px, "hyperprior: z": z_bits / px,
            "hyperprior: y + z": (y_bits + z_bits) / px}


table = {n: compare(r) for n, r in results}
cols = list(next(iter(table.values())))
print(f"{'photo':10s}" + "".join(f"{c:>23s}" for c in cols))
for n, row in table.items():
    print(f"{n:10s}" + "".join(f"{row[c]:23.3f}" for c in cols))
mean = {c: np.mean([row[c] for row in table.values()]) for c in cols}
print(f"{'mean':10s}" + "".join(f"{mean[c]:23.3f}" for c in cols))
saving = 1 - mean["hyperprior: y + z"] / mean["factorized, histogram"]
wins = sum(row["hyperprior: y + z"] < row["factorized, histogram"] for row in table.values())
print(f"\nthe hyperprior (y + z) beats the factorized histogram on {wins} of {len(table)} photos")
print(f"mean gains in bpp: means (1 -> 3) {mean['factorized, histogram'] - mean['means only']:.3f}, "
      f"per-element scales on y (3 -> 4) {mean['means only'] - mean['hyperprior: y']:.3f}, "
      f"cost of z {mean['hyperprior: z']:.3f}")
print(f"the hyperprior (z included) spends {100 * saving:.0f} % fewer bits than the best "
      f"per-channel histogram; z is {100 * mean['hyperprior: z'] / mean['hyperprior: y + z']:.1f} % "
      "of its rate")

# %% [markdown]
# Read the table with its caveats. Columns 1 and 3 are oracles that know each channel's
# histogram of the image for free; a real factorized prior learned on many images (section 4.2)
# pays more than column 1. Column 2 shows that one Gaussian per channel fits the latents worse
# than their histogram: the marginal of a channel, a mixture of flat and busy regions, is far
# from Gaussian, while each element given $\hat z$ is modelled well by one. Columns 1 and 2 code
# $\lfloor y \rceil$, not $\hat y$ (a model without means rounds to the integers); the two
# differ by under half a step per element, so the distortions are comparable but not identical.
#
# The decomposition printed last splits the gain of the hyperprior over the best factorized
# model into the part due to the means and the part due to the per-element scales, from which
# the cost of $z$ is paid. For this small, briefly trained model the side information is a few
# per cent of the rate, and the gains are modest; larger models trained longer, and the context
# models of the next section, widen them.
#
# ## 4.5 Conditioning on decoded channels
#
# The hyperprior gives every element of $y$ its own Gaussian, but given $\hat z$ it treats the
# elements as independent. They are not: an edge shows up in many channels of one latent
# position at once. Minnen & Singh (2020) split $y$ along the channels into $S$ slices
# $y_1, \dots, y_S$ and code them in order; the parameters of slice $k$ come from $\hat z$ *and*
# from the slices already decoded:
#
# $$
# p(\hat y \mid \hat z) = \prod_{k=1}^{S} p\big(\hat y_k \mid \hat z, \hat y_1, \dots, \hat y_{k-1}\big),
# \qquad (\sigma_k, \mu_k) = (\sigma_k^h, \mu_k^h) + \mathrm{cc}_k\big(\sigma_k^h, \mu_k^h, \hat y_{<k}\big).
# $$
#
# The decoder makes $S$ network calls per image, each one parallel over all positions, rather
# than one per position as a spatial context model needs. `codec_lib.channel_context` adds such
# networks $\mathrm{cc}_k$ (three 3x3 convolutions each) to the shipped mean-scale model, with its
# transforms frozen: the latents, hence the reconstruction, stay the same up to the shifted
# means, and only the rate can change. Each $\mathrm{cc}_k$ starts at zero, so training starts
# from the parent and was run on the rate term alone (`scripts/cpu_stage.sh context`). The
# shipped model of the same quality, and its bits per slice, from scratch:

# %%
cc_model = zoo.load_model("channel-context", entry["quality"])    # mean-scale + cc networks
S, w = cc_model.slices, cc_model.M // cc_model.slices


@torch.no_grad()
def slice_bits(model, x):
    """Bits of each slice of y_hat under ``model``; with ``cc`` networks, each slice's Gaussian
    also sees the slices decoded before it. (S,) numpy array."""
    y = model.g_a(x)                                          # (1, M, h, w)
    z_hat, _ = model.entropy_bottleneck(model.h_a(y), mode="round")
    scales_h, means_h = model._params(z_hat)                  # the hyperprior's guess
    y_hat, bits = [], []
    for k in range(S):
        part = slice(k * w, (k + 1) * w)
        s, m = scales_h[:, part], means_h[:, part]
        if k > 0 and hasattr(model, "cc"):                    # refine it from the decoded slices
            d_s, d_m = model.cc[k - 1].net(torch.cat([s, m, *y_hat], 1)).chunk(2, 1)
            s, m = s + d_s, m + d_m
        q = torch.round(y[:, part] - m)                       # the integers the coder writes
        y_hat.append(q + m)
        b = model.gaussian_conditional.bound_for(scales_h)   # one, or one per channel
        bits.append(float(-torch.log2(gaussian_bin_likelihood(
            q + m, s, m, scale_bound=b if b.numel() == 1 else b[:, part])).sum()))
    return np.array(bits)


x0 = a["x"]
ours_cc, ours_ms = slice_bits(cc_model, x0), slice_bits(model, x0)
with torch.no_grad():
    lib_cc = float(-torch.log2(cc_model(x0)["likelihoods"]["y"]).sum())
assert math.isclose(ours_cc.sum(), lib_cc, rel_tol=1e-4)      # the library's forward pass
assert math.isclose(ours_ms.sum(), bits_y, rel_tol=1e-4)      # no cc: the parent's bits
print(f"{name}, bits of y per slice of {w} channels:")
print("  mean-scale:      " + " ".join(f"{b:7.0f}" for b in ours_ms))
print("  channel-context: " + " ".join(f"{b:7.0f}" for b in ours_cc))

# %%
per_photo = {n: (slice_bits(model, r["x"]), slice_bits(cc_model, r["x"]), r) for n, r in results}
fig, ax = plt.subplots(figsize=(7, 2.8))
ms_mean = np.mean([v[0] / v[2]["pixels"] for v in per_photo.values()], 0)
cc_mean = np.mean([v[1] / v[2]["pixels"] for v in per_photo.values()], 0)
ax.bar(np.arange(S) - 0.2, ms_mean, 0.4, label="mean-scale (hyperprior only)")
ax.bar(np.arange(S) + 0.2, cc_mean, 0.4, label="channel-context (+ decoded slices)")
ax.set_xlabel("slice k of y (coded in this order)")
ax.set_ylabel("bpp")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
for n, (ms_b, cc_b, r) in per_photo.items():
    z_b = float(-torch.log2(r["lik_z"]).sum())
    print(f"{n:10s} y + z: mean-scale {(ms_b.sum() + z_b) / r['pixels']:.3f} bpp, channel-context "
          f"{(cc_b.sum() + z_b) / r['pixels']:.3f} bpp ({100 * (cc_b.sum() / ms_b.sum() - 1):+.1f} % on y)")

# %% [markdown]
# Slice 1 has nothing decoded to look at, so it costs about the same in both models (not
# exactly: each model's scale bound was tuned on its own, chapter 5); every later slice is
# cheaper once it sees the slices before it. What this buys on all 24 Kodak images, as a
# BD-rate (chapter 6) of the four shipped rates, from the committed results:

# %%
kodak = json.loads((results_dir() / "kodak-rd.json").read_text())
curves = {r["model"]: r for r in kodak["results"]}
cc_gain = bdrate.bd_rate(curves["mean-scale"], curves["channel-context"])
print(f"channel-context vs mean-scale on {kodak['images']} images: BD-rate {cc_gain:+.1f} %")
assert cc_gain < 0
for p in curves["channel-context"]["points"]:
    print(f"  q{p['quality']}: {p['bpp']:.3f} bpp, {p['psnr']:.2f} dB; real bytes / estimate "
          f"{p['bpp'] / p['est_bpp']:.4f}")

# %% [markdown]
# The gain is real but small here, for two reasons. The transforms were frozen, so they could
# not learn to produce channels that predict each other better; Minnen & Singh train everything
# together (and add latent residual prediction, which changes what the decoder sees). And the
# networks were trained for less than two hours on a CPU (75 minutes, then 40 more in bfloat16).
# The slices cost no framing: the encoder knows
# every slice's tables before it writes, so all slices go into one rANS string, which the
# decoder reads in parts (`coder.stream`), deriving each slice's tables from the slices it has
# decoded. What does cost something is time: six more small networks per image, in float64 at
# coding time (chapter 6 lists the encode and decode times).
#
# ## Summary
#
# * The rate of a learned codec is the cross-entropy $-\sum \log_2 q(\hat y) - \sum \log_2
#   q(\hat z)$ of its quantized latents under its entropy model; entropy is its lower bound, for
#   a given way of conditioning.
# * The factorized prior gives each channel one learned density, a monotone network for the
#   cumulative whose bin masses are the likelihoods; in a hyperprior it codes $z$.
# * The mean-scale hyperprior sends $z$ so that the decoder knows a mean and a scale for every
#   element of $y$; bits concentrate where $\sigma$ is large, at edges and in texture, and many
#   channels are almost free.
# * On our photos, this conditioning, $z$ included, costs fewer bits than even an oracle
#   factorized model of $y$, by the margin measured in section 4.4.
# * Context models lower the cross-entropy further by conditioning on latents already decoded:
#   spatially (Minnen, Ballé & Toderici 2018), across channel slices (Minnen & Singh 2020;
#   section 4.5, measured on Kodak), or both (uneven channel groups and checkerboards in ELIC:
#   He et al. 2022).
#
# ## References
#
# * C. E. Shannon. A mathematical theory of communication. *Bell System Technical Journal*, 1948.
# * J. Ballé, V. Laparra, E. P. Simoncelli. End-to-end optimized image compression. *ICLR*, 2017.
# * J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston. Variational image compression with a
#   scale hyperprior. *ICLR*, 2018.
# * D. Minnen, J. Ballé, G. Toderici. Joint autoregressive and hierarchical priors for learned
#   image compression. *NeurIPS*, 2018.
# * D. Minnen, S. Singh. Channel-wise autoregressive entropy models for learned image
#   compression. *ICIP*, 2020.
# * Further reading: D. He, Z. Yang, W. Peng, R. Ma, H. Qin, Y. Wang. ELIC: efficient learned
#   image compression with unevenly grouped space-channel contextual adaptive coding. *CVPR*, 2022.
#
# ## Exercises
#
# Replace each `None` with your answer and run the check cell; it prints a verdict and a hint,
# never the solution.
#
# **04.1 Entropy of a pmf.** Write `entropy_bits(pmf)`: $H(p) = -\sum_s p(s) \log_2 p(s)$ for a
# 1-D array of probabilities that sums to one. Symbols of probability zero may occur
# ($0 \log 0 = 0$).

# %%
def entropy_bits(pmf):
    ...  # your code here


answer = None  # when your function is ready: answer = entropy_bits

# %%
check("04.1", answer);

# %% [markdown]
# **04.2 A quantized Gaussian latent.** Write `p_bin(k, mu, sigma)`: the likelihood of the
# value $k$ under $\mathcal N(\mu, \sigma^2)$ convolved with $\mathcal U(-\tfrac12, \tfrac12)$,
# as in section 4.3 (use `math.erf`; $\sigma \ge 0.25$ in the checks).

# %%
def p_bin(k, mu, sigma):
    ...  # your code here


answer = None  # when your function is ready: answer = p_bin

# %%
check("04.2", answer);

# %% [markdown]
# **04.3 Bits of a latent.** Write `bits_of(y_hat, scales, means)`: the total number of bits
# that the mean-scale model assigns to the tensor `y_hat`, given float64 tensors `scales` and
# `means` of the same shape (all scales are at least 0.2). Then check your function on the
# running example: does `bits_of(a["y_hat"].double(), a["scales"].double(), a["means"].double())`
# match `bits_y`?

# %%
def bits_of(y_hat, scales, means):
    ...  # your code here


answer = None  # when your function is ready: answer = bits_of

# %%
check("04.3", answer);
