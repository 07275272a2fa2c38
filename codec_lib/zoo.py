"""Model zoo: trained checkpoints, their manifest, loading with integrity checks.

Checkpoints live in ``data/checkpoints/`` of the repository, or in the folder named by
``$CODEC_LIB_CHECKPOINTS``. ``manifest.json`` there lists every file with its architecture,
quality, ``lmbda``, sha256, the hash of its weights (which bitstreams carry) and how it was
trained (:mod:`codec_lib.manifest`, re-exported here). Loading checks the file's sha256 against
the manifest and refuses an altered file.

A checkpoint file is a ``torch.save`` dict (loaded with ``weights_only=True``)::

    {"format": "codec_lib.checkpoint", "version": 1, "name": "mean-scale", "quality": 4,
     "arch": "mean-scale", "N": 64, "M": 96, "act": "gdn", "synthesis": "deep",
     "lmbda": 0.013, "objective": "mse",
     "state_dict": {...float16 weights, 16-bit probability tables...}, "meta": {...}}

A model fine-tuned from an installed one with parts frozen (the generative decoders) may store
only what changed, with ``"parent": {"name", "quality", "weights_hash"}`` (see
:func:`save_checkpoint`); it loads only where that parent is installed with those weights.

Weights are stored in half precision (the decoder computes in float32 after loading); the
integer probability tables are stored exactly (each CDF row as its 16-bit symbol frequencies),
so every machine codes with the same integers. The one exception are the Gaussian tables of the
default scale table, the same 210 kB in every mean-scale and video model: files leave them out,
and loading rebuilds them and checks them against :data:`DEFAULT_GAUSSIAN_TABLES_SHA256`, so a
machine whose floating point gave other integers refuses to load rather than code differently.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import torch

from .entropy_models import SCALE_BOUND
from .errors import ModelError
from .manifest import (CHECKPOINT_ENV, annotate, checkpoint_dir, lineage, list_models, read_manifest,
                       register, resolve, sha256_file, weights_hashes)
from .models import CompressionModel, build_model

__all__ = ["CHECKPOINT_ENV", "checkpoint_dir", "read_manifest", "list_models", "resolve",
           "load_model", "load_checkpoint", "load_weights", "save_checkpoint", "weights_hash", "weights_hashes", "sha256_file",
           "find_model", "model_ref", "load_ref", "register", "annotate", "lineage"]

FORMAT = "codec_lib.checkpoint"
# sha256 of the packed tables (_quantized_cdf, _cdf_length, _offset) of GaussianConditional()
DEFAULT_GAUSSIAN_TABLES_SHA256 = "7873e81173e90bcc2fc190c25bbd3041bbeea2c18483c3ceb86720e398e2069f"
_TABLES = ("_quantized_cdf", "_cdf_length", "_offset")
TABLE_KEYS = _TABLES + ("scale_table",)   # state-dict keys that end so: probability tables
_FLOAT32_KEYS = ("scale_table", "scale_bound")   # stored exactly, not in half precision


def weights_hash(model: CompressionModel) -> bytes:
    """First 8 bytes of the sha256 of all weights and tables, and of the rate a multi-rate
    video model codes at (written into every bitstream)."""
    model.update_tables()
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        if k.endswith("scale_bound") and v.numel() == 1 and float(v) == float(torch.tensor(SCALE_BOUND)):
            continue          # files and bitstreams from before the bound was stored stay valid
        t = v.detach().cpu().contiguous()
        h.update(k.encode() + str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    if getattr(model, "rate", None) is not None:          # a multi-rate video model: which rate
        h.update(f"rate {model.rate}".encode())
    return h.digest()[:8]


def _pack_state(model: CompressionModel, drop: tuple[str, ...] = (),
                keep_default_tables: bool = False) -> dict:
    """The state dict as stored: floats in half precision, each CDF row as 16-bit frequencies;
    keys starting with ``drop`` left out, and the default Gaussian tables unless kept."""
    model.update_tables()
    sd = {k: (v.half() if v.is_floating_point() and not k.endswith(_FLOAT32_KEYS) else v).cpu()
          for k, v in model.state_dict().items() if not (drop and k.startswith(drop))}
    for k in [k for k in sd if k.endswith("_quantized_cdf")]:   # store the rows unpadded, as
        lengths = sd[k[: -len("_quantized_cdf")] + "_cdf_length"]   # frequencies in 16 bits
        rows = [row[:n] for row, n in zip(sd[k], lengths.tolist())]
        freqs = torch.cat([row.diff() for row in rows]) if rows else torch.zeros(0, dtype=torch.int32)
        if all(len(r) and r[0] == 0 for r in rows) and bool(((freqs >= 1) & (freqs <= 65535)).all()):
            sd[k] = (freqs - 32768).to(torch.int16)             # CDFs start at 0 and rise
        else:
            sd[k] = torch.cat(rows)
    if not keep_default_tables:
        _drop_default_tables(sd)
    return sd


def _drop_default_tables(sd: dict) -> bool:
    """Delete from a packed state dict the Gaussian tables equal to the default ones (which
    :func:`_unpack_state` rebuilds and verifies); True if there were any. Where this machine
    cannot reproduce the pinned tables, it keeps them all."""
    try:
        default = _default_gaussian_tables()
    except ModelError:
        return False
    prefixes = [k[: -len("scale_table")] for k in sd if k.endswith("scale_table")]
    prefixes = [p for p in prefixes if p + "_quantized_cdf" in sd
                and all(torch.equal(sd[p + n], default[n]) for n in ("scale_table", *_TABLES))]
    for p in prefixes:
        for n in _TABLES:
            del sd[p + n]
    return bool(prefixes)


@functools.lru_cache(maxsize=1)
def _default_gaussian_tables() -> dict:
    """The packed tables of ``GaussianConditional()``, checked against the pinned sha256."""
    from .entropy_models import GaussianConditional
    packed = _pack_state(GaussianConditional(), keep_default_tables=True)
    h = hashlib.sha256()
    for n in _TABLES:
        h.update(packed[n].numpy().tobytes())
    if h.hexdigest() != DEFAULT_GAUSSIAN_TABLES_SHA256:
        raise ModelError("this machine computes other Gaussian probability tables than the ones "
                         "the checkpoints were made with, so it cannot decode their bitstreams")
    return packed


def _write(obj: dict, path: str | os.PathLike) -> str:
    """Save ``obj`` atomically; returns the file's sha256."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return sha256_file(path)


