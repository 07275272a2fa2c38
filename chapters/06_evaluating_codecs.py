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
# # Chapter 6: Evaluating codecs
#
# **What you will learn.**
#
# * How one rate-distortion point is measured honestly: bits from the real file, PSNR and
#   MS-SSIM per image, then averaged; PSNR written from scratch and checked against the library.
# * How to read RD curves of learned and classic codecs (JPEG, WebP, AVIF, JPEG 2000) measured on
#   the 24 Kodak images, and the Bjøntegaard delta rate (BD-rate) that summarizes two curves in one
#   number, written from scratch in a dozen lines and checked against `codec_lib.bdrate`.
# * Complexity: parameters, multiply-accumulates per pixel and seconds, for each transform of a
#   learned codec, counted from scratch and checked against `codec_lib.complexity`.
# * Shallow decoders (Yang & Mandt 2023): a two-layer and a JPEG-like linear synthesis transform,
#   what they save in decoding operations and what they cost in rate-distortion.
#
# **Why it matters.** "Better" means nothing without a measurement protocol. Codecs are compared
# on the same images, at matched rates, with stated settings, and with the cost of running them;
# a learned codec that saves 20 % of the bits at 1000 times the decoding work is a different
# proposition from one that saves 20 % for free.

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.interpolate import PchipInterpolator

from codec_lib import baselines, bdrate, complexity, zoo
from codec_lib.codec import decode_image, encode_image
from codec_lib.data import eval_images, results_dir
from codec_lib.exercises import check
from codec_lib.metrics import ms_ssim, psnr
from codec_lib.plots import rd_plot, results_table

torch.set_num_threads(1)
plt.rcParams.update({"figure.dpi": 80, "axes.titlesize": 10})
kodak = json.loads((results_dir() / "kodak-rd.json").read_text())   # codec-lib compare output
results = {r["model"]: r for r in kodak["results"]}
print(f"committed Kodak results: {kodak['images']} images, codecs: {', '.join(results)}")

# %% [markdown]
# ## 6.1 One point, measured honestly
#
# A rate-distortion point is a pair (rate, distortion) for one codec setting:
#
# * **rate** in bits per pixel from the *bytes of the file*, $8\,|\text{file}| / (HW)$; never
#   from an entropy estimate (chapter 5 measured the gap) and including every header byte;
# * **distortion** as PSNR on 8-bit RGB, $10\log_{10}(255^2/\text{MSE})$, and as MS-SSIM
#   (Wang et al. 2003), which weighs structure over pixel-exact values;
# * averaged over a set of images, here **per image first**: the mean of the images' PSNRs and
#   bpp (the convention of CompressAI's and most papers' Kodak tables), which is not the PSNR of
#   the mean MSE.

