"""Every figure the README quotes after a training stage, from the committed results alone.

After ``scripts/cpu_stage.sh install`` (which keeps the results it replaces as
``runs/kodak-rd-before.json``) and ``dependents`` (which rewrites ``data/results/``)::

    python scripts/stage_report.py                       # against runs/kodak-rd-before.json
    python scripts/stage_report.py --before OLD.json     # against any earlier kodak-rd.json
    python scripts/stage_report.py --val "$CODEC_LIB_DATA/bsds500/val"   # and channel-context's rate

prints, without running a model: each learned model's BD-rate against its previous weights
(PSNR and MS-SSIM), where along the curve the default model stands against JPEG, WebP and AVIF
(``bdrate.rate_savings``), ``channel-context`` against ``mean-scale``, real bytes over the
estimate per rate and per image, coding seconds, the refinement, perception, screen-content and
BasketballPass figures. The README's tables themselves are copied from the ``.md`` files in
``data/results/``; this prints what its prose says about them. Only ``--val`` runs models: the
installed ``channel-context`` and its ``mean-scale`` parents on the validation crops that
``scripts/cpu_stage.sh context`` trains on (256², never Kodak), about a minute on two cores.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from codec_lib.bdrate import bd_rate, rate_savings  # noqa: E402

R = ROOT / "data" / "results"
KEPT = ROOT / "runs" / "kodak-rd-before.json"   # what `scripts/cpu_stage.sh install` keeps
LEARNED = ("mean-scale", "channel-context", "mean-scale-gan", "factorized")


def load(path: Path) -> dict[str, dict]:
    """The ``results`` of a ``codec-lib compare --json`` document, by model name."""
    return {e["model"]: e for e in json.loads(Path(path).read_text())["results"]}


def pct(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:+.{digits}f} %"


def row(anchor: dict, test: dict, metric: str = "psnr", digits: int = 1) -> str:
    try:
        return pct(bd_rate(anchor, test, metric), digits)
    except ValueError as e:   # too few points, or curves that do not overlap
        return f"n/a ({e})"


def kodak(before: Path | None) -> None:
    new = load(R / "kodak-rd.json")
    old = load(before) if before else {}
    print("== Kodak (data/results/kodak-rd.json)" + ("" if before else
          f"; no {KEPT}, so no comparison with the previous weights (`install` keeps it)"))
    for m in (m for m in LEARNED if m in new):
        vs = "  ".join(f"vs {b} {row(new[b], new[m])}" for b in ("jpeg", "webp", "avif", "jpeg2000"))
        print(f"{m:16s} {vs}  | MS-SSIM vs jpeg {row(new['jpeg'], new[m], 'ms_ssim')}")
        if m in old:
            print(f"{'':16s} vs its previous weights: PSNR {row(old[m], new[m], digits=2)}, "
                  f"MS-SSIM {row(old[m], new[m], 'ms_ssim', digits=2)}")
    for m in (m for m in ("mean-scale", "channel-context") if m in new):
        for b in ("jpeg", "webp", "avif"):
            s = rate_savings(new[b], new[m])
            print(f"per rate, {m} vs {b}: " + " / ".join(pct(v) for v in s))
    ms, cc = new["mean-scale"], new.get("channel-context")
    if cc:
        print(f"channel-context vs mean-scale: PSNR {row(ms, cc)}, MS-SSIM {row(ms, cc, 'ms_ssim')}, "
              "per rate " + " / ".join(pct(v) for v in rate_savings(ms, cc)))
    for m in (m for m in LEARNED if m in new):
        pts = new[m]["points"]
        per = [i["bpp"] / i["est_bpp"] for p in pts for i in p["per_image"]]
        print(f"{m:16s} real/est " + " ".join(f"q{p['quality']} {p['bpp'] / p['est_bpp']:.4f}" for p in pts)
              + f"; per image {min(per):.3f} to {max(per):.3f}; encode "
              + " ".join(f"{p['enc_s']:.2f}" for p in pts) + " s, decode "
              + " ".join(f"{p['dec_s']:.2f}" for p in pts) + " s; "
              + " ".join(f"q{p['quality']} {p['bpp']:.3f} bpp {p['psnr']:.2f} dB" for p in pts))


def refine() -> None:
    f = R / "kodak-refine.json"
    if not f.exists():
        return
    d = load(f)
    name = next(m for m in d if "+refine" in m)
    r, m, j = d[name], d["mean-scale"], d["jpeg"]
    print(f"== {name}: vs jpeg {row(j, r)}, vs plain {row(m, r)}; MS-SSIM vs plain "
          f"{row(m, r, 'ms_ssim')}, vs jpeg {row(j, r, 'ms_ssim')}; encode "
          + " ".join(f"{p['enc_s']:.1f}" for p in r["points"]) + " s; "
          + " ".join(f"q{p['quality']} {p['bpp']:.3f} bpp {p['psnr']:.2f} dB" for p in r["points"]))


def perception() -> None:
    f = R / "kodak-rdp.json"
    if not f.exists():
        return
    rows = {(r["codec"], r["quality"]): r for r in json.loads(f.read_text())["rows"]}
    print("== perception (data/results/kodak-rdp.json)")
    for q in sorted({q for _, q in rows}):
        a, g, av = rows[("mean-scale", q)], rows[("mean-scale-gan", q)], rows[("avif", q)]
        print(f"q{q}: patch SWD {a['swd']:.2f} -> {g['swd']:.2f} ({100 * (g['swd'] / a['swd'] - 1):+.0f} %), "
              f"finest level {a['swd_levels'][0]:.2f} -> {g['swd_levels'][0]:.2f}, HF {a['hf']:.2f} -> "
              f"{g['hf']:.2f}, PSNR cost {a['psnr'] - g['psnr']:.2f} dB; AVIF SWD {av['swd']:.2f}, "
              f"AVIF leads PSNR by {av['psnr'] - a['psnr']:.2f} dB (MSE), {av['psnr'] - g['psnr']:.2f} dB (GAN)")


def screen_and_video() -> None:
    f = R / "screen-rd.json"
    if f.exists():
        d = load(f)
        m = d["mean-scale"]
        print(f"== screen content: mean-scale vs jpeg {row(d['jpeg'], m)}, MS-SSIM "
              f"{row(d['jpeg'], m, 'ms_ssim')}; PSNR " + " ".join(f"{p['psnr']:.2f}" for p in m["points"]))
    f = R / "basketballpass32-video.json"
    if f.exists():
        bd = json.loads(f.read_text())["bd_rate"]
        print("== BasketballPass: " + "; ".join(
            f"{t} vs {a} {pct(bd[t][a])}" for t in ("video-conditional", "video-residual")
            for a in ("mean-scale", "video-residual", "x264") if t != a and a in bd.get(t, {})))


def context_val(folder: Path) -> int:
    """``channel-context``'s bits per pixel against its parent's, per rate, on ``folder``."""
    import torch
    from codec_lib import zoo
    from codec_lib.train import val_images, evaluate_loss
    val = val_images(str(folder), 256)          # the crops of `cpu_stage.sh context` (--crop 256)
    if not val:
        print(f"stage_report: --val {folder}: no images there", file=sys.stderr)
        return 2
    qs = sorted(e["quality"] for e in zoo.read_manifest()["models"] if e["name"] == "channel-context")
    saved = []
    with torch.no_grad():
        for q in qs:
            ms, cc = zoo.load_model("mean-scale", q), zoo.load_model("channel-context", q)
            saved.append(100 * (evaluate_loss(cc, val, cc.lmbda)["bpp"]
                                / evaluate_loss(ms, val, ms.lmbda)["bpp"] - 1))
    print(f"== channel-context val bpp vs mean-scale ({len(val)} crops of {folder}): "
          + " / ".join(f"q{q} {pct(v)}" for q, v in zip(qs, saved)))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path,
                    help="an earlier kodak-rd.json "
                         "(default: runs/kodak-rd-before.json, which `install` keeps)")
    ap.add_argument("--val", type=Path, help="a folder of validation photos (BSDS500 val): also "
                    "print channel-context's rate against its parent's on them (runs the models)")
    a = ap.parse_args(argv)
    if a.before is not None and not a.before.is_file():
        print(f"stage_report: --before {a.before}: no such file", file=sys.stderr)
        return 2
    if a.val is not None and not a.val.is_dir():
        print(f"stage_report: --val {a.val}: no such folder", file=sys.stderr)
        return 2
    kodak(a.before or (KEPT if KEPT.is_file() else None))
    refine()
    perception()
    screen_and_video()
    return context_val(a.val) if a.val is not None else 0


if __name__ == "__main__":
    sys.exit(main())
