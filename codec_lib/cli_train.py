"""``codec-lib train``, ``export`` and ``demo``: training runs, shippable checkpoints, a first look."""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from .cli import UsageError, _check_output, _model, _write_atomic

__all__ = ["add_parsers", "cmd_train", "cmd_export", "cmd_demo"]


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
    if base.get("lr_warmup", 0) < 0:
        raise UsageError("--lr-warmup must be 0 or more steps")
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


def _installed_parent(sha256: str):
    """The installed image model whose file has this sha256 (the ``--init`` of a partly frozen
    run), if any: the export then stores only what changed (:func:`codec_lib.zoo.save_checkpoint`).
    If that file is itself stored as changes (a run continuing a channel-context model or a
    fine-tuned decoder), its own parent: the frozen tensors are that model's, and the new file
    usually replaces the one it continued, so it must not depend on it."""
    from . import zoo
    e = next((e for e in zoo.read_manifest()["models"] if e["sha256"] == sha256
              and e.get("kind", "image") == "image"), None)
    if e is None:
        return None
    ref = zoo.stored_parent(zoo.checkpoint_dir() / e["file"])
    return zoo.load_ref(ref, f"{e['name']!r} q{e['quality']}") if ref else \
        zoo.load_model(e["name"], e["quality"])


def _warm_record(warm: str) -> dict:
    """How the export records the ``--warm`` file: name, sha256 and, when it has one, its
    ``meta["kept_from"]`` (``scripts/cpu_stage.sh install`` writes the file it kept and the
    stages that trained its cc networks, ``cc_stages``, which the lineage then counts)."""
    import torch
    from . import zoo
    kept = torch.load(warm, map_location="cpu", weights_only=True).get("meta", {}).get("kept_from")
    return {"file": Path(warm).name, "sha256": zoo.sha256_file(warm),
            **({"kept_from": kept} if kept else {})}


