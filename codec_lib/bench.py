"""Benchmark: coding speed and training throughput against CompressAI, and the rate overhead.

::

    python -m codec_lib.bench [--images DIR] [--limit N] [--repeat R] [--train-steps S] [--json OUT]
    python -m codec_lib.bench --device cuda --train-only --train-batch 16 --train-crop 256   # a GPU

Prints figures only (it never asserts a speed). Coding speed compares our default model with
CompressAI's ``MeanScaleHyperprior`` carrying the same weights and tables (``to_compressai``),
at the tensor level, interleaving the two codecs; training compares ``codec_lib.train.fit``
with a plain CompressAI training loop of the same size and batch, and splits the difference into
the training step itself (``train_step`` against CompressAI's step on the same tensors,
interleaved) and data loading (fit makes its random crops on the fly; the plain loop reuses
four ready batches). On a CPU with native bfloat16 it also times ``fit`` and ``train_step``
with ``precision="bf16"`` (bfloat16 autocast of the transforms), in the same interleaved runs.
``--device cuda`` times the training on a GPU (coding stays on the CPU: ``--train-only`` skips
it): ``fit`` in float32 and with its GPU default (bfloat16 autocast, channels-last) against the
plain CompressAI loop in float32 on the same GPU, timings synchronized with the device.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import torch

from .data import ImageFolder, default_workers, eval_images, sample_images, to_tensor, training_loader
from .evaluate import estimate_bits
from .interop import to_compressai
from .models import build_model, pad_to
from .train import TrainConfig, configure_optimizers, fit, rd_loss, train_step

__all__ = ["machine", "cpu_bf16", "coding_speed", "rate_overhead", "train_throughput", "run", "main"]


def machine(device: str = "cpu") -> dict:
    m = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
         "torch": torch.__version__}
    if device.startswith("cuda"):
        m["gpu"] = torch.cuda.get_device_name(device)
    return m


def _timed(fn, device: str = "cpu"):
    """Seconds ``fn()`` took, and its result; on a GPU, with the device synchronized at both
    ends (kernels are queued, not run, when the Python call returns)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t, out


@torch.no_grad()
def coding_speed(model, images, repeat: int = 3) -> dict:
    """Median seconds of compress/decompress per image, ours and CompressAI's, interleaved."""
    model = model.eval()
    theirs = to_compressai(model)
    theirs.update()   # no-op in effect: the tables came with the weights
    codecs = {"ours": model, "compressai": theirs}
    rows, z_same = [], True
    for name, img in images:
        x = pad_to(to_tensor(img), 64)     # both codecs see the same, already padded tensor
        for m in codecs.values():          # one warm-up each
            c = m.compress(x)
            m.decompress(c["strings"], c["shape"])
        times = {k: {"enc": [], "dec": []} for k in codecs}
        for _ in range(repeat):
            for k, m in codecs.items():    # ours, theirs, ours, theirs...
                te, c = _timed(lambda: m.compress(x))
                td, _ = _timed(lambda: m.decompress(c["strings"], c["shape"]))
                times[k]["enc"].append(te)
                times[k]["dec"].append(td)
        c = model.compress(x)              # the same z string through both entropy bottlenecks
        za = model.entropy_bottleneck.decompress(c["strings"][1], c["shape"])
        zb = theirs.entropy_bottleneck.decompress(c["strings"][1], c["shape"])
        z_same &= bool(torch.equal(za, zb))
        rows.append({"image": name, "size": list(x.shape[-2:]),
                     **{f"{k}_{p}_s": statistics.median(v[p]) for k, v in times.items() for p in v}})
    out = {"images": rows, "z_hat_identical": z_same}
    for k in codecs:
        for p in ("enc", "dec"):
            out[f"{k}_{p}_s"] = statistics.mean(r[f"{k}_{p}_s"] for r in rows)
        out[f"{k}_encdec_s"] = out[f"{k}_enc_s"] + out[f"{k}_dec_s"]
    for p in ("enc", "dec", "encdec"):
        out[f"ratio_{p}"] = out[f"ours_{p}_s"] / out[f"compressai_{p}_s"]
    return out


