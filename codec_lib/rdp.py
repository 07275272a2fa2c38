"""Rate, distortion *and* perception, measured at matched rates.

Blau & Michaeli ("Rethinking lossy compression: the rate-distortion-perception tradeoff", ICML
2019) add a third axis to the RD plane: how far the *distribution* of decoded images is from the
distribution of originals. A comparison on that axis is only fair at equal rates, so for every
image this module codes the image with a learned model first, then codes it with each classic
codec at the quality whose file is closest in size (a bisection over the quality setting), and
reports per codec:

- ``bpp`` from the real files, ``psnr`` (mean over images), ``ms_ssim``;
- ``swd`` (:func:`codec_lib.perception.patch_swd`, mean over the pyramid levels; lower is
  closer in distribution) and ``swd_levels``;
- ``hf`` (:func:`codec_lib.perception.high_frequency_ratio`; 1 is the originals' fine detail,
  below 1 blur).

A generative codec fine-tuned from an MSE codec with its encoder frozen (``--trainable g_s``)
writes files of exactly the MSE codec's size, so the two are compared at the same bytes.

Command line (writes JSON and a Markdown table)::

    python -m codec_lib.rdp --images $CODEC_LIB_DATA/kodak --pairs mean-scale:mean-scale-gan \\
        --qualities 2 4 --baselines jpeg avif --json data/results/kodak-rdp.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from . import baselines
from .errors import CodecError
from .metrics import ms_ssim, psnr
from .perception import high_frequency_ratio, patch_swd

__all__ = ["closest_in_size", "measure", "rdp_compare", "markdown"]

RANGES = {"jpeg": (1, 95), "webp": (0, 100), "avif": (0, 100)}


def closest_in_size(img: Image.Image, codec: str, target_bytes: int) -> tuple[int, bytes]:
    """``(quality, file)`` of the classic ``codec`` whose file is closest to ``target_bytes``.

    File size grows with quality (up to small wiggles), so a bisection finds the crossing and
    the better of its two neighbours is kept."""
    lo, hi = RANGES[codec]
    cache = {}

    def enc(q):
        if q not in cache:
            cache[q] = baselines.encode(img, codec, q)
        return cache[q]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if len(enc(mid)) < target_bytes else (lo, mid)
    q = min((lo, hi), key=lambda q: abs(len(enc(q)) - target_bytes))
    return q, enc(q)


def measure(originals: list[Image.Image], decoded: list[Image.Image], nbytes: list[int] | None = None,
            cutoff: float = 0.25) -> dict:
    """The table row of one codec (or any image-to-image method: without ``nbytes`` there is
    no ``bpp``) on a set of images; ``cutoff`` is the high-frequency ratio's, in cycles/pixel."""
    n = len(originals)
    swd = patch_swd(originals, decoded)
    rate = {} if nbytes is None else {
        "bpp": sum(8 * b / (o.width * o.height) for b, o in zip(nbytes, originals)) / n}
    return {**rate, "psnr": sum(psnr(o, d) for o, d in zip(originals, decoded)) / n,
            "ms_ssim": sum(ms_ssim(o, d) for o, d in zip(originals, decoded)) / n,
            "swd": swd["mean"], "swd_levels": [swd[k] for k in sorted(swd) if k != "mean"],
            "hf": high_frequency_ratio(originals, decoded, cutoff)}


def rdp_compare(images: list[tuple[str, Image.Image]], pairs: list[tuple[str, str]],
                qualities: list[int], classic: tuple[str, ...] = ("jpeg", "avif"),
                progress: bool = True, keep: bool = False) -> dict:
    """For each quality and each ``(mse_model, generative_model)`` pair: both models, then every
    ``classic`` codec matched per image to the MSE model's bytes. With ``keep`` the rows also
    hold the decoded images (``"decoded"``), for pictures."""
    from .codec import decode_image, encode_image
    from .zoo import load_model
    originals = [img.convert("RGB") for _, img in images]
    rows = []
    total = len(qualities) * len(pairs) * len(images) * (2 + len(classic))
    bar = tqdm(total=total, disable=not progress, desc="rdp")
    for q in qualities:
        for mse_name, gen_name in pairs:
            sizes = None
            for name in (mse_name, gen_name):
                model = load_model(name, q)
                dec, nbytes = [], []
                for img in originals:
                    data = encode_image(img, model).data
                    dec.append(decode_image(data, model))
                    nbytes.append(len(data))
                    bar.update(1)
                sizes = sizes or nbytes
                rows.append({"codec": name, "quality": q, **measure(originals, dec, nbytes),
                             **({"decoded": dec} if keep else {})})
            for codec in classic:
                dec, nbytes, qs = [], [], []
                for img, target in zip(originals, sizes):
                    cq, data = closest_in_size(img, codec, target)
                    dec.append(baselines.decode(data))
                    nbytes.append(len(data))
                    qs.append(cq)
                    bar.update(1)
                rows.append({"codec": codec, "quality": q, "matched_to": mse_name,
                             "settings": qs, **measure(originals, dec, nbytes),
                             **({"decoded": dec} if keep else {})})
    bar.close()
    return {"images": len(images), "pairs": pairs, "qualities": qualities, "rows": rows}


def markdown(result: dict) -> str:
    """The rows as a Markdown table."""
    lines = ["| quality | codec | bpp | PSNR (dB) | MS-SSIM | patch SWD | HF ratio |",
             "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['quality']} | {r['codec']} | {r['bpp']:.3f} | {r['psnr']:.2f} | "
                     f"{r['ms_ssim']:.4f} | {r['swd']:.1f} | {r['hf']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m codec_lib.rdp",
                                description="rate-distortion-perception table at matched rates")
    p.add_argument("--images", help="folder of images (default: $CODEC_LIB_DATA/kodak or embedded photos)")
    p.add_argument("--limit", type=int, help="use the first N images")
    p.add_argument("--pairs", nargs="+", default=["mean-scale:mean-scale-gan"],
                   help="MSE_MODEL:GENERATIVE_MODEL pairs of installed models")
    p.add_argument("--qualities", nargs="+", type=int, default=[2, 4])
    p.add_argument("--baselines", nargs="*", default=["jpeg", "avif"], choices=sorted(RANGES))
    p.add_argument("--json", required=True, help="output JSON (a Markdown table is written beside it)")
    p.add_argument("-f", "--force", action="store_true", help="replace an existing output")
    a = p.parse_args(argv)
    from .data import eval_images
    from .zoo import resolve
    try:
        out = Path(a.json)
        if out.exists() and not a.force:
            raise CodecError(f"{out} exists (pass --force to replace it)")
        if a.images and not Path(a.images).is_dir():
            raise CodecError(f"{a.images}: no such folder")
        pairs = []
        for s in a.pairs:
            if s.count(":") != 1:
                raise CodecError(f"--pairs takes MSE_MODEL:GENERATIVE_MODEL, got {s!r}")
            pairs.append(tuple(s.split(":")))
            for name in pairs[-1]:
                for q in a.qualities:
                    resolve(name, q)
        images = eval_images(a.images, a.limit)
        if not images:
            raise CodecError(f"{a.images}: no images")
        result = rdp_compare(images, pairs, a.qualities, tuple(a.baselines))
    except CodecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result["command"] = "python -m codec_lib.rdp " + " ".join(sys.argv[1:] if argv is None else argv)
    from .cli import _write_atomic
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(out, lambda f: f.write((json.dumps(result, indent=1) + "\n").encode()))
    _write_atomic(out.with_suffix(".md"), lambda f: f.write((markdown(result) + "\n").encode()))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
