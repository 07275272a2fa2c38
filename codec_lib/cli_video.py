"""``codec-lib compress-video``, ``decompress-video``, ``eval-video``, ``train-video``, ``export-video``.

::

    codec-lib compress-video clip.mp4 clip.clv [--model NAME] [--quality Q] [--frames N]
    codec-lib decompress-video clip.clv frames/          # frames/frame_00000.png ...
    codec-lib eval-video clip/ --frames 32 --json out.json [--quality Q ...] [--baselines x264 x265]
    codec-lib train-video --coding conditional --intra data/checkpoints/mean-scale-q{2,3,4,5}.pt \
        --clips "$CODEC_LIB_DATA/video/bikes.mp4" --out runs/dcvc       # resumes if runs/dcvc/last.pt
    codec-lib export-video runs/dcvc data/checkpoints/video-conditional.pt --name video-conditional --register
    # continue a shipped one (e.g. against retrained intra models): --init data/checkpoints/video-conditional.pt

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


def _default_model(spec: str | None) -> str | None:
    """``--model`` if given, else the installed conditional video model (else any video model,
    else the default image model, which codes all-intra)."""
    from .zoo import list_models
    if spec:
        return spec
    videos = sorted((m["coding"] != "conditional", m["name"]) for m in list_models("video"))
    return videos[0][1] if videos else None


def cmd_compress_video(a) -> None:
    from .video_codec import encode_video
    out = _check_output(a.input, a.output, a.force)
    frames = _frames(a)
    model = _model(_default_model(a.model), a.quality)
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
    doc = evaluate_video(frames, _default_model(a.model), a.quality)
    doc["baselines"] = [evaluate_video_baseline(frames, c) for c in a.baselines]
    _write_atomic(out, lambda f: f.write((json.dumps(doc, indent=2) + "\n").encode()))
    for r in [doc] + doc["baselines"]:
        for p in r["points"]:
            print(f"{r['model']:>12} q{p['quality']}: {p['bpp']:.4f} bpp, {p['psnr']:.2f} dB, "
                  f"enc {p['enc_s']:.3f} s/frame, dec {p['dec_s']:.3f} s/frame")


def cmd_train_video(a) -> None:
    from dataclasses import asdict, fields
    from .video_train import VideoTrainConfig, fit_video
    kw = {f.name: getattr(a, f.name) for f in fields(VideoTrainConfig) if getattr(a, f.name, None) is not None}
    cfg = VideoTrainConfig(**kw)
    for path in cfg.photos + cfg.clips + cfg.val + cfg.intra + ([cfg.init] if cfg.init else []):
        if not Path(path).exists():
            raise UsageError(f"{path}: no such file or folder")
    if cfg.intra and len(cfg.intra) not in (1, len(cfg.lmbdas)):
        raise UsageError(f"give one --intra checkpoint or one per rate ({len(cfg.lmbdas)})")
    print(json.dumps(asdict(cfg)))
    fit_video(cfg)
    print(f"finished: {cfg.out}/last.pt")


def cmd_export_video(a) -> None:
    from .video_train import export_video_run
    run = Path(a.run) / "last.pt"
    if not run.exists():
        raise UsageError(f"{run}: no such training checkpoint")
    out = _check_output(str(run), a.output, a.force)
    command = a.command or "codec-lib train-video ..."
    if not a.tune_bound:
        sha = export_video_run(a.run, str(out), a.name, command, register=a.register)
    else:                      # the P-frame Gaussians' scale bounds, tuned before `out` is written
        from . import zoo
        from .video_zoo import tune_bounds
        if not Path(a.tune_bound).is_dir():
            raise UsageError(f"--tune-bound {a.tune_bound}: no such folder")
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            export_video_run(a.run, str(tmp), a.name, command, register=False)
            sha, record = tune_bounds(tmp, [a.tune_bound])
            tmp.replace(out)
        except (ValueError, OSError) as e:
            raise UsageError(f"--tune-bound {a.tune_bound}: {e}") from None
        finally:
            tmp.unlink(missing_ok=True)
        print("P-frame scale bounds tuned, estimated rate " + ", ".join(
            f"{k} {v['rate'] - 1:+.1%}" for k, v in record.items() if k != "tuned_on"))
        if a.register:
            zoo.register(out)
    print(f"{out}: sha256 {sha}" + (f", registered in {out.resolve().parent / 'manifest.json'}"
                                    if a.register else ""))


def add_parsers(sub) -> None:
    """Register the subcommands of this module."""
    def common(p):
        p.add_argument("--frames", type=int, help="code only the first N frames")
        p.add_argument("--size", help="WIDTHxHEIGHT of a raw .yuv input")
    c = sub.add_parser("compress-video", help="compress a video into a .clv file")
    c.add_argument("input"), c.add_argument("output")
    c.add_argument("--model", help="installed model name or checkpoint path (default: the "
                   "conditional video model; an image model codes every frame intra)")
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
    e.add_argument("input"), e.add_argument("--json", required=True)
    e.add_argument("--model", help="installed model (default: as for compress-video)")
    e.add_argument("--quality", type=int, nargs="+", help="qualities (default: all)")
    e.add_argument("--baselines", nargs="*", default=["x264", "x265"], choices=["x264", "x265"],
                   help="classic codecs in the same evaluation (default: both; none with no names)")
    common(e)
    e.add_argument("-f", "--force", action="store_true")
    e.set_defaults(func=cmd_eval_video)

    t = sub.add_parser("train-video", help="train a P-frame codec (resumes if OUT/last.pt exists)")
    t.add_argument("--coding", choices=["residual", "conditional"])
    t.add_argument("--N", type=int), t.add_argument("--M", type=int)
    t.add_argument("--C", type=int, help="context / feature channels")
    t.add_argument("--lmbdas", type=float, nargs="+", help="one Lagrange multiplier per rate")
    t.add_argument("--intra", nargs="+", help="image checkpoints for frame 0: one, or one per rate")
    t.add_argument("--steps", type=int), t.add_argument("--batch-size", dest="batch_size", type=int)
    t.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this much training time")
    t.add_argument("--crop", type=int), t.add_argument("--chain", type=int,
                                                       help="frames per training clip (1 intra + P-frames)")
    t.add_argument("--lr", type=float), t.add_argument("--lr-drop", dest="lr_drop", type=float)
    t.add_argument("--warmup", type=int, help="steps with the motion-estimation loss")
    t.add_argument("--synthetic", type=float, help="fraction of clips synthesised from photos")
    t.add_argument("--max-shift", dest="max_shift", type=float)
    t.add_argument("--photos", nargs="+", help="folders of stills (default: BSDS500 or embedded)")
    t.add_argument("--clips", nargs="+", help="real videos")
    t.add_argument("--clip-frames", dest="clip_frames", type=int)
    t.add_argument("--val", nargs="+", help="folders of validation photos (never trained on): each "
                   "checkpoint records the loss on fixed synthetic clips of them")
    t.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="bf16: bfloat16 autocast of the P-frame transforms, also on a CPU (about "
                        "1.8 times as fast on one with AMX-BF16); auto (default): "
                        "bf16 on a GPU only")
    t.add_argument("--seed", type=int), t.add_argument("--out")
    t.add_argument("--checkpoint-every", dest="checkpoint_every", type=int)
    t.add_argument("--init", help="start from a run's last.pt or a shipped video checkpoint (same "
                   "coding, or a residual codec's weights for a conditional codec)")
    t.set_defaults(func=cmd_train_video)

    x = sub.add_parser("export-video", help="turn a video training run into a shippable checkpoint")
    x.add_argument("run"), x.add_argument("output"), x.add_argument("--name", required=True)
    x.add_argument("--command", help="the training command to record in the manifest")
    x.add_argument("--register", action="store_true", help="add it to the folder's manifest.json")
    x.add_argument("--tune-bound", metavar="FOLDER", help="tune the P-frame Gaussians' scale "
                   "bounds on pans across FOLDER's photos (validation photos, never test data)")
    x.add_argument("-f", "--force", action="store_true")
    x.set_defaults(func=cmd_export_video)
