"""Coding video with codec_lib: RGB frames in, a ``.clv`` file out, and back, bit-exactly.

The book's video codecs code **low-delay P**: frame 0 on its own with an image model (an ``I``
chunk of :mod:`codec_lib.video_format`), every later frame predicted from the previous
*decoded* frame (``P`` chunks) by an inter-frame model (:mod:`codec_lib.video_models`,
:mod:`codec_lib.video_conditional`). An image model codes video **all-intra**: every frame an
``I`` chunk, the anchor that inter-frame coding has to beat.

The encoder returns the decoder's exact frames, so a caller can measure quality without a
second decoding pass; :func:`decode_video` reproduces them bit for bit (tested).

Example::

    frames = read_video("BasketballPass_416x240/", frames=8)       # (8, 240, 416, 3) uint8
    enc = encode_video(frames, zoo.load_model("mean-scale", 4))
    assert (decode_video(enc.data) == enc.frames).all()
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .bitstream import BitstreamError
from .codec import MAX_PIXELS, _identity, decoder_for, model_strings
from .data import to_image, to_tensor
from .errors import CodecError
from .metrics import psnr
from .models import CompressionModel
from .video_format import Chunk, VideoHeader, pack_video, unpack_video
from .video_io import VideoError

__all__ = ["EncodedVideo", "encode_video", "decode_video", "evaluate_video"]


@dataclass
class EncodedVideo:
    data: bytes                 # the complete .clv file
    frames: np.ndarray          # (T, H, W, 3) uint8: exactly what decode_video returns
    header: VideoHeader


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise VideoError(f"need uint8 RGB frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[1] * frames.shape[2] > MAX_PIXELS:
        raise VideoError(f"frame size {frames.shape[2]}x{frames.shape[1]} is above the limit")
    return frames


def _to_uint8(x_hat: torch.Tensor) -> np.ndarray:
    return np.asarray(to_image(x_hat))                                    # (H, W, 3) uint8


@torch.no_grad()
def encode_video(frames: np.ndarray, model: CompressionModel, fps: tuple[int, int] = (50, 1),
                 progress: bool = False) -> EncodedVideo:
    """Code ``frames (T, H, W, 3)`` uint8 with ``model``: an image model codes every frame
    intra; an inter-frame model (one with a ``coding`` attribute, :mod:`codec_lib.video_models`)
    codes frame 0 with its ``intra`` model and each later frame given the previous decoded one."""
    from .zoo import weights_hash
    frames = _check_frames(frames)
    T, H, W, _ = frames.shape
    model.eval()
    inter = getattr(model, "coding", None) is not None
    intra = model.intra if inter else model
    dev = next(model.parameters()).device
    chunks, decoded = [], []
    for t, rgb in enumerate(tqdm(frames, disable=not progress, desc="encode", unit="frame")):
        x = to_tensor(rgb).to(dev)                                        # (1, 3, H, W)
        if t == 0 or not inter:
            enc = intra.compress(x, return_x_hat=True)
            chunks.append(Chunk("I", [list(s) for s in enc["strings"]]))
            decoded.append(_to_uint8(enc["x_hat"]))
        else:                        # the reference is the decoded 8-bit frame, as the decoder's
            groups, x_hat = model.compress(x, to_tensor(decoded[-1]).to(dev))
            chunks.append(Chunk("P", groups))
            decoded.append(_to_uint8(x_hat))
    name, quality = _identity(model)
    header = VideoHeader(name, quality, weights_hash(model), W, H, T, fps)
    return EncodedVideo(pack_video(header, chunks), np.stack(decoded), header)


@torch.no_grad()
def decode_video(data: bytes, model: CompressionModel | None = None,
                 progress: bool = False) -> np.ndarray:
    """Decode a ``.clv`` file into ``(T, H, W, 3)`` uint8 frames.

    Without ``model``, the installed model named in the header is used (its weights hash must
    match). Raises :class:`~codec_lib.errors.CodecError` subclasses with one-line messages.
    """
    header, chunks = unpack_video(data)
    model = decoder_for(header, model)
    model.eval()
    inter = getattr(model, "coding", None) is not None
    intra = model.intra if inter else model
    dev = next(model.parameters()).device
    ds, n = intra.downsampling, model_strings(intra)
    shape = (-(-header.height // ds), -(-header.width // ds))
    out = []
    for i, chunk in enumerate(tqdm(chunks, disable=not progress, desc="decode", unit="frame")):
        if chunk.kind == "P" and not inter:
            raise BitstreamError(f"frame {i} is inter coded, which model {header.model!r} cannot decode")
        want = n if chunk.kind == "I" else 2 * n
        if len(chunk.groups) != want or any(len(g) != 1 for g in chunk.groups):
            raise BitstreamError(f"frame {i}: its strings do not fit the model")
        try:
            if chunk.kind == "I":
                x_hat = intra.decompress(chunk.groups, shape, size=(header.height, header.width))["x_hat"]
            else:
                x_hat = model.decompress(chunk.groups, to_tensor(out[-1]).to(dev))
        except (ValueError, RuntimeError, IndexError, OverflowError) as e:
            raise BitstreamError(f"frame {i}: the entropy-coded data is corrupted ({e})") from None
        out.append(_to_uint8(x_hat))
    return np.stack(out)


def evaluate_video(frames: np.ndarray, name: str | None = None, qualities: list[int] | None = None,
                   progress: bool = True) -> dict:
    """The ``codec-lib eval-video`` document of installed model ``name``: ``{"model", "frames",
    "coding", "points": [{"quality", "bpp", "psnr", "enc_s", "dec_s"}]}``, with ``bpp`` from the
    real file bytes over all frames, PSNR on 8-bit RGB averaged over frames, seconds per frame."""
    from .evaluate import load_qualities
    frames = _check_frames(frames)
    T, H, W, _ = frames.shape
    name, models = load_qualities(name, qualities)
    qualities = list(models)
    points = []
    for q in tqdm(qualities, disable=not progress, desc=f"eval-video {name}"):
        t0 = time.perf_counter()
        enc = encode_video(frames, models[q])
        t1 = time.perf_counter()
        dec = decode_video(enc.data, models[q])
        t2 = time.perf_counter()
        if not np.array_equal(dec, enc.frames):
            raise CodecError(f"{name} q{q}: the decoder's frames differ from the encoder's")
        points.append({"quality": q, "bpp": 8 * len(enc.data) / (T * H * W),
                       "psnr": float(np.mean([psnr(a, b) for a, b in zip(frames, dec)])),
                       "enc_s": (t1 - t0) / T, "dec_s": (t2 - t1) / T})
    from .zoo import weights_hashes
    coding = getattr(models[qualities[0]], "coding", None) or "intra"
    return {"model": name, "frames": T, "coding": coding, "points": points,
            "weights_hash": weights_hashes(name, qualities)}
