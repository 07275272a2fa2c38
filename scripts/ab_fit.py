"""A/B of ``fit``'s speed between two source trees of codec_lib, on this CPU.

Each round runs ``bench._fit_seconds`` (``--steps`` steps, 60 by default, of 8 crops of 128²,
float32: the difference of a 3 + steps and a 3-step run, as ``python -m codec_lib.bench`` does) once per tree, in turn,
each in a fresh process that imports only that tree, and prints images per second; the
medians come last. For a change of ``fit``, against an older commit::

    git worktree add /tmp/old REV
    python scripts/ab_fit.py /tmp/old . --rounds 6
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CODE = """
import json, torch
torch.set_num_threads({threads})
import codec_lib
assert codec_lib.__file__.startswith({root!r}), codec_lib.__file__
from codec_lib.bench import _fit_seconds
t = _fit_seconds(3 + {steps}, 64, 96, 8, 128, 0.013, "fp32") - _fit_seconds(3, 64, 96, 8, 128, 0.013, "fp32")
print(json.dumps({steps} * 8 / t))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trees", nargs=2, help="two folders holding codec_lib/ (A, then B)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=60)
    a = ap.parse_args(argv)
    roots = [str(Path(t).resolve()) for t in a.trees]
    for r in roots:
        if not (Path(r) / "codec_lib" / "__init__.py").is_file():
            ap.error(f"{r}: no codec_lib/ there")
    res: list[list[float]] = [[], []]                 # images/s of A and of B, round by round
    for _ in range(a.rounds):
        for r, got in zip(roots, res):
            env = {**os.environ, "PYTHONPATH": r}
            out = subprocess.run([sys.executable, "-c", CODE.format(root=r, threads=a.threads, steps=a.steps)],
                                 cwd="/", env=env, capture_output=True, text=True)
            if out.returncode:
                print(f"error in {r}: {out.stderr.strip().splitlines()[-1]}", file=sys.stderr)
                return 1
            got.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"{r}: {got[-1]:.1f} images/s", flush=True)
    for r, v in zip(roots, res):
        print(f"{r}: median {statistics.median(v):.1f} images/s ({min(v):.1f} to {max(v):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