def save_checkpoint(model: CompressionModel, path: str | os.PathLike, name: str, quality: int,
                    lmbda: float, objective: str = "mse", meta: dict | None = None,
                    parent: CompressionModel | None = None) -> str:
    """Write a half-precision image-model checkpoint (tables included, but for the default
    Gaussian ones, which loading rebuilds); returns its sha256.
    (Video models: :func:`codec_lib.video_zoo.save_video_checkpoint`.)

    With ``parent``, an installed model that ``model`` was fine-tuned from with some parts
    frozen (a generative decoder trained with ``--trainable g_s``), only the tensors that differ
    from the parent's are stored, with ``"parent": {"name", "quality", "weights_hash"}``;
    loading takes the rest from the installed parent, which must have those very weights."""
    sd = _pack_state(model)
    ref = None
    if parent is not None:
        ref = model_ref(parent)
        theirs = _pack_state(parent)
        sd = {k: v for k, v in sd.items() if not (k in theirs and torch.equal(v, theirs[k]))}
    obj = {"format": FORMAT, "version": 1, "name": name, "quality": int(quality),
           "arch": {v: k for k, v in _arch_names().items()}[type(model)], "N": model.N,
           "M": model.M, "act": model.act, "synthesis": model.synthesis, "lmbda": float(lmbda),
           "objective": objective, "state_dict": sd, "meta": meta or {}, **(
               {"parent": ref} if ref else {})}
    return _write(obj, path)


def model_ref(model: CompressionModel, role: str = "parent") -> dict:
    """How a checkpoint names an installed model it builds on (a generative decoder's parent, a
    video model's intra model): ``{"name", "quality", "weights_hash"}``."""
    name, quality = getattr(model, "codec_name", None), getattr(model, "codec_quality", None)
    if name is None:
        raise ModelError(f"the {role} model must be an installed (named) model")
    return {"name": name, "quality": int(quality), "weights_hash": weights_hash(model).hex()}


def load_ref(ref: dict, who: str, role: str = "parent") -> CompressionModel:
    """The installed model :func:`model_ref` named, with those very weights; otherwise a
    :class:`ModelError` saying that ``who`` needs it as its ``role``."""
    try:
        model = load_model(ref["name"], ref["quality"])
    except ModelError:
        raise ModelError(f"{who} needs {ref['name']!r} q{ref['quality']} as its {role} model, "
                         "which is not installed") from None
    if weights_hash(model).hex() != ref["weights_hash"]:
        raise ModelError(f"{who} was made with other weights of its {role} model "
                         f"{ref['name']!r} q{ref['quality']}")
    return model


def stored_parent(path: str | os.PathLike) -> dict | None:
    """The ``"parent"`` reference of a checkpoint stored as changes to an installed model, or
    None for a self-contained one."""
    return _read(Path(path), None).get("parent")


def _with_parent(obj: dict, sd: dict) -> dict:
    """The full state dict of a checkpoint stored as differences from an installed parent."""
    parent = load_ref(obj["parent"], f"model {obj['name']!r} q{obj['quality']}")
    return {**{k: v.clone() for k, v in parent.state_dict().items()}, **sd}


def _arch_names():
    from .models import ARCHITECTURES
    return ARCHITECTURES


