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
from typing import Callable

import torch
from PIL import Image
from tqdm.auto import tqdm

from .codec import decode_image, encode_image, prepare_image
from .data import to_tensor
from .metrics import ms_ssim, psnr

__all__ = ["evaluate_model", "estimate_bits", "likelihoods", "rd_points", "load_qualities"]


@torch.no_grad()
def likelihoods(model, img: Image.Image) -> dict[str, torch.Tensor]:
    """The model's ``likelihoods`` (``{"y": (1, M, h, w), "z": ...}``) for ``img`` as the codec
    prepares it (colour policy, rounding, eval mode)."""
    rgb, _, _, _ = prepare_image(img)
    dev = next(model.parameters()).device
    return model.eval()(to_tensor(rgb).to(dev))["likelihoods"]


def estimate_bits(model, img: Image.Image) -> float:
    """The model's rate estimate in bits for ``img`` (rounding, eval mode)."""
    return float(sum(-torch.log2(l).sum() for l in likelihoods(model, img).values()))


def rd_points(images: list[tuple[str, Image.Image]], qualities: list, coder: Callable,
              estimate: Callable | None = None, desc: str = "eval", progress: bool = True,
              per_image: bool = False) -> list[dict]:
    """The measurement loop shared by learned and classic codecs.

    ``coder(q)`` returns ``(encode(img) -> bytes, decode(bytes) -> Image)`` for quality ``q``;
    ``estimate(q, img)``, if given, the codec's own rate estimate in bits (else ``est_bpp`` is
    ``None``). Returns one point per quality: the means over the images.
    """
    keys = ("bpp", "psnr", "ms_ssim", "enc_s", "dec_s") + (("est_bpp",) if estimate else ())
    points = []
    bar = tqdm(total=len(images) * len(qualities), disable=not progress, desc=desc)
    for q in qualities:
        encode, decode = coder(q)
        rows = []
        for img_name, img in images:
            img = img.convert("RGB")
            W, H = img.size
            t0 = time.perf_counter()
            data = encode(img)
            t1 = time.perf_counter()
            dec = decode(data)
            t2 = time.perf_counter()
            row = {"image": img_name, "bpp": 8 * len(data) / (H * W), "psnr": psnr(img, dec),
                   "ms_ssim": ms_ssim(img, dec), "enc_s": t1 - t0, "dec_s": t2 - t1}
            if estimate:
                row["est_bpp"] = estimate(q, img) / (H * W)
            rows.append(row)
            bar.update(1)
        point = {"quality": q, "est_bpp": None,
                 **{k: sum(r[k] for r in rows) / len(rows) for k in keys}}
        if per_image:
            point["per_image"] = rows
        points.append(point)
    bar.close()
    return points


def evaluate_model(images: list[tuple[str, Image.Image]], name: str | None = None,
                   qualities: list[int] | None = None, progress: bool = True,
                   per_image: bool = False, refine: int = 0) -> dict:
    """Evaluate installed model ``name`` at ``qualities`` (default: all) on ``images``.
    With ``refine`` > 0 the encoder optimizes each image's latents with that many steps
    (:mod:`codec_lib.refine`; no ``est_bpp`` then) and the result is named
    ``NAME+refineSTEPS``, with ``"refine": STEPS``."""
    from .zoo import weights_hashes
    name, models = load_qualities(name, qualities)
    qualities = list(models)
    coder = lambda q: (lambda img: encode_image(img, models[q], refine=refine).data,  # noqa: E731
                       lambda data: decode_image(data, models[q]))
    label = f"{name}+refine{refine}" if refine else name
    estimate = None if refine else (lambda q, img: estimate_bits(models[q], img))
    points = rd_points(images, qualities, coder, estimate, f"eval {label}", progress, per_image)
    return {"model": label, "images": len(images), "points": points,
            "weights_hash": weights_hashes(name, qualities), **({"refine": refine} if refine else {})}


def load_qualities(name: str | None, qualities: list[int] | None = None) -> tuple[str, dict]:
    """``(name, {quality: model})`` of an installed model (default: the default model, all its
    qualities); loads every one first, so a bad quality fails before any measurement."""
    from .zoo import list_models, load_model, resolve
    name = resolve(name)["name"]
    if not qualities:
        qualities = next(m["qualities"] for m in list_models() if m["name"] == name)
    return name, {q: load_model(name, q) for q in qualities}
