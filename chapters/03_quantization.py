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
# # Chapter 3: Quantization and its training proxies
#
# **What you will learn.**
#
# * Why a codec must quantize at all, and why rounding stops gradient descent dead: its
#   derivative is zero almost everywhere, which we watch autograd report.
# * Four ways around it, each written from scratch in a few lines and checked against
#   `codec_lib.quantization`: additive uniform noise, straight-through rounding, soft rounding
#   and stochastic Gumbel annealing, plus the "mixed" recipe that combines two of them.
# * What each proxy costs: a model trained with a proxy is evaluated with real rounding, and the
#   rate and distortion it believed it had during training are not the ones it gets. We measure
#   that train/test mismatch for four proxies on small models trained in this notebook.
# * How annealing (sharpening the proxy during training) can close the gap, and when it cannot.
# * How the same annealed proxy, used at encoding time on one image's latents, codes that image
#   better with an unchanged decoder.
#
# **Why it matters.** An entropy coder codes integers (chapter 5), so the latent $y$ of a learned
# codec has to be rounded to $\hat y$ before it is coded. Training, however, is gradient descent
# on the rate-distortion loss $R + \lambda D$, and every gradient that reaches the analysis
# transform passes through the quantizer. The proxy chosen to let gradients through decides
# which loss is really optimized, and how far it is from the loss of the codec that ships.

# %%
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from codec_lib import quantization
from codec_lib.data import eval_images, to_tensor
from codec_lib.exercises import check
from codec_lib.quantization import quantize, soft_round, soft_round_inverse
from codec_lib.train import TrainConfig, evaluate_loss, fit, rd_loss

torch.set_num_threads(1)          # small computations; leave the other core alone
plt.rcParams.update({"figure.dpi": 80, "axes.titlesize": 10})
print("proxies in codec_lib:", quantization.PROXIES)

# %% [markdown]
# ## 3.1 Rounding kills gradients
#
# At test time the quantizer is plain rounding, $\hat y = \lfloor y \rceil$ (around an offset
# $\mu$ in the library, $\hat y = \lfloor y - \mu \rceil + \mu$, so that the integer grid sits where
# the entropy model's density is centred). It is a staircase: flat between the half-integers,
# and discontinuous at them. Its derivative is $0$ wherever it exists, so the chain rule
# multiplies every upstream gradient by zero.

# %%
y = torch.linspace(-2, 2, 9, requires_grad=True)
y_hat = torch.round(y)
(y_hat ** 2).sum().backward()              # any loss of y_hat
print("y      ", y.detach().numpy())
print("y_hat  ", y_hat.detach().numpy())
print("dL/dy  ", y.grad.numpy())
assert torch.all(y.grad == 0)

# %% [markdown]
# Autograd is not being lazy: the true derivative is zero (and undefined at the ties). A codec
# trained through `torch.round` would never update its encoder from the distortion term. The
# rate term is no better: the likelihood of an integer changes only through the entropy model's
# own parameters, not through $y$. We need a **proxy**: something differentiable that behaves
# like rounding during training, and is swapped for real rounding afterwards.

# %% [markdown]
# ## 3.2 Additive uniform noise
#
# Ballé, Laparra & Simoncelli (2017) replace rounding by adding independent uniform noise,
#
# $$
# \tilde y = y + u, \qquad u \sim \mathcal U\!\left(-\tfrac12, \tfrac12\right).
# $$
#
# The derivative $\partial \tilde y / \partial y = 1$, and the perturbation has the same range
# as the rounding error $\hat y - y$. Its justification is about densities, not values. The
# density of $\tilde y$ is the density of $y$ smoothed by a unit box,
#
# $$
# p_{\tilde y}(t) = \int_{t-1/2}^{t+1/2} p_y(s)\, ds ,
# $$
#
# and at every integer $k$ this is exactly $P(\lfloor y \rceil = k)$, the probability that the
# entropy coder will be asked to code. So $p_{\tilde y}$ is a continuous function that passes
# through the pmf of $\hat y$ at the integers: between them it interpolates it (nearly
# linearly when $p_y$ varies slowly over one bin). A density model fitted to $\tilde y$ is a
# model of the pmf of $\hat y$, and $-\log_2 p(\tilde y)$ is a differentiable stand-in for the
# rate. We check both the from-scratch definition and the density claim.

# %%
def noise_proxy(y):
    return y + torch.empty_like(y).uniform_(-0.5, 0.5)


torch.manual_seed(0)
y = 0.8 * torch.randn(200_000)                        # a latent channel: narrow, zero-centred
torch.manual_seed(1); ours = noise_proxy(y)
torch.manual_seed(1); lib = quantize(y, "noise")
assert torch.equal(ours, lib)
e = (lib - y).numpy()
print(f"noise: min {e.min():.4f}, max {e.max():.4f}, variance {e.var():.5f} (1/12 = {1 / 12:.5f})")

y_hat = torch.round(y)
ks, counts = torch.unique(y_hat, return_counts=True)
pmf = counts.double() / len(y)
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.hist(lib.numpy(), bins=np.arange(-4, 4.01, 0.05), density=True, color="C0", alpha=0.5,
        label=r"histogram of $\tilde y = y + u$")
