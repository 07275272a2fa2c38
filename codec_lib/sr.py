"""Super-resolution in miniature: the perception-distortion trade-off on a task without rates.

Blau & Michaeli ("The perception-distortion tradeoff", CVPR 2018) show that no estimator can
be both as close as possible to the truth on average (low MSE) and indistinguishable from real
images (low distance between distributions): past a point, one is bought with the other. The
classic demonstration is 4x super-resolution, as in SRGAN (Ledig et al., CVPR 2017):

- *bicubic* up-sampling: blurry, neither sharp nor optimal in MSE;
- an *MSE-trained* network: the best PSNR, but it predicts the conditional *mean* of all sharp
  images that down-sample to the input, which is blurry again;
- a *GAN-trained* network: it samples a plausible sharp image instead, loses some PSNR and gains
  realism. Sweeping the adversarial weight ``beta`` traces the trade-off curve.

The objective matches the generative codec's (:mod:`codec_lib.gan`) without the rate:
``lmbda * 255^2 * MSE + beta * L_G``, with the discriminator conditioned on the low-resolution
input. The up-sampler predicts a correction to bicubic up-sampling.

Workflow::

    python -m codec_lib.sr --beta 0 --steps 3000 --out runs/sr-mse.pt              # MSE first
    python -m codec_lib.sr --beta 0.1 --init runs/sr-mse.pt --out runs/sr-b0.1.pt  # then GAN
    ups = sr.load_upsamplers()             # the shipped ones: {beta: Upsampler}, sha256-checked
    x_sr = ups[0.1](sr.downsample(x))      # (B, 3, H, W) from (B, 3, H/4, W/4)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .errors import CodecError, ModelError

__all__ = ["Upsampler", "SRConfig", "downsample", "bicubic", "fit_upsampler", "save_upsampler",
           "load_upsampler", "load_upsamplers", "sr_dir"]

FACTOR = 4


def downsample(x: torch.Tensor, factor: int = FACTOR) -> torch.Tensor:
    """Anti-aliased bicubic down-sampling, ``(B, 3, H, W) -> (B, 3, H/f, W/f)``."""
    return F.interpolate(x, scale_factor=1 / factor, mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


def bicubic(x_lr: torch.Tensor, factor: int = FACTOR) -> torch.Tensor:
    """Bicubic up-sampling, the baseline every learned up-sampler corrects."""
    return F.interpolate(x_lr, scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)


class Upsampler(nn.Module):
    """A small 4x super-resolution network (an SRResNet in miniature).

    ``C`` channels, ``blocks`` residual blocks at the low resolution, then two 2x pixel-shuffle
    stages; the output is bicubic up-sampling plus the predicted correction.
    """

    def __init__(self, C: int = 32, blocks: int = 4):
        super().__init__()
        self.C, self.blocks = C, blocks
        self.head = nn.Conv2d(3, C, 3, padding=1)
        self.body = nn.ModuleList(nn.Sequential(nn.Conv2d(C, C, 3, padding=1), nn.ReLU(inplace=True),
                                                nn.Conv2d(C, C, 3, padding=1)) for _ in range(blocks))
        self.up = nn.Sequential(nn.Conv2d(C, 4 * C, 3, padding=1), nn.PixelShuffle(2), nn.ReLU(inplace=True),
                                nn.Conv2d(C, 4 * C, 3, padding=1), nn.PixelShuffle(2), nn.ReLU(inplace=True),
                                nn.Conv2d(C, 3, 3, padding=1))

    def forward(self, x_lr: torch.Tensor) -> torch.Tensor:       # (B, 3, h, w) -> (B, 3, 4h, 4w)
        f = self.head(x_lr)
        h = f
        for block in self.body:
            h = h + block(h)
        return bicubic(x_lr) + self.up(h + f)                     # clamped by the caller


@dataclass
class SRConfig:
    """One up-sampler training run."""
    beta: float = 0.0                 # adversarial weight (0: the MSE up-sampler)
    lmbda: float = 0.01               # weight of 255^2 * MSE
    steps: int = 3000
    batch_size: int = 8
    crop: int = 96                    # high-resolution crop; the input is crop / 4
    lr: float = 2e-4
    disc_lr: float = 1e-4
    disc_channels: int = 32
    C: int = 32
    blocks: int = 4
    seed: int = 0
    train: list[str] = field(default_factory=list)   # folders; empty -> training_folders()
    init: str | None = None           # start from this up-sampler file (GAN after MSE)
    out: str = "runs/sr.pt"
    threads: int | None = None


def fit_upsampler(cfg: SRConfig, progress: bool = True) -> tuple[Upsampler, dict]:
    """Train an up-sampler as ``cfg`` says and save it to ``cfg.out``; returns it and its
    training record (steps, wall time, final smoothed losses)."""
    from .data import ImageFolder, training_folders, training_loader
    from .gan import Adversary
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = load_upsampler(cfg.init) if cfg.init else Upsampler(cfg.C, cfg.blocks)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    adversary = Adversary(3, cfg.disc_lr, "cpu", cfg.disc_channels) if cfg.beta > 0 else None
    folders = cfg.train or [str(f) for f in training_folders()] or None
    loader = training_loader(ImageFolder(folders, crop=cfg.crop), cfg.batch_size, cfg.seed, 0, cfg.steps)
    run, t0 = {}, time.time()
    bar = tqdm(loader, total=cfg.steps, disable=not progress, desc=f"sr beta={cfg.beta:g}")
    for step, x in enumerate(bar):                                  # x: (B, 3, crop, crop)
        x_lr = downsample(x)
        x_sr = model(x_lr)
        res = {"mse": F.mse_loss(x_sr, x)}
        loss = cfg.lmbda * 255**2 * res["mse"]
        if adversary is not None:
            res["g"] = adversary.generator_loss(x_sr, x_lr)
            loss = loss + cfg.beta * res["g"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if adversary is not None:
            res.update(adversary.step(x, x_sr, x_lr))
        for k, v in res.items():
            v = float(v.detach()) if torch.is_tensor(v) else float(v)
            run[k] = 0.98 * run.get(k, v) + 0.02 * v
        bar.set_postfix(psnr=f"{-10 * torch.log10(torch.tensor(run['mse'])):.2f}",
                        **({"g": f"{run['g']:.2f}"} if "g" in run else {}))
    record = {"config": asdict(cfg), "steps": cfg.steps, "wall_s": round(time.time() - t0, 1),
              "device": "cpu", "data": folders or "embedded sample photos", "final": {k: round(v, 5) for k, v in run.items()}}
    save_upsampler(model.eval(), cfg.out, cfg.beta, record)
    return model, record


def save_upsampler(model: Upsampler, path: str | os.PathLike, beta: float, meta: dict | None = None) -> None:
    """Write ``{"format": "codec_lib.upsampler", C, blocks, beta, state_dict (fp16), meta}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from .train import _save_atomic
    sd = {k: v.detach().half() for k, v in model.state_dict().items()}
    _save_atomic({"format": "codec_lib.upsampler", "C": model.C, "blocks": model.blocks,
                  "beta": beta, "state_dict": sd, "meta": meta or {}}, path)


