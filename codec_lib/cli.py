"""``codec-lib``: the command line (also ``python -m codec_lib``).

::

    codec-lib compress photo.png photo.clb [--model NAME] [--quality Q]
    codec-lib decompress photo.clb photo_hat.png
    codec-lib info photo.clb [--json]
    codec-lib demo [--image astronaut] [--out demo]
    codec-lib models [--json]
    codec-lib eval DIR [--model NAME] [--quality Q ...] --json results.json
    codec-lib train --arch mean-scale --N 64 --M 96 --lmbda 0.013 --steps 10000 --out runs/x
    codec-lib export runs/x data/checkpoints/x.pt --name mean-scale --quality 4 [--register]

Errors print one line (``codec-lib: error: ...``) and exit with status 1 (2 for bad usage);
``--debug`` or ``CODEC_LIB_DEBUG=1`` shows the traceback instead. Outputs are written to a
temporary file and renamed into place, so an error never leaves a partial file; an existing
file is only replaced with ``--force``, and the input never is.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, fields
from pathlib import Path

__all__ = ["main"]


class UsageError(Exception):
    pass


def _read_image(path: str):
    from PIL import Image, UnidentifiedImageError
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    if p.is_dir():
        raise UsageError(f"{path}: is a directory, not an image")
    if p.stat().st_size == 0:
        raise UsageError(f"{path}: file is empty")
    try:
        img = Image.open(p)
        img.load()
    except UnidentifiedImageError:
        raise UsageError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UsageError(f"{path}: damaged image ({e})") from None
    return img


def _read_bytes(path: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    if p.is_dir():
        raise UsageError(f"{path}: is a directory")
    return p.read_bytes()


def _check_output(inp: str, out: str, force: bool) -> Path:
    o = Path(out)
    if o.exists() and Path(inp).exists() and os.path.samefile(inp, out):
        raise UsageError(f"{out}: refusing to overwrite the input")
    if o.is_dir():
        raise UsageError(f"{out}: is a directory")
    if o.exists() and not force:
        raise UsageError(f"{out}: already exists (use --force to replace it)")
    if not o.resolve().parent.is_dir():
        raise UsageError(f"{out}: folder {o.resolve().parent} does not exist")
    return o


def _write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _model(spec: str | None, quality: int | None):
    """``--model`` is an installed model's name or a checkpoint path."""
    from . import zoo
    if spec and (spec.endswith(".pt") or os.sep in spec):
        if quality is not None:
            raise UsageError("--quality cannot be combined with a checkpoint path")
        return zoo.load_checkpoint(spec)
    return zoo.load_model(spec, quality)


def cmd_compress(a) -> None:
    from .codec import encode_image
    out = _check_output(a.input, a.output, a.force)
    img = _read_image(a.input)
    enc = encode_image(img, _model(a.model, a.quality), coder=_coder(a))
    _write_atomic(out, lambda f: f.write(enc.data))
    W, H = img.size
    h = enc.header
    print(f"{a.output}: {len(enc.data)} bytes, {8 * len(enc.data) / (W * H):.4f} bpp "
          f"({W}x{H} {h.mode}, model {h.model} q{h.quality})")


def cmd_decompress(a) -> None:
    from .codec import decode_image
    out = _check_output(a.input, a.output, a.force)
    data = _read_bytes(a.input)
    model = _model(a.model, None) if a.model else None
    img = decode_image(data, model, coder=_coder(a))
    _write_atomic(out, lambda f: img.save(f, format="PNG"))
    print(f"{a.output}: {img.size[0]}x{img.size[1]} {img.mode} PNG")


def cmd_info(a) -> None:
    from .bitstream import describe
    d = describe(_read_bytes(a.input))
    if a.json:
        print(json.dumps(d, indent=2))
    else:
        for k, v in d.items():
            print(f"{k:>15}: {v}")


def cmd_models(a) -> None:
    from .zoo import list_models
    models = list_models()
    if a.json:
        print(json.dumps(models, indent=2))
        return
    if not models:
        print("no trained models installed")
    for m in models:
        star = " (default)" if m["default"] else ""
        print(f"{m['name']}{star}: {m['kind']}, {m['objective']}, {m['arch']} N={m['N']} M={m['M']}, "
              f"qualities {m['qualities']} (default {m['default_quality']})")


def cmd_eval(a) -> None:
    from .data import eval_images
    from .evaluate import evaluate_model
    out = _check_output(a.dir, a.json, a.force)
    if not Path(a.dir).is_dir():
        raise UsageError(f"{a.dir}: no such folder")
    images = eval_images(a.dir, limit=a.limit)
    if not images:
        raise UsageError(f"{a.dir}: no images found")
    res = evaluate_model(images, a.model, a.quality, progress=not a.quiet, per_image=a.per_image)
    _write_atomic(out, lambda f: f.write((json.dumps(res, indent=2) + "\n").encode()))
    for p in res["points"]:
        print(f"q{p['quality']}: {p['bpp']:.4f} bpp (est {p['est_bpp']:.4f}), {p['psnr']:.2f} dB, "
              f"MS-SSIM {p['ms_ssim']:.4f}, enc {p['enc_s']:.2f} s, dec {p['dec_s']:.2f} s")


