"""Evaluate codecs on a set of images: real files, real bytes, measured seconds.

For every image and quality :func:`evaluate_model` writes a real bitstream with
:func:`codec_lib.codec.encode_image`, decodes it with :func:`codec_lib.codec.decode_image`, and
records

- ``bpp``: ``8 * len(file) / (H * W)``, header and checksum included;
- ``est_bpp``: the model's own estimate, ``-sum log2 likelihoods / (H * W)`` (eval mode);
- ``psnr`` and ``ms_ssim`` of the decoded 8-bit RGB image against the original;
- ``enc_s`` and ``dec_s``: wall-clock seconds per image (mean).

The result is the JSON document of ``codec-lib eval``:
``{"model", "images", "points": [{"quality", "bpp", "psnr", "ms_ssim", "est_bpp", "enc_s", "dec_s"}]}``.
"""
from __future__ import annotations

import time

import torch
from PIL import Image
from tqdm.auto import tqdm

from .codec import decode_image, encode_image, prepare_image
from .data import to_tensor
from .metrics import ms_ssim, psnr

__all__ = ["evaluate_model", "estimate_bits"]


@torch.no_grad()
def estimate_bits(model, img: Image.Image) -> float:
    """The model's rate estimate in bits for ``img`` (rounding, eval mode)."""
    rgb, _, _, _ = prepare_image(img)
    dev = next(model.parameters()).device
    out = model.eval()(to_tensor(rgb).to(dev))
    return float(sum(-torch.log2(l).sum() for l in out["likelihoods"].values()))


def evaluate_model(images: list[tuple[str, Image.Image]], name: str | None = None,
                   qualities: list[int] | None = None, progress: bool = True,
                   per_image: bool = False) -> dict:
    """Evaluate installed model ``name`` at ``qualities`` (default: all) on ``images``."""
    from .zoo import list_models, load_model, resolve
    entry = resolve(name)
    name = entry["name"]
    if not qualities:
        qualities = next(m["qualities"] for m in list_models() if m["name"] == name)
    models = {q: load_model(name, q) for q in qualities}      # fail early on a bad quality
    points = []
    bar = tqdm(total=len(images) * len(qualities), disable=not progress, desc=f"eval {name}")
    for q in qualities:
        model, rows = models[q], []
        for img_name, img in images:
            img = img.convert("RGB")
            t0 = time.perf_counter()
            enc = encode_image(img, model)
            t1 = time.perf_counter()
            dec = decode_image(enc.data, model)
            t2 = time.perf_counter()
            W, H = img.size
            rows.append({"image": img_name, "bpp": 8 * len(enc.data) / (H * W),
                         "est_bpp": estimate_bits(model, img) / (H * W), "psnr": psnr(img, dec),
                         "ms_ssim": ms_ssim(img, dec), "enc_s": t1 - t0, "dec_s": t2 - t1})
            bar.update(1)
        point = {"quality": q, **{k: sum(r[k] for r in rows) / len(rows)
                                  for k in ("bpp", "psnr", "ms_ssim", "est_bpp", "enc_s", "dec_s")}}
        if per_image:
            point["per_image"] = rows
        points.append(point)
    bar.close()
    return {"model": name, "images": len(images), "points": points}
