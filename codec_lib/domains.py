"""Image domains: photos and screen content, what tells them apart, and where a model's bits go.

A learned codec learns both its transforms and its entropy model from its training images (for
the shipped models, BSDS500 photos). On images of another *domain* both can be wrong: the
synthesis transform may never have learned to draw a one-pixel black stroke on white, and the
entropy model may expect the statistics of grass and skin. Chapter 10 measures how much that
costs against classic codecs, which were designed for any image.

The workflow::

    images = screen_images(limit=4)        # $CODEC_LIB_DATA/screen_content, or rendered pages
    image_stats(images[0][1])              # {"flat": 0.61, "palette": 0.54, "edges": 0.12}
    bits = rate_map(zoo.load_model(), images[0][1])    # (H/16, W/16) bits of y per position

Where screen content comes from, in order: a folder the caller names;
``$CODEC_LIB_DATA/screen_content`` (the project's shared data: 20 frames of a PDF page shown on
a screen, decoded from an H.264 test stream); else pages rendered here by :func:`render_screen`
with matplotlib's bundled DejaVu font: window chrome, paragraphs, a chart and a table, a function
of the seed only, so that nothing is downloaded.
"""
from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image

__all__ = ["render_screen", "screen_images", "image_stats", "rate_map"]

_SENTENCES = (
    "A codec maps an image to a short string of bits and back.",
    "The rate is counted in bits per pixel, the distortion as a PSNR in decibels.",
    "Transform coding decorrelates the pixels before they are quantized.",
    "An entropy model assigns each symbol a probability; the coder spends minus log2 of it.",
    "The hyperprior sends a little side information that describes the scales of the latents.",
    "Rounding has no useful gradient, so training replaces it by additive uniform noise.",
    "The Lagrangian R + lambda D trades bits for quality with a single number.",
    "Screen content has flat backgrounds, sharp edges and few colours.",
    "A camera image is smooth almost everywhere and noisy at the finest scale.",
    "Every number in this book is measured on real data with the command that made it.",
    "The decoder must reproduce exactly the probabilities that the encoder used.",
    "Block matching finds, for each block, the shift that best predicts it from the reference.",
)


