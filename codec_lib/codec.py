"""Images in, bytes out, and back: the codec as users and the CLI see it.

::

    from codec_lib import codec, zoo
    model = zoo.load_model()                      # the default model and quality
    enc = codec.encode_image(Image.open("photo.png"), model)
    open("photo.clb", "wb").write(enc.data)       # a complete, self-describing file
    img = codec.decode_image(enc.data)            # finds the model named in the header
    assert img.tobytes() == enc.x_hat.tobytes()   # the encoder knows what the decoder will show

Colour-mode policy (the networks code 8-bit RGB):

- RGB is coded as is. Grayscale (``L``, ``1``, ``I;16``, ``I``, ``F``) is replicated to three
  channels for coding and decoded back to grayscale ``L``.
- Alpha (``RGBA``, ``LA``, palette with transparency) is kept *losslessly*: the alpha plane is
  deflate-compressed into its own string; the colour channels are coded by the model.
- Palette images become RGB (or RGBA); CMYK, YCbCr, LAB and HSV become RGB.
- 16-bit inputs are reduced to 8 bits (``round(v / 257)``); the header records the original
  depth; the decoded image is 8-bit.
- An EXIF orientation tag is applied (the pixels are turned upright); of an animation, the first
  frame is coded.
- Images above :data:`MAX_PIXELS` (32 megapixels) are refused with a clear error: the
  transforms' activations would need more memory than a typical machine has.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps

from .bitstream import BitstreamError, Header, pack, unpack
from .data import to_image, to_tensor
from .errors import CodecError, ModelError
from .models import CompressionModel

__all__ = ["Encoded", "prepare_image", "encode_image", "decode_image", "model_strings",
           "MAX_PIXELS"]

MAX_PIXELS = 1 << 25


@dataclass
class Encoded:
    data: bytes               # the complete file
    x_hat: Image.Image        # exactly what decode_image(data) returns
    header: Header


def prepare_image(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None, str, int]:
    """Apply the colour-mode policy: ``(rgb (H, W, 3) uint8, alpha (H, W) or None, mode, depth)``."""
    if img.width * img.height > MAX_PIXELS:
        raise CodecError(f"image too large ({img.width}x{img.height}); codec_lib codes up to "
                         f"{MAX_PIXELS / 2**20:.0f} megapixels")
    img = ImageOps.exif_transpose(img)
    mode, depth = img.mode, 8
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode in ("RGBa", "La"):
        img = img.convert(mode[0:-1] + "A")
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and a.max(initial=0) > 255):
            a, depth = a / 257.0, 16
        gray = np.clip(np.round(a), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2), None, "L", depth
    if mode in ("1", "L"):
        gray = np.asarray(img.convert("L"))
        return np.repeat(gray[..., None], 3, axis=2), None, "L", depth
    if mode == "LA":
        a = np.asarray(img)
        return np.repeat(a[..., :1], 3, axis=2), a[..., 1].copy(), "LA", depth
    if mode == "RGBA":
        a = np.asarray(img)
        return np.ascontiguousarray(a[..., :3]), a[..., 3].copy(), "RGBA", depth
    if mode in ("RGB", "CMYK", "YCbCr", "LAB", "HSV"):
        return np.asarray(img.convert("RGB")), None, "RGB", depth
    raise CodecError(f"unsupported image mode {mode!r}")


def _identity(model: CompressionModel) -> tuple[str, int]:
    from .models import ARCHITECTURES
    name = getattr(model, "codec_name", None)
    if name is None:
        name = {v: k for k, v in ARCHITECTURES.items()}.get(type(model), type(model).__name__)
    return name, int(getattr(model, "codec_quality", 0))


def model_strings(model: CompressionModel) -> int:
    """How many string groups the model writes (1 for a factorized prior, 2 with a hyperprior)."""
    return 2 if hasattr(model, "gaussian_conditional") else 1


@torch.no_grad()
def encode_image(img: Image.Image, model: CompressionModel, coder=None, refine: int = 0) -> Encoded:
    """Compress a PIL image into a complete file; also returns the decoder's exact output.
    ``refine`` > 0 optimizes the latents for this image with that many gradient steps before
    coding (:mod:`codec_lib.refine`): slower encoding, the same decoder."""
    from .zoo import weights_hash
    rgb, alpha, mode, depth = prepare_image(img)
    H, W = rgb.shape[:2]
    model.eval()
    dev = next(model.parameters()).device
    x = to_tensor(rgb).to(dev)                                   # (1, 3, H, W)
    latents = None
    if refine:
        from .refine import refine_latents
        latents = refine_latents(model, x, steps=refine)["latents"]
    enc = model.compress(x, coder=coder, return_x_hat=True, latents=latents)
    groups = [list(s) for s in enc["strings"]]
    if alpha is not None:
        groups.append([zlib.compress(alpha.tobytes(), 9)])
    name, quality = _identity(model)
    header = Header(name, quality, weights_hash(model), W, H, mode, depth)
    return Encoded(pack(header, groups), _finish(enc["x_hat"], mode, alpha), header)


def _finish(x_hat: torch.Tensor, mode: str, alpha: np.ndarray | None) -> Image.Image:
    img = to_image(x_hat)
    if mode in ("L", "LA"):
        img = img.convert("L")
    if alpha is not None:
        img.putalpha(Image.fromarray(alpha))
    return img


def decoder_for(header, model: CompressionModel | None = None) -> CompressionModel:
    """The model to decode a file (image or video) whose ``header`` names a model: ``model``
    itself if its weights match, else the installed one; one-line errors otherwise."""
    from .zoo import find_model, weights_hash
    if header.width * header.height > MAX_PIXELS:
        raise BitstreamError(f"size {header.width}x{header.height} is above the limit")
    if model is None:
        return find_model(header.model, header.quality, header.weights_hash)
    if weights_hash(model) != header.weights_hash:
        raise ModelError(f"this model's weights do not match the file's (made with "
                         f"{header.model!r} quality {header.quality}, hash {header.weights_hash.hex()})")
    return model


@torch.no_grad()
def decode_image(data: bytes, model: CompressionModel | None = None, coder=None) -> Image.Image:
    """Decode a file made by :func:`encode_image`.

    Without ``model``, the installed model named in the header is used (its weights hash must
    match). Raises :class:`~codec_lib.errors.CodecError` subclasses with one-line messages.
    """
    header, groups = unpack(data)
    model = decoder_for(header, model)
    n = model_strings(model)
    has_alpha = header.mode in ("RGBA", "LA")
    if len(groups) != n + has_alpha or any(len(g) != 1 for g in groups):
        raise BitstreamError("the file's strings do not fit its model")
    alpha = None
    if has_alpha:
        try:
            alpha = np.frombuffer(zlib.decompress(groups[-1][0]), dtype=np.uint8)
            alpha = alpha.reshape(header.height, header.width)
        except (zlib.error, ValueError):
            raise BitstreamError("the alpha plane is corrupted") from None
    ds = model.downsampling                                     # shape of the first latent
    shape = (-(-header.height // ds), -(-header.width // ds))
    model.eval()
    try:
        x_hat = model.decompress(groups[:n], shape, size=(header.height, header.width),
                                 coder=coder)["x_hat"]
    except (ValueError, RuntimeError, IndexError, OverflowError) as e:
        raise BitstreamError(f"the entropy-coded data is corrupted ({e})") from None
    return _finish(x_hat, header.mode, alpha)
