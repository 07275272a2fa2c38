"""The book's video comparison in one run: every installed video model, all-intra coding with an
image model, and x264/x265, on one clip, with Bjontegaard deltas between all of them.

::

    python -m codec_lib.video_report --frames 32 --json data/results/basketballpass32-video.json \\
        --md data/results/basketballpass32-video.md --png data/results/basketballpass32-video.png

Without ``--input`` the clip is BasketballPass from ``$CODEC_LIB_DATA`` (else the embedded
stand-in of :func:`codec_lib.video_io.eval_clip`). Each model's entry is a ``codec-lib eval-video``
document (rates from the real file bytes, every file decoded and checked bit-exact); the
baselines are those of :mod:`codec_lib.video_baselines`.
"""
from __future__ import annotations

import argparse
import io
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from .bdrate import bd_rate_matrix

__all__ = ["video_report", "markdown"]


def video_report(frames: np.ndarray, clip: str, models: list[str] | None = None,
                 intra: str | None = "mean-scale", baselines=("x264", "x265"),
                 progress: bool = True) -> dict:
    """``{"clip", "frames", "size", "results": [eval-video documents], "bd_rate": m[test][anchor]}``."""
    from . import zoo
    from .video_baselines import evaluate_video_baseline
    from .video_codec import evaluate_video
    models = models if models is not None else [m["name"] for m in zoo.list_models("video")]
    results = [evaluate_video(frames, name, progress=progress) for name in models]
    if intra:
        results.append(evaluate_video(frames, intra, progress=progress))
    results += [evaluate_video_baseline(frames, c) for c in baselines]
    T, H, W, _ = frames.shape
    return {"clip": clip, "frames": T, "size": [W, H], "results": results,
            "bd_rate": bd_rate_matrix(results)}


def markdown(doc: dict) -> str:
    """A Markdown table: each codec's coding, rate and PSNR ranges, and its BD-rate against
    every other (negative: fewer bits for the same PSNR)."""
    names = [r["model"] for r in doc["results"]]
    head = ["codec", "coding", "bpp", "PSNR (dB)"] + [f"vs {n}" for n in names]
    rows = [head, ["---"] * len(head)]
    for r in doc["results"]:
        bpp, db = [p["bpp"] for p in r["points"]], [p["psnr"] for p in r["points"]]
        cells = []
        for n in names:
            v = doc["bd_rate"][r["model"]].get(n)
            cells.append("-" if n == r["model"] else "n/a" if v is None else f"{v:+.1f} %")
        rows.append([r["model"], r.get("coding", "low-delay P"), f"{min(bpp):.3f}..{max(bpp):.3f}",
                     f"{min(db):.2f}..{max(db):.2f}"] + cells)
    return (f"{doc['clip']}, first {doc['frames']} frames ({doc['size'][0]}x{doc['size'][1]}), "
            "BD-rate of the row against the column:\n\n"
            + "\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    from .cli import UsageError, _check_output, _write_atomic
    from .errors import CodecError
    from .plots import rd_plot
    from .video_io import eval_clip, read_video
    p = argparse.ArgumentParser(prog="python -m codec_lib.video_report", description=__doc__.splitlines()[0])
    p.add_argument("--input", help="a video (folder, .y4m, mp4 ...); default: BasketballPass or embedded")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--models", nargs="*", help="video models (default: every installed one)")
    p.add_argument("--intra", default="mean-scale", help="image model for the all-intra curve ('' for none)")
    p.add_argument("--json", required=True), p.add_argument("--md"), p.add_argument("--png")
    p.add_argument("-f", "--force", action="store_true")
    a = p.parse_args(argv)
    try:
        outs = [_check_output(a.input, o, a.force) for o in (a.json, a.md, a.png) if o]
        if a.input:
            clip, frames = Path(a.input).name, read_video(a.input, a.frames)
        else:
            clip, frames = eval_clip(a.frames)
        doc = video_report(frames, clip, a.models, a.intra or None)
    except (UsageError, CodecError, ValueError, OSError) as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return 1
    doc["command"] = "python -m codec_lib.video_report " + " ".join(map(shlex.quote, argv or sys.argv[1:]))
    png = None
    if a.png:                                    # everything is made before anything is written
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 4.8))
        rd_plot(doc["results"], ax=ax, title=f"{clip}, {doc['frames']} frames, low-delay")
        ax.set_xscale("log")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        png = buf.getvalue()
    _write_atomic(outs[0], lambda f: f.write((json.dumps(doc, indent=2) + "\n").encode()))
    if a.md:
        _write_atomic(Path(a.md), lambda f: f.write(markdown(doc).encode()))
    if png:
        _write_atomic(Path(a.png), lambda f: f.write(png))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
