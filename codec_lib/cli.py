"""``codec-lib``: the command line (also ``python -m codec_lib``).

::

    codec-lib compress photo.png photo.clb [--model NAME] [--quality Q]
    codec-lib decompress photo.clb photo_hat.png
    codec-lib info photo.clb [--json]
    codec-lib demo [--image astronaut] [--out demo]
    codec-lib models [--json]
    codec-lib eval DIR [--model NAME] [--quality Q ...] --json results.json
    codec-lib compare DIR --json OUT.json [--plot OUT.png] [--table OUT.md]   # models vs JPEG, WebP, ...
    codec-lib train --arch mean-scale --N 64 --M 96 --lmbda 0.013 --steps 10000 --out runs/x
    codec-lib export runs/x data/checkpoints/x.pt --name mean-scale --quality 4 [--register]
    codec-lib compress-video clip.mp4 clip.clv [--frames N]    # and decompress-video, eval-video

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
    except Image.DecompressionBombError:
        raise UsageError(f"{path}: image too large") from None
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


def _check_output(inp: str | None, out: str, force: bool) -> Path:
    o = Path(out)
    if inp and o.exists() and Path(inp).exists() and os.path.samefile(inp, out):
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
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)                 # mkstemp's 0600 -> the usual permissions
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
    model = _model(a.model, a.quality)
    if getattr(model, "coding", None):
        raise UsageError(f"{a.model} is a video model: use compress-video")
    if a.refine < 0:
        raise UsageError("--refine must be 0 or more")
    enc = encode_image(img, model, coder=_coder(a), refine=a.refine)
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
    if a.markdown:
        print(models_markdown())
        return
    if not models:
        print("no trained models installed")
    for m in models:
        star = " (default)" if m["default"] else ""
        syn = "" if m["synthesis"] == "deep" else f", {m['synthesis']} synthesis"
        print(f"{m['name']}{star}: {m['kind']}, {m['objective']}, {m['arch']} N={m['N']} M={m['M']}"
              f"{syn}, qualities {m['qualities']} (default {m['default_quality']}), "
              f"trained on {m['device'] or 'unknown'}")


def models_markdown() -> str:
    """The manifest as a Markdown table (the README's model table is made with it)."""
    from .entropy_models import SCALE_BOUND
    from .manifest import training_devices
    from .zoo import read_manifest
    man = read_manifest()
    default = man.get("default") or {}
    rows = ["| name | quality (lmbda) | arch, N, M | size | training | Kodak: bpp, PSNR, MS-SSIM | real / estimate |",
            "|---|---|---|---|---|---|---|"]
    for e in man["models"]:
        t, k = e.get("training", {}), e.get("kodak")
        steps = t.get("total_steps", t.get("steps"))
        wall = t.get("total_wall_s", t.get("wall_s"))
        train = ", ".join([f"{steps:,} steps" if steps else "steps unknown", training_devices(t) or "?"]
                          + ([f"{wall / 60:.0f} min"] if wall else []))
        if "total_steps" not in t and t.get("init"):
            train += f", from `{t['init']['file']}`"
        syn = "" if e.get("synthesis", "deep") == "deep" else f", {e['synthesis']} g_s"
        if e.get("objective", "mse") != "mse":
            syn += f", {e['objective']}"
        b = e.get("scale_bound", SCALE_BOUND)                 # tuned: codec_lib.calibrate
        if isinstance(b, list):
            syn += f", σ ≥ {min(b):g} to {max(b):g} per channel"
        elif b != SCALE_BOUND:
            syn += f", σ ≥ {b:g}"
        star = " (default)" if (default.get("model"), default.get("quality")) == (e["name"], e["quality"]) else ""
        kodak = (f"{k['bpp']:.3f}, {k['psnr']:.2f} dB, {k['ms_ssim']:.4f}" if k else
                 "video: see BasketballPass" if e.get("kind") == "video" else "not evaluated")
        ratio = f"{k['bpp'] / k['est_bpp']:.4f}" if k and k.get("est_bpp") else "-"
        rows.append(f"| `{e['name']}`{star} | {e['quality']} ({e['lmbda']}) | {e['arch']}{syn}, "
                    f"{e['N']}, {e['M']} | {e['bytes'] / 1e6:.1f} MB | {train} | {kodak} | {ratio} |")
    return "\n".join(rows)


def cmd_eval(a) -> None:
    from .data import eval_images
    from .evaluate import evaluate_model
    out = _check_output(a.dir, a.json, a.force)
    if not Path(a.dir).is_dir():
        raise UsageError(f"{a.dir}: no such folder")
    if a.refine < 0:
        raise UsageError("--refine must be 0 or more")
    if a.refine and a.record:
        raise UsageError("--record keeps the model's own points: not with --refine")
    images = eval_images(a.dir, limit=a.limit)
    if not images:
        raise UsageError(f"{a.dir}: no images found")
    res = evaluate_model(images, a.model, a.quality, progress=not a.quiet, per_image=a.per_image,
                         refine=a.refine)
    _write_atomic(out, lambda f: f.write((json.dumps(res, indent=2) + "\n").encode()))
    for p in res["points"]:
        est = f" (est {p['est_bpp']:.4f})" if p["est_bpp"] is not None else ""
        print(f"q{p['quality']}: {p['bpp']:.4f} bpp{est}, {p['psnr']:.2f} dB, "
              f"MS-SSIM {p['ms_ssim']:.4f}, enc {p['enc_s']:.2f} s, dec {p['dec_s']:.2f} s")
    if a.record:
        record_points(res, a.dir, a.json)


def record_points(res: dict, folder: str, json_path: str) -> None:
    """Write each point of an eval document into its model's manifest entry, under the name
    of the evaluated folder (e.g. ``"kodak"``)."""
    from .zoo import annotate
    key = Path(folder).resolve().name
    for p in res["points"]:
        point = {k: round(v, 5) for k, v in p.items() if k not in ("quality", "per_image")}
        annotate(res["model"], p["quality"], **{key: {**point, "images": res["images"],
                                                    "results": str(json_path)}})
    print(f"{res['model']}: recorded as '{key}' in the manifest")


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
    c.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="optimize the latents for this image first (slower encoding, same decoder)")
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
    m.add_argument("--markdown", action="store_true",
                   help="one table row per checkpoint, with its training and Kodak point")
    m.set_defaults(func=cmd_models)

    e = sub.add_parser("eval", help="evaluate a model on a folder of images")
    e.add_argument("dir"), e.add_argument("--model"), e.add_argument("--json", required=True)
    e.add_argument("--quality", type=int, nargs="+", help="qualities (default: all)")
    e.add_argument("--limit", type=int, help="only the first N images")
    e.add_argument("--per-image", action="store_true", help="also record every image's figures")
    e.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="encode with latent refinement (codec_lib.refine); the result is named NAME+refineSTEPS")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    e.add_argument("--record", action="store_true",
                   help="store the points in the models' manifest entries, under DIR's name")
    e.add_argument("-f", "--force", action="store_true")
    e.set_defaults(func=cmd_eval)

    from . import cli_train, cli_video, compare_cli
    cli_train.add_parsers(sub)
    compare_cli.add_parser(sub)
    cli_video.add_parsers(sub)
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