def _unpack_state(packed: dict, default_tables: bool = True) -> dict:
    """Inverse of :func:`_pack_state` (floats back to float32, CDF rows re-padded, left-out
    default Gaussian tables rebuilt; with ``default_tables=False`` left out, scale table too)."""
    packed = dict(packed)
    for p in [k[: -len("scale_table")] for k in packed if k.endswith("scale_table")]:
        packed.setdefault(p + "scale_bound", torch.tensor([SCALE_BOUND]))   # older files
        if p + "_quantized_cdf" in packed:                     # stored with its tables
            continue
        if not default_tables:
            del packed[p + "scale_table"]
        else:
            default, stored = _default_gaussian_tables(), packed[p + "scale_table"]
            # PyTorch builds differ in the last bit of exp (a GPU machine's gave other float32
            # bits for 7 of the 256 scales) yet build the same tables (the pinned sha256)
            if stored.shape != default["scale_table"].shape or not torch.allclose(
                    stored, default["scale_table"], rtol=1e-6, atol=0):
                raise ModelError("checkpoint lacks the probability tables of its scale table")
            packed.update({p + n: default[n] for n in _TABLES})
    sd = {k: v.float() if v.is_floating_point() else v for k, v in packed.items()}
    for k in [k for k in sd if k.endswith("_quantized_cdf") and sd[k].dim() == 1]:
        lengths = sd[k[: -len("_quantized_cdf")] + "_cdf_length"].tolist()   # re-pad the rows
        if sd[k].dtype == torch.int16:                          # frequencies -> cumulative
            freqs = torch.split(sd[k].to(torch.int32) + 32768, [n - 1 for n in lengths])
            rows = [torch.cat([torch.zeros(1, dtype=torch.int32), f.cumsum(0, dtype=torch.int32)])
                    for f in freqs]
        else:
            rows = torch.split(sd[k], lengths)
        padded = torch.zeros(len(rows), max(lengths), dtype=torch.int32)
        for i, row in enumerate(rows):
            padded[i, : len(row)] = row
        sd[k] = padded
    return sd


def _read(path: Path, sha256: str | None) -> dict:
    if not path.is_file():
        raise ModelError(f"checkpoint {path} is missing")
    if sha256 is not None and sha256_file(path) != sha256:
        raise ModelError(f"checkpoint {path.name} does not match its manifest sha256 (altered or "
                         "corrupted file)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # pickle, zip or torch errors all mean the same to the user
        raise ModelError(f"{path} is not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ModelError(f"{path} is not a codec_lib checkpoint")
    return obj


def load_weights(path: str | os.PathLike) -> dict:
    """The state dict of a checkpoint as ``fit --init`` starts from it: the weights and the
    tables the file stores (a frozen entropy model keeps its very tables, so a ``--trainable
    g_s`` fine-tune codes ``z`` as its parent does), and the default Gaussian tables it leaves
    out where this machine rebuilds them. Unlike :func:`load_checkpoint` it also reads on a
    machine whose PyTorch builds other default tables than the pinned ones: the model then
    keeps its own, and its own scale table."""
    obj = _read(Path(path), None)
    try:
        sd = _unpack_state(obj["state_dict"])
    except ModelError:
        sd = _unpack_state(obj["state_dict"], default_tables=False)
    return _with_parent(obj, sd) if obj.get("parent") else sd


def load_checkpoint(path: str | os.PathLike, sha256: str | None = None,
                    quality: int | None = None) -> CompressionModel:
    """Load a checkpoint file (verifying ``sha256`` if given) into a model in eval mode.

    The model gets ``codec_name`` and ``codec_quality`` attributes for the bitstream header.
    A video checkpoint holds several rates: ``quality`` picks one (default: its middle one), and
    its intra model is loaded from the installed zoo (:mod:`codec_lib.video_zoo`).
    """
    obj = _read(Path(path), sha256)
    sd = _unpack_state(obj["state_dict"])
    if obj.get("kind") == "video":
        from .video_zoo import video_model_from
        model, quality = video_model_from(obj, sd, quality)
        lmbda = model.lmbdas[model.rate]
    else:
        model = build_model(obj["arch"], obj["N"], obj["M"], obj.get("act", "gdn"),
                            obj.get("synthesis", "deep"))
        model.load_state_dict(_with_parent(obj, sd) if obj.get("parent") else sd)
        quality, lmbda = obj["quality"], obj.get("lmbda")
    model.codec_name, model.codec_quality, model.lmbda = obj["name"], quality, lmbda
    return model.eval()


_CACHE: dict[tuple, CompressionModel] = {}


def load_model(name: str | None = None, quality: int | None = None) -> CompressionModel:
    """Load an installed model by name and quality (defaults from the manifest); cached."""
    e = resolve(name, quality)
    key = (e["name"], e["quality"], e["sha256"])
    if key not in _CACHE:
        _CACHE[key] = load_checkpoint(checkpoint_dir() / e["file"], e["sha256"], e["quality"])
    return _CACHE[key]


def find_model(name: str, quality: int, whash: bytes) -> CompressionModel:
    """The installed model a bitstream was made with, or a :class:`ModelError` saying why not."""
    try:
        e = resolve(name, quality)
    except ModelError:
        raise ModelError(f"the file was made with model {name!r} quality {quality}, which is not "
                         "installed (pass --model CHECKPOINT if you have it)") from None
    if bytes.fromhex(e.get("weights_hash", "")) != whash:
        raise ModelError(f"the file was made with other weights of {name!r} quality {quality} "
                         f"(hash {whash.hex()}, installed {e.get('weights_hash')})")
    return load_model(name, quality)