ax.stem(ks.numpy(), pmf.numpy(), linefmt="C3-", markerfmt="C3o", basefmt=" ",
        label=r"pmf of $\hat y = \lfloor y \rceil$")
ax.plot(ks.numpy(), pmf.numpy(), "C3--", lw=1, label="its piecewise-linear interpolation")
ax.set_xlim(-4, 4); ax.set_xlabel("value"); ax.legend(fontsize=8)
ax.set_title("the noisy latent's density passes through the quantized latent's pmf")
plt.show()

# the density of y + u at integer k, estimated from a bin of width 0.1 around k, against P(y_hat = k)
for k, p in zip(ks.tolist(), pmf.tolist()):
    if abs(k) <= 2:
        dens = ((lib - k).abs() < 0.05).double().mean().item() / 0.1
        print(f"k = {k:+.0f}:  P(y_hat = k) = {p:.4f}   density of y + u at k ~ {dens:.4f}")

# %% [markdown]
# The catch is that a decoder trained on $\tilde y$ sees noisy latents, then at test time
# receives rounded ones, whose error is not independent of $y$ (it is a deterministic function of
# it). Section 3.7 measures what that costs.
#
# ## 3.3 Straight-through rounding
#
# The straight-through estimator (Bengio, Léonard & Courville 2013; used for compression by
# Theis, Shi, Cunningham & Huszár 2017) rounds in the forward pass and pretends, in the backward
# pass, that the quantizer was the identity:
#
# $$
# \text{forward: } \hat y = \lfloor y \rceil, \qquad
# \text{backward: } \frac{\partial \hat y}{\partial y} := 1 .
# $$
#
# In PyTorch the trick is one line: add the rounding error as a constant (detached) tensor.

# %%
def ste_round(y):
    return y + (torch.round(y) - y).detach()


y = torch.linspace(-2, 2, 9, requires_grad=True)
w = torch.arange(9.0)                                  # an arbitrary upstream gradient
(w * ste_round(y)).sum().backward()
g_ours = y.grad.clone(); y.grad = None
(w * quantize(y, "ste")).sum().backward()
assert torch.equal(ste_round(y), quantize(y, "ste")) and torch.equal(g_ours, y.grad)
assert torch.equal(ste_round(y).detach(), torch.round(y.detach())) and torch.equal(g_ours, w)
print("forward:", ste_round(y).detach().numpy(), "\ngradient:", g_ours.numpy(), "(= upstream w)")

# %% [markdown]
# The decoder now trains on exactly the $\hat y$ it will receive: no mismatch on the distortion
# side. The gradient is biased, though (it is the gradient of a different function), and for
# the rate the straight-through value is an integer, where a density model evaluated at $\hat y$
# gives no signal to move $y$ between integers.
#
# ## 3.4 Soft rounding
#
# Agustsson & Theis (2020) interpolate between the identity and rounding with a smooth,
# invertible function. With $m = \lfloor x \rfloor + \tfrac12$ and $r = x - m \in [-\tfrac12,
# \tfrac12)$,
#
# $$
# s_\alpha(x) = m + \frac{\tanh(\alpha r)}{2 \tanh(\alpha / 2)}, \qquad
# s_\alpha^{-1}(y) = m + \frac{1}{\alpha} \operatorname{artanh}\!\big(2 \tanh(\alpha/2)\,(y - m)\big).
# $$
#
# At $r = \pm\frac12$ it hits the half-integers exactly, so it is continuous; $\alpha \to 0$
# gives the identity and $\alpha \to \infty$ gives rounding. Their training proxy soft-rounds,
# adds uniform noise, and soft-rounds again:
#
# $$
# \tilde y = s_\alpha\big(s_\alpha(y) + u\big), \qquad u \sim \mathcal U\!\left(-\tfrac12, \tfrac12\right).
# $$
#
# Both limits are proxies we know. As $\alpha \to 0$ both soft roundings become the identity and
# $\tilde y \to y + u$, the noise proxy of section 3.2. As $\alpha \to \infty$ it tends to
# $\lfloor \lfloor y \rceil + u \rceil = \lfloor y \rceil$ (the noise is less than half a step, so
# the outer rounding removes it): real rounding. The library's `"soft"` proxy is exactly this
# (Agustsson & Theis 2020), with $\alpha$ in `proxy_kw["alpha"]` (default 5). We first check
# $s_\alpha$ and its inverse, then the proxy.

# %%
def soft_round_ours(x, alpha):
    m = torch.floor(x) + 0.5
    return m + torch.tanh(alpha * (x - m)) / (2 * np.tanh(alpha / 2))


def soft_round_inverse_ours(y, alpha):
    m = torch.floor(y) + 0.5
    return m + torch.atanh(2 * np.tanh(alpha / 2) * (y - m) * (1 - 1e-6)) / alpha


