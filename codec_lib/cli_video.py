"""``codec-lib compress-video``, ``decompress-video`` and ``eval-video``.

::

    codec-lib compress-video clip.mp4 clip.clv [--model NAME] [--quality Q] [--frames N]
    codec-lib decompress-video clip.clv frames/          # frames/frame_00000.png ...
    codec-lib eval-video clip/ --frames 32 --json out.json [--quality Q ...] [--baselines x264 x265]

Inputs: a folder of frames, ``.y4m``, raw ``.yuv`` (give ``--size WxH``) or any container PyAV
reads (:mod:`codec_lib.video_io`). A video model (``"kind": "video"`` in ``codec-lib models``)
codes low-delay P; an image model codes every frame as an intra frame (:mod:`codec_lib.video_codec`).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from .cli import UsageError, _check_output, _model, _read_bytes, _write_atomic

__all__ = ["add_parsers"]


def _size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size takes WIDTHxHEIGHT, got {text!r}") from None
    if w < 2 or h < 2 or w % 2 or h % 2:
        raise UsageError(f"--size {text}: 4:2:0 needs even sides of at least 2")
    return w, h


def _frames(a):
    from .video_io import read_video
    if not Path(a.input).exists():
        raise UsageError(f"{a.input}: no such file or folder")
    return read_video(a.input, a.frames, _size(a.size))


def cmd_compress_video(a) -> None:
    from .video_codec import encode_video
    out = _check_output(a.input, a.output, a.force)
    frames = _frames(a)
    model = _model(a.model, a.quality)
    enc = encode_video(frames, model, (a.fps, 1), progress=True)
    coding = f"{model.coding} P frames" if getattr(model, "coding", None) else "all intra"
    _write_atomic(out, lambda f: f.write(enc.data))
    T, H, W, _ = frames.shape
    h = enc.header
    print(f"{a.output}: {len(enc.data)} bytes, {T} frames {W}x{H}, "
          f"{8 * len(enc.data) / (T * H * W):.4f} bpp (model {h.model} q{h.quality}, {coding})")


def cmd_decompress_video(a) -> None:
    from PIL import Image
    from .video_codec import decode_video
    data = _read_bytes(a.input)
    out = Path(a.output_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.glob("frame_*.png")) and not a.force:
        raise UsageError(f"{out}: already holds frame_*.png files (use --force to replace them)")
    if not out.resolve().parent.is_dir():
        raise UsageError(f"{out}: folder {out.resolve().parent} does not exist")
    frames = decode_video(data, _model(a.model, None) if a.model else None, progress=True)
    out.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".decoding-"))
    try:                                    # every frame is written before any is moved in
        names = [f"frame_{i:05d}.png" for i in range(len(frames))]
        for name, rgb in zip(names, frames):
            Image.fromarray(rgb).save(tmp / name, format="PNG")
        for old in out.glob("frame_*.png"):
            old.unlink()
        for name in names:
            (tmp / name).replace(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{out}: {len(frames)} frames {frames.shape[2]}x{frames.shape[1]} PNG")


def cmd_eval_video(a) -> None:
    from .video_baselines import evaluate_video_baseline
    from .video_codec import evaluate_video
    out = _check_output(a.input, a.json, a.force)
    frames = _frames(a)
    doc = evaluate_video(frames, a.model, a.quality)
    doc["baselines"] = [evaluate_video_baseline(frames, c) for c in a.baselines]
    _write_atomic(out, lambda f: f.write((json.dumps(doc, indent=2) + "\n").encode()))
    for r in [doc] + doc["baselines"]:
        for p in r["points"]:
            print(f"{r['model']:>12} q{p['quality']}: {p['bpp']:.4f} bpp, {p['psnr']:.2f} dB, "
                  f"enc {p['enc_s']:.3f} s/frame, dec {p['dec_s']:.3f} s/frame")


def add_parsers(sub) -> None:
    """Register the subcommands of this module."""
    def common(p):
        p.add_argument("--frames", type=int, help="code only the first N frames")
        p.add_argument("--size", help="WIDTHxHEIGHT of a raw .yuv input")
    c = sub.add_parser("compress-video", help="compress a video into a .clv file")
    c.add_argument("input"), c.add_argument("output")
    c.add_argument("--model", help="installed model name or checkpoint path")
    c.add_argument("--quality", type=int)
    c.add_argument("--fps", type=int, default=50, help="frame rate to record (default 50)")
    common(c)
    c.add_argument("-f", "--force", action="store_true")
    c.set_defaults(func=cmd_compress_video)

    d = sub.add_parser("decompress-video", help="decompress a .clv file into PNG frames")
    d.add_argument("input"), d.add_argument("output_dir")
    d.add_argument("--model", help="checkpoint to decode with (default: the one named in the file)")
    d.add_argument("-f", "--force", action="store_true", help="replace frame_*.png files in OUTPUT_DIR")
    d.set_defaults(func=cmd_decompress_video)

    e = sub.add_parser("eval-video", help="rate and PSNR of a model (and x264/x265) on a video")
    e.add_argument("input"), e.add_argument("--model"), e.add_argument("--json", required=True)
    e.add_argument("--quality", type=int, nargs="+", help="qualities (default: all)")
    e.add_argument("--baselines", nargs="*", default=["x264", "x265"], choices=["x264", "x265"],
                   help="classic codecs in the same evaluation (default: both; none with no names)")
    common(e)
    e.add_argument("-f", "--force", action="store_true")
    e.set_defaults(func=cmd_eval_video)
