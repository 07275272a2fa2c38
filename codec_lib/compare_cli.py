"""``codec-lib compare``: learned models against classic codecs on a folder of images.

::

    codec-lib compare DIR --json OUT.json [--plot OUT.png] [--table OUT.md]
                      [--models NAME ...] [--baselines jpeg webp avif jpeg2000]
                      [--anchor jpeg] [--limit N] [--reuse OLD.json ...] [--refine STEPS]
                      [--record] [-q] [--force]

Evaluates every installed model at all its qualities (:func:`codec_lib.evaluate.evaluate_model`)
and every classic codec over its sweep (:func:`codec_lib.baselines.evaluate_baseline`) on the
images in ``DIR``, then writes

- ``OUT.json``: ``{"images", "dir", "names", "results": [codec-lib eval documents], "bd_rate": {"psnr":
  m, "ms_ssim": m}, "settings": {codec: description}}`` where ``m[test][anchor]`` is the
  BD-rate in percent (:func:`codec_lib.bdrate.bd_rate_matrix`, ``null`` without overlap);
- ``OUT.png`` (or .pdf, .svg): PSNR and MS-SSIM (dB) against bpp;
- ``OUT.md``: the Markdown tables of :func:`codec_lib.plots.results_table`, also printed.

``--models`` with no names skips the learned models, ``--baselines`` with none the classic
codecs. ``--reuse OLD.json ...`` takes results from earlier runs on the same images instead of
measuring them again: the classic codecs' (they take most of the time: 22 minutes for Kodak) if made
with the same settings, and each model's if made with the same weights at the same qualities. With
several files a codec's result comes from the last file that has a usable one (so a fresh
``--models NAME`` run named after the full table refreshes that one model).
``--refine STEPS`` also measures each model with encoder-side latent refinement
(:mod:`codec_lib.refine`), as a codec of its own named ``NAME+refineSTEPS`` (same decoder, same
weights; reused like the model itself).
``--record`` writes each model's points into its manifest entry, as ``codec-lib eval --record``
(the plain models' only).
The models' points carry ``per_image`` rows (rate, estimate, quality and times of each image).
Everything is computed before anything is written; each output is written atomically and an
existing one is replaced only with ``--force``.
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from .baselines import CODECS
from .cli import UsageError, _check_output, _write_atomic

__all__ = ["add_parser", "cmd_compare"]

_PLOT_FORMATS = (".png", ".pdf", ".svg")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``compare`` on the ``add_subparsers()`` object of the ``codec-lib`` parser."""
    c = subparsers.add_parser("compare", help="evaluate installed models and classic codecs, "
                              "with BD-rates, a plot and a table")
    c.add_argument("dir", help="folder of images")
    c.add_argument("--json", required=True, help="output JSON file")
    c.add_argument("--plot", help="output figure (.png, .pdf or .svg)")
    c.add_argument("--table", help="output Markdown table")
    c.add_argument("--models", nargs="*", metavar="NAME",
                   help="installed models to evaluate (default: all; none: baselines only)")
    c.add_argument("--baselines", nargs="*", choices=CODECS, metavar="CODEC",
                   help=f"classic codecs among {', '.join(CODECS)} (default: all; none: skip)")
    c.add_argument("--anchor", default="jpeg", help="the table's reference codec (default: jpeg)")
    c.add_argument("--limit", type=int, help="only the first N images")
    c.add_argument("--reuse", nargs="+", metavar="OLD.json",
                   help="take results of earlier compares on the same images: the classic codecs' "
                        "(same settings) and the models' (same weights); the last file wins")
    c.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="also measure each model with STEPS of encoder-side latent refinement")
    c.add_argument("--record", action="store_true",
                   help="record each model's points in the manifest (under the folder's name)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    c.add_argument("-f", "--force", action="store_true", help="replace existing outputs")
    c.set_defaults(func=cmd_compare)
    return c


def _outputs(a) -> dict[str, Path]:
    outs = {k: v for k, v in (("json", a.json), ("plot", a.plot), ("table", a.table)) if v}
    if len({Path(v).resolve() for v in outs.values()}) < len(outs):
        raise UsageError("--json, --plot and --table must be different files")
    if a.plot and Path(a.plot).suffix.lower() not in _PLOT_FORMATS:
        raise UsageError(f"{a.plot}: the plot must end in {', '.join(_PLOT_FORMATS)}")
    return {k: _check_output(a.dir, v, a.force) for k, v in outs.items()}


def _describe_model(m: dict) -> str:
    return (f"codec_lib {m['arch']} N={m['N']} M={m['M']}, {m['objective']} objective, "
            f"qualities {m['qualities']} (lmbda {m['lmbdas']}), "
            f"trained on {m['device'] or 'unknown'}")


def _figure(results: list[dict], fmt: str) -> bytes:
    from matplotlib.figure import Figure
    from .plots import rd_plot
    fig = Figure(figsize=(12, 4.8))
    for ax, metric in zip(fig.subplots(1, 2), ("psnr", "ms_ssim")):
        rd_plot(results, metric, ax=ax, title=f"{metric.upper().replace('_', '-')}, "
                f"{results[0]['images']} images")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=120)
    return buf.getvalue()


