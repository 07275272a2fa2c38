"""Training: the rate-distortion Lagrangian and the one ``fit`` loop used everywhere.

A codec with parameters ``psi`` minimizes, over training crops ``x``,

    J(psi) = R + lmbda * D = E[ -log2 p(y_hat) - log2 p(z_hat) ] / pixels  +  lmbda * 255^2 * MSE

(bits per pixel plus weighted distortion; the ``255^2`` puts MSE on the 8-bit scale, so the
``lmbda`` values match CompressAI's quality ladder). The factorized densities' quantiles are
learned by a separate auxiliary loss with its own optimizer, as in Balle et al.'s reference code.

With ``beta > 0`` the decoder is also trained as the generator of a conditional GAN
(:mod:`codec_lib.gan`), adding ``beta * L_G`` to the loss: a generative codec.

``fit`` uses the GPU when there is one (bfloat16 autocast for the transforms, channels-last;
``precision="bf16"`` does the same on a CPU with native bfloat16, about twice as fast there), shows
a progress bar (over the minutes when ``minutes`` is set: :mod:`codec_lib.progress`), writes
``last.pt`` every ``checkpoint_every`` steps (atomically) and resumes exactly: the batches are a
function of ``(seed, step)`` (:mod:`codec_lib.data`) and the checkpoint holds the model, both
optimizers and every random generator's state. ``minutes`` caps the training time instead of (or as
well as) the steps, for a fixed budget such as a session's or a GPU lease's: the run stops with a
checkpoint when the time is used up, and its learning-rate drop comes at ``lr_drop`` of the time if
that is reached before ``lr_drop`` of the steps.

Example::

    cfg = TrainConfig(arch="mean-scale", N=64, M=96, lmbda=0.013, steps=2000, out="runs/demo")
    model = fit(cfg)                  # run again with the same cfg to continue where it stopped
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import ImageFolder, default_workers, training_loader
from .errors import CodecError, check_config
from .models import CompressionModel, build_model
from .progress import Smoothed, TrainingBar

__all__ = ["TrainConfig", "rd_loss", "fit", "train_step", "init_from", "settle_quantiles", "configure_optimizers", "evaluate_loss", "load_run", "LAMBDAS"]

# CompressAI's MSE quality ladder (lambda for quality 1..8), used by its pretrained models.
LAMBDAS = {1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.0130, 5: 0.0250, 6: 0.0483, 7: 0.0932, 8: 0.1800}


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved inside its checkpoints)."""
    arch: str = "mean-scale"          # factorized | hyperprior | mean-scale
    N: int = 128
    M: int = 192
    act: str = "gdn"
    synthesis: str = "deep"           # deep | two-layer | linear (shallow decoders)
    lmbda: float = 0.0130
    steps: int = 100_000
    minutes: float | None = None      # or stop after this much training time (resumes counted);
    # the lr drop and any annealing then follow the time used or the steps, whichever is further
    batch_size: int = 8
    crop: int = 256
    scale: tuple[float, float] = (0.6, 1.0)   # random down-scaling range of the crops
    lr: float = 1e-4
    aux_lr: float = 1e-3
    lr_drop: float = 0.9              # multiply lr by 0.1 after this fraction of the steps
    lr_warmup: int = 0                # raise lr linearly from lr/lr_warmup over these first steps
    # (continuing a trained model: a fresh Adam's first steps are as large as lr allows)
    clip_grad: float = 1.0
    proxy: str = "mixed"              # quantization proxy, see codec_lib.quantization
    anneal: dict[str, tuple[float, float]] = field(default_factory=dict)
    # proxy parameters moved geometrically from start to end over the run, e.g. {"tau": (1, 0.05)}
    seed: int = 0
    workers: int | None = None        # loader processes (None: data.default_workers, 0 on a CPU)
    train: list[str] = field(default_factory=list)   # folders; empty -> embedded sample photos
    val: str | None = None            # folder of validation images (center crops)
    out: str = "runs/run"
    checkpoint_every: int = 1000
    threads: int | None = None        # torch CPU threads (None: torch's default)
    precision: str = "auto"           # fp32 | bf16 (bfloat16 autocast of the transforms; the
    # entropy models and the loss stay float32) | auto: bf16 on a GPU, fp32 on a CPU
    beta: float = 0.0                 # adversarial weight: > 0 trains a generative codec (gan.py)
    disc_lr: float = 1e-4             # the discriminator's learning rate
    disc_channels: int = 64           # the discriminator's width (gan.Discriminator's C)
    trainable: list[str] = field(default_factory=list)   # name prefixes to train, e.g. ["g_s"]
    # (empty: everything). Training only g_s of a trained codec keeps its bitstreams, hence its
    # rate, exactly: the way to fine-tune a generative decoder at a matched rate.
    init: str | None = None           # start from these weights (a codec_lib checkpoint): every
    # tensor whose name and shape match is copied, e.g. g_a and g_s into another architecture
    warm: str | None = None           # copied the same way before ``init`` (which replaces what
    # both hold): e.g. the channel-context networks of a parent that ``init`` has since replaced

    def __post_init__(self):
        check_config(self, positive=("steps", "minutes", "batch_size", "lmbda", "checkpoint_every"),
                     non_negative=("lr", "aux_lr"), fractions=("lr_drop",),
                     multiple_of={"crop": 16})
        if not 0 < self.scale[0] <= self.scale[1]:
            raise CodecError(f"--scale must be two sizes 0 < LOW <= HIGH, got {self.scale}")