def _tune_bound(model, folder: str) -> dict:
    """Set the model's scale bound on up to 24 images of ``folder`` (spread over its sorted
    list); what the manifest records about the choice."""
    from PIL import Image
    from .calibrate import tune_scale_bound
    from .data import list_images
    if not hasattr(model, "gaussian_conditional"):
        raise UsageError("--tune-bound: this model has no Gaussian conditional (a factorized prior)")
    if not Path(folder).is_dir():
        raise UsageError(f"{folder}: no such folder")
    files = list_images(folder)
    files = files[:: max(1, len(files) // 24)][:24]
    try:
        images = [Image.open(f) for f in files]
        bound, rel = tune_scale_bound(model, images)
    except (OSError, ValueError) as e:
        raise UsageError(f"--tune-bound {folder}: {e}") from None
    per = isinstance(bound, list)
    show = f"{min(bound):g} to {max(bound):g} per channel" if per else f"{bound:g}"
    print(f"scale bound {show}: estimated rate {rel['per channel' if per else bound] - 1:+.2%}"
          f" on {len(images)} images of {folder}")
    where = "/".join(Path(folder).resolve().parts[-2:])
    return {"value": bound, "tuned_on": f"{where} ({len(images)} images)",
            "rate": {b if isinstance(b, str) else f"{b:g}": round(r, 4) for b, r in rel.items()}}


def cmd_export(a) -> None:
    from . import zoo
    from .train import load_run
    run = Path(a.run) / "last.pt"
    if not run.exists():
        raise UsageError(f"{run}: no such training checkpoint")
    out = _check_output(str(run), a.output, a.force)
    model, ck = load_run(a.run)
    cfg = ck["config"]
    if hasattr(model, "gaussian_conditional"):     # a coding choice, not learned: today's default
        from .entropy_models import default_scale_table
        model.gaussian_conditional.scale_table = default_scale_table()
    from .train import settle_quantiles
    prefixes = tuple(cfg.get("trainable") or ())       # quantiles frozen in training: keep them
    frozen = bool(prefixes) and not any(n.startswith(prefixes) for n, _ in model.named_parameters()
                                        if n.endswith("quantiles"))
    aux = float(model.aux_loss().detach()) if frozen else settle_quantiles(model)
    tuned = _tune_bound(model, a.tune_bound) if a.tune_bound else None
    walls = [h["wall_s"] for h in ck["history"] if "wall_s" in h]
    devices = [h["device"] for h in ck["history"] if "device" in h]
    training = {"command": a.command or "codec-lib train --config CONFIG", "config": cfg,
                "steps": ck["step"], "device": devices[-1] if devices else "unknown",
                "wall_s": round(walls[-1], 1) if walls else None,
                "data": a.data or ", ".join(cfg["train"]) or "embedded sample photos",
                "aux_loss_settled": round(aux, 2)}
    if tuned:
        training["scale_bound"] = tuned
    warm = _warm_record(cfg["warm"]) if cfg.get("warm") else {}
    if cfg.get("init"):
        training["init"] = {"file": Path(cfg["init"]).name, "sha256": zoo.sha256_file(cfg["init"])}
        training.update(zoo.lineage(cfg["init"], training,
                                    warm.get("kept_from", {}).get("cc_stages", ())))
    if warm:
        training["warm"] = warm
    objective = "perceptual" if cfg.get("beta", 0) > 0 else "mse"
    parent = _installed_parent(training["init"]["sha256"]) if prefixes and cfg.get("init") else None
    if parent is not None:
        own = zoo.checkpoint_dir() / zoo.resolve(parent.codec_name, parent.codec_quality)["file"]
        if out.resolve() == own.resolve():
            raise UsageError(f"{out} is the file of {parent.codec_name!r} "
                             f"q{parent.codec_quality}, which the export builds on: write elsewhere")
    sha = zoo.save_checkpoint(model.eval(), out, a.name, a.quality, cfg["lmbda"], objective,
                              meta={"training": training}, parent=parent)
    if parent is not None:
        print(f"stored as changes to the installed {parent.codec_name!r} q{parent.codec_quality}")
    print(f"{out}: sha256 {sha}")
    if a.register:
        e = zoo.register(out, training, default=a.default)
        print(f"registered {e['name']} q{e['quality']} in {out.resolve().parent / 'manifest.json'}")


def cmd_demo(a) -> None:
    """Compress an embedded sample photo, decode it, and compare with JPEG at a similar size."""
    from . import baselines
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
        _check_output(None, str(p), a.force)
    enc = encode_image(img, model)
    _write_atomic(paths[".png"], lambda f: img.save(f, format="PNG"))
    _write_atomic(paths[".clb"], lambda f: f.write(enc.data))
    dec = decode_image(paths[".clb"].read_bytes())
    _write_atomic(paths["_decoded.png"], lambda f: dec.save(f, format="PNG"))
    jpegs = [(q, baselines.encode(img, "jpeg", q)) for q in range(5, 96)]   # the baseline's settings
    best = min(jpegs, key=lambda qd: abs(len(qd[1]) - len(enc.data)))      # closest in size
    _write_atomic(paths["_jpeg.jpg"], lambda f: f.write(best[1]))
    jpg = baselines.decode(best[1])
    W, H = img.size
    h = enc.header
    print(f"{a.image} ({W}x{H}), model {h.model} quality {h.quality}:")
    for label, n, rec in ((f"codec_lib  {paths['.clb'].name}", len(enc.data), dec),
                          (f"JPEG q={best[0]:<3d} {paths['_jpeg.jpg'].name}", len(best[1]), jpg)):
        print(f"  {label:34s} {n:7d} bytes  {8 * n / (W * H):.3f} bpp  "
              f"PSNR {psnr(img, rec):.2f} dB  MS-SSIM {ms_ssim(img, rec):.4f}")
    print(f"  decoded image: {paths['_decoded.png']} (identical to the encoder's reconstruction: "
          f"{dec.tobytes() == enc.x_hat.tobytes()})")


def add_parsers(sub) -> None:
    """Register the subcommands of this module."""
    t = sub.add_parser("train", help="train a model (resumes if OUT/last.pt exists)")
    t.add_argument("--config", help="JSON file with TrainConfig fields (flags override it)")
    t.add_argument("--arch", choices=["factorized", "hyperprior", "mean-scale", "channel-context"],
                   help="channel-context: train it with --init a mean-scale model and --trainable cc")
    t.add_argument("--N", type=int), t.add_argument("--M", type=int)
    t.add_argument("--act", choices=["gdn", "relu", "residual"])
    t.add_argument("--synthesis", choices=["deep", "two-layer", "linear"],
                   help="decoder depth: deep (default) or a shallow decoder (Yang & Mandt 2023)")
    t.add_argument("--lmbda", type=float, help="Lagrange multiplier (or give --quality 1..8)")
    t.add_argument("--quality", type=int, help="pick lmbda from CompressAI's quality ladder")
    t.add_argument("--steps", type=int), t.add_argument("--batch-size", dest="batch_size", type=int)
    t.add_argument("--minutes", type=float,
                   help="stop after this much training time (resumes counted) even before --steps")
    t.add_argument("--crop", type=int), t.add_argument("--lr", type=float)
    t.add_argument("--lr-drop", dest="lr_drop", type=float)
    t.add_argument("--lr-warmup", dest="lr_warmup", type=int,
                   help="steps over which lr rises linearly to --lr (for continuing a trained model)")
    t.add_argument("--proxy", choices=["mixed", "noise", "ste", "soft", "sga"])
    t.add_argument("--beta", type=float,
                   help="adversarial weight: > 0 trains a generative (perceptual) codec")
    t.add_argument("--disc-lr", dest="disc_lr", type=float, help="the discriminator's learning rate")
    t.add_argument("--disc-channels", dest="disc_channels", type=int, help="the discriminator's width")
    t.add_argument("--trainable", nargs="+", metavar="PREFIX",
                   help="train only parameters whose names start with these (e.g. g_s); freeze the rest")
    t.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="bf16: bfloat16 autocast of the transforms, also on a CPU (about twice as "
                        "fast on one with native bfloat16); auto (default): bf16 on a GPU only")
    t.add_argument("--seed", type=int)
    t.add_argument("--workers", type=int, help="data loader processes (default: 0 on a CPU, up "
                   "to 8 on a GPU)")
    t.add_argument("--train", nargs="+", help="training image folders (default: embedded photos)")
    t.add_argument("--val", help="validation image folder")
    t.add_argument("--out", help="run folder (checkpoints, history)")
    t.add_argument("--checkpoint-every", dest="checkpoint_every", type=int)
    t.add_argument("--init", help="start from the weights of this codec_lib checkpoint")
    t.add_argument("--warm", metavar="FILE", help="copy matching tensors from this checkpoint "
                   "first; --init then replaces what both hold (e.g. a channel-context model "
                   "whose parent --init has since replaced)")
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
    x.add_argument("--tune-bound", metavar="FOLDER", help="choose the Gaussian scale bound on up "
                   "to 24 images of FOLDER (validation images, never the test set; "
                   "codec_lib.calibrate)")
    x.add_argument("-f", "--force", action="store_true")
    x.set_defaults(func=cmd_export)
