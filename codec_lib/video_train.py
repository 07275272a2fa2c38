"""Training the P-frame codecs on pairs of frames: real video and clips synthesised from photos.

Each training sample is a pair ``(x_ref, x_t)`` of same-position crops:

- from **synthetic clips**: a still photo (BSDS500) seen by a camera that pans, zooms and
  rotates a little between the two frames (:func:`codec_lib.motion.synthetic_clip`);
- from **real video**: two consecutive frames of a clip (for instance ``bikes.mp4``).

The reference the codec sees is the *decoded* first frame, ``x_ref_hat = intra(x_ref)`` (rounded,
no gradient), as at coding time. The loss is the video version of the Lagrangian,
``R_motion + R_frame + lmbda * 255^2 * MSE(x_hat, x_t)``; during the first ``warmup`` steps the
motion estimator is also pulled towards a good warp, ``+ lmbda * 255^2 * MSE(warp(x_ref_hat, v), x_t)``
(DVC's first training stage). The intra model is frozen. Batches depend only on ``(seed, step)``.

Example::

    cfg = VideoTrainConfig(coding="conditional", steps=2000, intra="data/checkpoints/mean-scale-q4.pt",
                           clips=["$CODEC_LIB_DATA/video/bikes.mp4"], out="runs/dcvc")
    model = fit_video(cfg)
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .motion import synthetic_clip, warp
from .train import _rng_state, _save_atomic, _set_rng_state, configure_optimizers, rd_loss

__all__ = ["VideoTrainConfig", "build_video_model", "pair_batch", "fit_video", "export_video_run"]


@dataclass
class VideoTrainConfig:
    coding: str = "residual"          # residual | conditional
    N: int = 64
    M: int = 96
    C: int = 32
    lmbda: float = 0.013
    steps: int = 10_000
    batch_size: int = 4
    crop: int = 128
    lr: float = 1e-4
    aux_lr: float = 1e-3
    warmup: int = 500                 # steps with the motion-estimation loss added
    synthetic: float = 0.5            # fraction of pairs synthesised from photos
    photos: list[str] = field(default_factory=list)   # folders of stills (default: BSDS500 / embedded)
    clips: list[str] = field(default_factory=list)    # real videos (read with video_io)
    clip_frames: int = 64             # frames read from each clip
    intra: str | None = None          # image checkpoint for the first frame (frozen)
    seed: int = 0
    out: str = "runs/video"
    checkpoint_every: int = 500
    threads: int | None = None


def build_video_model(coding: str, N: int, M: int, C: int, intra=None):
    from .video_conditional import ConditionalVideoCodec
    from .video_models import ResidualVideoCodec
    kinds = {"residual": ResidualVideoCodec, "conditional": ConditionalVideoCodec}
    if coding not in kinds:
        raise ValueError(f"unknown coding {coding!r}; choose one of {sorted(kinds)}")
    return kinds[coding](N, M, C, intra=intra)


def _sources(cfg: VideoTrainConfig):
    from .data import list_images, sample_images, training_folders
    from .video_io import read_video
    folders = cfg.photos or [str(f) for f in training_folders()]
    photos = [p for f in folders for p in list_images(f)] or [img for _, img in sample_images()]
    clips = [read_video(c, cfg.clip_frames) for c in cfg.clips]
    return photos, clips


def pair_batch(photos: list, clips: list[np.ndarray], cfg: VideoTrainConfig, step: int):
    """``(x_ref, x_t)``, two ``(B, 3, crop, crop)`` tensors in [0, 1], a function of (seed, step)."""
    from PIL import Image
    rng = np.random.default_rng([cfg.seed, step])
    refs, cur = [], []
    for _ in range(cfg.batch_size):
        if not clips or rng.random() < cfg.synthetic:
            p = photos[rng.integers(len(photos))]
            img = np.asarray((Image.open(p) if isinstance(p, (str, os.PathLike)) else p).convert("RGB"))
            x, _ = synthetic_clip(img, 2, (cfg.crop, cfg.crop), seed=int(rng.integers(1 << 30)),
                                  max_shift=min(4.0, (min(img.shape[:2]) - cfg.crop) / 2 - 1))
        else:
            clip = clips[rng.integers(len(clips))]
            T, H, W, _ = clip.shape
            t, top, left = rng.integers(1, T), rng.integers(H - cfg.crop + 1), rng.integers(W - cfg.crop + 1)
            pair = clip[t - 1: t + 1, top: top + cfg.crop, left: left + cfg.crop]
            x = torch.from_numpy(np.ascontiguousarray(pair)).permute(0, 3, 1, 2).float() / 255
        refs.append(x[0]), cur.append(x[1])
    return torch.stack(refs), torch.stack(cur)


def fit_video(cfg: VideoTrainConfig, progress: bool = True):
    """Train (or continue) a P-frame codec as ``cfg`` says; returns it in eval mode."""
    from .zoo import load_checkpoint
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    intra = load_checkpoint(cfg.intra) if cfg.intra else None
    model = build_video_model(cfg.coding, cfg.N, cfg.M, cfg.C, intra)
    trainable = [n for n, _ in model.named_children() if n != "intra"]   # the intra model is frozen
    opt, aux_opt = configure_optimizers(model, cfg.lr, cfg.aux_lr, trainable)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    step, history = 0, []
    if (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"]), aux_opt.load_state_dict(ck["aux_optimizer"])
        step, history = ck["step"], ck["history"]
        _set_rng_state(ck["rng"])
    photos, clips = _sources(cfg)
    model.train()
    model.intra.eval()
    run, t0 = {}, time.time() - (history[-1]["wall_s"] if history else 0.0)
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc=f"fit {cfg.coding}")
    while step < cfg.steps:
        x_ref, x = pair_batch(photos, clips, cfg, step)
        with torch.no_grad():
            x_ref_hat = model.intra(x_ref)["x_hat"].clamp(0, 1)          # the decoded reference
        o = model(x, x_ref_hat)
        res = rd_loss(o, x, cfg.lmbda)                  # R_motion + R_frame + lmbda 255^2 MSE
        loss = res["loss"]
        if step < cfg.warmup:
            loss = loss + cfg.lmbda * 255**2 * F.mse_loss(warp(x_ref_hat, o["flow"]), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
        opt.step()
        aux_loss = model.aux_loss()
        aux_opt.zero_grad(set_to_none=True)
        aux_loss.backward()
        aux_opt.step()
        step += 1
        for k, v in (("loss", loss), ("bpp", res["bpp"]), ("mse", res["mse"])):
            v = float(v.detach())
            run[k] = 0.98 * run.get(k, v) + 0.02 * v
        bar.update(1)
        bar.set_postfix(bpp=f"{run['bpp']:.3f}", psnr=f"{-10 * math.log10(max(run['mse'], 1e-12)):.2f}")
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            history.append({"step": step, "wall_s": time.time() - t0, **run})
            _save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(),
                          "aux_optimizer": aux_opt.state_dict(), "step": step, "history": history,
                          "rng": _rng_state(), "config": asdict(cfg)}, out / "last.pt")
    bar.close()
    return model.eval()


def export_video_run(run: str, out: str, name: str, quality: int, command: str,
                     register: bool = True) -> str:
    """Turn ``run/last.pt`` into a shippable video checkpoint (its own coders' quantiles settled,
    the intra model's left as they are); with ``register`` add it to the manifest of ``out``'s
    folder with ``"kind": "video"``. Returns the file's sha256."""
    from . import zoo
    from .train import settle_quantiles
    ck = torch.load(Path(run) / "last.pt", map_location="cpu", weights_only=False)
    cfg = VideoTrainConfig(**ck["config"])
    intra = zoo.load_checkpoint(cfg.intra) if cfg.intra else None
    model = build_video_model(cfg.coding, cfg.N, cfg.M, cfg.C, intra)
    model.load_state_dict(ck["model"])
    aux = settle_quantiles(model, skip=("intra.",))
    training = {"command": command, "config": asdict(cfg), "steps": ck["step"], "device": "cpu",
                "wall_s": round(ck["history"][-1]["wall_s"], 1) if ck["history"] else None,
                "data": ", ".join(cfg.clips + cfg.photos) or "embedded sample photos",
                "aux_loss_settled": round(aux, 2)}
    if cfg.intra:
        training["intra"] = {"file": Path(cfg.intra).name, "sha256": zoo.sha256_file(cfg.intra)}
    sha = zoo.save_checkpoint(model.eval(), out, name, quality, cfg.lmbda, meta={"training": training})
    if register:
        zoo.register(out, training)
    return sha