def _train_config(a):
    from .train import LAMBDAS, TrainConfig
    base = {}
    if a.config:
        try:
            base = json.loads(Path(a.config).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise UsageError(f"{a.config}: cannot read config ({e})") from None
        unknown = set(base) - {f.name for f in fields(TrainConfig)}
        if unknown:
            raise UsageError(f"{a.config}: unknown keys {sorted(unknown)}")
    for f in fields(TrainConfig):
        v = getattr(a, f.name, None)
        if v is not None:
            base[f.name] = v
    if a.quality is not None and "lmbda" not in base:
        if a.quality not in LAMBDAS:
            raise UsageError(f"--quality must be one of {sorted(LAMBDAS)}")
        base["lmbda"] = LAMBDAS[a.quality]
    if "scale" in base:
        base["scale"] = tuple(base["scale"])
    return TrainConfig(**base)


def cmd_train(a) -> None:
    from .train import fit
    cfg = _train_config(a)
    for folder in cfg.train + ([cfg.val] if cfg.val else []):
        if not Path(folder).is_dir():
            raise UsageError(f"{folder}: no such folder")
    print(json.dumps(asdict(cfg)))
    fit(cfg)
    print(f"finished: {cfg.out}/last.pt")


def cmd_export(a) -> None:
    import torch
    from . import zoo
    from .models import build_model
    run = Path(a.run) / "last.pt"
    if not run.exists():
        raise UsageError(f"{run}: no such training checkpoint")
    out = _check_output(str(run), a.output, a.force)
    ck = torch.load(run, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    model = build_model(cfg["arch"], cfg["N"], cfg["M"], cfg["act"])
    model.load_state_dict(ck["model"])
    walls = [h["wall_s"] for h in ck["history"] if "wall_s" in h]
    devices = [h["device"] for h in ck["history"] if "device" in h]
    training = {"command": a.command or "codec-lib train --config CONFIG", "config": cfg,
                "steps": ck["step"], "device": devices[-1] if devices else "unknown",
                "wall_s": round(walls[-1], 1) if walls else None,
                "data": a.data or ", ".join(cfg["train"]) or "embedded sample photos"}
    sha = zoo.save_checkpoint(model.eval(), out, a.name, a.quality, cfg["lmbda"],
                              meta={"training": training})
    print(f"{out}: sha256 {sha}")
    if a.register:
        e = zoo.register(out, training, default=a.default)
        print(f"registered {e['name']} q{e['quality']} in {out.resolve().parent / 'manifest.json'}")


def cmd_demo(a) -> None:
    """Compress an embedded sample photo, decode it, and compare with JPEG at a similar size."""
    import io
    from PIL import Image
    from .codec import decode_image, encode_image
    from .data import sample_images
    from .metrics import ms_ssim, psnr
    photos = dict(sample_images())
    if a.image not in photos:
        raise UsageError(f"unknown sample photo {a.image!r}; choose one of {sorted(photos)}")
    img, out = photos[a.image], Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = _model(a.model, a.quality)
    paths = {k: out / f"{a.image}{k}" for k in (".png", ".clb", "_decoded.png", "_jpeg.jpg")}
    for p in paths.values():
        _check_output("", str(p), a.force)
    enc = encode_image(img, model)
    _write_atomic(paths[".png"], lambda f: img.save(f, format="PNG"))
    _write_atomic(paths[".clb"], lambda f: f.write(enc.data))
    dec = decode_image(paths[".clb"].read_bytes())
    _write_atomic(paths["_decoded.png"], lambda f: dec.save(f, format="PNG"))
    best = None                                     # the JPEG quality whose size is closest
    for q in range(5, 96):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=q, subsampling=2)
        if best is None or abs(len(buf.getvalue()) - len(enc.data)) < abs(len(best[1]) - len(enc.data)):
            best = (q, buf.getvalue())
    _write_atomic(paths["_jpeg.jpg"], lambda f: f.write(best[1]))
    jpg = Image.open(io.BytesIO(best[1])).convert("RGB")
    W, H = img.size
    h = enc.header
    print(f"{a.image} ({W}x{H}), model {h.model} quality {h.quality}:")
    for label, n, rec in ((f"codec_lib  {paths['.clb'].name}", len(enc.data), dec),
                          (f"JPEG q={best[0]:<3d} {paths['_jpeg.jpg'].name}", len(best[1]), jpg)):
        print(f"  {label:34s} {n:7d} bytes  {8 * n / (W * H):.3f} bpp  "
              f"PSNR {psnr(img, rec):.2f} dB  MS-SSIM {ms_ssim(img, rec):.4f}")
    print(f"  decoded image: {paths['_decoded.png']} (identical to the encoder's reconstruction: "
          f"{dec.tobytes() == enc.x_hat.tobytes()})")


def _coder(a):
    from .entropy_coding import get_coder
    return get_coder(a.coder) if getattr(a, "coder", None) else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="codec-lib", description="Learned image compression: "
                                "real bitstreams from the codec_lib textbook library.")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores)")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("compress", help="compress an image into a .clb file")
    c.add_argument("input"), c.add_argument("output")
    c.add_argument("--model", help="installed model name or checkpoint path (default: the default model)")
    c.add_argument("--quality", type=int, help="quality level of the model (default: its default)")
    c.add_argument("--coder", choices=["rans", "reference"], help="entropy coder (same bytes)")
    c.add_argument("-f", "--force", action="store_true", help="replace OUTPUT if it exists")
    c.set_defaults(func=cmd_compress)

    d = sub.add_parser("decompress", help="decompress a .clb file into a PNG")
    d.add_argument("input"), d.add_argument("output")
    d.add_argument("--model", help="checkpoint to decode with (default: the one named in the file)")
    d.add_argument("--coder", choices=["rans", "reference"])
    d.add_argument("-f", "--force", action="store_true")
    d.set_defaults(func=cmd_decompress)

    i = sub.add_parser("info", help="print a .clb file's header")
    i.add_argument("input"), i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    m = sub.add_parser("models", help="list installed models")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    e = sub.add_parser("eval", help="evaluate a model on a folder of images")
    e.add_argument("dir"), e.add_argument("--model"), e.add_argument("--json", required=True)
    e.add_argument("--quality", type=int, nargs="+", help="qualities (default: all)")
    e.add_argument("--limit", type=int, help="only the first N images")
    e.add_argument("--per-image", action="store_true", help="also record every image's figures")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    e.add_argument("-f", "--force", action="store_true")
    e.set_defaults(func=cmd_eval)

    t = sub.add_parser("train", help="train a model (resumes if OUT/last.pt exists)")
    t.add_argument("--config", help="JSON file with TrainConfig fields (flags override it)")
    t.add_argument("--arch", choices=["factorized", "hyperprior", "mean-scale"])
    t.add_argument("--N", type=int), t.add_argument("--M", type=int)
    t.add_argument("--act", choices=["gdn", "relu", "residual"])
    t.add_argument("--lmbda", type=float, help="Lagrange multiplier (or give --quality 1..8)")
    t.add_argument("--quality", type=int, help="pick lmbda from CompressAI's quality ladder")
    t.add_argument("--steps", type=int), t.add_argument("--batch-size", dest="batch_size", type=int)
    t.add_argument("--crop", type=int), t.add_argument("--lr", type=float)
    t.add_argument("--lr-drop", dest="lr_drop", type=float)
    t.add_argument("--proxy", choices=["mixed", "noise", "ste", "soft", "sga"])
    t.add_argument("--seed", type=int), t.add_argument("--workers", type=int)
    t.add_argument("--train", nargs="+", help="training image folders (default: embedded photos)")
    t.add_argument("--val", help="validation image folder")
    t.add_argument("--out", help="run folder (checkpoints, history)")
    t.add_argument("--checkpoint-every", dest="checkpoint_every", type=int)
    t.add_argument("--init", help="start from the weights of this codec_lib checkpoint")
    t.set_defaults(func=cmd_train)

    de = sub.add_parser("demo", help="compress an embedded sample photo and compare with JPEG")
    de.add_argument("--image", default="astronaut", help="astronaut, coffee, chelsea or rocket")
    de.add_argument("--out", default="demo", help="folder for the files (default: ./demo)")
    de.add_argument("--model"), de.add_argument("--quality", type=int)
    de.add_argument("-f", "--force", action="store_true", help="replace the files of an earlier demo")
    de.set_defaults(func=cmd_demo)

    x = sub.add_parser("export", help="turn a training run into a shippable checkpoint")
    x.add_argument("run"), x.add_argument("output")
    x.add_argument("--name", required=True), x.add_argument("--quality", type=int, required=True)
    x.add_argument("--command", help="the training command to record in the manifest")
    x.add_argument("--data", help="description of the training data to record")
    x.add_argument("--register", action="store_true", help="add it to the folder's manifest.json")
    x.add_argument("--default", action="store_true", help="make it the default model")
    x.add_argument("-f", "--force", action="store_true")
    x.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    debug = a.debug or os.environ.get("CODEC_LIB_DEBUG") == "1"
    if a.threads:
        import torch
        torch.set_num_threads(a.threads)
    from .errors import CodecError
    try:
        a.func(a)
        return 0
    except KeyboardInterrupt:
        print("codec-lib: interrupted", file=sys.stderr)
        return 130
    except (UsageError, CodecError, OSError, ValueError, RuntimeError) as e:
        if debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"codec-lib: error: {msg}", file=sys.stderr)
        return 1
    except Exception as e:          # a bug: still one line, with a hint to get the traceback
        if debug:
            raise
        print(f"codec-lib: internal error: {type(e).__name__}: {e} (rerun with --debug)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