def render_screen(seed: int = 0, size: tuple[int, int] = (768, 512)) -> Image.Image:
    """A synthetic screenshot ``size`` (width, height) in RGB: a window with a title bar, a menu,
    two columns of text, a line chart and a striped table, light or dark theme. Deterministic
    for a given ``seed`` (and matplotlib version)."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    rng = np.random.default_rng(seed)
    W, H = size
    dark = bool(rng.random() < 0.3)
    bg, fg = ("#1e1e1e", "#d4d4d4") if dark else ("#ffffff", "#1a1a1a")
    accent = ["#0b5cad", "#b5361d", "#2e7d32", "#6a3d9a"][rng.integers(4)]
    fig = Figure(figsize=(W / 100, H / 100), dpi=100, facecolor=bg)
    add = lambda *a, **k: fig.add_artist(Rectangle(*a, transform=fig.transFigure, **k))  # noqa: E731
    add((0, 1 - 28 / H), 1, 28 / H, color=accent)                       # title bar
    fig.text(12 / W, 1 - 19 / H, f"report_{seed:03d}.pdf - Viewer", color="white", fontsize=10)
    add((0, 1 - 50 / H), 1, 22 / H, color="#333333" if dark else "#eeeeee")   # menu bar
    for i, word in enumerate(("File", "Edit", "View", "Go", "Tools", "Help")):
        fig.text((12 + 52 * i) / W, 1 - 44 / H, word, color=fg, fontsize=9)
    left = 16 / W
    y = 1 - 78 / H
    fig.text(left, y, "Section %d. Results" % (1 + rng.integers(9)), color=fg, fontsize=13,
             weight="bold")
    y -= 26 / H
    for sentence in rng.permutation(_SENTENCES):                    # wrapped paragraphs
        line = ""
        for w in sentence.split():
            if len(line) + len(w) > 52:
                fig.text(left, y, line, color=fg, fontsize=9)
                y, line = y - 15 / H, ""
            line += w + " "
        fig.text(left, y, line, color=fg, fontsize=9)
        y -= 21 / H
        if y < 0.05:
            break
    ax = fig.add_axes((0.58, 0.52, 0.38, 0.34), facecolor=bg)        # a chart
    t = np.linspace(0.1, 2.0, 24)
    for k, c in enumerate((accent, "#888888")):
        ax.plot(t, 28 + (6 - k) * np.log1p(t) + rng.normal(0, 0.15, t.size), color=c,
                marker="os"[k], markersize=3, linewidth=1.2, label=["learned", "JPEG"][k])
    ax.grid(True, color="#444444" if dark else "#cccccc", linewidth=0.6)
    ax.tick_params(colors=fg, labelsize=8)
    for s in ax.spines.values():
        s.set_color(fg)
    ax.set_xlabel("bpp", color=fg, fontsize=8)
    ax.legend(fontsize=8, facecolor=bg, labelcolor=fg)
    rows = 6                                                         # a striped table
    for r in range(rows):
        yy = 0.08 + r * 0.045
        add((0.58, yy), 0.38, 0.045, color=(("#2a2a2a" if dark else "#f3f6fa") if r % 2 else bg))
        cells = ("codec", "bpp", "PSNR") if r == rows - 1 else (
            f"q{rows - 1 - r}", f"{rng.uniform(0.1, 2):.3f}", f"{rng.uniform(26, 38):.2f}")
        for j, cell in enumerate(cells):
            fig.text(0.59 + 0.13 * j, yy + 0.012, cell, color=fg, fontsize=8,
                     weight="bold" if r == rows - 1 else "normal")
    buf = io.BytesIO()
    with matplotlib.rc_context({"text.antialiased": True}):
        fig.savefig(buf, format="png", dpi=100, facecolor=bg)
    img = Image.open(buf).convert("RGB")
    return img if img.size == (W, H) else img.resize((W, H), Image.BICUBIC)


def screen_images(folder: str | os.PathLike | None = None,
                  limit: int | None = None) -> list[tuple[str, Image.Image]]:
    """Screen content as ``(name, RGB image)``: ``folder``, else ``$CODEC_LIB_DATA/screen_content``,
    else four pages of :func:`render_screen` (seeds 0 to 3)."""
    from .data import data_root, eval_images
    if folder is None and data_root() is not None and (data_root() / "screen_content").is_dir():
        folder = data_root() / "screen_content"
    if folder is None:
        return [(f"rendered{s}", render_screen(s)) for s in range(limit or 4)]
    return eval_images(folder, limit)


def image_stats(img: Image.Image | np.ndarray) -> dict[str, float]:
    """What sets screen content apart from photos, for an RGB image:

    - ``flat``: the fraction of horizontally adjacent pixel pairs identical in all channels;
    - ``palette``: the share of the pixels painted in the image's 8 most frequent colours (a
      lossy stream's noise adds many rare colours, which this share ignores);
    - ``edges``: the fraction of adjacent pairs (horizontal) whose largest channel difference
      exceeds 64 (of 255), the sharp steps of text and lines.
    """
    a = np.asarray(img.convert("RGB") if isinstance(img, Image.Image) else img).astype(np.int16)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[1] < 2:
        raise ValueError(f"expected an RGB image (H, W, 3) with W >= 2, got shape {a.shape}")
    step = np.abs(a[:, 1:] - a[:, :-1]).max(-1)                     # (H, W - 1)
    _, counts = np.unique(a.reshape(-1, 3), axis=0, return_counts=True)
    return {"flat": float((step == 0).mean()), "palette": float(np.sort(counts)[-8:].sum() / counts.sum()),
            "edges": float((step > 64).mean())}


def rate_map(model, img: Image.Image) -> np.ndarray:
    """Bits the model's entropy model gives ``y_hat`` at each latent position, summed over the
    channels: an ``(H / 16, W / 16)`` array (rounding, eval mode) of the image padded as the
    model pads it (to a multiple of 64 for the shipped models). Its sum plus the bits of ``z_hat`` is :func:`codec_lib.evaluate.estimate_bits`."""
    from .evaluate import likelihoods
    return (-torch.log2(likelihoods(model, img)["y"]))[0].sum(0).cpu().numpy()   # (H/16, W/16)
