"""Video input and output: folders of frames, Y4M, raw YUV 4:2:0, and any container PyAV reads.

Every reader returns RGB frames as ``(T, H, W, 3)`` uint8 arrays, so that the video codecs and
their evaluation see one format. YUV sources are converted with the BT.601 matrix at limited
("studio") range, FFmpeg's default for ``yuv420p``: the test suite checks our Y4M reader against
PyAV decoding the same file.

- a **folder** of images (PNG, JPEG, ...), in file-name order;
- **Y4M** (``.y4m``): the header gives the size; 8-bit 4:2:0 only (``C420``, ``C420jpeg``,
  ``C420paldv``, ``C420mpeg2`` or no ``C`` tag);
- **raw YUV 4:2:0** (``.yuv``): planar 8-bit I420, the size must be given (``size=(W, H)``);
- anything else goes to **PyAV** (``.mp4``, ``.mkv``, ``.avi`` ...), which decodes with FFmpeg.

Example::

    frames = read_video("BasketballPass_416x240/", frames=32)      # (32, 240, 416, 3) uint8
    write_y4m("clip.y4m", frames)                                   # RGB -> YUV 4:2:0
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import CodecError

__all__ = ["VideoError", "read_video", "rgb_to_yuv420", "yuv420_to_rgb", "write_y4m", "eval_clip"]

EVAL_CLIP = "video/BasketballPass_416x240"     # under $CODEC_LIB_DATA


class VideoError(CodecError):
    """Unreadable, malformed or unsupported video input."""


# BT.601, limited range: Y in [16, 235], Cb/Cr in [16, 240]
_KR, _KB = 0.299, 0.114


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Planes ``Y (H, W)``, ``U, V (H/2, W/2)`` (uint8, limited range) -> RGB ``(H, W, 3)`` uint8.

    Chroma is up-sampled by repeating each sample 2x2 (odd sizes: cropped)."""
    H, W = y.shape
    up = lambda c: np.repeat(np.repeat(c, 2, 0), 2, 1)[:H, :W]                 # noqa: E731
    Y = (y.astype(np.float32) - 16) * (255 / 219)
    Cb = (up(u).astype(np.float32) - 128) * (255 / 224)
    Cr = (up(v).astype(np.float32) - 128) * (255 / 224)
    kg = 1 - _KR - _KB
    r = Y + 2 * (1 - _KR) * Cr
    b = Y + 2 * (1 - _KB) * Cb
    g = (Y - _KR * r - _KB * b) / kg
    return np.clip(np.stack([r, g, b], -1).round(), 0, 255).astype(np.uint8)


def rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB ``(H, W, 3)`` uint8 (even ``H, W``) -> limited-range planes; chroma is the mean of
    each 2x2 block."""
    H, W, _ = rgb.shape
    if H % 2 or W % 2:
        raise VideoError(f"4:2:0 needs an even frame size, got {W}x{H}")
    f = rgb.astype(np.float32)
    Y = _KR * f[..., 0] + (1 - _KR - _KB) * f[..., 1] + _KB * f[..., 2]
    Cb = (f[..., 2] - Y) / (2 * (1 - _KB))
    Cr = (f[..., 0] - Y) / (2 * (1 - _KR))
    pool = lambda c: c.reshape(H // 2, 2, W // 2, 2).mean((1, 3))              # noqa: E731
    to8 = lambda c: np.clip(c.round(), 0, 255).astype(np.uint8)               # noqa: E731
    return to8(16 + Y * 219 / 255), to8(128 + pool(Cb) * 224 / 255), to8(128 + pool(Cr) * 224 / 255)


def _read_planes(f, W: int, H: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    cw, ch = (W + 1) // 2, (H + 1) // 2
    n = W * H + 2 * cw * ch
    buf = f.read(n)
    if len(buf) < n:
        return None
    a = np.frombuffer(buf, np.uint8)
    return (a[: W * H].reshape(H, W), a[W * H: W * H + cw * ch].reshape(ch, cw),
            a[W * H + cw * ch:].reshape(ch, cw))


def _read_y4m(path: Path, frames: int | None) -> np.ndarray:
    with open(path, "rb") as f:
        header = f.readline()
        if not header.startswith(b"YUV4MPEG2") or not header.endswith(b"\n"):
            raise VideoError(f"{path}: not a Y4M file (no YUV4MPEG2 header)")
        tags = {t[:1]: t[1:] for t in header.split()[1:]}
        try:
            W, H = int(tags[b"W"]), int(tags[b"H"])
        except (KeyError, ValueError):
            raise VideoError(f"{path}: the Y4M header has no valid W and H") from None
        cs = tags.get(b"C", b"420").decode(errors="replace")
        if cs not in ("420", "420jpeg", "420paldv", "420mpeg2"):
            raise VideoError(f"{path}: Y4M colour space C{cs} is not supported (8-bit 4:2:0 only)")
        if not (0 < W <= 16384 and 0 < H <= 16384):
            raise VideoError(f"{path}: implausible frame size {W}x{H}")
        out = []
        while frames is None or len(out) < frames:
            tag = f.readline()
            if not tag:
                break
            if not tag.startswith(b"FRAME"):
                raise VideoError(f"{path}: frame {len(out)} has no FRAME marker (corrupt file)")
            planes = _read_planes(f, W, H)
            if planes is None:
                raise VideoError(f"{path}: frame {len(out)} is truncated")
            out.append(yuv420_to_rgb(*planes))
    return _stack(out, path)


def _read_yuv(path: Path, size: tuple[int, int] | None, frames: int | None) -> np.ndarray:
    if size is None:
        raise VideoError(f"{path}: a raw .yuv file needs its frame size (e.g. --size 416x240)")
    W, H = size
    n = W * H + 2 * ((W + 1) // 2) * ((H + 1) // 2)
    total = path.stat().st_size
    if total % n:
        raise VideoError(f"{path}: {total} bytes is not a whole number of {W}x{H} 4:2:0 frames")
    out = []
    with open(path, "rb") as f:
        while frames is None or len(out) < frames:
            planes = _read_planes(f, W, H)
            if planes is None:
                break
            out.append(yuv420_to_rgb(*planes))
    return _stack(out, path)


def _read_folder(path: Path, frames: int | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError
    from .data import list_images
    files = list_images(path)[:frames] if frames else list_images(path)
    out = []
    for p in files:
        try:
            with Image.open(p) as im:
                out.append(np.asarray(im.convert("RGB")))
        except (UnidentifiedImageError, OSError) as e:
            raise VideoError(f"{p}: not a readable image ({type(e).__name__})") from None
        if out[-1].shape != out[0].shape:
            raise VideoError(f"{p}: frame size {out[-1].shape[1]}x{out[-1].shape[0]} differs from "
                             f"the first frame's {out[0].shape[1]}x{out[0].shape[0]}")
    return _stack(out, path)


def _read_av(path: Path, frames: int | None) -> np.ndarray:
    import av
    out = []
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(f"{path}: has no video stream")
            for frame in c.decode(video=0):
                out.append(frame.to_ndarray(format="rgb24"))
                if frames is not None and len(out) >= frames:
                    break
    except VideoError:
        raise
    except Exception as e:                    # PyAV's FFmpeg errors come in many classes
        raise VideoError(f"{path}: cannot decode as video ({type(e).__name__})") from None
    return _stack(out, path)


def _stack(frames: list[np.ndarray], path: Path) -> np.ndarray:
    if not frames:
        raise VideoError(f"{path}: no frames")
    return np.stack(frames)


def read_video(path: str | os.PathLike, frames: int | None = None,
               size: tuple[int, int] | None = None) -> np.ndarray:
    """The first ``frames`` frames (all if None) of a video as RGB ``(T, H, W, 3)`` uint8."""
    path = Path(path)
    if frames is not None and frames < 1:
        raise VideoError(f"the number of frames must be at least 1, got {frames}")
    if path.is_dir():
        return _read_folder(path, frames)
    if not path.is_file():
        raise VideoError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".y4m":
        return _read_y4m(path, frames)
    if suffix == ".yuv":
        return _read_yuv(path, size, frames)
    return _read_av(path, frames)


def write_y4m(path: str | os.PathLike, frames: np.ndarray, fps: int = 50) -> None:
    """Write RGB frames ``(T, H, W, 3)`` as an 8-bit 4:2:0 Y4M file (atomically)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VideoError(f"need uint8 RGB frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    T, H, W, _ = frames.shape
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(f"YUV4MPEG2 W{W} H{H} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            for rgb in frames:
                f.write(b"FRAME\n")
                for plane in rgb_to_yuv420(rgb):
                    f.write(np.ascontiguousarray(plane).tobytes())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def eval_clip(frames: int = 32) -> tuple[str, np.ndarray]:
    """``(name, frames (T, H, W, 3) uint8)``: the first ``frames`` of BasketballPass from
    ``$CODEC_LIB_DATA`` (the video test sequence of the book), else an embedded stand-in: a
    camera panning and zooming across scikit-image's astronaut photo (:func:`synthetic_clip`)."""
    from .data import data_root, sample_images
    root = data_root()
    if root is not None and (root / EVAL_CLIP).is_dir():
        return "BasketballPass", read_video(root / EVAL_CLIP, frames)
    import torch
    from .motion import synthetic_clip
    photo = np.asarray(dict(sample_images())["astronaut"])
    x, _ = synthetic_clip(photo, frames, (240, 320), seed=1, max_shift=min(3.0, 150 / frames))
    rgb = (x.permute(0, 2, 3, 1) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return "astronaut pan (embedded)", rgb