@torch.no_grad()
def rate_overhead(model, images) -> dict:
    """Real bytes of the strings vs the model's own estimate (``estimate_bits``) per image."""
    rows = []
    for name, img in images:
        c = model.compress(to_tensor(img))
        real = 8 * sum(len(s) for group in c["strings"] for s in group)
        est = estimate_bits(model, img)
        rows.append({"image": name, "real_bits": real, "estimated_bits": est, "ratio": real / est})
    ratios = [r["ratio"] for r in rows]
    return {"images": rows, "mean_ratio": statistics.mean(ratios), "max_ratio": max(ratios)}


def _crops(n: int, crop: int, photos: list[torch.Tensor], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        p = photos[i % len(photos)]
        H, W = p.shape[-2:]
        t = int(torch.randint(0, H - crop + 1, (1,), generator=g))
        l = int(torch.randint(0, W - crop + 1, (1,), generator=g))
        out.append(p[0, :, t:t + crop, l:l + crop])
    return torch.stack(out)


def cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), as oneDNN reports."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _fit_seconds(steps: int, N: int, M: int, batch: int, crop: int, lmbda: float,
                 precision: str = "fp32", device: str = "cpu", workers: int = 0) -> float:
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(arch="mean-scale", N=N, M=M, steps=steps, batch_size=batch, crop=crop,
                          lmbda=lmbda, out=d, checkpoint_every=10**9, seed=0, precision=precision,
                          workers=workers)
        t, _ = _timed(lambda: fit(cfg, progress=False, device=device), device)
    return t


def _compressai_step(net, opt, aux_opt, main: list, x: torch.Tensor, lmbda: float) -> None:
    """A plain CompressAI training step, as in its example script."""
    out = net(x)
    B, _, H, W = x.shape
    bpp = sum(torch.log2(l).sum() for l in out["likelihoods"].values()) / (-B * H * W)
    loss = bpp + lmbda * 255**2 * torch.nn.functional.mse_loss(out["x_hat"], x)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(main, 1.0)   # as fit (and CompressAI's example) do
    opt.step()
    aux = net.aux_loss()
    aux_opt.zero_grad()
    aux.backward()
    aux_opt.step()


def _step_seconds(steps: int, warmup: int, N: int, M: int, batch: int, crop: int,
                  lmbda: float, bf16: bool, device: str = "cpu") -> tuple[float, float, float | None]:
    """Seconds of ``steps`` training steps on the same fixed batches, without data loading:
    ``train_step`` on our model (also in bfloat16 if ``bf16``) and a plain CompressAI loop,
    interleaved step by step. On a GPU our models are channels-last, as in ``fit``."""
    from compressai.models import MeanScaleHyperprior
    torch.manual_seed(0)
    fmt = torch.channels_last if device.startswith("cuda") else torch.contiguous_format
    ours, ours16 = (build_model("mean-scale", N, M).to(device, memory_format=fmt).train()
                    for _ in range(2))
    opt, aux_opt = configure_optimizers(ours, 1e-4, 1e-3)
    opt16, aux_opt16 = configure_optimizers(ours16, 1e-4, 1e-3)
    net = MeanScaleHyperprior(N=N, M=M).to(device).train()
    main = [p for n, p in net.named_parameters() if not n.endswith("quantiles")]
    aux_p = [p for n, p in net.named_parameters() if n.endswith("quantiles")]
    c_opt, c_aux = torch.optim.Adam(main, lr=1e-4), torch.optim.Adam(aux_p, lr=1e-3)
    photos = [to_tensor(im) for _, im in sample_images()]
    batches = [_crops(batch, crop, photos, seed=s).to(device) for s in range(4)]
    t_ours = t_theirs = t_16 = 0.0
    for step in range(warmup + steps):
        x = batches[step % len(batches)]
        a, _ = _timed(lambda: train_step(ours, x, opt, aux_opt, lmbda, bf16=False), device)
        b, _ = _timed(lambda: _compressai_step(net, c_opt, c_aux, main, x, lmbda), device)
        c = _timed(lambda: train_step(ours16, x, opt16, aux_opt16, lmbda, bf16=True),
                   device)[0] if bf16 else 0
        if step >= warmup:
            t_ours, t_theirs, t_16 = t_ours + a, t_theirs + b, t_16 + c
    return t_ours, t_theirs, (t_16 if bf16 else None)


