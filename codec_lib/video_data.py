"""The clips the P-frame codecs train and validate on: ``(B, T, 3, H, W)`` tensors in [0, 1].

- **synthetic clips**: a still photo seen by a camera that pans (up to ``cfg.max_shift`` pixels
  per frame), zooms and rotates a little (:func:`codec_lib.motion.synthetic_clip`), the pan kept
  inside the photo;
- **real video**: ``cfg.chain`` consecutive frames of a clip, at a random position, played
  backwards or mirrored at random.

:func:`clip_batch` is a function of ``(cfg.seed, index)`` only, so a resumed run sees the same
batches; :func:`val_clips` are fixed pans across the first photos of a validation folder, the
same for every run with these settings. ``cfg`` is a :class:`codec_lib.video_train.VideoTrainConfig`.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import torch

from .motion import synthetic_clip

if TYPE_CHECKING:
    from .video_train import VideoTrainConfig

__all__ = ["training_sources", "clip_batch", "val_clips"]


def training_sources(cfg: VideoTrainConfig) -> tuple[list, list[np.ndarray]]:
    """``(photos, clips)``: the paths of the photos in ``cfg.photos`` (default: the training
    folders, else the embedded sample photos) and the first ``cfg.clip_frames`` frames
    ``(T, H, W, 3)`` uint8 of each video in ``cfg.clips``."""
    from .data import list_images, sample_images, training_folders
    from .video_io import read_video
    folders = cfg.photos or [str(f) for f in training_folders()]
    photos = [p for f in folders for p in list_images(f)] or [img for _, img in sample_images()]
    clips = [read_video(c, cfg.clip_frames) for c in cfg.clips]
    return photos, clips


def _pan(photo, cfg: VideoTrainConfig, seed: int) -> torch.Tensor:
    """A synthetic clip ``(chain, 3, crop, crop)`` across ``photo`` (a path or a PIL image), its
    pan limited so that the camera stays inside the photo."""
    from PIL import Image
    img = np.asarray((Image.open(photo) if isinstance(photo, (str, os.PathLike)) else photo).convert("RGB"))
    room = (min(img.shape[:2]) - cfg.crop) / cfg.chain - 1
    return synthetic_clip(img, cfg.chain, (cfg.crop, cfg.crop), seed=seed,
                          max_shift=max(0.0, min(cfg.max_shift, room)))[0]


def clip_batch(photos: list, clips: list[np.ndarray], cfg: VideoTrainConfig,
               index: int) -> tuple[torch.Tensor, int]:
    """``(x, k)``: clips ``x (B, chain, 3, crop, crop)`` in [0, 1] and a rate index ``k``,
    a function of ``(cfg.seed, index)``."""
    rng = np.random.default_rng([cfg.seed, index])
    T, c = cfg.chain, cfg.crop
    out = []
    for _ in range(cfg.batch_size):
        if not clips or rng.random() < cfg.synthetic:
            x = _pan(photos[rng.integers(len(photos))], cfg, int(rng.integers(1 << 30)))
        else:
            clip = clips[rng.integers(len(clips))]
            n, H, W, _ = clip.shape
            t, top, left = rng.integers(n - T + 1), rng.integers(H - c + 1), rng.integers(W - c + 1)
            x = clip[t: t + T, top: top + c, left: left + c]
            x = x[::-1] if rng.random() < 0.5 else x                    # play it backwards
            x = x[:, :, ::-1] if rng.random() < 0.5 else x               # mirror
            x = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 255
        out.append(x)
    return torch.stack(out), int(rng.integers(len(cfg.lmbdas)))


def val_clips(folders: list[str], cfg: VideoTrainConfig, n: int = 8) -> torch.Tensor:
    """Fixed validation clips ``(n, chain, 3, crop, crop)``: synthetic pans across the first
    ``n`` photos (sorted by name) of ``folders``, the same for every run of these settings."""
    from .data import list_images
    paths = sorted(p for f in folders for p in list_images(f))[:n]
    if not paths:
        raise ValueError(f"no images in {folders}")
    return torch.stack([_pan(p, cfg, seed=i) for i, p in enumerate(paths)])
