"""RD loss of training runs on whole validation photos, against the installed model.

``scripts/cpu_stage.sh check`` scores a run on fit's 16 centre crops at the run's own crop size;
runs trained on different crop sizes are not comparable there. This scores every run, and the
installed model of the same name and quality, on the *whole* photos of a folder (BSDS500 val:
100 images of 481x321; never Kodak), with real rounding, each at the installed model's lambda::

    python scripts/val_full.py "$CODEC_LIB_DATA/bsds500/val" runs/ab-q5-c128 runs/ab-q5-c256
    python scripts/val_full.py VAL RUN... --name mean-scale --quality 5 --limit 20
    git show HEAD~1:data/checkpoints/mean-scale-q2.pt > /tmp/old-q2.pt     # a checkpoint file
    python scripts/val_full.py VAL /tmp/old-q2.pt      # scores like a run: the weights before

The quality is the first run's (from its lambda) unless given. Each line: RD loss, bpp and PSNR
(from the mean MSE), and the loss against the installed model's. About 1 s per image and model
on one core.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from codec_lib import zoo  # noqa: E402
from codec_lib.data import eval_images, to_tensor  # noqa: E402
from codec_lib.train import LAMBDAS, evaluate_loss, load_run  # noqa: E402


def _checkpoint(path: Path) -> tuple[torch.nn.Module, dict]:
    """A checkpoint file as ``load_run`` gives a run: (model, a record with its lambda)."""
    m = zoo.load_checkpoint(path)
    return m, {"step": None, "config": {"lmbda": m.lmbda}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("val", help="folder of validation photos (BSDS500 val; never Kodak)")
    ap.add_argument("runs", nargs="+",
                    help="training run folders (each with last.pt) or checkpoint files")
    ap.add_argument("--name", default="mean-scale", help="installed model to compare against")
    ap.add_argument("--quality", type=int, help="its quality (default: the first run's)")
    ap.add_argument("--limit", type=int, help="only the first LIMIT photos (sorted by name)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        runs = [Path(r) for r in a.runs]
        for r in runs:
            if not r.is_file() and not (r / "last.pt").is_file():
                raise FileNotFoundError(f"{r}: no last.pt (not a training run folder) and no file")
        photos = eval_images(a.val, a.limit)
        if not photos:
            raise FileNotFoundError(f"{a.val}: no images")
        models = [_checkpoint(r) if r.is_file() else load_run(r) for r in runs]
        lmbda = models[0][1]["config"]["lmbda"]
        q = a.quality or next((k for k, v in LAMBDAS.items() if v == lmbda), None)
        if q is None:
            raise ValueError(f"lambda {lmbda} of {runs[0]} is no quality's: pass --quality")
        shipped = zoo.load_model(a.name, q)
    except (FileNotFoundError, zoo.ModelError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    images = [to_tensor(im) for _, im in photos]
    rows = [(f"{a.name} q{q} (installed)", None, shipped)] + [
        (str(r), ck["step"], m) for r, (m, ck) in zip(runs, models)]
    base = None
    print(f"{len(images)} whole photos of {a.val}, lambda {shipped.lmbda} (q{q})")
    for label, step, m in tqdm(rows, desc="models", leave=False):
        e = evaluate_loss(m, images, shipped.lmbda)
        base = base or e["loss"]
        rel = "" if m is shipped else f" ({100 * (e['loss'] / base - 1):+.2f} %)" + (
            f", step {step}" if step is not None else "")
        tqdm.write(f"{label}: loss {e['loss']:.4f}{rel}, bpp {e['bpp']:.4f}, PSNR {e['psnr']:.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