# %%
def my_psnr(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return 10 * np.log10(255 ** 2 / np.mean((a - b) ** 2))


images = eval_images(limit=4)              # Kodak's first 4, or the embedded photos
model = zoo.load_model()                   # the default: mean-scale hyperprior
rows = []
for name, img in images:
    enc = encode_image(img, model)
    rec = decode_image(enc.data)
    jpg = baselines.encode(img, "jpeg", 50)
    assert abs(my_psnr(img, rec) - psnr(img, rec)) < 1e-9
    W, H = img.size
    rows.append((name, 8 * len(enc.data) / (W * H), psnr(img, rec), ms_ssim(img, rec),
                 8 * len(jpg) / (W * H), psnr(img, baselines.decode(jpg))))
print(f"{'image':>10} | {'ours bpp':>8} {'PSNR':>6} {'MS-SSIM':>7} | {'JPEG q50 bpp':>12} {'PSNR':>6}")
for r in rows:
    print(f"{r[0]:>10} | {r[1]:8.3f} {r[2]:6.2f} {r[3]:7.4f} | {r[4]:12.3f} {r[5]:6.2f}")
mse = [10 ** (-r[2] / 10) for r in rows]
print(f"\nmean of PSNRs {np.mean([r[2] for r in rows]):.3f} dB; "
      f"PSNR of the mean MSE {-10 * np.log10(np.mean(mse)):.3f} dB")

# %% [markdown]
# The two averages differ (the PSNR of the mean MSE is dominated by the hardest image), which is
# why a table must say which one it reports. The library's `codec-lib eval` and
# `codec-lib compare` report the mean of per-image values.
#
# ## 6.2 RD curves on Kodak
#
# `codec-lib compare` evaluates every installed model at all its qualities and every classic codec
# over a quality sweep, with the settings written into its output. The committed results (the
# command is in the README) are plotted below. Learned models: solid lines; classic codecs: dashed.

# %%
print("settings:")
for k, v in kodak["settings"].items():
    print(f"  {k}: {v}")
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
for ax, metric in zip(axes, ("psnr", "ms_ssim")):
    rd_plot(kodak["results"], metric, ax=ax, title=f"{metric.upper().replace('_', '-')}, Kodak")
    ax.set_xlim(0, 2.0)
plt.tight_layout(); plt.show()

# %% [markdown]
# ## 6.3 The Bjøntegaard delta rate
#
# Curves cross and span different ranges, so "how much better" needs a convention. Bjøntegaard
# (2001) takes the **log-rate as a function of quality** for both codecs, interpolates each
# through its points, and averages their difference over the quality range both cover:
#
# $$ \Delta = \frac{1}{D_H - D_L}\int_{D_L}^{D_H} \big(\log R_\text{test}(D) - \log R_\text{anchor}(D)\big)\,dD,
# \qquad \text{BD-rate} = 100\,(e^{\Delta} - 1)\ \%. $$
#
# Negative means the test codec needs that many percent fewer bits for the same quality. The
# original fitted one cubic polynomial through four points; today's common test conditions use
# piecewise cubic, monotone interpolation (PCHIP), which does not oscillate. From scratch, with
# SciPy's PCHIP:

# %%
def my_bd_rate(anchor, test, metric="psnr"):
    curves = []
    for pts in (anchor, test):
        pts = sorted(pts, key=lambda p: bdrate.quality_db(p, metric))
        q = np.array([bdrate.quality_db(p, metric) for p in pts])
        curves.append((q, PchipInterpolator(q, np.log([p["bpp"] for p in pts]))))
    lo = max(curves[0][0][0], curves[1][0][0])
    hi = min(curves[0][0][-1], curves[1][0][-1])
    gap = (curves[1][1].integrate(lo, hi) - curves[0][1].integrate(lo, hi)) / (hi - lo)
    return 100 * (np.exp(gap) - 1)


for test in ("webp", "avif", "jpeg2000", "mean-scale", "factorized"):
    ours = my_bd_rate(results["jpeg"]["points"], results[test]["points"])
    lib = bdrate.bd_rate(results["jpeg"], results[test])
    assert abs(ours - lib) < 1e-6, (test, ours, lib)
    print(f"{test:>10} vs JPEG: {ours:+6.1f} %  (codec_lib.bdrate: {lib:+6.1f} %)")
try:
    print(f"mean-scale vs factorized: {bdrate.bd_rate(results['factorized'], results['mean-scale']):+.1f} %")
except ValueError as e:
    print("mean-scale vs factorized:", e)

# %% [markdown]
# The full table, every codec against every classic codec (PSNR, then MS-SSIM in dB); codecs with
# a single point (the shallow decoders of 6.5) have no curve, hence "n/a":

# %%
print(results_table(kodak["results"], "jpeg"))
print()
print(results_table(kodak["results"], "jpeg", "ms_ssim"))

# %% [markdown]
# How to read it, with the numbers of the table above:
#
# * The classic codecs rank as their age suggests: WebP, JPEG 2000 and AVIF all need far fewer
#   bits than JPEG for the same PSNR, AVIF most.
# * Our reference models were trained mostly on a 2-core CPU (the mean-scale models for about
#   22 hours in twenty-two CPU stages and two of 8 and 6.5 minutes on a GPU; every model's steps,
#   devices and wall time are in `codec-lib models --json`). Published models of the same
#   architectures, trained on GPUs for millions of image crops, reach about −57 % (mean-scale
#   hyperprior) and −43 % (factorized prior) against JPEG on Kodak, and beat WebP (CompressAI's
#   published curves). Ours are far from that, as their BD-rates above say: the gap is mostly
#   training (section 2.4 showed how far from convergence a short run is), and at high rates
#   probably also width (below). The table
#   is the honest state of the shipped checkpoints, and longer GPU training will move these rows
#   (the first 8-minute GPU stage moved the mean-scale row more than any of the CPU stages).
# * The mean-scale hyperprior against the factorized prior (the last line of the cell before the
#   table): the side information pays for itself (chapter 4 measured the bits it buys). How much
#   it shows here depends on training as much as on the architecture: both families started
#   from the same trained transforms; at 8,500 and 8,900 steps the gap was 15 %, at 13,500 and
#   11,400 steps 7 % (the factorized density, the furthest from converged, gained most), and
#   after two more stages of 7,000 steps and fifteen time-budgeted ones (80, 75, 72, 72 and 75
#   minutes, then 45, 45 and 55 in bfloat16, 50 in float32, and 45, 40, 45, 45, 45 and 45 in
#   bfloat16; about 3,400 to 8,500 steps each), then two on a GPU (8 and 6.5 minutes, about 12,400
#   and 11,500 steps of 16 crops of 256²) and three more on the CPU (55, 50 and 50 minutes in
#   bfloat16, about 6,200 to 7,600 steps each), for the mean-scale models alone (about 160,000 in
#   all) it is the figure printed above. Neither family is
#   converged: read the figure as the state of these checkpoints, not as the two architectures'
#   gap.
# * BD-rates are only defined over the overlap of the curves; a curve that covers a narrow range
#   of quality is compared on that range only.
#
# Does the interpolation matter? The original single-cubic fit, on the same points:

# %%
def bd_rate_polyfit(anchor, test, metric="psnr"):
    fits, spans = [], []
    for pts in (anchor, test):
        q = np.array([bdrate.quality_db(p, metric) for p in pts])
        fits.append(np.polyint(np.polyfit(q, np.log([p["bpp"] for p in pts]), 3)))
        spans.append((q.min(), q.max()))
    lo, hi = max(s[0] for s in spans), min(s[1] for s in spans)
    a, t = (np.polyval(f, hi) - np.polyval(f, lo) for f in fits)
    return 100 * (np.exp((t - a) / (hi - lo)) - 1)


for test in ("webp", "avif", "mean-scale"):
    print(f"{test:>10} vs JPEG: PCHIP {bdrate.bd_rate(results['jpeg'], results[test]):+6.1f} %, "
          f"one cubic {bd_rate_polyfit(results['jpeg']['points'], results[test]['points']):+6.1f} %")

# %% [markdown]
# With 9 well-spread points per curve the two agree to a fraction of a percent; with 4 points or
# an outlier they can differ by several (Hang et al. 2024 study how reliable BD numbers are).
#
# A BD-rate is a *mean* over the quality range, and a mean hides where the gap is. Evaluating the
# anchor's interpolated log-rate at each test point's quality gives the saving point by point
# (from scratch with SciPy, checked against `codec_lib.bdrate.rate_savings`):

# %%
def my_rate_savings(anchor, test, metric="psnr"):
    pts = sorted(anchor, key=lambda p: bdrate.quality_db(p, metric))
    q = np.array([bdrate.quality_db(p, metric) for p in pts])
    log_r = PchipInterpolator(q, np.log([p["bpp"] for p in pts]))
    return [100 * (p["bpp"] / np.exp(log_r(bdrate.quality_db(p, metric))) - 1)
            if q[0] <= bdrate.quality_db(p, metric) <= q[-1] else None for p in test]


for anchor in ("jpeg", "avif"):
    ours = my_rate_savings(results[anchor]["points"], results["mean-scale"]["points"])
    lib = bdrate.rate_savings(results[anchor], results["mean-scale"])
    assert all(abs(a - b) < 1e-6 for a, b in zip(ours, lib)), (ours, lib)
    print(f"mean-scale vs {anchor:>4}, at q" + ", q".join(
        f"{p['quality']} ({p['psnr']:.1f} dB): {s:+.1f} %" for p, s in zip(results["mean-scale"]["points"], ours)))

# %% [markdown]
# Our default model saves far more of JPEG's bits at its lowest rate than at its highest, and
# falls further behind AVIF as the rate grows: the high rates are where it is weakest. All its
# rates share one width (N = 64, M = 96), while CompressAI's mean-scale models use N = 128,
# M = 192 at its qualities 1 to 4 and N = 192, M = 320 from quality 5: the more detail a rate keeps, the more
# channels the transforms likely need, and a longer training than ours on a GPU is where to
# test that.
#
# ## 6.4 Complexity: parameters, operations, seconds
#
# A learned codec's cost is dominated by its convolutions. Counting multiply-accumulates (MACs)
# per image pixel: a convolution does (output elements) × $C_\text{in} k^2$ MACs, a transposed
# convolution (input elements) × $C_\text{out} k^2$, a GDN layer $C^2$ per position. From scratch,
# with forward hooks:

# %%
def my_macs(module, inp):
    total = []
    def hook(m, i, o):
        if isinstance(m, torch.nn.ConvTranspose2d):
            total.append(i[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1])
        elif isinstance(m, torch.nn.Conv2d):
            total.append(o.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1])
        elif hasattr(m, "gamma"):                             # GDN: a 1x1 conv over squares
            total.append(i[0][:, 0].numel() * i[0].shape[1] ** 2)
    hooks = [m.register_forward_hook(hook) for m in module.modules()]
    with torch.no_grad():
        module(inp)
    for h in hooks:
        h.remove()
    return sum(total)


