"""The manifest of installed checkpoints: listing, resolving, registering, training lineage.

``manifest.json`` in the checkpoint folder (:func:`checkpoint_dir`) lists one entry per model
and quality (a video file gives one per rate)::

    {"format": 1, "default": {"model": "mean-scale", "quality": 4},
     "models": [{"name": "mean-scale", "kind": "image", "quality": 4, "arch": "mean-scale",
                 "N": 64, "M": 96, "lmbda": 0.013, "file": "mean-scale-q4.pt", "sha256": "...",
                 "weights_hash": "...", "bytes": 3858131,
                 "training": {"command": "...", "steps": 6500, "device": "cpu", "stages": [...],
                              "total_steps": 46390, ...}, "kodak": {...}}, ...]}

The file format of the checkpoints themselves, and loading with the sha256 check, are in
:mod:`codec_lib.zoo`, which re-exports everything here.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from .errors import ModelError

__all__ = ["CHECKPOINT_ENV", "checkpoint_dir", "read_manifest", "training_devices", "list_models",
           "resolve", "weights_hashes", "sha256_file", "register", "lineage", "annotate"]

CHECKPOINT_ENV = "CODEC_LIB_CHECKPOINTS"


def checkpoint_dir() -> Path:
    """``$CODEC_LIB_CHECKPOINTS`` or the repository's ``data/checkpoints``."""
    env = os.environ.get(CHECKPOINT_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / "checkpoints"


def read_manifest(folder: Path | None = None) -> dict:
    path = (folder or checkpoint_dir()) / "manifest.json"
    if not path.exists():
        return {"models": [], "default": None}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ModelError(f"{path} is not valid JSON ({e})") from None


def training_devices(training: dict) -> str | None:
    """Every device a model's training stages ran on, in order of first use: ``"cpu"``,
    ``"cpu + cuda"``, ... (None when the manifest does not say)."""
    seen: list[str] = []
    for d in [s.get("device") for s in training.get("stages", [])] + [training.get("device")]:
        if d and d not in seen:
            seen.append(d)
    return " + ".join(seen) or None


def list_models(kind: str | None = None) -> list[dict]:
    """One entry per model name: ``name, kind, objective, qualities, default, arch, N, M,
    synthesis, lmbdas, device, steps`` (``steps``: training steps per quality); only those of
    ``kind`` (``"image"`` or ``"video"``) if given."""
    man = read_manifest()
    default = (man.get("default") or {}).get("model")
    out: dict[str, dict] = {}
    for e in man["models"]:
        m = out.setdefault(e["name"], {
            "name": e["name"], "kind": e.get("kind", "image"), **(
                {"coding": e["coding"]} if e.get("coding") else {}), "objective": e.get("objective", "mse"),
            "qualities": [], "default": e["name"] == default, "arch": e["arch"], "N": e["N"],
            "M": e["M"], "synthesis": e.get("synthesis", "deep"), "lmbdas": [], "steps": [],
            "device": training_devices(e.get("training", {}))})
        m["qualities"].append(e["quality"])
        m["lmbdas"].append(e["lmbda"])
        m["steps"].append(e.get("training", {}).get("total_steps", e.get("training", {}).get("steps")))
    for m in out.values():
        order = sorted(range(len(m["qualities"])), key=m["qualities"].__getitem__)
        m["qualities"] = [m["qualities"][i] for i in order]
        m["lmbdas"] = [m["lmbdas"][i] for i in order]
        m["steps"] = [m["steps"][i] for i in order]
        m["default_quality"] = _default_quality(man, m["name"], m["qualities"])
    return [m for m in out.values() if kind in (None, m["kind"])]


def _default_quality(man: dict, name: str, qualities: list[int]) -> int:
    d = man.get("default") or {}
    if d.get("model") == name and d.get("quality") in qualities:
        return d["quality"]
    return qualities[(len(qualities) - 1) // 2]


def resolve(name: str | None = None, quality: int | None = None) -> dict:
    """The manifest entry for ``(name, quality)``; ``None`` picks the defaults."""
    man = read_manifest()
    if not man["models"]:
        raise ModelError(f"no trained models are installed (looked in {checkpoint_dir()})")
    name = name or (man.get("default") or {}).get("model") or man["models"][0]["name"]
    entries = [e for e in man["models"] if e["name"] == name]
    if not entries:
        names = sorted({e["name"] for e in man["models"]})
        raise ModelError(f"unknown model {name!r}; installed: {', '.join(names)}")
    qualities = sorted(e["quality"] for e in entries)
    quality = _default_quality(man, name, qualities) if quality is None else quality
    for e in entries:
        if e["quality"] == quality:
            return e
    raise ModelError(f"model {name!r} has no quality {quality}; available: {qualities}")


def weights_hashes(name: str, qualities: list[int]) -> dict[str, str]:
    """``{quality: weights_hash}`` of installed model ``name`` (keys as strings, as in JSON)."""
    return {str(q): resolve(name, q).get("weights_hash") for q in qualities}


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def bound_record(bound: torch.Tensor) -> float | list[float]:
    """A Gaussian scale bound as the manifest shows it: one number, or one per channel."""
    values = [round(v, 6) for v in bound.reshape(-1).tolist()]
    return values[0] if len(values) == 1 else values


def register(path: str | os.PathLike, training: dict | None = None, default: bool = False,
             extra: dict | None = None) -> dict:
    """Add (or replace) the manifest entries of a checkpoint that lies in the checkpoint folder
    (one per quality: a video file holds several); returns the middle one."""
    from .zoo import _CACHE, load_checkpoint, weights_hash
    path = Path(path).resolve()
    folder = path.parent
    obj = torch.load(path, map_location="cpu", weights_only=True)
    entries = []
    for quality in obj.get("qualities", [obj.get("quality")]):    # a video file holds several
        model = load_checkpoint(path, quality=quality)
        entries.append({
            "name": obj["name"], "kind": obj.get("kind", "image"), **(
                {"coding": obj["coding"]} if obj.get("coding") else {}),
            "objective": obj.get("objective", "mse"), "arch": obj["arch"], "N": obj["N"],
            "M": obj["M"], "synthesis": obj.get("synthesis", "deep"), "quality": quality,
            "lmbda": model.lmbda, "file": path.name, "sha256": sha256_file(path),
            "weights_hash": weights_hash(model).hex(), "bytes": path.stat().st_size, **(
                {"scale_bound": bound_record(model.gaussian_conditional.scale_bound)}
                if hasattr(model, "gaussian_conditional") and obj.get("kind") != "video" else {}),
            "training": training or obj.get("meta", {}).get("training", {}), **(extra or {})})
    man = read_manifest(folder)
    man["models"] = [e for e in man["models"] if not (e["name"] == obj["name"] and e["quality"]
                                                      in {n["quality"] for n in entries})]
    man["models"] += entries
    man["models"].sort(key=lambda e: (e["name"], e["quality"]))
    entry = entries[(len(entries) - 1) // 2]
    if default or not man.get("default"):
        man["default"] = {"model": entry["name"], "quality": entry["quality"]}
    man["format"] = 1
    _write_manifest(folder, man)
    _CACHE.clear()
    return entry


def lineage(init: str | os.PathLike, training: dict, earlier: Sequence[dict] = ()) -> dict:
    """``stages`` (every training run since the start, this one last), ``total_steps`` and
    ``total_wall_s`` of a run (its ``training`` record: command, steps, wall_s, device, init)
    that continued from the codec_lib checkpoint ``init``; empty when ``init`` holds no
    training record. A parent without ``stages`` counts as one stage of its total steps.
    ``earlier``: stages that trained other parts of the run's starting weights (those of a
    ``--warm`` file), counted just before this one."""
    try:
        prev = torch.load(init, map_location="cpu", weights_only=True).get("meta", {}).get("training")
    except Exception:                   # not a codec_lib checkpoint: nothing to chain
        prev = None
    if not prev:
        return {}
    keys = ("command", "steps", "wall_s", "device")
    first = {k: prev[k] for k in keys if k in prev}
    first.update(steps=prev.get("total_steps", first.get("steps")),
                 wall_s=prev.get("total_wall_s", first.get("wall_s")))
    stages = prev.get("stages") or [first]
    stages = stages + list(earlier) + [{**{k: training.get(k) for k in keys}, "init": training["init"]}]
    return {"stages": stages, "total_steps": sum(s.get("steps") or 0 for s in stages),
            "total_wall_s": round(sum(s.get("wall_s") or 0 for s in stages), 1)}


def annotate(name: str, quality: int, **fields) -> dict:
    """Add fields (e.g. ``kodak={...}``, an evaluation point) to an installed model's entry."""
    folder = checkpoint_dir()
    man = read_manifest(folder)
    entry = next((e for e in man["models"] if e["name"] == name and e["quality"] == quality), None)
    if entry is None:
        raise ModelError(f"model {name!r} quality {quality} is not in {folder / 'manifest.json'}")
    entry.update(fields)
    _write_manifest(folder, man)
    return entry


def _write_manifest(folder: Path, man: dict) -> None:
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(man, indent=2) + "\n")
    os.replace(tmp, folder / "manifest.json")
