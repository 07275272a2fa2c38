"""Training the P-frame codecs on short clips: real video and clips synthesised from photos.

Each training sample is a clip of ``chain`` same-position crops (B clips per batch):

- from **synthetic clips**: a still photo (BSDS500) seen by a camera that pans (up to
  ``max_shift`` pixels per frame), zooms and rotates a little (:func:`codec_lib.motion.synthetic_clip`);
- from **real video**: consecutive frames of a clip (for instance ``bikes.mp4``), flipped at random
  (both made in :mod:`codec_lib.video_data`).

Frame 0 is coded by the frozen intra model of the batch's rate (rounded to 8 bits, as at coding
time). Then each optimizer step codes the next frame of the clips **from the codec's own previous
output** (detached): after ``chain - 1`` steps a new batch of clips starts. Training on decoded
P-frames, not only on intra-decoded references, teaches the codec the references it meets in a
long low-delay stream, where errors build up from frame to frame (the cascaded training of later
DCVC papers, here without back-propagation through the chain).

Each clip batch draws one rate ``k`` and trains ``R_motion + R_frame + lmbdas[k] * 255^2 * MSE``
(the gains of :class:`codec_lib.video_models.Gain` give one model all the rates). During the first
``warmup`` steps the motion estimator is also pulled towards a good warp,
``+ lmbda * 255^2 * MSE(warp(x_ref_hat, v), x_t)`` (DVC's first training stage). The learning rate
drops tenfold after ``lr_drop`` of the steps (or of ``minutes``, a time budget, if that comes
first). Batches depend only on ``(seed, step)``, and a run resumes exactly from ``out/last.pt``
(which keeps the chain's current reference). Training runs on the GPU when there is one;
``precision`` works as in :func:`codec_lib.train.fit` (bfloat16 autocast of the P-frame
transforms, entropy models and loss in float32; the frozen intra model always in float32). With
``val`` (folders of photos never trained on, e.g. BSDS500 val) each checkpoint records the loss
of coding fixed synthetic clips of them low-delay at every rate (:func:`evaluate_video_loss`),
the ship decision for a continued stage.

Example::

    cfg = VideoTrainConfig(coding="conditional", steps=2000, clips=["$CODEC_LIB_DATA/video/bikes.mp4"],
                           intra=[f"data/checkpoints/mean-scale-q{q}.pt" for q in (2, 3, 4, 5)],
                           out="runs/dcvc")
    model = fit_video(cfg)
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .errors import check_config
from .motion import warp
from .progress import Smoothed, TrainingBar
from .train import _rng_state, _save_atomic, _set_rng_state, configure_optimizers, rd_loss, use_bf16
from .video_data import clip_batch, training_sources, val_clips

__all__ = ["VideoTrainConfig", "build_video_model", "clip_batch", "val_clips", "evaluate_video_loss", "low_delay",
           "fit_video", "export_video_run"]

LMBDAS = [0.0035, 0.0067, 0.013, 0.025]      # the image models' lmbda for qualities 2..5


@dataclass
class VideoTrainConfig:
    coding: str = "residual"          # residual | conditional
    N: int = 48
    M: int = 64
    C: int = 16                       # context / feature channels
    lmbdas: list[float] = field(default_factory=lambda: list(LMBDAS))   # one per rate
    intra: list[str] = field(default_factory=list)   # image checkpoints, one per rate (or one)
    steps: int = 10_000
    minutes: float | None = None      # or stop after this much training time (resumes counted);
    # the lr drop then follows the time used or the steps, whichever is further
    batch_size: int = 4
    crop: int = 128
    chain: int = 4                    # frames per clip: one intra, then chain - 1 P-frames
    lr: float = 1e-4
    aux_lr: float = 1e-3
    lr_drop: float = 0.9              # fraction of the steps after which lr is divided by 10
    warmup: int = 500                 # steps with the motion-estimation loss added
    synthetic: float = 0.5            # fraction of clips synthesised from photos
    max_shift: float = 6.0            # synthetic pan, pixels per frame
    photos: list[str] = field(default_factory=list)   # folders of stills (default: BSDS500 / embedded)
    clips: list[str] = field(default_factory=list)    # real videos (read with video_io)
    clip_frames: int = 64             # frames read from each clip
    val: list[str] = field(default_factory=list)      # folders of validation photos (see val_clips)
    seed: int = 0
    precision: str = "auto"           # fp32 | bf16 | auto (bf16 on a GPU), as TrainConfig's
    out: str = "runs/video"
    checkpoint_every: int = 500
    threads: int | None = None
    init: str | None = None           # start from a run's last.pt or a shipped video checkpoint
                                      # (same coding, or residual weights for a conditional codec)

    def __post_init__(self):
        check_config(self, positive=("steps", "minutes", "batch_size", "checkpoint_every",
                                     "clip_frames"), non_negative=("lr", "aux_lr"),
                     fractions=("lr_drop", "synthetic"), multiple_of={"crop": 16})


def build_video_model(coding: str, N: int, M: int, C: int, intra=None, lmbdas=(0.013,)):
    from .video_conditional import ConditionalVideoCodec
    from .video_models import ResidualVideoCodec
    kinds = {"residual": ResidualVideoCodec, "conditional": ConditionalVideoCodec}
    if coding not in kinds:
        raise ValueError(f"unknown coding {coding!r}; choose one of {sorted(kinds)}")
    return kinds[coding](N, M, C, intra=intra, lmbdas=list(lmbdas))


@torch.no_grad()
def evaluate_video_loss(model, intras: list, x: torch.Tensor, lmbdas: list[float]) -> dict:
    """``{"loss", "per_rate"}``: the RD loss of coding clips ``x (B, T, 3, H, W)`` low-delay with
    real rounding (frame 0 by ``intras[k]``, then each P-frame from the codec's own output), mean
    over the P-frames, per rate ``k`` and over the rates."""
    was_training = model.training
    model.eval()
    losses = [[] for _ in lmbdas]
    for k, t, o in low_delay(model, intras, x, len(lmbdas)):
        losses[k].append(float(rd_loss(o, x[:, t], lmbdas[k])["loss"]))
    per_rate = [sum(v) / len(v) for v in losses]
    model.train(was_training)
    return {"loss": sum(per_rate) / len(per_rate), "per_rate": per_rate}


def low_delay(model, intras: list, x: torch.Tensor, rates: int | None = None):
    """Code clips ``x (B, T, 3, H, W)`` low-delay at each rate ``k`` (all of the model's, or
    the first ``rates``): frame 0 by ``intras[k]``, then each P-frame from the codec's own
    8-bit output. Yields ``(k, t, out)``, ``out`` the codec's pass on frame ``t``."""
    for k in range(len(model.lmbdas) if rates is None else rates):
        model.set_rate(k)
        ref = _to_8bit(intras[k % len(intras)](x[:, 0])["x_hat"])
        for t in range(1, x.shape[1]):
            out = model(x[:, t], ref)
            yield k, t, out
            ref = _to_8bit(out["x_hat"])


def _init_from(model, path: str) -> None:
    """Copy the P-frame weights of a training run's ``last.pt``, or of a shipped video checkpoint
    (:mod:`codec_lib.video_zoo`), into ``model`` (the intra model stays)."""
    from .zoo import _unpack_state
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if ck.get("kind") == "video":                      # a shipped file: its P-frame parts
        coding, state, lmbdas = ck["coding"], _unpack_state(ck["state_dict"]), ck["lmbdas"]
    else:
        coding, state, lmbdas = ck["config"]["coding"], ck["model"], ck["config"]["lmbdas"]
    if len(lmbdas) != len(model.lmbdas):
        raise ValueError(f"{path} has {len(lmbdas)} rates, this codec {len(model.lmbdas)}")
    if coding == model.coding:
        model.load_parts(state)
    elif (coding, model.coding) == ("residual", "conditional"):
        model.init_from_residual(state)
    else:
        raise ValueError(f"cannot start a {model.coding} codec from a {coding} codec's weights")


def _to_8bit(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def fit_video(cfg: VideoTrainConfig, progress: bool = True, device: str | None = None):
    """Train (or continue) a P-frame codec as ``cfg`` says, on ``device`` (default: the GPU if
    there is one); returns it in eval mode."""
    from .zoo import load_checkpoint
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.chain < 2:
        raise ValueError("chain must be at least 2 (an intra frame and a P-frame)")
    torch.manual_seed(cfg.seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = use_bf16(cfg.precision, device)
    intras = [load_checkpoint(p).requires_grad_(False).to(device) for p in cfg.intra] or [None]
    if len(intras) not in (1, len(cfg.lmbdas)):
        raise ValueError(f"give one intra checkpoint or one per rate ({len(cfg.lmbdas)}), not {len(intras)}")
    model = build_video_model(cfg.coding, cfg.N, cfg.M, cfg.C, intras[-1], cfg.lmbdas)
    model.to(device)
    intras = [m or model.intra for m in intras]
    trainable = [n for n, _ in model.named_children() if n != "intra"]   # the intra model is frozen
    opt, aux_opt = configure_optimizers(model, cfg.lr, cfg.aux_lr, trainable)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    step, history, ref = 0, [], None
    if cfg.init and not (out / "last.pt").exists():
        _init_from(model, cfg.init)
    if (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", map_location=device, weights_only=False)
        model.load_parts(ck["model"])           # the intra model is the frozen file's
        opt.load_state_dict(ck["optimizer"]), aux_opt.load_state_dict(ck["aux_optimizer"])
        step, history, ref = ck["step"], ck["history"], ck.get("ref")
        _set_rng_state(ck["rng"])
    photos, clips = training_sources(cfg)
    val = val_clips(cfg.val, cfg).to(device) if cfg.val else None
    model.train()
    for m in intras:
        m.eval()
    P, batch = cfg.chain - 1, (None, None)
    done = history[-1]["wall_s"] if history else 0.0            # seconds trained before a resume
    terms, t0 = Smoothed(), time.time() - done                  # the running loss terms
    budget = 60 * cfg.minutes if cfg.minutes else math.inf     # seconds
    bar = TrainingBar(cfg.steps, cfg.minutes, step, done, f"fit {cfg.coding}", disable=not progress)
    out_of_time = done >= budget                                # resumed when time was up
    while step < cfg.steps and not out_of_time:
        i, t = divmod(step, P)                          # clip batch i, its P-frame t + 1
        if batch[0] != i:
            x, k = clip_batch(photos, clips, cfg, i)
            batch = (i, (x.to(device, non_blocking=True), k))
        x, k = batch[1]
        if t == 0 or ref is None:
            with torch.no_grad():
                ref = _to_8bit(intras[k % len(intras)](x[:, 0])["x_hat"])       # decoded frame 0
        model.set_rate(k)
        lmbda = cfg.lmbdas[k]
        late = step >= cfg.lr_drop * cfg.steps or time.time() - t0 >= cfg.lr_drop * budget
        for g in opt.param_groups:
            g["lr"] = cfg.lr * (0.1 if late else 1.0)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            o = model(x[:, t + 1], ref)
            res = rd_loss(o, x[:, t + 1], lmbda)        # R_motion + R_frame + lmbda 255^2 MSE
            loss = res["loss"]
            if step < cfg.warmup:
                loss = loss + lmbda * 255**2 * F.mse_loss(warp(ref, o["flow"]), x[:, t + 1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
        opt.step()
        aux_loss = model.aux_loss()
        aux_opt.zero_grad(set_to_none=True)
        aux_loss.backward()
        aux_opt.step()
        ref = _to_8bit(o["x_hat"].detach().float())     # the next frame's reference
        step += 1
        terms.update(loss=loss, bpp=res["bpp"], mse=res["mse"])      # on the device: no sync
        out_of_time = time.time() - t0 >= budget
        save = step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time
        bar.update(step, time.time() - t0, lambda: terms.postfix("bpp", "psnr"), force=save)
        if save:
            history.append({"step": step, "wall_s": time.time() - t0, "device": device,
                            **terms.floats()})
            if val is not None:
                v = evaluate_video_loss(model, intras, val, cfg.lmbdas)
                history[-1].update(val_loss=v["loss"], val_loss_per_rate=v["per_rate"])
            _save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(),
                          "aux_optimizer": aux_opt.state_dict(), "step": step, "history": history,
                          "rng": _rng_state(), "ref": ref, "config": asdict(cfg)}, out / "last.pt")
    bar.close()
    if step < cfg.steps:
        print(f"stopped at step {step} of {cfg.steps}: {cfg.minutes} minutes of training used")
    return model.eval()


def export_video_run(run: str, out: str, name: str, command: str, register: bool = True) -> str:
    """Turn ``run/last.pt`` into a shippable video checkpoint: the P-frame parts, with their
    quantiles settled, and a reference to the installed intra model of each rate
    (:mod:`codec_lib.video_zoo`). The qualities are the intra models' when there is one per rate
    (``mean-scale`` q2..q5 give qualities 2..5), else 1..K. With ``register``, add the file to
    the manifest of ``out``'s folder (``"kind": "video"``, one entry per quality). Returns the
    file's sha256."""
    from . import zoo
    from .train import settle_quantiles
    from .video_zoo import save_video_checkpoint
    ck = torch.load(Path(run) / "last.pt", map_location="cpu", weights_only=False)
    cfg = VideoTrainConfig(**ck["config"])
    intras = [zoo.load_checkpoint(p) for p in cfg.intra]
    if not intras:
        raise zoo.ModelError("the run has no intra checkpoint to refer to")
    refs = [zoo.model_ref(m, "intra") for m in intras] * (len(cfg.lmbdas) if len(intras) == 1 else 1)
    for r in refs:           # the zoo must hold these very intra models
        if zoo.resolve(r["name"], r["quality"]).get("weights_hash") != r["weights_hash"]:
            raise zoo.ModelError(f"install {r['name']!r} q{r['quality']} (these weights) first")
    qualities = [r["quality"] for r in refs]
    if len(set(qualities)) != len(qualities):
        qualities = list(range(1, len(refs) + 1))
    model = build_video_model(cfg.coding, cfg.N, cfg.M, cfg.C, intras[-1], cfg.lmbdas)
    model.load_parts(ck["model"])           # the intra model is the frozen file's
    aux = settle_quantiles(model, skip=("intra.",))
    devices = [h["device"] for h in ck["history"] if "device" in h]   # runs before it: the CPU
    training = {"command": command, "config": asdict(cfg), "steps": ck["step"],
                "device": devices[-1] if devices else "cpu",
                "wall_s": round(ck["history"][-1]["wall_s"], 1) if ck["history"] else None,
                "data": ", ".join(cfg.clips + cfg.photos) or "embedded sample photos",
                "aux_loss_settled": round(aux, 2)}
    if cfg.init:                      # what it started from: its steps and time count too
        first = torch.load(cfg.init, map_location="cpu", weights_only=False)
        if first.get("kind") == "video":                 # a shipped video checkpoint
            training["init"] = {"file": Path(cfg.init).name, "sha256": zoo.sha256_file(cfg.init)}
            training.update(zoo.lineage(cfg.init, training))
        else:                                            # a training run
            training["init"] = {"run": cfg.init, "coding": first["config"]["coding"],
                                "steps": first["step"], "wall_s": round(first["history"][-1]["wall_s"], 1)}
            training["total_steps"] = first["step"] + ck["step"]
            training["total_wall_s"] = round(first["history"][-1]["wall_s"] + training["wall_s"], 1)
    sha = save_video_checkpoint(model.eval(), out, name, qualities, refs, meta={"training": training})
    if register:
        zoo.register(out, training)
    return sha