H, W = 512, 768
cplx = complexity.model_complexity(model, H, W)
y = model.g_a(torch.zeros(1, 3, H, W))
assert my_macs(model.g_s, y) / (H * W) == cplx["g_s"]["macs_per_pixel"]
assert my_macs(model.g_a, torch.zeros(1, 3, H, W)) / (H * W) == cplx["g_a"]["macs_per_pixel"]
print(f"{'transform':>9} {'params':>10} {'MACs/pixel':>11}")
for part, c in cplx.items():
    print(f"{part:>9} {c['params']:10,d} {c['macs_per_pixel']:11,.0f}")
dec = cplx["g_s"]["macs_per_pixel"] + cplx["h_s"]["macs_per_pixel"]
print(f"decoder total (h_s + g_s): {dec:,.0f} MACs per pixel")

# %% [markdown]
# For scale: a JPEG decoder needs fewer than ten multiplications per pixel (a fast 8×8 IDCT
# about 1.25 per coefficient, times 1.5 samples per pixel with 4:2:0 chroma, plus the colour
# conversion); our decoder does thousands. Seconds per Kodak image, from the committed results
# (this 2-core CPU, every codec on one thread):

# %%
names = [n for n in results if len(results[n]["points"]) > 1]
mid = {n: min(results[n]["points"], key=lambda p: abs(p["bpp"] - 0.5)) for n in names}
print(f"{'codec':>12} {'at bpp':>7} {'encode s':>9} {'decode s':>9}")
for n in names:
    print(f"{n:>12} {mid[n]['bpp']:7.3f} {mid[n]['enc_s']:9.3f} {mid[n]['dec_s']:9.3f}")

