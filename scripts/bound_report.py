"""What the tuned scale bound of each installed model saves, in real bytes, on a folder of images.

Each model (each rate of ``--models``) codes every image twice, with its own scale bound (as
installed: chosen on BSDS500 val by ``codec-lib export --tune-bound``) and with CompressAI's
0.11, and, where the installed bound is one per channel, a third time with the best single
bound of the same tuning (from the manifest's record of it); the decoded images must be
identical (the bound moves only the rate)::

    python scripts/bound_report.py "$CODEC_LIB_DATA/kodak" --json data/results/scale-bound.json

prints per rate the bound, the bytes with 0.11 and with it, and the BD-rates between the
curves (PSNR), and writes them to ``--json``. About 1 s per image and rate on two cores.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from codec_lib import zoo  # noqa: E402
from codec_lib.bdrate import bd_rate  # noqa: E402
from codec_lib.codec import encode_image  # noqa: E402
from codec_lib.data import eval_images  # noqa: E402
from codec_lib.manifest import bound_record  # noqa: E402
from codec_lib.metrics import psnr  # noqa: E402


def measure(name: str, images, progress: bool = True) -> dict:
    """Per installed quality of ``name``: bound, bpp with 0.11 and with the bound, PSNR."""
    entry = next((m for m in zoo.list_models("image") if m["name"] == name), None)
    if entry is None:
        raise SystemExit(f"bound_report: no installed image model {name!r}")
    rows = []
    for q in entry["qualities"]:
        model = zoo.load_model(name, q)
        models = {"plain": 0.11, "single": _best_single(zoo.resolve(name, q), model)}
        models = {k: _with_bound(model, b) for k, b in models.items() if b is not None}
        models["tuned"] = model
        n = dict.fromkeys(models, 0)
        pixels, quality = 0, []
        for img_name, img in tqdm(images, desc=f"{name} q{q}", disable=not progress):
            enc = {k: encode_image(img, m) for k, m in models.items()}
            if any(not np.array_equal(np.asarray(e.x_hat), np.asarray(enc["tuned"].x_hat))
                   for e in enc.values()):
                raise SystemExit(f"{img_name}: the bound changed the decoded image")
            for k, e in enc.items():
                n[k] += len(e.data)
            pixels += img.width * img.height
            quality.append(psnr(img.convert("RGB"), enc["tuned"].x_hat))
        rows.append({"quality": q, "bound": bound_record(model.gaussian_conditional.scale_bound),
                     "bpp_0.11": 8 * n["plain"] / pixels, "bpp": 8 * n["tuned"] / pixels,
                     "psnr": float(np.mean(quality)), "bytes_ratio": n["tuned"] / n["plain"], **(
                         {"single_bound": bound_record(
                             models["single"].gaussian_conditional.scale_bound),
                          "bpp_single": 8 * n["single"] / pixels} if "single" in n else {})})
    curve = lambda key: [{"bpp": r[key], "psnr": r["psnr"]} for r in rows]   # noqa: E731
    single = len(rows) > 1 and all("bpp_single" in r for r in rows)
    return {"model": name, "rates": rows,
            "bd_rate": bd_rate(curve("bpp_0.11"), curve("bpp")) if len(rows) > 1 else None,
            **({"bd_rate_vs_single": bd_rate(curve("bpp_single"), curve("bpp"))} if single else {})}


def _with_bound(model, bound: float):
    other = copy.deepcopy(model)
    other.gaussian_conditional.set_scale_bound(bound)
    return other


def _best_single(entry: dict, model) -> float | None:
    """For a bound per channel, the best single bound of the same tuning (manifest record)."""
    if model.gaussian_conditional.scale_bound.numel() == 1:
        return None
    rates = entry.get("training", {}).get("scale_bound", {}).get("rate", {})
    single = {float(k): v for k, v in rates.items() if k[:1].isdigit()}
    return min(single, key=single.get) if single else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", help="images (default: $CODEC_LIB_DATA/kodak, else the "
                    "embedded photos)")
    ap.add_argument("--models", nargs="+", default=["mean-scale"])
    ap.add_argument("--limit", type=int, help="only the first LIMIT images")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args(argv)
    if a.folder and not Path(a.folder).is_dir():
        print(f"bound_report: {a.folder}: no such folder", file=sys.stderr)
        return 1
    images = eval_images(a.folder, limit=a.limit)
    out = {"about": f"python scripts/bound_report.py {a.folder or ''} --models "
                    f"{' '.join(a.models)}".replace("  ", " "),
           "images": len(images), "results": [measure(m, images) for m in a.models]}
    for r in out["results"]:
        for x in r["rates"]:
            b = x["bound"]
            b = f"{min(b):.2f} to {max(b):.2f} per channel" if isinstance(b, list) else f"{b:.2f}"
            single = (f" (single best bound {x['single_bound']:.2f}: {x['bpp_single']:.4f})"
                      if "bpp_single" in x else "")
            print(f"{r['model']} q{x['quality']}: bound {b}, {x['bpp_0.11']:.4f} -> {x['bpp']:.4f}"
                  f" bpp ({x['bytes_ratio'] - 1:+.2%}){single}, {x['psnr']:.2f} dB either way")
        if r["bd_rate"] is not None:
            print(f"{r['model']}: BD-rate of the tuned bound against 0.11: {r['bd_rate']:+.2f} %")
        if "bd_rate_vs_single" in r:
            print(f"{r['model']}: BD-rate of the bounds per channel against the single best: "
                  f"{r['bd_rate_vs_single']:+.2f} %")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
