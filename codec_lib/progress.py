"""The progress bar of the training loops (``train.fit``, ``video_train.fit_video``).

A run stops at ``steps`` or after ``minutes`` of training, whichever comes first. A bar over the
steps alone is useless for the usual ``--steps 1000000 --minutes 45``: it sits at 0 % and
promises 129 hours. So with a time budget the bar runs over the minutes (its remaining time is
then the real one) and shows the steps beside it; without one it runs over the steps::

    fit mean-scale:  44%|████▍     | 19.9/45 min [19:54<25:06, step=2431, loss=2.538, bpp=0.827]

Resumed runs start the bar where they stopped (``step`` and ``seconds`` already done).
"""
from __future__ import annotations

from tqdm.auto import tqdm


class TrainingBar:
    """``update(step, seconds, **postfix)`` after every step; ``close()`` at the end."""

    def __init__(self, steps: int, minutes: float | None, step: int = 0, seconds: float = 0.0,
                 desc: str = "fit", disable: bool = False):
        self.timed = bool(minutes)
        if self.timed:
            self.bar = tqdm(total=float(minutes), initial=min(seconds / 60, minutes), desc=desc,
                            disable=disable, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.1f}/{total:g} min "
                                       "[{elapsed}<{remaining}{postfix}]")
        else:
            self.bar = tqdm(total=steps, initial=step, desc=desc, disable=disable,
                            dynamic_ncols=True)

    def update(self, step: int, seconds: float, **postfix: str) -> None:
        """Move to ``step`` steps and ``seconds`` of training done; show ``postfix`` beside it."""
        if self.timed:
            self.bar.set_postfix({"step": str(step), **postfix}, refresh=False)
            self.bar.update(min(seconds / 60, self.bar.total) - self.bar.n)
        else:
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(step - self.bar.n)

    def close(self) -> None:
        self.bar.close()
