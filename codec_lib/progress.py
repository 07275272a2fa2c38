"""The progress bar of the training loops (``train.fit``, ``video_train.fit_video``).

A run stops at ``steps`` or after ``minutes`` of training, whichever comes first. A bar over the
steps alone is useless for the usual ``--steps 1000000 --minutes 45``: it sits at 0 % and
promises 129 hours. So with a time budget the bar runs over the minutes (its remaining time is
then the real one) and shows the steps beside it; without one it runs over the steps::

    fit mean-scale:  44%|████▍     | 19.9/45 min [19:54<25:06, step=2431, loss=2.538, bpp=0.827]

Resumed runs start the bar where they stopped (``step`` and ``seconds`` already done).

The loss terms beside it are running means kept where they are computed (:class:`Smoothed`):
reading a GPU tensor waits for the GPU, so the loops read them only when the bar redraws
(``SHOW_EVERY`` seconds) and at checkpoints, and the GPU never waits for the bar.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import torch
from tqdm.auto import tqdm

SHOW_EVERY = 0.5   # seconds between two redraws of the loss terms (each one a host-device sync)


class Smoothed:
    """Exponential running means (``decay`` per step) of a loop's loss terms, on their device.

    ``update(loss=..., bpp=...)`` after every step costs no synchronization; ``floats()`` reads
    them all at once (one sync)."""

    def __init__(self, decay: float = 0.98):
        self.decay, self.terms = decay, {}

    def update(self, **terms: torch.Tensor | float) -> None:
        for k, v in terms.items():
            v = v.detach().float() if torch.is_tensor(v) else torch.tensor(float(v))
            if k in self.terms:
                self.terms[k].mul_(self.decay).add_(v.to(self.terms[k].device), alpha=1 - self.decay)
            else:
                self.terms[k] = v.clone()

    def floats(self) -> dict[str, float]:
        if not self.terms:
            return {}
        dev = next(iter(self.terms.values())).device
        vals = torch.stack([v.to(dev) for v in self.terms.values()]).tolist()
        return dict(zip(self.terms, vals))

    def postfix(self, *keys: str) -> dict[str, str]:
        """The terms as the bar shows them (one sync): ``keys`` of loss, bpp, psnr (from the
        mse) and aux, by default all four."""
        r = self.floats()
        shown = {"loss": lambda: f"{r['loss']:.3f}", "bpp": lambda: f"{r['bpp']:.3f}",
                 "psnr": lambda: f"{-10 * math.log10(max(r['mse'], 1e-12)):.2f}",
                 "aux": lambda: f"{r['aux']:.0f}"}
        return {k: shown[k]() for k in keys or ("loss", "bpp", "psnr", "aux")}


class TrainingBar:
    """``update(step, seconds, postfix)`` after every step; ``close()`` at the end."""

    def __init__(self, steps: int, minutes: float | None, step: int = 0, seconds: float = 0.0,
                 desc: str = "fit", disable: bool = False):
        self.timed, self.shown = bool(minutes), -float("inf")
        if self.timed:
            self.bar = tqdm(total=float(minutes), initial=min(seconds / 60, minutes), desc=desc,
                            disable=disable, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.1f}/{total:g} min "
                                       "[{elapsed}<{remaining}{postfix}]")
        else:
            self.bar = tqdm(total=steps, initial=step, desc=desc, disable=disable,
                            dynamic_ncols=True)

    def update(self, step: int, seconds: float, postfix: Callable[[], dict] | None = None,
               force: bool = False) -> None:
        """Move to ``step`` steps and ``seconds`` of training done. ``postfix()`` gives the terms
        shown beside it; it is called (a sync when it reads :class:`Smoothed`) only every
        ``SHOW_EVERY`` seconds, or now if ``force``."""
        now = time.monotonic()
        terms = {}
        if postfix is not None and not self.bar.disable and (force or now - self.shown >= SHOW_EVERY):
            terms, self.shown = postfix(), now
        if self.timed:
            if terms:
                self.bar.set_postfix({"step": str(step), **terms}, refresh=False)
            self.bar.update(min(seconds / 60, self.bar.total) - self.bar.n)
        else:
            if terms:
                self.bar.set_postfix(terms, refresh=False)
            self.bar.update(step - self.bar.n)

    def close(self) -> None:
        self.bar.close()
