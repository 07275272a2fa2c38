"""What the tuned scale bound of each installed model saves, in real bytes, on a folder of images.

Each model (each rate of ``--models``) codes every image twice, with its own scale bound (as
installed: chosen on BSDS500 val by ``codec-lib export --tune-bound``) and with CompressAI's
0.11; the decoded images must be identical (the bound moves only the rate)::

    python scripts/bound_report.py "$CODEC_LIB_DATA/kodak" --json data/results/scale-bound.json

prints per rate the bound, the bytes with 0.11 and with it, and the BD-rate between the two
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
from codec_lib.metrics import psnr  # noqa: E402


def measure(name: str, images, progress: bool = True) -> dict:
    """Per installed quality of ``name``: bound, bpp with 0.11 and with the bound, PSNR."""
    entry = next((m for m in zoo.list_models("image") if m["name"] == name), None)
    if entry is None:
        raise SystemExit(f"bound_report: no installed image model {name!r}")
    rows = []
    for q in entry["qualities"]:
        model = zoo.load_model(name, q)
        plain = copy.deepcopy(model)
        plain.gaussian_conditional.scale_bound.fill_(0.11)
        n = {"plain": 0, "tuned": 0}
        pixels, quality = 0, []
        for img_name, img in tqdm(images, desc=f"{name} q{q}", disable=not progress):
            a, b = encode_image(img, plain), encode_image(img, model)
            if not np.array_equal(np.asarray(a.x_hat), np.asarray(b.x_hat)):
                raise SystemExit(f"{img_name}: the bound changed the decoded image")
            n["plain"] += len(a.data)
            n["tuned"] += len(b.data)
            pixels += img.width * img.height
            quality.append(psnr(img.convert("RGB"), b.x_hat))
        rows.append({"quality": q, "bound": round(float(model.gaussian_conditional.scale_bound), 6),
                     "bpp_0.11": 8 * n["plain"] / pixels, "bpp": 8 * n["tuned"] / pixels,
                     "psnr": float(np.mean(quality)), "bytes_ratio": n["tuned"] / n["plain"]})
    curve = lambda key: [{"bpp": r[key], "psnr": r["psnr"]} for r in rows]   # noqa: E731
    return {"model": name, "rates": rows,
            "bd_rate": bd_rate(curve("bpp_0.11"), curve("bpp")) if len(rows) > 1 else None}


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
            print(f"{r['model']} q{x['quality']}: bound {x['bound']:.2f}, {x['bpp_0.11']:.4f} -> "
                  f"{x['bpp']:.4f} bpp ({x['bytes_ratio'] - 1:+.2%}), {x['psnr']:.2f} dB either way")
        if r["bd_rate"] is not None:
            print(f"{r['model']}: BD-rate of the tuned bound against 0.11: {r['bd_rate']:+.2f} %")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