def _video_step_seconds(coding: str, steps: int = 6, warmup: int = 1, batch: int = 4,
                        crop: int = 128) -> tuple[float, float]:
    """Seconds of ``steps`` P-frame training steps (``fit_video``'s forward, loss and update)
    of a ``coding`` codec in float32 and in bfloat16 autocast, interleaved step by step, on
    fixed crops of the sample photos (the reference: the same crops moved by 2 pixels)."""
    from .video_train import build_video_model
    torch.manual_seed(0)
    models = [build_video_model(coding, 48, 64, 16, lmbdas=[0.013]).train() for _ in range(2)]
    opts = [configure_optimizers(m, 1e-4, 1e-3, [n for n, _ in m.named_children() if n != "intra"])
            for m in models]
    photos = [to_tensor(im) for _, im in sample_images()]
    x = _crops(batch, crop + 2, photos, seed=0)                          # (B, 3, crop+2, crop+2)
    x, ref = x[..., 2:, 2:], x[..., :-2, :-2]

    def step(model, opt, bf16):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = rd_loss(model(x, ref), x, 0.013)["loss"]
        opt[0].zero_grad()
        loss.backward()
        opt[0].step()
    t = [0.0, 0.0]
    for i in range(warmup + steps):
        for k in (0, 1):
            dt = _timed(lambda: step(models[k], opts[k], k == 1))[0]
            t[k] += dt if i >= warmup else 0.0
    return t[0], t[1]


def _data_seconds(steps: int, batch: int, crop: int) -> float:
    """Seconds ``fit``'s loader (one process) takes to make ``steps`` batches."""
    loader = training_loader(ImageFolder(None, crop=crop, uint8=True), batch, 0, 0, steps)
    t, _ = _timed(lambda: sum(1 for _ in loader))
    return t


def train_throughput(steps: int = 20, warmup: int = 3, N: int = 64, M: int = 96, batch: int = 8,
                     crop: int = 128, lmbda: float = 0.013, device: str = "cpu",
                     workers: int | None = None) -> dict:
    """Training images/s of ``fit`` end to end (difference of a warmup-step and a warmup+steps
    run, which cancels setup, first steps and the final checkpoint), and where the time goes:
    our ``train_step`` against a plain CompressAI step on the same fixed batches (interleaved),
    and the data loader's share (one process, on the CPU). With native bfloat16 (this CPU's, or a
    GPU), the ``bf16_*`` figures are the same for ``precision="bf16"`` (None otherwise)."""
    bf16 = device.startswith("cuda") or cpu_bf16()
    workers = default_workers(device) if workers is None else workers      # as fit's
    fit_s = lambda p: _fit_seconds(warmup + steps, N, M, batch, crop, lmbda, p, device, workers) \
        - _fit_seconds(warmup, N, M, batch, crop, lmbda, p, device, workers)
    fit32 = fit_s("fp32")
    fit16 = fit_s("bf16") if bf16 else None
    ours_s, theirs_s, ours16_s = _step_seconds(steps, warmup, N, M, batch, crop, lmbda, bf16, device)
    data_s = _data_seconds(steps, batch, crop)
    ips = lambda t: steps * batch / max(t, 1e-9)
    return {"device": device, "workers": workers, "steps": steps, "warmup": warmup,
            "batch": batch, "crop": crop, "N": N, "M": M,
            "ours_img_per_s": ips(fit32), "compressai_img_per_s": ips(theirs_s),
            "ratio": ips(fit32) / ips(theirs_s),
            "step_img_per_s": ips(ours_s), "step_ratio": ips(ours_s) / ips(theirs_s),
            "bf16_img_per_s": ips(fit16) if bf16 else None,
            "bf16_ratio": ips(fit16) / ips(theirs_s) if bf16 else None,
            "bf16_step_img_per_s": ips(ours16_s) if bf16 else None,
            "bf16_step_ratio": ips(ours16_s) / ips(theirs_s) if bf16 else None,
            "data_ms_per_batch": 1000 * data_s / steps}


