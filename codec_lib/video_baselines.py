"""x264 and x265 as low-delay video baselines, through PyAV's FFmpeg.

The learned video codecs of the book code low-delay P: one intra frame, then every frame
predicted from the previous decoded one. The classic codecs run in the same configuration:

- ``libx264`` / ``libx265``, preset ``medium``, constant rate factor swept over :data:`CRFS`;
- no B-frames, a single intra frame (``keyint`` larger than the clip, ``scenecut=0``);
- one thread (``threads=1``; ``pools=none:frame-threads=1``), decoders too. Frame threading makes
  the stream depend on the machine's core count and costs quality (measured on BasketballPass,
  32 frames, on 2 cores: 7.6 % BD-rate for x264, 1.7 % for x265), and x265's thread pool once hung
  a CI run on a 6-frame clip;
- 8-bit 4:2:0 input made by :func:`codec_lib.video_io.rgb_to_yuv420` (BT.601, limited range),
  and decoded back to RGB with the inverse, so that every codec is measured on 8-bit RGB.

The rate is the size of the raw elementary stream (Annex B for H.264, HEVC's byte stream) that
FFmpeg writes, parameter sets included, over all pixels of all frames; PSNR is the mean over
frames of the RGB PSNR. :func:`evaluate_video_baseline` returns a document in the format of
``codec-lib eval-video``.

Example::

    frames = read_video("BasketballPass_416x240/", frames=32)
    evaluate_video_baseline(frames, "x264")   # {"model": "x264", "frames": 32, "points": [...]}
"""
from __future__ import annotations

import io
import time

import numpy as np

from .metrics import psnr
from .video_io import VideoError, rgb_to_yuv420, yuv420_to_rgb

__all__ = ["VIDEO_CODECS", "CRFS", "SETTINGS", "encode_video", "decode_video",
           "evaluate_video_baseline"]

VIDEO_CODECS = {"x264": ("libx264", "h264", "x264-params"), "x265": ("libx265", "hevc", "x265-params")}
CRFS = (22, 27, 32, 37, 42)
_PARAMS = {"x264": "bframes=0:keyint={k}:min-keyint={k}:scenecut=0:threads=1",
           "x265": "bframes=0:keyint={k}:min-keyint={k}:scenecut=0:pools=none:frame-threads=1:log-level=error"}
SETTINGS = {c: f"FFmpeg lib{c} through PyAV, preset medium, low-delay P: {_PARAMS[c].format(k='T+1')}, "
               f"yuv420p (BT.601 limited range); CRF sweep {', '.join(map(str, CRFS))}"
            for c in VIDEO_CODECS}


def _check(codec: str) -> tuple[str, str, str]:
    if codec not in VIDEO_CODECS:
        raise VideoError(f"unknown video codec {codec!r}; choose one of {', '.join(VIDEO_CODECS)}")
    return VIDEO_CODECS[codec]


def encode_video(frames: np.ndarray, codec: str, crf: int, fps: int = 50) -> bytes:
    """Encode RGB frames ``(T, H, W, 3)`` uint8 (even H, W) into an elementary stream."""
    import av
    lib, fmt, key = _check(codec)
    T, H, W, _ = frames.shape
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream(lib, rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"crf": str(crf), "preset": "medium", key: _PARAMS[codec].format(k=T + 1)}
        for rgb in frames:
            frame = av.VideoFrame(W, H, "yuv420p")
            for plane, a in zip(frame.planes, rgb_to_yuv420(rgb)):
                padded = np.zeros((a.shape[0], plane.line_size), np.uint8)   # rows are aligned
                padded[:, : a.shape[1]] = a
                plane.update(padded.tobytes())
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return buf.getvalue()


def decode_video(data: bytes, codec: str) -> np.ndarray:
    """Decode an elementary stream of ``codec`` back to RGB frames ``(T, H, W, 3)``."""
    import av
    _, fmt, _ = _check(codec)
    out = []
    with av.open(io.BytesIO(data), format=fmt) as c:
        c.streams.video[0].thread_count = 1                           # no frame or slice threads
        for f in c.decode(video=0):
            planes = [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width]
                      for p in f.planes]
            out.append(yuv420_to_rgb(*planes))
    return np.stack(out)


def evaluate_video_baseline(frames: np.ndarray, codec: str, crfs=CRFS) -> dict:
    """RD points of ``codec`` on ``frames``: ``{"model", "frames", "points": [{"quality"
    (the CRF), "bpp", "psnr", "enc_s", "dec_s"}], "settings"}``; times are per frame."""
    T, H, W, _ = frames.shape
    points = []
    for crf in crfs:
        t0 = time.perf_counter()
        data = encode_video(frames, codec, crf)
        t1 = time.perf_counter()
        dec = decode_video(data, codec)
        t2 = time.perf_counter()
        if len(dec) != T:
            raise VideoError(f"{codec} decoded {len(dec)} frames of {T}")
        points.append({"quality": crf, "bpp": 8 * len(data) / (T * H * W),
                       "psnr": float(np.mean([psnr(a, b) for a, b in zip(frames, dec)])),
                       "enc_s": (t1 - t0) / T, "dec_s": (t2 - t1) / T})
    return {"model": codec, "frames": T, "points": points, "settings": SETTINGS[codec]}