x = torch.linspace(-2, 2, 801)
for alpha in (0.5, 2.0, 5.0, 12.0):
    assert torch.allclose(soft_round_ours(x, alpha), soft_round(x, alpha), atol=1e-6)
    assert torch.allclose(soft_round_inverse_ours(x, alpha), soft_round_inverse(x, alpha), atol=1e-5)
    if alpha <= 5:   # s is nearly flat next to integers at large alpha: inverting it is ill-conditioned
        assert torch.allclose(soft_round_inverse(soft_round(x, alpha), alpha), x, atol=1e-3)

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for alpha in (0.5, 2.0, 5.0, 12.0, 50.0):
    axes[0].plot(x, soft_round(x, alpha), label=rf"$\alpha$ = {alpha:g}")
    axes[1].plot(x, soft_round_inverse(x, alpha), label=rf"$\alpha$ = {alpha:g}")
axes[0].plot(x, torch.round(x), "k:", lw=1, label="round")
axes[0].set_title(r"soft rounding $s_\alpha(x)$"); axes[1].set_title(r"its inverse $s_\alpha^{-1}(y)$")
for ax in axes:
    ax.set_aspect("equal"); ax.grid(alpha=0.3); ax.legend(fontsize=8)
plt.show()

# the slope at an integer (where latents should sit) and at a half-integer (a tie)
for alpha in (0.5, 2.0, 5.0, 12.0):
    p = torch.tensor([0.0, 0.5], requires_grad=True)
    soft_round(p, alpha).sum().backward()
    print(f"alpha {alpha:>4}: slope at 0 = {p.grad[0]:.3f}, at 0.5 = {p.grad[1]:.3f}")


# %% [markdown]
# The proxy from scratch: soft rounding, noise, soft rounding again. With the same random state
# it must agree with `quantize(y, "soft", alpha=...)`, also around per-element offsets.

# %%
def soft_proxy(y, alpha):
    u = torch.empty_like(y).uniform_(-0.5, 0.5)
    return soft_round_ours(soft_round_ours(y, alpha) + u, alpha)


y = 3 * torch.randn(10_000, generator=torch.Generator().manual_seed(2))
mu = torch.randn(10_000, generator=torch.Generator().manual_seed(3))
for alpha in (0.5, 2.0, 5.0, 20.0):
    torch.manual_seed(2); ours = soft_proxy(y, alpha)
    torch.manual_seed(2); lib = quantize(y, "soft", alpha=alpha)
    assert torch.allclose(ours, lib, atol=1e-5), alpha
    torch.manual_seed(2); ours = soft_proxy(y - mu, alpha) + mu
    torch.manual_seed(2); lib = quantize(y, "soft", means=mu, alpha=alpha)
    assert torch.allclose(ours, lib, atol=1e-5), alpha
print("from-scratch s(s(y) + u) matches quantize(y, 'soft') for alpha in 0.5, 2, 5, 20")

# %% [markdown]
# The price of sharpness is visible in the slopes: near integers $s_\alpha$ flattens (little
# gradient), near the ties it steepens. Large $\alpha$ approaches rounding, with its vanishing
# gradients; small $\alpha$ approaches the noise proxy. This is why $\alpha$ is usually
# *annealed*, started small and raised during training (section 3.8).
#
# ## 3.5 Stochastic Gumbel annealing (SGA)
#
# Yang, Bamler & Mandt (2020) round to one of the two nearest integers at random, relaxed so
# that gradients flow. With $\lfloor x \rfloor$ and $\lfloor x \rfloor + 1$ at distances
# $d_0 = x - \lfloor x \rfloor$ and $d_1 = 1 - d_0$, the logits
# $\ell_i = -\operatorname{artanh}(d_i) / \tau$ favour the nearer integer, more and more
# decisively as the temperature $\tau$ shrinks. A Gumbel-softmax sample (Jang et al. 2017;
# Maddison et al. 2017) turns them into soft one-hot weights,
#
# $$
# w = \operatorname{softmax}(\ell + g), \quad g_i \sim \text{Gumbel}(0, 1), \qquad
# \tilde y = w_0 \lfloor x \rfloor + w_1 (\lfloor x \rfloor + 1).
# $$
#
# (`codec_lib` uses a Gumbel-softmax temperature of 1 on top of the $1/\tau$ in the logits; the
# paper's reference code uses $\tau$ for both. Either way $\tau \to 0$ gives rounding.) A
# Gumbel sample is $-\log E$ with $E$ exponential, which is how PyTorch draws it, so with the
# same generator state our version reproduces the library's to the last bit.

# %%
def sga(x, tau):
    lo = torch.floor(x)
    d = torch.stack([x - lo, lo + 1 - x], dim=-1).clamp(-1 + 1e-5, 1 - 1e-5)
    logits = -torch.atanh(d) / tau
    g = -torch.empty_like(logits).exponential_().log()          # Gumbel(0, 1) noise
    w = torch.softmax(logits + g, dim=-1)
    return w[..., 0] * lo + w[..., 1] * (lo + 1)


torch.manual_seed(3); ours = sga(x, 0.4)
torch.manual_seed(3); lib = quantize(x, "sga", tau=0.4)
assert torch.equal(ours, lib)