def _reusable(paths: list[str], images: list, baselines: list[str],
              models: list[str] = (), refine: int = 0) -> dict[str, dict]:
    """Results of earlier ``compare`` JSONs, each checked to be on the same images: the baselines'
    made with the same settings, and the models' made with the same weights at the same
    qualities (their ``weights_hash``; older results without it are measured again). A codec
    found usable in several files is taken from the last."""
    from .zoo import list_models, weights_hashes
    installed = {m["name"]: m for m in list_models("image")}
    hashes = {n: weights_hashes(n, installed[n]["qualities"]) for n in models}
    if refine:                                   # the same weights, refined at encoding
        hashes.update({f"{n}+refine{refine}": h for n, h in list(hashes.items())})
    out = {}
    for path in paths:
        out.update(_reusable_one(path, images, baselines, hashes))
    return out


def _reusable_one(path: str, images: list, baselines: list[str],
                  hashes: dict[str, dict]) -> dict[str, dict]:
    """What one earlier JSON offers; ``hashes`` are the installed models' weights hashes."""
    from .baselines import SETTINGS
    try:
        old = json.loads(Path(path).read_text())
        results = {r["model"]: r for r in old["results"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: not a compare JSON ({type(e).__name__})") from None
    names, seen = [n for n, _ in images], old.get("names")
    out = {}
    for c in baselines:
        r = results.get(c)
        if r is None:
            continue
        if r.get("images") != len(images) or (seen and seen != names):
            raise UsageError(f"{path}: its {c} results are on other images than {len(images)} here")
        if old.get("settings", {}).get(c) != SETTINGS[c]:
            raise UsageError(f"{path}: its {c} results were made with other settings or versions")
        out[c] = r
    for n, h in hashes.items():
        r = results.get(n)
        if r is None or r.get("images") != len(images) or seen != names:
            continue
        if r.get("weights_hash") == h:
            out[n] = r
    print(f"reusing {', '.join(out) or 'nothing'} from {path}")
    return out


def cmd_compare(a) -> None:
    from .baselines import SETTINGS, evaluate_baseline
    from .bdrate import bd_rate_matrix
    from .data import eval_images
    from .evaluate import evaluate_model
    from .plots import results_table
    from .zoo import list_models
    outs = _outputs(a)
    if not Path(a.dir).is_dir():
        raise UsageError(f"{a.dir}: no such folder")
    if a.limit is not None and a.limit < 1:
        raise UsageError("--limit must be at least 1")
    if a.refine < 0:
        raise UsageError("--refine must be 0 or more")
    installed = {m["name"]: m for m in list_models("image")}
    names = list(installed) if a.models is None else list(dict.fromkeys(a.models))
    unknown = [n for n in names if n not in installed]
    if unknown:
        raise UsageError(f"unknown model {unknown[0]!r}; "
                         f"installed: {', '.join(installed) or 'none'}")
    baselines = list(CODECS) if a.baselines is None else list(dict.fromkeys(a.baselines))
    if not names and not baselines:
        raise UsageError("nothing to compare: no models and no baselines")
    if a.anchor not in names + baselines:
        raise UsageError(f"--anchor {a.anchor!r} is not among the compared codecs")
    images = eval_images(a.dir, limit=a.limit)
    if not images:
        raise UsageError(f"{a.dir}: no images found")

    reused = _reusable(a.reuse, images, baselines, names, a.refine) if a.reuse else {}
    results = [reused.get(n) or evaluate_model(images, n, progress=not a.quiet, per_image=True)
               for n in names]
    refined = {f"{n}+refine{a.refine}": n for n in names} if a.refine else {}
    results += [reused.get(r) or evaluate_model(images, n, progress=not a.quiet, per_image=True,
                                                refine=a.refine) for r, n in refined.items()]
    results += [reused.get(c) or evaluate_baseline(images, c, progress=not a.quiet)
                for c in baselines]
    doc = {"images": len(images), "dir": str(Path(a.dir).resolve()),
           "names": [n for n, _ in images], "results": results,
           "bd_rate": {m: bd_rate_matrix(results, m) for m in ("psnr", "ms_ssim")},
           "settings": {**{n: _describe_model(installed[n]) for n in names},
                        **{r: f"{_describe_model(installed[n])}; the encoder refines each image's "
                              f"latents ({a.refine} steps of codec_lib.refine), same decoder"
                           for r, n in refined.items()},
                        **{c: SETTINGS[c] for c in baselines}}}
    tables = (f"BD-rate on PSNR (negative: fewer bits than the column's codec at equal PSNR), "
              f"{len(images)} images of {a.dir}:\n\n{results_table(results, a.anchor)}\n\n"
              f"BD-rate on MS-SSIM (dB):\n\n{results_table(results, a.anchor, 'ms_ssim')}\n")
    plot = _figure(results, Path(a.plot).suffix.lower()[1:]) if a.plot else None
    settings = "".join(f"- `{k}`: {v}\n" for k, v in doc["settings"].items())

    _write_atomic(outs["json"], lambda f: f.write((json.dumps(doc, indent=2) + "\n").encode()))
    if plot is not None:
        _write_atomic(outs["plot"], lambda f: f.write(plot))
    if "table" in outs:
        md = f"# Rate-distortion comparison\n\n{tables}\nSettings:\n\n{settings}"
        _write_atomic(outs["table"], lambda f: f.write(md.encode()))
    print(tables, end="")
    if a.record:
        from .cli import record_points
        for r in results[: len(names)]:                 # the plain models
            record_points(r, a.dir, a.json)
