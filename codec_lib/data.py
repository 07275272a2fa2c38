"""Images for training and evaluation: folders on disk, or photos embedded in scikit-image.

Where data comes from, in order:

1. a folder the caller names (``ImageFolder("path/to/train")``, ``eval_images("path/to/kodak")``);
2. ``$CODEC_LIB_DATA``, a folder laid out like the project's shared data
   (``kodak/``, ``bsds500/{train,val,test}/``, ...);
3. the embedded default: four colour photos that ship inside scikit-image (astronaut, coffee,
   chelsea, rocket), so that everything runs on a fresh machine with nothing downloaded.

Training batches are a pure function of ``(seed, step)``: :class:`StepBatchSampler` draws image
indexes and per-crop seeds from ``numpy.random.default_rng([seed, step])``, and each crop's
scale, position and flip come from its own seed. Resuming at step ``t`` therefore replays exactly
the batches an uninterrupted run would have seen, with any number of loader workers.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["DATA_ENV", "IMAGE_EXTENSIONS", "data_root", "results_dir", "list_images", "sample_images",
           "eval_images", "training_folders", "ImageFolder", "StepBatchSampler", "training_loader",
           "to_tensor", "to_image"]

DATA_ENV = "CODEC_LIB_DATA"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def data_root() -> Path | None:
    """The folder named by ``$CODEC_LIB_DATA``, if set and present."""
    root = os.environ.get(DATA_ENV)
    return Path(root) if root and Path(root).is_dir() else None


def results_dir() -> Path:
    """The project's committed measurements (``data/results/`` of the repository)."""
    return Path(__file__).resolve().parent.parent / "data" / "results"


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def sample_images() -> list[tuple[str, Image.Image]]:
    """The embedded default: scikit-image's colour sample photos, as ``(name, RGB image)``."""
    import skimage.data
    return [(name, Image.fromarray(getattr(skimage.data, name)())) for name in SAMPLE_PHOTOS]


def eval_images(folder: str | os.PathLike | None = None,
                limit: int | None = None) -> list[tuple[str, Image.Image]]:
    """Evaluation images: ``folder``, else ``$CODEC_LIB_DATA/kodak``, else the embedded photos."""
    if folder is None and data_root() is not None and (data_root() / "kodak").is_dir():
        folder = data_root() / "kodak"
    if folder is None:
        images = sample_images()
    else:
        images = [(p.stem, Image.open(p).convert("RGB")) for p in list_images(folder)]
    return images[:limit] if limit else images


def training_folders() -> list[Path]:
    """Default training folders: BSDS500 train + test under ``$CODEC_LIB_DATA`` (if present)."""
    root = data_root()
    if root is None:
        return []
    return [root / "bsds500" / s for s in ("train", "test") if (root / "bsds500" / s).is_dir()]