# Mean and spread of SGA's output over many draws, for x on a grid, as tau shrinks
xs = torch.linspace(-1, 1, 201)
torch.manual_seed(4)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for tau in (2.0, 0.5, 0.2, 0.05):
    draws = quantize(xs.expand(2000, -1), "sga", tau=tau)        # (2000 draws, 201 points)
    axes[0].plot(xs, draws.mean(0), label=rf"$\tau$ = {tau:g}")
    axes[1].plot(xs, draws.var(0), label=rf"$\tau$ = {tau:g}")
    print(f"tau {tau:>4}: mean |E[y~] - round(x)| = {(draws.mean(0) - xs.round()).abs().mean():.3f}, "
          f"mean Var[y~] = {draws.var(0).mean():.4f}")
axes[0].plot(xs, xs.round(), "k:", lw=1, label="round")
axes[0].set_title(r"$E[\tilde y]$ over Gumbel draws"); axes[1].set_title(r"Var$[\tilde y]$")
for ax in axes:
    ax.set_xlabel("x"); ax.grid(alpha=0.3); ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# At large $\tau$ both neighbours become equally likely: the mean flattens towards the
# midpoint $\lfloor x \rfloor + \tfrac12$ and the variance is large. Around $\tau = 0.5$ the
# mean is close to $x$ itself, a noisy identity; as $\tau$ shrinks it becomes the rounding
# staircase and the variance collapses, except right at the ties, where the choice stays a coin
# flip. SGA was proposed for refining
# the latents of one image at encoding time, where $\tau$ can be annealed to nearly zero.
#
# ## 3.6 Mixed quantization
#
# Minnen & Singh (2020) use a different proxy for each of the two consumers of $\hat y$: the
# entropy model sees noise, $\tilde y = y + u$, whose density interpolates the pmf (section
# 3.2), and the synthesis transform sees straight-through rounding, the exact values it will
# decode at test time (section 3.3). This is `codec_lib`'s default, `proxy="mixed"`. In a
# factorized-prior model:
#
# ```python
# y = g_a(x)
# _, likelihoods = entropy_bottleneck(y, mode="noise")    # rate term: p(y + u)
# y_hat = ste_round(y - medians) + medians                # decoder input: rounded, gradient 1
# x_hat = g_s(y_hat)
# ```
#
# ## 3.7 The train/test mismatch, measured
#
# We train the same small factorized-prior model (Ballé et al. 2017) four times, identical
# except for the proxy, on random 64×64 crops of the embedded photos. Then for each model we
# compute the rate-distortion loss twice on the same held-out centre crops:
#
# * **proxy** (what training optimized): the model in train mode, the proxy active, rate
#   $-\log_2$ of its likelihoods; averaged over a few random draws;
# * **real** (what the codec delivers): eval mode, hard rounding around the medians, rate
#   $-\log_2 P(\hat y)$ from the same entropy model (`evaluate_loss`).
#
# These are **tiny models trained for seconds** on a handful of photos, so their absolute
# quality is poor; the point is the *gap* between the two columns, which is what each proxy
# gets wrong.

