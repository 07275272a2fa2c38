"""Shared fixtures: a temporary model zoo with tiny models, real photos, the shipped zoo, the
scripts in scripts/ as modules."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from codec_lib import zoo
from codec_lib.data import eval_images, sample_images
from codec_lib.train import TrainConfig, fit


@pytest.fixture(scope="session")
def script():
    """``script("val_full")``: scripts/val_full.py imported as a module (scripts/ is no package)."""
    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture
def one_torch_thread():
    """MS-SSIM's small float64 convolutions ran 10-40x slower with 2 torch threads than with 1
    while another process kept a core busy (measured on the 2-core machine): use one here."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def photos() -> list[tuple[str, Image.Image]]:
    """The embedded sample photos (always available)."""
    return sample_images()


@pytest.fixture(scope="session")
def tiny_zoo_dir(tmp_path_factory):
    """A checkpoint folder holding tiny models (briefly trained on the embedded photos)."""
    folder = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    for arch, name in (("mean-scale", "tiny-ms"), ("factorized", "tiny-fp"), ("hyperprior", "tiny-hp")):
        cfg = TrainConfig(arch=arch, N=16, M=24, steps=20, batch_size=2, crop=64, lmbda=0.01,
                          out=str(folder / f"run-{name}"), checkpoint_every=20)
        model = fit(cfg, progress=False)
        path = folder / f"{name}.pt"
        zoo.save_checkpoint(model, path, name, 1, cfg.lmbda)
        zoo.register(path, training={"command": "tests/conftest.py", "steps": 20, "device": "cpu"},
                     default=(name == "tiny-ms"))
    return folder


@pytest.fixture
def tiny_zoo(tiny_zoo_dir, monkeypatch):
    """Point codec_lib at the tiny zoo for one test."""
    monkeypatch.setenv(zoo.CHECKPOINT_ENV, str(tiny_zoo_dir))
    zoo._CACHE.clear()
    yield tiny_zoo_dir
    zoo._CACHE.clear()


@pytest.fixture(scope="session")
def shipped_model():
    """The default shipped model (skips if the repository has none installed)."""
    try:
        return zoo.load_model()
    except zoo.ModelError as e:
        pytest.skip(f"no shipped model: {e}")


@pytest.fixture(scope="session")
def large_photos():
    """Real photos of at least 512x512: the embedded astronaut, and Kodak if CODEC_LIB_DATA says."""
    imgs = [(n, im) for n, im in eval_images() if min(im.size) >= 512]
    imgs += [(n, im) for n, im in sample_images() if min(im.size) >= 512 and n not in dict(imgs)]
    return imgs[:6]


def random_tables(rng: np.random.Generator, K: int = 5):
    """K random integer CDF tables of various lengths."""
    from codec_lib.entropy_coding import CdfTables, pmf_to_quantized_cdf
    lengths = rng.integers(2, 40, K)
    L = int(lengths.max())
    pmf = rng.random((K, L)) ** 3
    cdf = pmf_to_quantized_cdf(pmf, lengths)
    offsets = -rng.integers(0, 10, K)
    return CdfTables(cdf, (lengths + 1).astype(np.int32), offsets.astype(np.int32))