def to_tensor(img: Image.Image | np.ndarray) -> torch.Tensor:
    """uint8 RGB ``(H, W, 3)`` -> float ``(1, 3, H, W)`` in ``[0, 1]``."""
    a = np.asarray(img.convert("RGB") if isinstance(img, Image.Image) else img)
    return torch.from_numpy(np.array(a, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0


def to_image(x: torch.Tensor) -> Image.Image:
    """float ``(1, 3, H, W)`` in ``[0, 1]`` -> uint8 RGB image (round to nearest)."""
    a = (x[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(a)


class ImageFolder(Dataset):
    """Random crops of the images in one or more folders (decoded once, kept in memory).

    Each item is drawn with its own seed: a mild random down-scaling (``scale`` range, which also
    washes out JPEG artefacts of the source images), a random ``crop x crop`` window and a
    random horizontal flip. Only the window is resampled (Pillow's ``resize`` with a source
    ``box``): the crop of the down-scaled photo up to rounding, without scaling the whole photo
    (which made the loader 3 to 5 times slower). Index with ``(image_index, seed)``; see :class:`StepBatchSampler`.
    With no folders, the embedded sample photos are used. Items are float in [0, 1], or the 8-bit
    pixels with ``uint8=True`` (``fit``'s loader: a quarter of the bytes through the workers'
    shared memory and onto the GPU, which divides by 255 itself).
    """

    def __init__(self, folders: list[str | os.PathLike] | None = None, crop: int = 256,
                 scale: tuple[float, float] = (0.6, 1.0), flip: bool = True, uint8: bool = False):
        if folders:
            paths = [p for f in folders for p in list_images(f)]
            if not paths:
                raise FileNotFoundError(f"no images in {', '.join(map(str, folders))}")
            self.images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
        else:
            self.images = [np.asarray(im) for _, im in sample_images()]
        self.crop, self.scale, self.flip, self.uint8 = crop, scale, flip, uint8

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:   # -> (3, crop, crop)
        index, seed = key
        rng = np.random.default_rng(seed)
        a, c = self.images[index], self.crop
        H, W = a.shape[:2]
        s = max(rng.uniform(*self.scale), c / min(W, H))               # never smaller than the crop
        W2, H2 = (max(c, round(W * s)), max(c, round(H * s))) if s < 0.999 else (W, H)
        W2, H2 = max(W2, c), max(H2, c)                                 # tiny image: upscale
        left, top = rng.integers(0, W2 - c + 1), rng.integers(0, H2 - c + 1)
        if (W2, H2) == (W, H):
            a = a[top: top + c, left: left + c]
        else:   # resample only the window: the crop of the image resized to (W2, H2)
            sx, sy = W / W2, H / H2
            box = (left * sx, top * sy, (left + c) * sx, (top + c) * sy)
            a = np.asarray(Image.fromarray(a).resize((c, c), Image.BICUBIC, box=box))
        if self.flip and rng.random() < 0.5:
            a = a[:, ::-1]
        x = torch.from_numpy(np.array(a)).permute(2, 0, 1)          # (3, crop, crop) uint8, a copy
        return x if self.uint8 else x.float() / 255.0


class StepBatchSampler(Sampler):
    """Batches of ``(image_index, seed)`` for steps ``start, start + 1, ..., stop - 1``."""

    def __init__(self, n_images: int, batch_size: int, seed: int, start: int, stop: int):
        self.n, self.batch_size, self.seed, self.start, self.stop = n_images, batch_size, seed, start, stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self):
        for step in range(self.start, self.stop):
            rng = np.random.default_rng([self.seed, step])
            idx = rng.integers(0, self.n, self.batch_size)
            seeds = rng.integers(0, 2**63 - 1, self.batch_size)
            yield list(zip(idx.tolist(), seeds.tolist()))


def default_workers(device: str) -> int:
    """``fit``'s loader processes when none are asked for: none on a CPU (the step needs the
    cores), up to 8 on a GPU (one process cuts about 250 crops of 256² a second, an H200 steps
    through about 700: README, "Benchmarks"), none where ``/dev/shm``, through which workers hand
    batches over, is small (a container's 64 MB would kill them mid-run)."""
    if not device.startswith("cuda"):
        return 0
    try:
        free = shutil.disk_usage("/dev/shm").free
    except OSError:
        free = 0
    return min(8, max(0, (os.cpu_count() or 1) - 2)) if free >= 1 << 30 else 0


def training_loader(dataset: ImageFolder, batch_size: int, seed: int, start: int, stop: int,
                    workers: int = 0) -> DataLoader:
    """A loader whose ``k``-th batch is the batch of step ``start + k`` (see module docstring)."""
    sampler = StepBatchSampler(len(dataset), batch_size, seed, start, stop)
    # its own generator: iterating must not draw from the global RNG that drives the noise
    return DataLoader(dataset, batch_sampler=sampler, num_workers=workers,
                      pin_memory=torch.cuda.is_available(),
                      generator=torch.Generator().manual_seed(seed))
