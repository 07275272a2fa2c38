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
# # Chapter 7: Perception versus distortion
#
# **What you will learn.**
#
# * Why the reconstruction with the best PSNR is blurry: the MSE-optimal estimate is a
#   conditional *mean*. Shown on 4x super-resolution in miniature: bicubic, an MSE-trained and a
#   GAN-trained up-sampler, with PSNR and a perception measure side by side.
# * How to measure perceptual quality without a pretrained network: the sliced Wasserstein
#   distance between patch distributions, written from scratch and checked against
#   `codec_lib.perception`, and a high-frequency energy ratio.
# * The perception-distortion trade-off (Blau & Michaeli 2018), measured by sweeping the
#   adversarial weight.
# * A generative codec in the manner of HiFiC (Mentzer et al. 2020): the mean-scale hyperprior
#   with a decoder trained as the generator of a conditional GAN, compared at the *same bytes*
#   with the MSE codec and with JPEG and AVIF: the rate-distortion-perception trade-off
#   (Blau & Michaeli 2019).
#
# **Why it matters.** Every codec so far was trained to minimize MSE, and at low rates they all
# blur. People prefer sharp, plausible texture to a smooth average, even when its pixels are
# wrong. Choosing what to optimize is part of designing a codec, and this chapter measures what
# each choice gives and costs.

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from codec_lib import perception, rdp, sr, zoo
from codec_lib.data import eval_images, results_dir, to_image, to_tensor
from codec_lib.exercises import check
from codec_lib.gan import Adversary, Discriminator
from codec_lib.metrics import psnr

torch.set_num_threads(1)
plt.rcParams.update({"figure.dpi": 80, "axes.titlesize": 10})
t_start = time.time()
images = [img.convert("RGB") for _, img in eval_images(limit=6)]   # Kodak (held out) or embedded
print(f"{len(images)} held-out photos, e.g. {images[0].size[0]}x{images[0].size[1]}")

# %% [markdown]
# ## 7.1 Is PSNR a good quality metric?
#
# Down-sample a photo 4x and ask for it back. Many sharp images down-sample to the same small
# one; the estimate that minimizes the *expected* squared error is their average, and an average
# of sharp images with edges and texture in different places is blurry. Three up-samplers:
#
# * **bicubic** interpolation;
# * an **MSE up-sampler**, a small network (four residual blocks, two pixel shuffles;
#   `codec_lib.sr.Upsampler`) trained on BSDS500 to minimize MSE;
# * **GAN up-samplers**: the same network fine-tuned from the MSE one with an adversarial loss
#   added, `lmbda * 255^2 * MSE + beta * L_G`, where a discriminator that sees the low-resolution
#   input learns to tell originals from up-sampled images, and `L_G` rewards fooling it.
#
# The shipped up-samplers, with how each was trained:

# %%
ups = sr.load_upsamplers()
man = json.loads((sr.sr_dir() / "manifest.json").read_text())
for e in man["upsamplers"]:
    print(f"beta={e['beta']:<5g} {e['file']:>16}  {e['steps']} steps on {e['device']}, "
          f"{e['wall_s'] / 60:.0f} min, from {e['init'] or 'scratch'}")


