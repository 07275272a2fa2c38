"""Store every installed checkpoint again in today's packing (codec_lib.zoo._pack_state), e.g.
without the default Gaussian tables, and update the manifest's sha256 and bytes.

    python scripts/repack_checkpoints.py            # the installed folder (data/checkpoints)

Only the file changes: each model is loaded before and after, and its weights hash (which its
bitstreams, and the files built on it, name) must come out the same, or the old file is put back.
Where the manifest names a repacked file as the start of another's training (``"init":
{"file", "sha256"}``), the new sha256 is written there too: the weights are the same.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from codec_lib.manifest import _write_manifest
from codec_lib.zoo import (_drop_default_tables, _write, checkpoint_dir, load_checkpoint,
                           read_manifest, sha256_file, weights_hash)


def repack(path: Path) -> bool:
    """Leave out the default Gaussian tables of one file; True if it changed."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not _drop_default_tables(obj["state_dict"]):
        return False
    _write(obj, path)
    return True


def _renamed(node, old: str, new: str) -> None:
    """Replace ``"sha256": old`` by ``new`` in every dict below ``node``."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "sha256" and v == old:
                node[k] = new
            else:
                _renamed(v, old, new)
    elif isinstance(node, list):
        for v in node:
            _renamed(v, old, new)


def main() -> None:
    folder = checkpoint_dir()
    man = read_manifest(folder)
    saved = 0
    for file in dict.fromkeys(e["file"] for e in man["models"]):
        entries = [e for e in man["models"] if e["file"] == file]
        path, before = folder / file, os.path.getsize(folder / file)
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
        if not repack(path):
            backup.unlink()
            continue
        for e in entries:
            old = weights_hash(load_checkpoint(backup, None, e["quality"])).hex()
            new = weights_hash(load_checkpoint(path, None, e["quality"])).hex()
            if old != new or new != e["weights_hash"]:
                os.replace(backup, path)
                raise SystemExit(f"{file} q{e['quality']}: weights hash changed, file restored")
        backup.unlink()
        _renamed(man, entries[0]["sha256"], sha256_file(path))
        for e in entries:
            e["bytes"] = os.path.getsize(path)
        _write_manifest(folder, man)           # the files after it load their parents by it
        saved += before - os.path.getsize(path)
        print(f"{file}: {before / 1e3:.0f} kB -> {os.path.getsize(path) / 1e3:.0f} kB")
    print(f"saved {saved / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