# %% [markdown]
# ## 6.5 Shallow decoders
#
# Yang & Mandt (2023) observed that the *decoder* is what must be cheap (images are encoded once
# and decoded many times, often on weak devices), and replaced $g_s$ by a **two-layer** transform
# or even a single **linear** transposed convolution: a JPEG-like synthesis whose $16\times16$-stride
# basis images overlap their neighbours. They won back most of the loss with a stronger encoder
# and iterative encoding. `codec_lib.layers.synthesis_transform(kind=...)` has both; the shipped
# `mean-scale-two-layer` and `mean-scale-linear` models keep the mean-scale hyperprior's $g_a$,
# $h_a$, $h_s$ and were fine-tuned jointly with their new decoder at $\lambda = 0.013$ (see their
# manifest entries).

# %%
variants = {"mean-scale": 4, "mean-scale-two-layer": 4, "mean-scale-linear": 4}
shallow = {}
for n, q in variants.items():
    m = zoo.load_model(n, q)
    c = complexity.model_complexity(m, H, W)["g_s"]
    point = next(p for p in results[n]["points"] if p["quality"] == q)
    x = torch.zeros(1, m.M, H // 16, W // 16)
    times = []
    with torch.no_grad():
        for _ in range(5):
            t0 = time.perf_counter()
            m.g_s(x.contiguous(memory_format=torch.channels_last))
            times.append(time.perf_counter() - t0)
    shallow[n] = {**c, **point, "g_s_s": float(np.median(times)), "model": m}

deep = sorted(results["mean-scale"]["points"], key=lambda p: p["bpp"])     # the deep RD curve
psnr_at = PchipInterpolator(np.log([p["bpp"] for p in deep]), [p["psnr"] for p in deep],
                            extrapolate=False)                       # PSNR(log rate)
log_rate_at = PchipInterpolator(sorted(p["psnr"] for p in deep),
                                np.log(sorted(p["bpp"] for p in deep)), extrapolate=False)
print(f"{'g_s':>22} {'params':>9} {'MACs/px':>8} {'g_s s':>6} {'bpp':>6} {'PSNR':>6} "
      f"{'dB vs deep, same rate':>22} {'rate vs deep, same PSNR':>24}")
for n, r in shallow.items():
    d_db, at = psnr_at(np.log(r["bpp"])), log_rate_at(r["psnr"])
    d_db = f"{r['psnr'] - d_db:+.2f} dB" if np.isfinite(d_db) else "outside the curve"
    d_rate = f"{100 * (r['bpp'] / np.exp(at) - 1):+.1f} %" if np.isfinite(at) else "below the curve"
    print(f"{n:>22} {r['params']:9,d} {r['macs_per_pixel']:8,.0f} {r['g_s_s']:6.3f} "
          f"{r['bpp']:6.3f} {r['psnr']:6.2f} {d_db:>22} {d_rate:>24}")

fig, ax = plt.subplots(figsize=(6.4, 4.4))
rd_plot([results[n] for n in ("mean-scale", "factorized", "jpeg", "webp") if n in results], ax=ax)
for n in ("mean-scale-two-layer", "mean-scale-linear"):
    ax.plot(shallow[n]["bpp"], shallow[n]["psnr"], "*", markersize=12, label=n)
ax.set_xlim(0, 1.5); ax.legend(); plt.show()

# %% [markdown]
# The linear synthesis cuts the decoder's transform to a few hundred MACs per pixel, about 30
# times fewer than the deep one, and the two-layer one to about half. The table says what each
# pays against the deep model's Kodak curve (interpolated): in PSNR at the same rate, and in rate
# at the same PSNR where the deep curve reaches that low. Two caveats, both visible above:
#
# * **MACs are not seconds.** The two-layer decoder does about half the deep stack's MACs, but
#   on this CPU it saves far less than half the time (the `g_s s` column; timings are noisy): its
#   $13\times13$ stride-8 transposed convolution is a poor fit for the convolution kernels.
#   Complexity has to be measured on the target hardware, not only counted.
# * **Our shallow decoders had a short fine-tuning** (see their manifest entries), from an
#   earlier, shorter-trained mean-scale model than the deep one they are measured against, with
#   a standard encoder. Yang & Mandt recover most of the gap with a more powerful encoder and
#   iterative encoding, which this library does not implement.
#
# The linear decoder's basis images, one per latent channel, are the learned counterpart of the
# DCT basis:

# %%
lin = shallow["mean-scale-linear"]["model"].g_s[0].weight.detach()       # (M, 3, 18, 18)
order = lin.pow(2).sum((1, 2, 3)).argsort(descending=True)[:24]
fig, axes = plt.subplots(3, 8, figsize=(10, 4))
for ax, c in zip(axes.flat, order.tolist()):
    k = lin[c].permute(1, 2, 0).numpy()
    ax.imshow(0.5 + k / (2 * np.abs(k).max())); ax.axis("off")
plt.suptitle("linear synthesis: the 24 strongest of its 96 basis images (18×18 pixels)")
plt.show()

# %% [markdown]
# ## Summary
#
# * Measure rate from real bytes, average per image, and state the codecs' settings.
# * BD-rate is the mean log-rate gap over the common quality range, by monotone cubic
#   interpolation; with well-spread points it is robust to the interpolation choice.
# * Complexity is parameters, MACs per pixel and seconds, per transform: a learned decoder costs
#   thousands of MACs per pixel against a JPEG decoder's tens.
# * Shallow decoders cut the synthesis to a fraction of those operations, at a cost in
#   rate-distortion measured above; fewer MACs do not always mean fewer seconds.
#
# ## References
#
# * G. Bjøntegaard. *Calculation of average PSNR differences between RD-curves.* VCEG-M33, 2001.
# * F. Bossen. *Common test conditions and software reference configurations.* JCTVC-L1100, 2013.
# * Z. Wang, E. P. Simoncelli, A. C. Bovik. *Multiscale structural similarity for image quality
#   assessment.* Asilomar 2003.
# * Y. Yang, S. Mandt. *Computationally-efficient neural image compression with shallow
#   decoders.* ICCV 2023.
# * X. Hang et al. *Rethinking Bjøntegaard delta for compression efficiency evaluation: are we
#   calculating it precisely and reliably?* 2024.
# * J. Bégaint, F. Racapé, S. Feltman, A. Pushparaja. *CompressAI: a PyTorch library and
#   evaluation platform for end-to-end compression research.* 2020 (published Kodak curves).
#
# ## Exercises
#
# **6.1 PSNR of a set.** Write `set_psnr(pairs)` that takes a list of `(original, decoded)` uint8
# arrays of possibly different sizes and returns the *mean of the per-image PSNRs* in dB.

# %%
answer = None   # e.g. def set_psnr(pairs): ...; answer = set_psnr
check("06.1", answer);

# %% [markdown]
# **6.2 BD-rate.** Write `bd(anchor, test)` for two lists of points `{"bpp", "psnr"}` returning
# the BD-rate in percent with monotone piecewise cubic interpolation of log-rate over PSNR (you may
# use `scipy.interpolate.PchipInterpolator`, but not `codec_lib.bdrate`).

# %%
answer = None   # e.g. def bd(anchor, test): ...; answer = bd
check("06.2", answer);

# %% [markdown]
# **6.3 MACs of a layer.** Write `layer_macs(layer, H, W)` for a `torch.nn.Conv2d` or
# `torch.nn.ConvTranspose2d` (no groups) and an input of `H x W` positions, returning the number of
# multiply-accumulates of one forward pass on a batch of one. Mind the padding and the stride.

# %%
answer = None   # e.g. def layer_macs(layer, H, W): ...; answer = layer_macs
check("06.3", answer);
