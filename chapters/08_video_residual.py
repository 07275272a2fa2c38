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
# # Chapter 8: Motion-compensated video coding
#
# **What you will learn.**
#
# * Why video codecs code *differences in time*, measured in bits on real frames: a frame on its
#   own, its difference from the previous frame, and its difference from a motion-compensated
#   prediction.
# * Block matching, the motion estimator of MPEG and H.26x, written from scratch and checked
#   against `codec_lib.motion`; backward warping with a dense flow field.
# * The neural counterpart, in the manner of DVC (Lu et al. 2019): learned motion estimation,
#   motion compression, motion compensation and residual compression, run step by step on real
#   frames with the bits each part spends.
# * Low-delay P coding of a whole sequence into a real file: per-frame bits and quality, how
#   errors travel from frame to frame, and where our small CPU-trained codec stands against
#   all-intra coding and against x264 and x265.
#
# **Why it matters.** Consecutive frames of a video are nearly the same picture, moved. An image
# codec run on every frame pays again and again for what the decoder has already seen. Every
# video codec in use, classic or learned, is built on one idea: predict the frame from what was
# decoded, and code only what the prediction missed.

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from codec_lib import zoo
from codec_lib.bdrate import bd_rate
from codec_lib.data import results_dir, to_tensor
from codec_lib.exercises import check
from codec_lib.metrics import psnr
from codec_lib.motion import block_match, flow_to_rgb, warp
from codec_lib.video_codec import decode_video, encode_video
from codec_lib.video_format import unpack_video
from codec_lib.video_io import eval_clip

torch.set_num_threads(1)
plt.rcParams.update({"figure.dpi": 80, "axes.titlesize": 10})
t_start = time.time()
clip_name, frames = eval_clip(16)               # BasketballPass (with CODEC_LIB_DATA) or embedded
T, H, W, _ = frames.shape
print(f"{clip_name}: {T} frames of {W}x{H}")

fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for ax, t in zip(axes, (0, 1, 8)):
    ax.imshow(frames[t]), ax.set_title(f"frame {t}"), ax.axis("off")
plt.show()

# %% [markdown]
# ## 8.1 Temporal redundancy, in bits
#
# A quick measure of how much there is to code: the *first-order entropy* of a signal, the bits
# per sample of an ideal entropy coder that knows the histogram of values but nothing else. We
# compare the luma of frame 1 on its own, its difference from frame 0, and its difference from a
# motion-compensated prediction of it made from frame 0.

# %%
def luma(rgb):
    return np.asarray(rgb, np.float64) @ [0.299, 0.587, 0.114]          # (H, W), BT.601 weights