def load_upsampler(path: str | os.PathLike, sha256: str | None = None) -> Upsampler:
    """Load an up-sampler file; with ``sha256`` refuse a file whose hash differs."""
    from .zoo import sha256_file
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such up-sampler file")
    if sha256 and sha256_file(path) != sha256:
        raise ModelError(f"{path}: sha256 differs from the manifest (file altered or corrupt)")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict) or obj.get("format") != "codec_lib.upsampler":
        raise ModelError(f"{path}: not a codec_lib up-sampler file")
    model = Upsampler(obj["C"], obj["blocks"])
    model.load_state_dict({k: v.float() for k, v in obj["state_dict"].items()})
    return model.eval()


def sr_dir() -> Path:
    """The shipped up-samplers: ``<checkpoint folder>/sr`` (see :func:`codec_lib.zoo.checkpoint_dir`)."""
    from .zoo import checkpoint_dir
    return checkpoint_dir() / "sr"


def load_upsamplers(folder: str | os.PathLike | None = None) -> dict[float, Upsampler]:
    """Every up-sampler in ``folder/manifest.json`` (default :func:`sr_dir`), by ``beta``."""
    folder = Path(folder) if folder else sr_dir()
    try:
        man = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"{folder / 'manifest.json'}: cannot read the up-sampler manifest ({e})") from None
    return {e["beta"]: load_upsampler(folder / e["file"], e["sha256"]) for e in man["upsamplers"]}


def register_upsampler(path: str | os.PathLike, command: str) -> dict:
    """Add (or replace) the manifest entry of an up-sampler file in its folder."""
    from .manifest import _write_manifest, sha256_file
    path = Path(path).resolve()
    obj = torch.load(path, map_location="cpu", weights_only=True)
    man_path = path.parent / "manifest.json"
    man = json.loads(man_path.read_text()) if man_path.exists() else {"upsamplers": []}
    meta = obj["meta"]
    entry = {"file": path.name, "beta": obj["beta"], "sha256": sha256_file(path),
             "bytes": path.stat().st_size, "command": command, "steps": meta.get("steps"),
             "wall_s": meta.get("wall_s"), "device": meta.get("device"),
             "data": meta.get("data") or "BSDS500 train + test ($CODEC_LIB_DATA/bsds500)",
             "init": Path(meta["config"]["init"]).name if meta.get("config", {}).get("init") else None}
    man["upsamplers"] = sorted([e for e in man["upsamplers"] if e["file"] != path.name] + [entry],
                               key=lambda e: e["beta"])
    _write_manifest(path.parent, man)
    return entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m codec_lib.sr", description="train a 4x up-sampler")
    for f in ("beta", "lmbda", "lr", "disc_lr"):
        p.add_argument("--" + f.replace("_", "-"), dest=f, type=float)
    for f in ("steps", "batch_size", "crop", "disc_channels", "C", "blocks", "seed", "threads"):
        p.add_argument("--" + f.replace("_", "-"), dest=f, type=int)
    p.add_argument("--train", nargs="+", help="training image folders (default: $CODEC_LIB_DATA's BSDS500)")
    p.add_argument("--init", help="start from this up-sampler file")
    p.add_argument("--out", required=True, help="the up-sampler file to write")
    p.add_argument("--register", action="store_true", help="add it to the manifest of its folder")
    a = p.parse_args(argv)
    cfg = SRConfig(**{k: v for k, v in vars(a).items() if v is not None and k != "register"})
    try:
        for folder in cfg.train:
            if not Path(folder).is_dir():
                raise CodecError(f"{folder}: no such folder")
        if Path(cfg.out).exists():
            raise CodecError(f"{cfg.out} exists; remove it first")
        fit_upsampler(cfg)
        if a.register:
            register_upsampler(cfg.out, "python -m codec_lib.sr " + " ".join(argv or sys.argv[1:]))
    except CodecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {cfg.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