# %%
LMBDA, STEPS = 0.013, 200
PROXIES = ("noise", "ste", "mixed", "soft")
images = []
for name, img in eval_images(limit=4):        # centre 128×128 crop of each photo
    t = to_tensor(img)
    H, W = t.shape[-2:]
    images.append(t[..., (H - 128) // 2:(H + 128) // 2, (W - 128) // 2:(W + 128) // 2])


@torch.no_grad()
def proxy_loss(model, images, lmbda, draws=4):
    """Mean RD loss, bpp, MSE with the model in train mode (the proxy active), seeded."""
    model.train()
    torch.manual_seed(0)
    rows = [{k: float(v) for k, v in rd_loss(model(x), x, lmbda).items()}
            for _ in range(draws) for x in images]
    model.eval()
    return {k: np.mean([r[k] for r in rows]) for k in rows[0]}


def train(proxy, steps=STEPS, **kw):
    with tempfile.TemporaryDirectory() as out:          # fit writes a checkpoint there
        cfg = TrainConfig(arch="factorized", N=32, M=48, crop=64, batch_size=4, steps=steps,
                          lr=1e-3, lmbda=LMBDA, proxy=proxy, out=out, **kw)
        model = fit(cfg, progress=False)
    model.proxy = proxy
    return model


models, rows, t0 = {}, [], time.time()
for proxy in PROXIES:
    t1 = time.time()
    models[proxy] = model = train(proxy)
    p, r = proxy_loss(model, images, LMBDA), evaluate_loss(model, images, LMBDA)
    rows.append({"proxy": proxy, "train_s": time.time() - t1, "bpp_proxy": p["bpp"],
                 "bpp_real": r["bpp"], "mse_proxy": p["mse"], "mse_real": r["mse"],
                 "loss_proxy": p["loss"], "loss_real": r["loss"]})
print(f"trained {len(PROXIES)} models × {STEPS} steps in {time.time() - t0:.0f} s\n")

psnr = lambda mse: -10 * np.log10(mse)
print(f"{'proxy':>6} | {'bpp proxy':>9} {'bpp real':>8} | {'PSNR proxy':>10} {'PSNR real':>9} | "
      f"{'loss proxy':>10} {'loss real':>9} {'gap':>7}")
for r in rows:
    print(f"{r['proxy']:>6} | {r['bpp_proxy']:9.3f} {r['bpp_real']:8.3f} | {psnr(r['mse_proxy']):10.2f} "
          f"{psnr(r['mse_real']):9.2f} | {r['loss_proxy']:10.3f} {r['loss_real']:9.3f} "
          f"{r['loss_real'] - r['loss_proxy']:+7.3f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
pos = np.arange(len(rows))
for ax, key, title in zip(axes, ("bpp", "psnr", "loss"),
                          ("rate gap: real − proxy (bpp)", "PSNR gap: real − proxy (dB)",
                           r"loss gap: real − proxy ($R + \lambda D$)")):
    if key == "psnr":
        gap = [psnr(r["mse_real"]) - psnr(r["mse_proxy"]) for r in rows]
    else:
        gap = [r[f"{key}_real"] - r[f"{key}_proxy"] for r in rows]
    ax.bar(pos, gap, color=[f"C{i}" for i in pos])
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(pos, [r["proxy"] for r in rows]); ax.set_title(title)
plt.tight_layout()
plt.show()

# %% [markdown]
# How to read the table (the numbers above are recomputed on every run):
#
# * **noise** trains the decoder on $y + u$. At test time it gets rounded latents instead, a
#   different perturbation than the one it learned to undo, so the real PSNR differs from the
#   training-time one; the rate term, by contrast, is estimated well, since the noisy density
#   passes through the pmf (section 3.2).
# * **ste** has no distortion gap at all: the decoder sees exactly the rounded latents in both
#   modes. Its rate is the likelihood of the integers in both modes too, so the columns agree;
#   what it gives up is not visible here but in the quality of its gradients (and therefore in
#   the loss reached in the same number of steps).
# * **mixed** takes the noise proxy's rate and straight-through's distortion: its distortion
#   gap is zero by construction, and its rate gap is the small one of the noise proxy.
# * **soft** ($\alpha = 5$ throughout here): $s_5(s_5(y) + u)$ sits between the noise proxy
#   and rounding. The outer soft rounding pulls the noisy values towards the integers but, at
#   this moderate $\alpha$, only part of the way (section 3.8 measures how far), so the decoder
#   still trains on perturbed latents and the rate is evaluated off the integers; its gap is
#   whatever the table shows for that compromise. Section 3.8 varies and anneals $\alpha$.
#
# The gap is an error in the *objective*: training minimizes the proxy column, the user pays the
# real one. A proxy with a small gap lets the optimizer see the real trade-off.

# %% [markdown]
# ## 3.8 Annealing the sharpness of a proxy
#
# Soft rounding and SGA have a knob: a soft proxy (small $\alpha$, large $\tau$) gives smooth,
# informative gradients; a sharp one (large $\alpha$, small $\tau$) is closer to rounding but
# its gradients vanish or become very noisy. Both papers therefore *anneal*: start soft and
# sharpen during training. First, without retraining, the gap of the `soft` model from
# section 3.7 as a function of the $\alpha$ it is *evaluated* with (only the train-mode proxy
# changes; the weights are fixed). Since $s_\alpha(s_\alpha(y) + u) \to \lfloor y \rceil$, the
# proxy loss of these fixed weights must approach the real loss as $\alpha$ grows; the last,
# very sharp $\alpha$ is there to show the limit.

# %%
soft = models["soft"]
real = evaluate_loss(soft, images, LMBDA)["loss"]
alphas = [1.0, 2.0, 5.0, 10.0, 20.0, 200.0]
gaps = []
for alpha in alphas:
    soft.proxy_kw = {"alpha": alpha}
    gaps.append(real - proxy_loss(soft, images, LMBDA)["loss"])
soft.proxy_kw = {}
print("alpha:                  ", alphas)
print("loss gap (real − proxy):", np.round(gaps, 3))
print(f"|gap| at alpha = {alphas[-1]:g} is {abs(gaps[-1]) / abs(gaps[alphas.index(5.0)]):.0%} "
      f"of the |gap| at the training value alpha = 5")

# %% [markdown]
# The outer soft rounding is what makes this limit rounding. Without it, the proxy would be
# $s_\alpha(y) + u$ (soft rounding followed by noise), and as $\alpha \to \infty$ that tends to
# $\lfloor y \rceil + u$, not to $\lfloor y \rceil$: however sharp $\alpha$, the decoder would
# keep seeing noise and the rate term would be evaluated between the integers, so annealing
# $\alpha$ could not close the gap. Agustsson & Theis (2020) soft-round once more for this
# reason. With the same noise $u$ for both, the distance to rounding:

# %%
torch.manual_seed(5)
y = 3 * torch.randn(100_000)
u = torch.empty_like(y).uniform_(-0.5, 0.5)
for alpha in (1.0, 5.0, 20.0, 80.0):
    once = soft_round(y, alpha) + u
    twice = soft_round(once, alpha)
    print(f"alpha {alpha:>4}: mean |s(y) + u - round(y)| = {(once - y.round()).abs().mean():.3f}, "
          f"mean |s(s(y) + u) - round(y)| = {(twice - y.round()).abs().mean():.3f}")

# %% [markdown]
# Once soft-rounded, the error levels off at the size of the noise (the mean of $|u|$ is
# $\tfrac14$); twice soft-rounded, it goes to zero. But a large $\alpha$ also flattens
# $s_\alpha$ next to the integers (section 3.4), so training at a sharp $\alpha$ from the start
# would starve the encoder of gradient: $\alpha$ is annealed. SGA has no added noise at all: as
# $\tau \to 0$ its output *is* $\lfloor y \rceil$ (section 3.5), and $\tau$ is annealed the same
# way.
#
# `fit` runs the schedules: `TrainConfig.anneal` maps a proxy parameter to `(start, end)`, and
# at each step `fit` sets `model.proxy_kw[key]` to $\text{start}\,(\text{end}/\text{start})^{
# \text{step}/(\text{steps}-1)}$, a geometric schedule. We train the model of section 3.7
# twice more, with the same data, steps, learning rate and $\lambda$: SGA with $\tau$ lowered
# from 1 to 0.05, and soft rounding with $\alpha$ raised from 1 to 20. After training,
# `model.proxy_kw` holds the final value; we measure the gap along each schedule, ending there.

# %%
SCHEDULES = {"sga": {"tau": (1.0, 0.05)}, "soft": {"alpha": (1.0, 20.0)}}
annealed, sweeps = {}, {}
for proxy, anneal in SCHEDULES.items():
    t1 = time.time()
    annealed[proxy] = model = train(proxy, anneal=anneal)         # fit, out= a temporary folder
    (key, (start, _)), = anneal.items()
    final = model.proxy_kw[key]                                   # where the schedule ended
    real = evaluate_loss(model, images, LMBDA)
    print(f"{proxy}, {key} annealed {start:g} -> {final:g}: {time.time() - t1:.0f} s; "
          f"real (rounding): loss {real['loss']:.3f}, {real['bpp']:.3f} bpp, {real['psnr']:.2f} dB")
    grid = np.geomspace(start, final, 5)                          # along the schedule
    gaps_ = []
    for v in grid:
        model.proxy_kw = {key: float(v)}
        p = proxy_loss(model, images, LMBDA)
        gaps_.append(real["loss"] - p["loss"])
        print(f"  proxy at {key} {v:6.3g}: loss {p['loss']:.3f} ({p['bpp']:.3f} bpp), "
              f"gap real − proxy {gaps_[-1]:+.3f}")
    model.proxy_kw = {key: final}
    sweeps[proxy] = (key, grid, gaps_)
    print(f"  |gap| at the final {key} is {abs(gaps_[-1]) / abs(gaps_[0]):.0%} of the |gap| at "
          f"{key} = {start:g}")
print(f"for comparison, the real loss of the 'mixed' run of section 3.7 is "
      f"{next(r['loss_real'] for r in rows if r['proxy'] == 'mixed'):.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].plot(alphas, np.abs(gaps), "o-", color="C3", label=r"trained at $\alpha$ = 5 (section 3.7)")
key, grid, g = sweeps["soft"]
axes[0].plot(grid, np.abs(g), "s-", color="C4", label=r"trained with $\alpha$ annealed 1 → 20")
axes[0].set_xscale("log"); axes[0].legend(fontsize=8)
axes[0].set_xlabel(r"$\alpha$ of the proxy (sharper to the right)")
axes[0].set_title(r"|loss gap|, soft proxy $s_\alpha(s_\alpha(y) + u)$")
key, grid, g = sweeps["sga"]
axes[1].plot(grid, np.abs(g), "o-", color="C1"); axes[1].set_xscale("log"); axes[1].invert_xaxis()
axes[1].set_xlabel(r"$\tau$ of the proxy (sharper to the right)")
axes[1].set_title(r"|loss gap|, SGA model trained with $\tau$ annealed 1 → 0.05")
plt.tight_layout()
plt.show()

# %% [markdown]
# At the sharp end of a schedule the proxy is close to rounding, so training ends up optimizing
# nearly the loss the codec delivers; the printed ratios say how close on this run. In between,
# the gap need not shrink monotonically (its sign can even flip: the proxy's random values near
# the ties can be cheaper or dearer than rounding for a given model), which is another reason to
# end a schedule at a sharp setting. How good a loss a run *reaches* is a separate question: it
# depends on the quality of the gradients along the way, and with a couple of hundred steps on a
# few photos that comparison is noisy (compare the real losses printed above); real runs anneal
# over hundreds of thousands of steps.
#
# ## 3.9 Annealing at encoding time: refining one image's latents
#
# Training makes $g_a$ good *on average*; for one given image its $y = g_a(x)$ is a fast guess,
# not the best latent for that image. The gap between the two is the *amortization gap*. With
# the decoder and entropy model fixed, we can descend the image's own loss
# $R(\hat y, \hat z) + \lambda\, 255^2\, \mathrm{MSE}(x, g_s(\hat y))$ on the latents $y$
# and $z$ themselves (Campos et al. 2019), with SGA as the proxy and $\tau$ annealed towards
# rounding (Yang et al. 2020, who proposed SGA for exactly this). Nothing about the file format
# changes: the decoder reads the refined latents as it reads any others. We refine a 256×256 crop
# with the shipped default model, keeping the best latents under real rounding:

# %%
from codec_lib import zoo
from codec_lib.codec import encode_image
from codec_lib.metrics import psnr
from codec_lib.refine import rd_of_latents, refine_latents

model = zoo.load_model()                                         # the default: mean-scale q4
photo = eval_images(limit=1)[0][1].convert("RGB")
crop = photo.crop((photo.width // 2 - 128, photo.height // 2 - 128,
                   photo.width // 2 + 128, photo.height // 2 + 128))
x = to_tensor(crop)                                               # (1, 3, 256, 256)
for p in model.parameters():
    p.requires_grad_(False)                                       # only the latents move


def rd(y, z, mode, **kw):                                         # R + lmbda D of latents (y, z)
    z_hat, z_lik = model.entropy_bottleneck(z, mode=mode, **kw)
    scales, means = model._params(z_hat)                          # h_s(z_hat)
    y_hat, y_lik = model.gaussian_conditional(y, scales, means=means, mode=mode, **kw)
    x_hat = model.g_s(y_hat).clamp(0, 1)
    bpp = (-torch.log2(y_lik).sum() - torch.log2(z_lik).sum()) / (256 * 256)
    return bpp + model.lmbda * 255**2 * torch.mean((x_hat - x) ** 2)


STEPS, TAU = 60, (0.5, 0.05)
torch.manual_seed(0)                                              # SGA draws Gumbel noise
with torch.no_grad():
    y0 = model.g_a(x); z0 = model.h_a(y0)
y, z = y0.clone().requires_grad_(), z0.clone().requires_grad_()
opt = torch.optim.Adam([y, z], lr=0.1)
with torch.no_grad():
    best = (float(rd(y, z, "round")), y0.clone(), z0.clone())
start = best[0]
for step in range(STEPS):
    tau = TAU[0] * (TAU[1] / TAU[0]) ** (step / (STEPS - 1))    # geometric annealing
    loss = rd(y, z, "sga", tau=tau)
    opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        real = float(rd(y, z, "round"))                           # what the file would cost
    if real < best[0]:
        best = (real, y.detach().clone(), z.detach().clone())
print(f"RD loss under rounding: g_a's latents {start:.4f}, refined {best[0]:.4f} "
      f"({100 * (best[0] / start - 1):+.1f} %)")

# %% [markdown]
# The library's `codec_lib.refine` is this loop (it checks the rounded loss every 10 steps
# rather than every step). Its loss function agrees with ours on the same latents, and its
# refinement also improves on $g_a$:

# %%
with torch.no_grad():
    lib = float(rd_of_latents(model, {"y": best[1], "z": best[2]}, x, (256, 256))["loss"])
assert abs(lib - best[0]) < 1e-4, (lib, best[0])
res = refine_latents(model, x, steps=STEPS)
print(f"library: {res['history'][0]['loss']:.4f} -> {min(h['loss'] for h in res['history']):.4f}")
assert min(h["loss"] for h in res["history"]) < res["history"][0]["loss"]

# %% [markdown]
# Now real files. `encode_image(img, model, refine=STEPS)` (or `codec-lib compress --refine
# STEPS`) refines and then codes: the bytes are what the decoder reads, the PSNR is of the
# decoded image.

# %%
for steps in (0, 30, 100):
    t0 = time.time()
    enc = encode_image(crop, model, refine=steps)
    bpp = 8 * len(enc.data) / (256 * 256)
    q = psnr(crop, enc.x_hat)
    print(f"refine {steps:>3} steps: {bpp:.4f} bpp, {q:.2f} dB, "
          f"RD loss {bpp + model.lmbda * 255**2 * 10 ** (-q / 10):.4f}, encoded in {time.time() - t0:.1f} s")
for p in model.parameters():
    p.requires_grad_(True)

# %% [markdown]
# Refinement buys a lower rate-distortion loss from the same model and the same decoder: here
# mostly a higher PSNR for about the same bits (on Kodak, fewer bits *and* a higher PSNR at every
# rate); the price is encoding time: each step is a forward and a backward pass through the whole codec,
# so a refined encoding takes many plain encodings' time (printed above). Most of the gain comes
# in the first few tens of steps. README's "Encoder-side refinement" section measures it on Kodak.
# Like the proxies of this chapter it is an approximation: SGA only ends *near* rounding, which
# is why the loop keeps the best latents under real rounding rather than the last ones.
#
# ## Summary
#
# * An entropy coder codes integers, so a codec must round; rounding has zero derivative almost
#   everywhere, so training needs a differentiable proxy, and evaluation swaps in real rounding.
# * **Additive uniform noise** $y + u$ has gradient one and a density that passes through the pmf
#   of the rounded latent: a good proxy for the rate, a mismatched one for the decoder.
# * **Straight-through rounding** rounds forward and passes gradients unchanged: no mismatch for
#   the decoder, biased gradients, and no between-integer signal for the rate.
# * **Mixed** quantization uses noise for the rate and straight-through for the decoder; it is
#   `codec_lib`'s default.
# * **Soft rounding** $s_\alpha$ and **stochastic Gumbel annealing** interpolate with a
#   sharpness knob ($\alpha$ up, $\tau$ down), which is annealed (`TrainConfig.anneal`). The
#   soft-rounding proxy $s_\alpha(s_\alpha(y) + u)$ of Agustsson & Theis (2020), `codec_lib`'s
#   `"soft"`, goes from the noise proxy ($\alpha \to 0$) to rounding ($\alpha \to \infty$); SGA
#   goes to rounding as $\tau \to 0$.
# * Annealing can close the gap only if the sharp limit is rounding itself: true for SGA and for
#   $s_\alpha(s_\alpha(y) + u)$, not for $s_\alpha(y) + u$, whose noise stays however large
#   $\alpha$ is; the outer soft rounding is what removes it.
# * The train/test gap is measurable: compare the loss in train mode with the loss in eval mode
#   on the same images. It is an error in the objective that training optimizes.
# * At encoding time the same proxies refine one image's latents with the model fixed
#   (`codec_lib.refine`): fewer bits and a higher PSNR from the same decoder, for a much slower
#   encoder.
#
# ## References
#
# * J. Ballé, V. Laparra, E. P. Simoncelli. End-to-end optimized image compression. *ICLR*, 2017.
# * L. Theis, W. Shi, A. Cunningham, F. Huszár. Lossy image compression with compressive
#   autoencoders. *ICLR*, 2017.
# * Y. Bengio, N. Léonard, A. Courville. Estimating or propagating gradients through stochastic
#   neurons for conditional computation. arXiv:1308.3432, 2013.
# * E. Agustsson, L. Theis. Universally quantized neural compression. *NeurIPS*, 2020.
# * Y. Yang, R. Bamler, S. Mandt. Improving inference for neural image compression. *NeurIPS*,
#   2020.
# * J. Campos, S. Meierhans, A. Djelouah, C. Schroers. Content adaptive optimization for neural
#   image compression. *CVPR Workshops*, 2019.
# * D. Minnen, S. Singh. Channel-wise autoregressive entropy models for learned image
#   compression. *ICIP*, 2020.
# * E. Jang, S. Gu, B. Poole. Categorical reparameterization with Gumbel-softmax. *ICLR*, 2017.
# * C. J. Maddison, A. Mnih, Y. W. Teh. The concrete distribution: a continuous relaxation of
#   discrete random variables. *ICLR*, 2017.
#
# ## Exercises
#
# Replace each `None` with your answer and run the check cell; it prints a verdict and a hint,
# never the solution.
#
# **03.1 Quantization noise.** Write `noise_variance(delta)`: the variance of the rounding error
# $Q_\Delta(y) - y$ of a uniform quantizer with step $\Delta$,
# $Q_\Delta(y) = \Delta \lfloor y / \Delta \rceil$, for latents $y$ spread over many steps.
# (For $\Delta = 1$ this is the variance of the noise proxy's $u$.) The checker measures it with
# `codec_lib` for several steps.

# %%
def noise_variance(delta):
    ...  # your code here


answer = None  # when your function is ready: answer = noise_variance

# %%
check("03.1", answer);

# %% [markdown]
# **03.2 Straight-through by hand.** Without calling `codec_lib` or looking at section 3.3,
# write `ste(y)` for a float tensor: its value must be `torch.round(y)`, and its gradient with
# respect to `y` must be exactly one per element.

# %%
def ste(y):
    ...  # your code here


answer = None  # when your function is ready: answer = ste

# %%
check("03.2", answer);

# %% [markdown]
# **03.3 Soft rounding.** Write `soft_round_fn(x, alpha)` computing $s_\alpha(x)$ of section
# 3.4 for a float tensor `x` and a positive float `alpha`. What do you get at $x = 0.25$ for
# $\alpha = 5$, and why is $s_\alpha(0.5) = 0.5$ for every $\alpha$?

# %%
def soft_round_fn(x, alpha):
    ...  # your code here


answer = None  # when your function is ready: answer = soft_round_fn

# %%
check("03.3", answer);

# %% [markdown]
# **03.4 The noisy density at the integers.** Latents $y \sim \mathcal N(0, \sigma^2)$. Write
# `p_round(k, sigma)`: the probability $P(\lfloor y \rceil = k)$ that rounding gives the
# integer `k`, which is also the density of $y + u$ at $k$ (section 3.2). Hint: the Gaussian CDF
# is `0.5 * (1 + math.erf(t / math.sqrt(2)))`.

# %%
def p_round(k, sigma):
    ...  # your code here


answer = None  # when your function is ready: answer = p_round

# %%
check("03.4", answer);
