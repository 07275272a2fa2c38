"""Video checkpoints: one file for all the rates of a P-frame codec, its intra model by reference.

A video checkpoint is a :mod:`codec_lib.zoo` checkpoint with ``"kind": "video"``::

    {"format": "codec_lib.checkpoint", "version": 1, "kind": "video", "name": "dvc",
     "coding": "residual", "arch": "video-residual", "N": 48, "M": 64, "C": 16,
     "qualities": [2, 3, 4, 5], "lmbdas": [0.0035, 0.0067, 0.013, 0.025],
     "intra": [{"name": "mean-scale", "quality": 2, "weights_hash": "..."}, ...],
     "state_dict": {...the P-frame parts only...}, "meta": {...}}

Quality ``qualities[k]`` codes P-frames at rate ``k`` (:class:`codec_lib.video_models.Gain`) and
frame 0 with the image model ``intra[k]``, which is **not** copied into the file: it is loaded
from the installed zoo and must have the weights the video model was trained with (its weights
hash is checked). This keeps video checkpoints small: the P-frame parts only.
"""
from __future__ import annotations

import os

from .errors import ModelError
from .models import CompressionModel

__all__ = ["save_video_checkpoint", "video_model_from", "repoint_intra", "tune_bounds"]


def save_video_checkpoint(model: CompressionModel, path: str | os.PathLike, name: str,
                          qualities: list[int], intra: list[dict], meta: dict | None = None) -> str:
    """Write the P-frame parts of ``model`` (half precision, tables included but
    for the default Gaussian ones: see :mod:`codec_lib.zoo`) with one quality
    and one intra reference (:func:`codec_lib.zoo.model_ref`) per rate; returns the file's sha256."""
    from .zoo import FORMAT, _pack_state, _write
    if not len(qualities) == len(intra) == len(model.lmbdas):
        raise ValueError(f"need one quality and one intra model per rate ({len(model.lmbdas)})")
    obj = {"format": FORMAT, "version": 1, "kind": "video", "name": name, "coding": model.coding,
           "arch": f"video-{model.coding}", "N": model.N, "M": model.M, "C": model.C,
           "act": "gdn", "synthesis": "deep", "qualities": [int(q) for q in qualities],
           "lmbdas": [float(v) for v in model.lmbdas], "intra": intra, "objective": "mse",
           "state_dict": _pack_state(model, drop=("intra.",)), "meta": meta or {}}
    return _write(obj, path)


def video_model_from(obj: dict, sd: dict, quality: int | None) -> tuple[CompressionModel, int]:
    """Build the codec of a loaded video checkpoint at ``quality`` (default: the middle one)
    with its installed intra model; returns ``(model, quality)``."""
    from .video_train import build_video_model
    from .zoo import load_ref
    qualities = obj["qualities"]
    quality = qualities[(len(qualities) - 1) // 2] if quality is None else quality
    if quality not in qualities:
        raise ModelError(f"model {obj['name']!r} has no quality {quality}; available: {qualities}")
    k = qualities.index(quality)
    intra = load_ref(obj["intra"][k], f"video model {obj['name']!r} q{quality}", "intra")
    model = build_video_model(obj["coding"], obj["N"], obj["M"], obj["C"], intra, obj["lmbdas"])
    try:
        model.load_parts(sd)
    except (ValueError, RuntimeError):
        raise ModelError(f"checkpoint of {obj['name']!r} does not fit its architecture") from None
    model.set_rate(k)
    return model, quality


def repoint_intra(path: str | os.PathLike) -> str:
    """Point the video checkpoint at ``path`` at the intra models installed now (same names and
    qualities), after those were retrained; the P-frame parts stay as they are, so measure the
    codec again. Rewrites the file atomically and returns its new sha256 (register it with
    :func:`codec_lib.zoo.register`)."""
    import torch

    from .zoo import _write, load_model, model_ref
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if obj.get("kind") != "video":
        raise ModelError(f"{path} is not a video checkpoint")
    obj["intra"] = [model_ref(load_model(r["name"], r["quality"]), "intra") for r in obj["intra"]]
    return _write(obj, path)


def tune_bounds(path: str | os.PathLike, folders: list[str], n: int = 8,
                crop: int = 256) -> tuple[str, dict]:
    """Tune the scale bounds of the P-frame Gaussians of the video checkpoint at ``path``
    (:func:`codec_lib.calibrate.tune_video_bounds`: one per channel, shared by the rates) on
    ``n`` synthetic pans of ``crop`` pixels (at most the smallest photo's side) across the
    photos of ``folders`` (the validation clips of :mod:`codec_lib.video_data`: never the test
    video). The decoded frames do not change, only the rate. Rewrites the file atomically, the
    choice recorded in its training record; returns its new sha256 and the record (register
    it with :func:`codec_lib.zoo.register`)."""
    import dataclasses
    from pathlib import Path

    import torch
    from PIL import Image

    from .calibrate import tune_video_bounds
    from .data import list_images
    from .video_data import val_clips
    from .video_train import VideoTrainConfig
    from .zoo import _pack_state, _unpack_state, _write, load_ref
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if obj.get("kind") != "video":
        raise ModelError(f"{path} is not a video checkpoint")
    model, _ = video_model_from(obj, _unpack_state(obj["state_dict"]), obj["qualities"][0])
    intras = [load_ref(r, f"video model {obj['name']!r}", "intra") for r in obj["intra"]]
    training = obj.get("meta", {}).get("training", {})
    fields = {f.name for f in dataclasses.fields(VideoTrainConfig)}
    cfg = VideoTrainConfig(**{k: v for k, v in training.get("config", {}).items() if k in fields})
    paths = sorted(p for f in folders for p in list_images(f))[:n]   # those val_clips takes
    if paths:                                        # photos smaller than ``crop``: their side
        crop = min(crop, min(min(Image.open(p).size) for p in paths) // 16 * 16)
        if crop < 64:
            raise ValueError("the photos must be at least 64 pixels on each side")
    cfg = dataclasses.replace(cfg, crop=crop)
    record = tune_video_bounds(model, intras, val_clips(folders, cfg, n))
    where = ", ".join("/".join(Path(f).resolve().parts[-2:]) for f in folders)
    record = {"tuned_on": f"{where} ({len(paths)} pans of {crop} px, {cfg.chain} frames)", **record}
    obj["state_dict"] = _pack_state(model, drop=("intra.",))
    obj.setdefault("meta", {}).setdefault("training", {})["scale_bound"] = record
    return _write(obj, path), record