def upsample_all(fn):
    """``fn(x_lr) -> x_sr`` on every photo (cropped to a multiple of 4), as PIL images."""
    out = []
    with torch.no_grad():
        for img in images:
            W, H = img.size
            x = to_tensor(img.crop((0, 0, W // 4 * 4, H // 4 * 4)))
            out.append(to_image(fn(sr.downsample(x)).clamp(0, 1)))
    return out


originals = [img.crop((0, 0, img.width // 4 * 4, img.height // 4 * 4)) for img in images]
outputs = {"bicubic": upsample_all(sr.bicubic)}
for beta, model in ups.items():
    outputs[f"beta={beta:g}"] = upsample_all(model)
print("up-sampled", len(originals), "photos with", len(outputs), "methods")

# %% [markdown]
# ### The perception measure, from scratch
#
# Blau & Michaeli define perceptual quality as the distance between the *distribution* of
# outputs and the distribution of natural images, whatever the pairing. We compare the
# distributions of small patches: 7x7 patches of the finest levels of a Laplacian pyramid (where
# blur shows first), from originals and from outputs. The **sliced Wasserstein distance**
# projects both patch sets on random directions; in one dimension the Wasserstein-1 distance is
# the mean gap between sorted samples, and the average over directions is the distance.

# %%
def my_sliced_wasserstein(a, b, projections=256, seed=0):
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((a.shape[1], projections))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)          # (d, P) unit directions
    pa, pb = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)   # (n, P) sorted projections
    return float(np.abs(pa - pb).mean())


patches_o = perception.patch_descriptors(originals)            # per level: (n, 3 * 7 * 7)
patches_m = perception.patch_descriptors(outputs["beta=0"])
for lvl in range(3):
    ours = my_sliced_wasserstein(patches_o[lvl], patches_m[lvl])
    lib = perception.sliced_wasserstein(patches_o[lvl], patches_m[lvl])
    assert abs(ours - lib) < 1e-9, (ours, lib)
    print(f"level {lvl}: {patches_o[lvl].shape[0]} patches, SWD x1000 = {1000 * ours:.2f} (library {1000 * lib:.2f})")

# %% [markdown]
# `perception.patch_swd` averages it over three levels (finest first). The second measure is a
# texture statistic: the luma's spectral energy above a cut-off frequency, as a ratio to the
# originals' (`perception.high_frequency_ratio`): 1 means as much fine detail as the originals,
# below 1 blur. For 4x up-sampling the cut-off is the low-resolution image's Nyquist frequency,
# 0.125 cycles per pixel: every bit of energy above it was *invented* by the up-sampler, since
# the input holds none. Now the three kinds of up-sampler side by side:

# %%
table = {name: rdp.measure(originals, outs, cutoff=0.125) for name, outs in outputs.items()}
print(f"{'up-sampler':>11} | {'PSNR dB':>7} | {'patch SWD':>9} | {'HF ratio':>8}")
for name, r in table.items():
    print(f"{name:>11} | {r['psnr']:7.2f} | {r['swd']:9.2f} | {r['hf']:8.2f}")

# %%
def crops(pictures, box, titles, zoom=3, title=None):
    fig, axes = plt.subplots(1, len(pictures), figsize=(2.6 * len(pictures), 2.9))
    for ax, pic, t in zip(axes, pictures, titles):
        c = pic.crop(box)
        ax.imshow(c.resize((c.width * zoom, c.height * zoom), 0)); ax.set_title(t); ax.axis("off")
    if title:
        fig.suptitle(title)
    plt.tight_layout(); plt.show()


betas = sorted(ups)
k, box = 0, (300, 120, 396, 216)
show = ["bicubic", "beta=0", f"beta={betas[len(betas) // 2]:g}", f"beta={betas[-1]:g}"]
crops([originals[k]] + [outputs[s][k] for s in show], box,
      ["original"] + [f"{s}\n{psnr(originals[k], outputs[s][k]):.2f} dB" for s in show],
      title="4x super-resolution, 96x96 crops")

# %% [markdown]
# The MSE up-sampler wins on PSNR (0.8 dB over bicubic) and is sharper than bicubic, but still
# blurry: of the originals' energy above the input's Nyquist frequency it restores about a sixth.
# The GAN up-samplers invent more of it, lose PSNR, and their patches are closer in distribution
# to the originals'. Trained for minutes on a CPU, they add faint texture rather than convincing
# stone: the numbers move more than the pictures do.
#
# ## 7.2 The perception-distortion trade-off
#
# Blau & Michaeli (2018) prove that for any distortion measure and any divergence between
# distributions, the best achievable perceptual quality at a given distortion, P(D), is
# non-increasing and convex in D: beyond some point better realism *must* cost distortion. The
# weight `beta` moves a trained estimator along it:

# %%
pts = [(b, table[f"beta={b:g}"]) for b in betas]
front = [(b, p) for b, p in pts                   # no other point is better on both axes
         if not any(q["psnr"] >= p["psnr"] and q["swd"] <= p["swd"] and c != b for c, q in pts)]
print("on the front: beta =", ", ".join(f"{b:g}" for b, _ in front))
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, key, label in ((axes[0], "swd", "patch SWD (lower: closer in distribution)"),
                       (axes[1], "hf", "high-frequency ratio (1: as detailed as originals)")):
    ax.plot([p["psnr"] for _, p in pts], [p[key] for _, p in pts], "o", label="up-sampler, by beta")
    for b, p in pts:
        ax.annotate(f"{b:g}", (p["psnr"], p[key]), textcoords="offset points", xytext=(4, 4))
    if key == "swd":
        ax.plot([p["psnr"] for _, p in front], [p["swd"] for _, p in front], "-", c="C0", label="front")
    ax.set_xlabel("PSNR (dB)"); ax.set_ylabel(label); ax.grid(alpha=0.3); ax.legend()
    ax.annotate(f"bicubic: {table['bicubic']['psnr']:.2f} dB, {label.split(' (')[0]} "
                f"{table['bicubic'][key]:.2f}", (0.02, 0.92 if key == "swd" else 0.04),
                xycoords="axes fraction")
axes[0].set_title("perception-distortion plane")
plt.tight_layout(); plt.show()

# %% [markdown]
# PSNR falls steadily as `beta` grows; the patch distance falls too, but not at every step:
# each point is one short GAN run (1,500 steps on a CPU core), and GAN runs are noisy, so some
# land inside the trade-off rather than on it. The *front*, the points no other beats on both
# axes (exercise 7.3), is what the trade-off curve is estimated from. Bicubic (its figures are
# printed in the panels) is worse on every axis: an estimator inside the curve is merely a bad
# estimator, one beyond it is impossible.
#
# ## 7.3 A generative codec
#
# HiFiC (Mentzer, Toderici, Tschannen & Agustsson 2020) keeps the transforms and entropy model of
# a mean-scale hyperprior and trains the synthesis transform `g_s` as the generator of a
# **conditional** GAN: the discriminator sees an image together with the quantized latent
# `y_hat` it was decoded from, so it judges whether the texture is plausible *for this code*:
#
# $$ \mathcal L = R + \lambda\,255^2\,\mathrm{MSE} + \beta\,\mathcal L_G,\qquad
#    \mathcal L_G = \mathbb E\big[\mathrm{softplus}(-D(\hat x, \hat y))\big]. $$
#
# Our shipped generative models (`mean-scale-gan`) start from the MSE models and train only
# `g_s` (`codec-lib train --trainable g_s --init ...`): the encoder, the entropy model and so the
# **bitstream are unchanged**, which puts both decoders at exactly the same bytes. The
# discriminator (`codec_lib.gan.Discriminator`) also sees the image's high-pass band,
# amplified, which lets it learn within a short CPU run. The generator's loss from scratch,
# checked against the library:

# %%
torch.manual_seed(0)
adv = Adversary(M=96, C=16)
adv.D.eval()                                      # spectral norm: no power iteration per call
x = torch.rand(2, 3, 64, 64)                      # (B, 3, H, W) images
y_hat = torch.randn(2, 96, 4, 4)                  # (B, M, H/16, W/16) their latents
logits = adv.D(x, y_hat)                          # (B, 1, H/16, W/16): one per 16x16 patch
mine = torch.log1p(torch.exp(-logits)).mean()     # softplus(-D): -log sigmoid(D)
assert torch.allclose(mine, adv.generator_loss(x, y_hat)), (mine, adv.generator_loss(x, y_hat))
print(f"L_G = {mine:.4f} on {logits.numel()} patch logits")

gan_models = [m for m in zoo.list_models() if m["objective"] == "perceptual"]
for m in gan_models:
    man_e = [e for e in zoo.read_manifest()["models"] if e["name"] == m["name"]]
    for e in man_e:
        t = e["training"]
        print(f"{e['name']} q{e['quality']}: beta={t['config']['beta']}, lmbda={e['lmbda']}, "
              f"{t['steps']} steps of g_s on {t['device']} ({t['wall_s'] / 60:.0f} min), "
              f"from {t['init']['file']}")

# %% [markdown]
# ## 7.4 Rate, distortion and perception at the same bytes
#
# `codec_lib.rdp` codes every image with the MSE codec and the generative codec (same files,
# hence same bytes), then with JPEG and AVIF at the quality whose file is closest in size, and
# measures all four. The committed table covers the 24 Kodak images; the command that made it is
# in the file:

# %%
committed = json.loads((results_dir() / "kodak-rdp.json").read_text())
pair = tuple(committed["pairs"][0])                # ("mean-scale", "mean-scale-gan")
print(committed["command"])
print(rdp.markdown(committed))

# Within each pair the encoder and the bits are the same; only the decoder differs. What the
# generative decoder buys and costs, read from the committed table (and checked, so that a
# retrained model that loses the effect fails this notebook):

# %%
for q in committed["qualities"]:
    mse_r, gan_r = (next(r for r in committed["rows"] if r["codec"] == n and r["quality"] == q) for n in pair)
    assert gan_r["swd"] < mse_r["swd"] and abs(1 - gan_r["hf"]) < abs(1 - mse_r["hf"])
    print(f"quality {q} ({mse_r['bpp']:.3f} bpp): PSNR {gan_r['psnr'] - mse_r['psnr']:+.2f} dB, "
          f"patch SWD {mse_r['swd']:.2f} -> {gan_r['swd']:.2f} ({100 * (gan_r['swd'] / mse_r['swd'] - 1):+.0f} %), "
          f"finest level {mse_r['swd_levels'][0]:.2f} -> {gan_r['swd_levels'][0]:.2f}, "
          f"HF ratio {mse_r['hf']:.2f} -> {gan_r['hf']:.2f}")

# %% [markdown]
# Now live, on two photos at both rates, keeping the decoded images to look at:

# %%
live = rdp.rdp_compare(eval_images(limit=2), [pair], committed["qualities"], ("jpeg", "avif"),
                       progress=False, keep=True)
for q in committed["qualities"]:
    rows = [r for r in live["rows"] if r["quality"] == q]
    crops([images[0]] + [r["decoded"][0] for r in rows], (420, 170, 516, 266),
          ["original"] + [f"{r['codec']}\n{r['bpp']:.3f} bpp, {r['psnr']:.1f} dB" for r in rows],
          title=f"quality {q}: about the same bytes, four decoders (figures: means over 2 photos)")

# %% [markdown]
# What the measurements say, and what they do not:
#
# * **Generative against MSE decoder, same bits.** The generative decoder draws grain and texture
#   where the MSE decoder smooths them away: a lower patch distance (most of the gain on the finest
#   pyramid level) and a high-frequency ratio much closer to the originals' (the printout
#   above), for about 0.7 to 0.9 dB of PSNR. That is the rate-distortion-perception trade-off at a fixed rate: a point
#   that moves *along* the distortion-perception curve, not beyond it.
# * **Against JPEG and AVIF at the same size.** JPEG scores *better* than our generative codec
#   on both measures; AVIF keeps more high-frequency energy at the higher rate, is behind our
#   generative decoder on patch distance at the lower rate and ahead at the higher one
#   (which of the two leads there has changed from one 2,000-step adversarial run to the next:
#   a difference of that size is noise between runs), and leads it by about 0.9 to 2.1 dB on
#   PSNR (the Kodak table above). Two reasons. Our
#   CPU-trained codecs are far below AVIF in rate-distortion (chapter 6): the encoder throws away
#   detail that no decoder can bring back. And the measures are blind to *what* the detail is:
#   JPEG's block edges and ringing add high-frequency energy and sharp patches, which a patch
#   distribution can mistake for texture. Look at the crops before trusting any single number.
# * **Training.** HiFiC trains its generator and discriminator for days on GPUs, with a
#   pretrained perceptual loss (LPIPS). Ours trained `g_s` for 2,000 steps on a CPU core (25
#   to 45 minutes, as other jobs shared the CPU) with the discriminator alone, and the texture it draws is partly noise-like grain,
#   not always the right material.
#
# ## 7.5 Other directions
#
# * **Diffusion decoders.** Replacing the GAN generator with a conditional diffusion model
#   conditioned on the decoded latent: Yang & Mandt, *Lossy image compression with conditional
#   diffusion models* (NeurIPS 2023); Hoogeboom et al., *High-fidelity image compression with
#   score-based generative models* (2023); Careil et al., *Towards image compression with perfect
#   realism at ultra-low bitrates* (PerCo, ICLR 2024). Much slower to decode.
# * **Implicit neural representations.** Overfit a small network to one image and transmit its
#   quantized weights: Dupont et al., *COIN* (2021); Ladune et al., *COOL-CHIC* (ICCV 2023), with
#   decoders of a few hundred to a few thousand operations per pixel.
# * **Perceptual losses and metrics** with pretrained networks (LPIPS, Zhang et al. 2018; FID,
#   Heusel et al. 2017; DISTS): HiFiC uses LPIPS in its loss. They need weights downloaded from
#   the internet, which this book does not assume.
#
# ## References
#
# * Y. Blau, T. Michaeli. *The perception-distortion tradeoff.* CVPR 2018.
# * Y. Blau, T. Michaeli. *Rethinking lossy compression: the rate-distortion-perception
#   tradeoff.* ICML 2019.
# * F. Mentzer, G. Toderici, M. Tschannen, E. Agustsson. *High-fidelity generative image
#   compression.* NeurIPS 2020.
# * C. Ledig et al. *Photo-realistic single image super-resolution using a generative adversarial
#   network.* CVPR 2017.
# * T. Karras, T. Aila, S. Laine, J. Lehtinen. *Progressive growing of GANs for improved quality,
#   stability, and variation.* ICLR 2018 (sliced Wasserstein distance on Laplacian patches).
# * E. Agustsson, M. Tschannen, F. Mentzer, R. Timofte, L. Van Gool. *Generative adversarial
#   networks for extreme learned image compression.* ICCV 2019.
#
# ## Exercises
#
# **7.1 Wasserstein-1 in one dimension.** Write `w1(a, b)` for two 1-D NumPy arrays of the same
# length, returning the Wasserstein-1 distance between their empirical distributions.

# %%
answer = None   # e.g. def w1(a, b): ...; answer = w1
check("07.1", answer);

# %% [markdown]
# **7.2 The discriminator's loss.** Write `d_loss(real_logits, fake_logits)` returning the
# discriminator's non-saturating GAN loss (a 0-d tensor): it should be small when the logits are
# large on originals and small on reconstructions.

# %%
answer = None   # e.g. def d_loss(real_logits, fake_logits): ...; answer = d_loss
check("07.2", answer);

# %% [markdown]
# **7.3 The front.** Given points `{"name", "psnr", "swd"}` (say, up-samplers or codecs at one
# rate), write `front(points)` returning the names of those that no other point beats on both
# axes at once (higher or equal PSNR *and* lower or equal patch distance).

# %%
answer = None   # e.g. def front(points): ...; answer = front
check("07.3", answer);

# %%
print(f"chapter ran in {time.time() - t_start:.0f} s")