def entropy_bits(values):
    """First-order entropy (bits per sample) of integer values."""
    _, counts = np.unique(np.round(values).astype(np.int64), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


y0, y1 = luma(frames[0]), luma(frames[1])
print(f"frame 1 alone:            {entropy_bits(y1):.2f} bits/pixel")
print(f"frame 1 - frame 0:        {entropy_bits(y1 - y0):.2f} bits/pixel")

# %% [markdown]
# The plain difference already helps where nothing moves, but wherever the content or the camera
# move it leaves edges twice over. Classic codecs first *find* the motion.
#
# ## 8.2 Block matching, from scratch
#
# Cut the current frame into 16x16 blocks. For each block, try every integer displacement
# `(dy, dx)` within a search radius in the reference frame and keep the one with the smallest
# sum of absolute differences (SAD). The result is a motion vector per block, which a codec
# would send; here we spread it over the block's pixels as a **backward flow** `(2, H, W)`: the
# prediction of pixel `p` reads the reference at `p + flow(p)`.

# %%
def my_block_match(cur, ref, block=16, radius=7):
    H, W = cur.shape
    nby, nbx = -(-H // block), -(-W // block)
    pad = np.pad(ref, radius, mode="edge")                         # borders replicate
    best, flow = np.full((nby, nbx), np.inf), np.zeros((2, nby, nbx))
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            shifted = pad[radius + dy: radius + dy + H, radius + dx: radius + dx + W]
            ad = np.pad(np.abs(cur - shifted), ((0, nby * block - H), (0, nbx * block - W)))
            sad = ad.reshape(nby, block, nbx, block).sum(axis=(1, 3))   # (nby, nbx) SAD per block
            better = sad < best
            best[better], flow[0][better], flow[1][better] = sad[better], dx, dy
    return flow.repeat(block, 1).repeat(block, 2)[:, :H, :W]          # (2, H, W): x, then y


flow_bm = my_block_match(y1, y0)
assert np.array_equal(flow_bm, block_match(y1, y0))                  # the library's block matcher


def predict(ref_rgb, flow):
    """Backward warp (codec_lib.motion.warp): ``(H, W, 3)`` uint8 -> float prediction."""
    x = torch.from_numpy(np.asarray(ref_rgb, np.float64)).permute(2, 0, 1)[None]
    return warp(x, torch.as_tensor(flow, dtype=torch.float64)[None])[0].permute(1, 2, 0).numpy()


# integer vectors make warping an exact copy of displaced pixels: check one block by hand
pred_bm = predict(frames[0], flow_bm)
dx, dy = flow_bm[:, 100, 200].astype(int)
assert np.allclose(pred_bm[96:112, 192:208], frames[0][96 + dy:112 + dy, 192 + dx:208 + dx])
print(f"frame 1 - block-matched:  {entropy_bits(y1 - luma(pred_bm)):.2f} bits/pixel")
print(f"prediction PSNR: copy of frame 0 {psnr(frames[1], frames[0]):.2f} dB, "
      f"block matching {psnr(frames[1], pred_bm.round().clip(0, 255).astype(np.uint8)):.2f} dB")

# %% [markdown]
# The colour of the flow image gives the direction of motion and its saturation the length (the
# usual optical-flow colour wheel; white: no motion).

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
axes[0].imshow(flow_to_rgb(flow_bm)), axes[0].set_title("block-matching flow (16x16, +-7 px)")
axes[1].imshow(np.abs(y1 - y0), cmap="gray", vmax=60), axes[1].set_title("|frame 1 - frame 0|")
axes[2].imshow(np.abs(y1 - luma(pred_bm)), cmap="gray", vmax=60)
axes[2].set_title("|frame 1 - block-matched prediction|")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# A classic P-frame is this prediction plus a transform-coded residual (the DCT of chapter 1),
# with the motion vectors entropy coded beside it. H.264 refines the idea a long way: variable
# block sizes, quarter-pixel vectors with interpolation filters, several reference frames,
# in-loop deblocking and a rate-distortion search over all of it.
#
# ## 8.3 The learned version: DVC's four steps
#
# DVC (Lu et al. 2019) keeps the structure and makes every module a network trained end to end
# on the video rate-distortion loss `R_motion + R_residual + lmbda * 255^2 * MSE`:
#
# 1. **motion estimation** `v = ME(x_t, x_ref)`: a dense flow from a network (DVC used a
#    pre-trained optical-flow network; ours is a small encoder-decoder trained with the codec);
# 2. **motion compression**: `v` coded by a mean-scale hyperprior on two channels (chapter 4),
#    decoded as `v_hat`;
# 3. **motion compensation**: `x_pred = refine(warp(x_ref, v_hat), x_ref, v_hat)`, a warp corrected
#    by a small network;
# 4. **residual compression**: `r = x_t - x_pred` coded by a second hyperprior; `x_hat = x_pred + r_hat`.
#
# The reference `x_ref` is always the previous *decoded* frame, so the decoder can repeat steps 3
# and 4 exactly. `codec_lib.video_models.ResidualVideoCodec` is this codec; the shipped one was
# trained on the CPU, on clips synthesised from BSDS500 photos and a real clip (never on
# BasketballPass), coding each clip from its own decoded frames (its manifest entry says how):

# %%
entry = zoo.resolve("video-residual", 4)
tr = entry["training"]
info = {m["name"]: m for m in zoo.list_models()}["video-residual"]
print(f"video-residual: qualities {info['qualities']}, lmbdas {info['lmbdas']}, one file of "
      f"{entry['bytes'] / 1e6:.1f} MB, {tr.get('total_steps', tr['steps']):,} steps on {tr['device']} "
      f"({tr.get('total_wall_s', tr['wall_s']) / 60:.0f} min)")
print("trained on:", tr["data"].replace(", ", "\n            "))
model = zoo.load_model("video-residual", 4)
print(f"quality 4: P-frames at lmbda = {model.lmbda}, frame 0 with {model.intra.codec_name} "
      f"q{model.intra.codec_quality}")

# %% [markdown]
# One model serves every rate: each quantized latent passes a learned per-channel **gain**
# (`codec_lib.video_models.Gain`; Cui et al. 2021) chosen by the quality, so a higher quality
# quantizes more finely. Now the four steps by hand, on frame 1 predicted from the decoded frame 0:

# %%
x0_hat = encode_video(frames[:1], model).frames[0]                 # frame 0, intra coded
x, x_ref = to_tensor(frames[1]), to_tensor(x0_hat)                  # (1, 3, H, W) in [0, 1]
with torch.no_grad():
    v = model.motion_estimator(x, x_ref)                            # 1. (1, 2, H, W) pixels
    m = model.motion_coder.compress(v, return_x_hat=True)           # 2. bits for the flow
    v_hat = m["x_hat"]
    x_pred = model.predict(x_ref, v_hat)                            # 3. warp + refine
    r = model.residual_coder.compress(x - x_pred, return_x_hat=True)  # 4. bits for the residual
    x_hat = (x_pred + r["x_hat"]).clamp(0, 1)
bits = {"motion": 8 * sum(len(s[0]) for s in m["strings"]),
        "residual": 8 * sum(len(s[0]) for s in r["strings"])}
for k, b in bits.items():
    print(f"{k:>8}: {b:6d} bits = {b / (H * W):.4f} bpp")

# the library's compress() runs the same four steps: same bytes, same decoded frame
groups, x_hat_lib = model.compress(x, x_ref)
assert 8 * sum(len(g[0]) for g in groups) == sum(bits.values())
assert torch.equal((x_hat * 255).round(), (x_hat_lib * 255).round())


def img(t):
    return t[0].permute(1, 2, 0).clamp(0, 1).numpy()


def show(t, ax, title):
    ax.imshow(t), ax.set_title(title), ax.axis("off")


u8 = lambda t: (t[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()
fig, axes = plt.subplots(2, 3, figsize=(12, 5.5))
show(flow_to_rgb(v[0]), axes[0, 0], "learned flow v")
show(flow_to_rgb(v_hat[0]), axes[0, 1], f"decoded flow v_hat ({bits['motion']} bits)")
show(img(x_pred), axes[0, 2], f"prediction x_pred, {psnr(frames[1], u8(x_pred)):.2f} dB")
show(img(0.5 + 2 * (x - x_pred)), axes[1, 0], "residual x - x_pred (x2)")
show(img(0.5 + 2 * r["x_hat"]), axes[1, 1], f"decoded residual ({bits['residual']} bits)")
show(img(x_hat), axes[1, 2], f"x_hat, {psnr(frames[1], u8(x_hat)):.2f} dB")
plt.show()

# %%
preds = {"copy frame 0": x_ref, "block matching": predict(x0_hat, block_match(luma(frames[1]), luma(x0_hat))),
         "learned flow v (not coded)": warp(x_ref, v), "decoded flow v_hat": warp(x_ref, v_hat),
         "v_hat + refinement (x_pred)": x_pred}
for name, p in preds.items():
    p = p if isinstance(p, np.ndarray) else img(p) * 255
    print(f"{name:>28}: prediction PSNR {psnr(frames[1], p.round().clip(0, 255).astype(np.uint8)):.2f} dB")
bm = block_match(luma(frames[1]), luma(x0_hat))
print(f"mean motion: learned {v.abs().mean():.2f} px, block matching {np.abs(bm).mean():.2f} px")

# %% [markdown]
# **An honest look at the learned motion.** On these frames block matching predicts far better
# than the flow our small motion network estimates: trained end to end with the codec on a CPU
# budget (the steps printed at the start of 8.3, clips of 128x128 pixels), its flow does not
# predict the frame yet: frame 0 warped by it matches frame 1 worse than frame 0 itself does (the
# PSNRs above), though the codec spends a small share of the frame's bits on it (the motion bits
# printed earlier). What it saves on a frame comes from coding the frame's difference from the
# reference, with a learned transform and entropy model, and from the refinement network. That
# is a known difficulty: the rate term pulls the flow towards zero before the estimator has
# learned to find motion, which is why DVC starts from a pre-trained
# optical-flow network (SpyNet) and trains the motion parts in stages. Exercise 8.1 builds the
# block matcher that shows what is missing.

# %% [markdown]
# ## 8.4 A whole sequence, low-delay P
#
# `codec_lib.video_codec.encode_video` codes frame 0 with the intra model (an `I` chunk of the
# `.clv` file) and every later frame from the previous decoded one (`P` chunks); the decoder
# repeats it bit for bit. Next to it: the same frames all-intra with the image model the video
# model uses for frame 0.

# %%
enc = encode_video(frames, model)
kinds = [c.kind for c in unpack_video(enc.data)[1]]
sizes = [8 * sum(len(s) for g in c.groups for s in g) for c in unpack_video(enc.data)[1]]
assert np.array_equal(decode_video(enc.data), enc.frames)          # bit-exact, with the zoo's model
assert all(k == "P" for k in kinds[1:])
intra = encode_video(frames, model.intra)
intra_sizes = [8 * sum(len(s) for g in c.groups for s in g) for c in unpack_video(intra.data)[1]]
p_ours = [psnr(a, b) for a, b in zip(frames, enc.frames)]
p_intra = [psnr(a, b) for a, b in zip(frames, intra.frames)]
print(f"{''.join(kinds)}: {8 * len(enc.data) / (T * H * W):.4f} bpp, {np.mean(p_ours):.2f} dB; "
      f"all-intra {8 * len(intra.data) / (T * H * W):.4f} bpp, {np.mean(p_intra):.2f} dB")

fig, axes = plt.subplots(1, 2, figsize=(12, 3))
axes[0].bar(range(T), np.array(sizes) / (H * W), label="low-delay P")
axes[0].plot(range(T), np.array(intra_sizes) / (H * W), "k.-", label="all-intra")
axes[0].set_xlabel("frame"), axes[0].set_ylabel("bpp"), axes[0].legend()
axes[1].plot(p_ours, ".-", label="low-delay P"), axes[1].plot(p_intra, "k.-", label="all-intra")
axes[1].set_xlabel("frame"), axes[1].set_ylabel("PSNR (dB)"), axes[1].legend()
plt.show()

# %% [markdown]
# Two things to see. The I-frame costs several times a P-frame: that is the temporal redundancy
# the P-frames save. And the quality of the P-frames can *drift*: each frame is predicted from a
# decoded frame that carries the previous errors. Our training codes clips of four frames from
# the codec's own previous output for that reason (`codec_lib.video_train`); production codecs
# also insert intra frames at intervals, and learned codecs since DCVC-HEM train on longer chains
# and modulate quality frame by frame.
#
# ## 8.5 Where it stands
#
# The committed evaluation on the first 32 frames of BasketballPass (416x240, the JCT-VC class D
# sequence), made by `codec-lib eval-video` with the command in the results file. Rates are the
# real file bytes over all frames; PSNR is on 8-bit RGB, averaged over frames. x264 and x265
# run through PyAV with low-delay settings (no B-frames, one intra frame).

# %%
res = json.loads((results_dir() / "basketballpass32-video.json").read_text())
print(res["command"])
curves = {r["model"]: r for r in res["results"]}
fig, ax = plt.subplots(figsize=(6.5, 4))
for name in ("video-residual", "mean-scale", "x264", "x265"):
    r = curves[name]
    ax.plot([p["bpp"] for p in r["points"]], [p["psnr"] for p in r["points"]], "o-",
            label=f"{name} ({r.get('coding', 'low-delay P')})")
ax.set_xlabel("bpp"), ax.set_ylabel("PSNR (dB, RGB)"), ax.set_xscale("log"), ax.legend()
ax.set_title("BasketballPass, 32 frames, low-delay")
plt.show()
bd = {a: bd_rate(curves[a]["points"], curves["video-residual"]["points"]) for a in ("mean-scale", "x264", "x265")}
for anchor, v in bd.items():
    print(f"BD-rate of video-residual against {anchor:>10}: {v:+.1f} %")
assert bd["x264"] > 100                       # far behind x264 (see below)

# %% [markdown]
# Against all-intra coding with the same image model, our residual codec still loses (the
# BD-rate printed above: more than a quarter more rate at equal PSNR). Its P-frame parts were first
# trained with an earlier, much weaker image model (8,500 steps), against which they saved a
# quarter of the rate. The image model then trained on alone, to about 160,000 steps in
# twenty-three stages (two on a GPU), and each of its stages made all-intra coding better (at worst all-intra was 48 % ahead;
# the P-frame coders' own scale bounds, chapter 5, are tuned too since the last one);
# each of the eight stages of the P-frame parts against the image model of its time won part of
# that back (the README's table "How the gap to all-intra moved" lists every step). A P-frame
# codec has to be trained with the quality of reference it will see (the conditional codec of
# chapter 9, trained the same way, beat all-intra against the image models of its time, fell
# behind as the image model improved, was about 1 % ahead again after a stage against an earlier
# image model, level with the next one after one stage against it, and about 15 % behind today's,
# three image stages later; that stage did not help the residual codec on this sequence).
# Against x264 and x265 it is about eight times as expensive: it is small (about 1.3 M
# parameters), trained for about eight hours on one CPU core, and its motion estimator does not
# predict yet (see 8.3), while x264 is the product of decades of engineering. Published learned
# codecs trained for days on GPUs (DVC) roughly matched x264 in 2019, and the DCVC family has
# since passed H.266/VTM (chapter 9's references).
#
# ## References
#
# * G. Lu, W. Ouyang, D. Xu, X. Zhang, C. Cai, Z. Gao. *DVC: an end-to-end deep video
#   compression framework.* CVPR 2019.
# * T. Wiegand, G. J. Sullivan, G. Bjontegaard, A. Luthra. *Overview of the H.264/AVC video
#   coding standard.* IEEE TCSVT 2003.
# * Z. Cui, J. Wang, S. Gao, T. Guo, Y. Feng, B. Bai. *Asymmetric gained deep image compression
#   with continuous rate adaptation.* CVPR 2021.
#
# ## Exercises
#
# **8.1 Motion vectors by hand.** Write `best_vector(cur, ref, top, left, block, radius)` that
# returns the integer displacement `(dy, dx)` (each within `radius`) minimizing the SAD between
# the `block x block` block of `cur` at `(top, left)` and the block of `ref` at
# `(top + dy, left + dx)`. The checker keeps the blocks inside the frame; ties go to the first
# `(dy, dx)` in raster order.

# %%
answer = None   # e.g. def best_vector(cur, ref, top, left, block, radius): ...; answer = best_vector
check("08.1", answer);

# %% [markdown]
# **8.2 Bits per frame.** Given a `.clv` file's bytes, write `frame_bits(data)` returning the
# list of bits each frame's chunk spends on entropy-coded strings (use
# `codec_lib.video_format.unpack_video`).

# %%
answer = None   # e.g. def frame_bits(data): ...; answer = frame_bits
check("08.2", answer);

# %%
print(f"chapter ran in {time.time() - t_start:.0f} s")