def run(model, images, repeat: int = 3, train_steps: int = 20, train_kw: dict | None = None,
        coding: bool = True) -> dict:
    """All figures: coding speed and rate overhead of ``model`` on ``images`` (unless not
    ``coding``), training throughput for ``train_steps`` (0: none; ``train_kw`` to
    :func:`train_throughput`)."""
    res = {"machine": machine((train_kw or {}).get("device", "cpu")), "n_images": len(images)}
    res["coding"] = coding_speed(model, images, repeat) if coding else None
    res["overhead"] = rate_overhead(model, images) if coding else None
    res["training"] = train_throughput(train_steps, **(train_kw or {})) if train_steps else None
    return res


def _report(r: dict) -> None:
    c, o, t = r["coding"], r["overhead"], r["training"]
    if c:
        print(f"{r['n_images']} images; z_hat identical (same z string, both decoders): "
              f"{c['z_hat_identical']}")
        print(f"{'':10s}{'ours s':>10s}{'CompressAI s':>14s}{'ours/theirs':>13s}")
        for p, label in (("enc", "encode"), ("dec", "decode"), ("encdec", "enc+dec")):
            print(f"{label:10s}{c[f'ours_{p}_s']:10.4f}{c[f'compressai_{p}_s']:14.4f}"
                  f"{c[f'ratio_{p}']:13.3f}")
        print(f"rate overhead (real bits / estimate): mean {o['mean_ratio']:.4f}, "
              f"max {o['max_ratio']:.4f}")
    if t:
        print(f"training on {t.get('device', 'cpu')} ({t['steps']} steps of "
              f"{t['batch']}x{t['crop']}^2, N={t['N']} M={t['M']}): "
              f"ours {t['ours_img_per_s']:.2f} img/s, CompressAI {t['compressai_img_per_s']:.2f} "
              f"img/s, ratio {t['ratio']:.3f}")
        print(f"  where the time goes: our train_step on fixed batches {t['step_img_per_s']:.2f} img/s "
              f"(ratio {t['step_ratio']:.3f}); data loading {t['data_ms_per_batch']:.1f} ms per batch")
        if t.get("bf16_img_per_s"):
            print(f"  with bfloat16 autocast (--precision bf16; a GPU's default): ours "
                  f"{t['bf16_img_per_s']:.2f} img/s (ratio {t['bf16_ratio']:.3f}); train_step {t['bf16_step_img_per_s']:.2f} img/s "
                  f"(ratio {t['bf16_step_ratio']:.3f})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m codec_lib.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--images", help="folder of images (default: Kodak if $CODEC_LIB_DATA, else embedded)")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=20, help="0 skips the training benchmark")
    ap.add_argument("--train-batch", type=int, default=8, help="training batch (default 8)")
    ap.add_argument("--train-crop", type=int, default=128, help="training crop side (default 128)")
    ap.add_argument("--train-workers", type=int,
                    help="fit's loader processes (default: fit's, 0 on a CPU, up to 8 on a GPU)")
    ap.add_argument("--device", default="cpu", help="where to time the training: cpu (default) or cuda")
    ap.add_argument("--train-only", action="store_true", help="skip coding speed and rate overhead")
    ap.add_argument("--json", help="write all figures to this file")
    a = ap.parse_args(argv)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error(f"--device {a.device}: this machine has no CUDA GPU")
    if a.device != "cpu" and not a.device.startswith("cuda"):
        ap.error(f"--device {a.device}: use cpu or cuda")
    if a.train_only and not a.train_steps:
        ap.error("--train-only with --train-steps 0 leaves nothing to measure")
    try:
        import compressai  # noqa: F401  (every comparison needs it)
    except ImportError as e:
        ap.error(f"CompressAI is needed for the comparison and does not import: {e}")
    from .zoo import load_model
    m = machine(a.device)
    print(f"machine: {m['cpu_count']} CPUs, torch {m['torch']}, {m['torch_threads']} torch threads"
          + (f", GPU {m['gpu']}" if "gpu" in m else ""))
    t0 = time.perf_counter()
    kw = {"batch": a.train_batch, "crop": a.train_crop, "device": a.device,
          "workers": a.train_workers}
    images = [] if a.train_only else eval_images(a.images, a.limit)
    res = run(load_model() if not a.train_only else None, images, a.repeat, a.train_steps, kw,
              coding=not a.train_only)
    res["wall_s"] = time.perf_counter() - t0
    _report(res)
    print(f"total {res['wall_s']:.1f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