def rd_loss(out: dict, x: torch.Tensor, lmbda: float) -> dict:
    """``{"loss", "bpp", "mse"}`` for a model output ``out`` on the batch ``x (B, 3, H, W)``."""
    B, _, H, W = x.shape
    bpp = sum(torch.log2(l.float()).sum() for l in out["likelihoods"].values()) / (-B * H * W)
    mse = F.mse_loss(out["x_hat"].float(), x)
    return {"loss": bpp + lmbda * 255**2 * mse, "bpp": bpp, "mse": mse}


def _is_quantile(name: str) -> bool:
    return name.endswith("quantiles")


def configure_optimizers(model: CompressionModel, lr: float, aux_lr: float,
                         trainable: list[str] | None = None):
    """Adam on the network, and a separate Adam on the quantiles of the auxiliary loss.

    With ``trainable`` (name prefixes) every other parameter is frozen (``requires_grad`` off)
    and left out of both optimizers."""
    for n, p in model.named_parameters():
        p.requires_grad_(not trainable or n.startswith(tuple(trainable)))
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"no parameter name starts with any of {trainable}")
    aux = [p for n, p in params if _is_quantile(n)] or [torch.zeros(0, requires_grad=True)]
    main = [p for n, p in params if not _is_quantile(n)]     # (a placeholder if none: frozen)
    return torch.optim.Adam(main, lr=lr), torch.optim.Adam(aux, lr=aux_lr)


@torch.no_grad()
def evaluate_loss(model: CompressionModel, images: list[torch.Tensor], lmbda: float) -> dict:
    """Mean RD loss, bpp and PSNR with real rounding (eval mode) over ``images``."""
    was_training, dev = model.training, next(model.parameters()).device
    model.eval()
    rows = [{k: float(v) for k, v in rd_loss(model(x.to(dev)), x.to(dev), lmbda).items()}
            for x in images]
    model.train(was_training)
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
    mean["psnr"] = -10 * math.log10(max(mean["mse"], 1e-12))
    return mean


def settle_quantiles(model: CompressionModel, steps: int = 4000, lr: float = 1e-2,
                     skip: tuple[str, ...] = ()) -> float:
    """Finish the auxiliary optimization of the factorized densities' quantiles; returns the
    final aux loss.

    The quantiles only set each channel's coding range (values outside it are escaped at extra
    cost); they do not change the density. A short training run leaves them unconverged (an aux
    loss of ~2000 for our factorized priors after 8,900 steps; ~80 after this), and the escapes
    then cost up to 2 % above the estimate on a Kodak image. The aux loss needs no data, so
    ``codec-lib export`` finishes it.
    """
    params = [p for n, p in model.named_parameters() if _is_quantile(n) and not n.startswith(skip)]
    if not params:                 # (``skip``: name prefixes whose quantiles stay as they are)
        return 0.0
    opt = torch.optim.Adam(params, lr=lr)
    for i in range(steps + steps // 4):            # then a quarter more at a tenth of the rate
        if i == steps:
            opt.param_groups[0]["lr"] = lr / 10
        loss = model.aux_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.update_tables(force=True)
    return float(model.aux_loss().detach())


def init_from(model: CompressionModel, checkpoint: str, verbose: bool = True) -> list[str]:
    """Copy every tensor of ``checkpoint`` whose name and shape match into ``model``.

    Returns the names that were not copied (they keep their fresh initialization): starting a
    factorized prior or a shallow decoder from a trained mean-scale model reuses its transforms.
    """
    from .zoo import TABLE_KEYS, load_weights
    src = load_weights(checkpoint)                 # its stored tables too (not the default ones)
    own = model.state_dict()
    same = {k: v for k, v in src.items()            # tables and bounds of any shape: the file's
            if k in own and (own[k].shape == v.shape or k.endswith(TABLE_KEYS + ("scale_bound",)))}
    model.load_state_dict(same, strict=False)
    fresh = sorted(k for k in own if k not in same and not k.endswith(TABLE_KEYS))
    if verbose:
        print(f"init from {checkpoint}: {len(same)} tensors copied, {len(fresh)} fresh"
              + (f" ({', '.join(sorted({k.split('.')[0] for k in fresh}))})" if fresh else ""))
    return fresh


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_run(run: str | os.PathLike) -> tuple[CompressionModel, dict]:
    """The model of a training run's ``run/last.pt`` (float32, as trained) and that checkpoint
    (``config``, ``step``, ``history``, ...)."""
    ck = torch.load(Path(run) / "last.pt", map_location="cpu", weights_only=False)
    c = ck["config"]
    model = build_model(c["arch"], c["N"], c["M"], c["act"], c.get("synthesis", "deep"))
    model.load_state_dict(ck["model"])
    return model, ck


def val_images(folder: str | None, crop: int) -> list[torch.Tensor]:
    """The validation set of ``fit``: the first 16 images of ``folder`` (sorted), each a centre
    crop of ``crop`` pixels (at most the image's shorter side) rounded down to a multiple of 64,
    as (1, 3, c, c) tensors in [0, 1]; empty when ``folder`` is empty or None."""
    if not folder:
        return []
    from .data import list_images, to_tensor
    from PIL import Image
    out = []
    for p in list_images(folder)[:16]:
        x = to_tensor(Image.open(p))
        H, W = x.shape[-2:]
        c = min(crop, H, W) // 64 * 64
        top, left = (H - c) // 2, (W - c) // 2
        out.append(x[..., top: top + c, left: left + c])
    return out


PRECISIONS = ("auto", "fp32", "bf16")


def use_bf16(precision: str, device: str) -> bool:
    """Whether ``fit`` runs the transforms under bfloat16 autocast: ``precision`` of
    :class:`TrainConfig` on ``device`` ("cuda..." or "cpu")."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision == "bf16" or (precision == "auto" and device.startswith("cuda"))


def train_step(model: CompressionModel, x: torch.Tensor, opt, aux_opt, lmbda: float,
               clip_grad: float = 1.0, adversary=None, beta: float = 0.0,
               bf16: bool | None = None) -> tuple[dict, torch.Tensor]:
    """One optimization step of ``fit`` on the batch ``x (B, 3, H, W)``: the RD loss (plus
    ``beta`` times the generator loss when an ``adversary`` is given), clipped gradients, then
    the auxiliary loss. ``bf16``: bfloat16 autocast (default: on a GPU only). Returns the loss
    terms and the aux loss."""
    bf16 = x.is_cuda if bf16 is None else bf16
    if bf16 or x.is_cuda:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = model(x)
        res = rd_loss(out, x, lmbda)
    loss = res["loss"]
    if adversary is not None:                      # generative codec: R + lmbda D + beta L_G
        res["g"] = adversary.generator_loss(out["x_hat"], out["y_hat"])
        loss = loss + beta * res["g"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip_grad:   # the network only: the quantiles' grads belong to the aux loss
        torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], clip_grad)
    opt.step()
    aux = model.aux_loss()
    if aux.requires_grad:                          # the quantiles may be frozen (trainable)
        aux_opt.zero_grad(set_to_none=True)
        aux.backward()
        aux_opt.step()
    if adversary is not None:
        res.update(adversary.step(x, out["x_hat"], out["y_hat"]))
    return res, aux


def fit(cfg: TrainConfig, model: CompressionModel | None = None, progress: bool = True,
        device: str | None = None) -> CompressionModel:
    """Train (or continue training) a codec as ``cfg`` says; returns the model in eval mode.

    If ``cfg.out/last.pt`` exists the run resumes from it; the result is identical to a run
    that was never interrupted.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model = model or build_model(cfg.arch, cfg.N, cfg.M, cfg.act, cfg.synthesis)
    if not (out / "last.pt").exists():          # a resumed run has its own weights
        for src in filter(None, (cfg.warm, cfg.init)):
            init_from(model, src, verbose=progress)
    model.to(device).train()
    model.proxy = cfg.proxy
    cuda, bf16 = device.startswith("cuda"), use_bf16(cfg.precision, device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    opt, aux_opt = configure_optimizers(model, cfg.lr, cfg.aux_lr, cfg.trainable)
    adversary = None
    if cfg.beta > 0:
        from .gan import Adversary
        adversary = Adversary(model.M, cfg.disc_lr, device, cfg.disc_channels)
    step, history = 0, []
    if (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        aux_opt.load_state_dict(ck["aux_optimizer"])
        step, history = ck["step"], ck["history"]
        if adversary is not None:
            adversary.load_state_dict(ck["adversary"])
        _set_rng_state(ck["rng"])
    dataset = ImageFolder(cfg.train or None, crop=cfg.crop, scale=tuple(cfg.scale), uint8=True)
    workers = default_workers(device) if cfg.workers is None else cfg.workers
    loader = training_loader(dataset, cfg.batch_size, cfg.seed, step, cfg.steps, workers)
    val = val_images(cfg.val, cfg.crop)

    def checkpoint(step):
        if val:
            history.append({"step": step, **{f"val_{k}": v for k, v in
                                             evaluate_loss(model, val, cfg.lmbda).items()}})
        _save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(),
                      "aux_optimizer": aux_opt.state_dict(), "step": step, "history": history,
                      "adversary": adversary.state_dict() if adversary else None,
                      "rng": _rng_state(), "config": asdict(cfg)}, out / "last.pt")
        (out / "history.json").write_text(json.dumps(history, indent=1))

    done = next((h["wall_s"] for h in reversed(history) if "wall_s" in h), 0.0)  # s before resume
    t0, terms = time.time() - done, Smoothed()                  # the running loss terms
    bar = TrainingBar(cfg.steps, cfg.minutes, step, done, f"fit {cfg.arch}", disable=not progress)
    budget = 60 * cfg.minutes if cfg.minutes else math.inf     # seconds
    spent = done >= budget                                      # resumed after its time was up
    for x in () if spent else loader:
        used = (time.time() - t0) / budget                          # fraction of the time budget
        late = step >= cfg.lr_drop * cfg.steps or used >= cfg.lr_drop
        ramp = min(1.0, (step + 1) / cfg.lr_warmup) if cfg.lr_warmup else 1.0
        for g in opt.param_groups:
            g["lr"] = cfg.lr * (0.1 if late else 1.0) * ramp
        if cfg.anneal:                 # otherwise leave any proxy_kw the caller set alone
            t = min(1.0, max(step / max(1, cfg.steps - 1), used))
            model.proxy_kw = {k: a * (b / a) ** t for k, (a, b) in cfg.anneal.items()}
        x = x.to(device, non_blocking=True).float().div_(255)      # (B, 3, H, W) in [0, 1]
        res, aux = train_step(model, x, opt, aux_opt, cfg.lmbda, cfg.clip_grad, adversary, cfg.beta,
                               bf16)
        step += 1
        terms.update(loss=res["loss"], bpp=res["bpp"], mse=res["mse"], aux=aux,
                     **{k: res[k] for k in ("g", "d_loss") if k in res})   # on the device: no sync
        out_of_time = time.time() - t0 >= budget
        save = step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time
        bar.update(step, time.time() - t0, terms.postfix, force=save)
        if save:
            history.append({"step": step, "wall_s": time.time() - t0, "device": device,
                            **terms.floats()})
            checkpoint(step)
        if out_of_time:
            break
    bar.close()
    if step < cfg.steps:
        print(f"stopped at step {step} of {cfg.steps}: {cfg.minutes} minutes of training used")
    return model.eval()
