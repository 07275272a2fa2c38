"""Classic image codecs as baselines: JPEG, WebP, AVIF and JPEG 2000 through Pillow's encoders.

Every baseline writes a real file with the library Pillow was built with, and is measured the
way :mod:`codec_lib.evaluate` measures the learned codecs: ``bpp`` from the real bytes (headers
included), PSNR and MS-SSIM of the decoded 8-bit RGB image against the original. Images are
coded as 8-bit RGB. The settings, fixed here so that results can be reproduced:

``jpeg``
    libjpeg-turbo: baseline JPEG (ITU-T T.81), YCbCr 4:2:0 (``subsampling=2``), the Annex K
    tables scaled by ``quality`` (IJG scaling), ``optimize=True`` (Huffman tables optimized per
    image). Sweep: quality 5..90.
``webp``
    libwebp lossy (VP8 intra coding, always YUV 4:2:0): ``quality`` 0..100, ``method=6``
    (slowest, best compression). Sweep: quality 0..95.
``avif``
    libavif with the AV1 encoder Pillow has (aom here): ``quality`` 0..100 (libavif maps it to
    the AV1 quantizer), ``speed=6`` (libavif's default), YUV 4:2:0, full range, 8 bits,
    ``max_threads=1``. Sweep: quality 10..90.
``jpeg2000``
    OpenJPEG: irreversible 9/7 wavelet (``irreversible=True``) with the irreversible colour
    transform (``mct=1``; Pillow's default ``mct=0`` codes R, G, B separately and costs about
    4 dB at 1 bpp), 5 wavelet levels (OpenJPEG's default; fewer on tiny images), one quality
    layer with ``quality_mode="rates"``, a raw codestream (``no_jp2=True``). Here ``quality``
    is the **compression ratio** ``r`` against 24-bit RGB (target ``24 / r`` bpp), so a larger
    value means a smaller file. Sweep: r 240..12.

The sweeps span about 0.1 to 2 bpp on Kodak-like photos, and every sweep is listed from the
smallest to the largest files. :data:`SETTINGS` holds a one-line description of each codec,
with library versions.
"""
from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError, features

__all__ = ["CODECS", "SWEEPS", "SETTINGS", "encode", "decode", "evaluate_baseline"]

CODECS = ("jpeg", "webp", "avif", "jpeg2000")
SWEEPS: dict[str, tuple[float, ...]] = {
    "jpeg": (5, 10, 20, 30, 40, 50, 65, 80, 90),
    "webp": (0, 5, 10, 25, 40, 55, 70, 85, 95),
    "avif": (10, 20, 30, 40, 50, 60, 70, 80, 90),
    "jpeg2000": (240, 160, 120, 80, 48, 36, 24, 16, 12),
}
_FEATURE = {"jpeg": "jpg", "webp": "webp", "avif": "avif", "jpeg2000": "jpg_2000"}


def _options(codec: str, q: float) -> tuple[str, dict]:
    """Pillow's format name and save options for ``codec`` at quality (or ratio) ``q``."""
    if codec == "jpeg":
        return "JPEG", dict(quality=int(q), subsampling=2, optimize=True)
    if codec == "webp":
        return "WEBP", dict(quality=int(q), method=6)
    if codec == "avif":
        return "AVIF", dict(quality=int(q), speed=6, subsampling="4:2:0", range="full",
                            max_threads=1)
    return "JPEG2000", dict(quality_mode="rates", quality_layers=[float(q)], irreversible=True,
                            mct=1, no_jp2=True)


def _check_codec(codec: str) -> None:
    if codec not in CODECS:
        raise ValueError(f"unknown baseline {codec!r}; choose from {', '.join(CODECS)}")
    if not features.check(_FEATURE[codec]):
        raise ValueError(f"this Pillow was built without {codec} support")


def _check(codec: str, q: float) -> None:
    _check_codec(codec)
    lo, hi = (1, float("inf")) if codec == "jpeg2000" else (1 if codec == "jpeg" else 0, 100)
    whole = codec == "jpeg2000" or float(q).is_integer()
    if not (whole and lo <= q <= hi):
        what = "a compression ratio >= 1" if codec == "jpeg2000" else f"an integer {lo}..{hi}"
        raise ValueError(f"{codec} quality must be {what}, got {q}")


def _library(codec: str) -> str:
    """The library behind ``codec`` in this Pillow, with its version."""
    if codec == "jpeg" and features.check("libjpeg_turbo"):
        return f"libjpeg-turbo {features.version('libjpeg_turbo')}"
    name = {"jpeg": "libjpeg", "webp": "libwebp", "avif": "libavif", "jpeg2000": "OpenJPEG"}[codec]
    lib = f"{name} {features.version(_FEATURE[codec]) or '(missing)'}"
    if codec == "avif":
        try:                                         # which AV1 encoder and decoder libavif has
            from PIL import _avif
            lib += f" ({_avif.codec_versions()})"
        except (ImportError, AttributeError):
            pass
    return lib


def _describe(codec: str) -> str:
    fmt, opts = _options(codec, 0)
    opts.pop("quality_layers" if codec == "jpeg2000" else "quality")
    sweep = ", ".join(f"{q:g}" for q in SWEEPS[codec])
    what = "compression ratio" if codec == "jpeg2000" else "quality"
    return (f"Pillow {Image.__version__} {fmt}, {_library(codec)}: "
            f"{', '.join(f'{k}={v!r}' for k, v in opts.items())}; {what} sweep {sweep}")


SETTINGS: dict[str, str] = {c: _describe(c) for c in CODECS}


def encode(img: Image.Image, codec: str, q: float) -> bytes:
    """Code ``img`` (as 8-bit RGB) with ``codec`` at quality ``q`` (ratio for jpeg2000)."""
    _check(codec, q)
    fmt, opts = _options(codec, q)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format=fmt, **opts)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    """Decode a JPEG, WebP, AVIF or JPEG 2000 file (format from its magic bytes) to RGB."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except UnidentifiedImageError:
        raise ValueError("not a file Pillow can decode") from None
    except (OSError, SyntaxError) as e:
        raise ValueError(f"damaged file ({e})") from None
    return img.convert("RGB")


def evaluate_baseline(images: list[tuple[str, Image.Image]], codec: str,
                      qualities: list[float] | None = None, progress: bool = True,
                      per_image: bool = False) -> dict:
    """Rate-distortion points of ``codec`` on ``images``, in the schema of ``evaluate_model``.

    Returns ``{"model": codec, "images": N, "points": [{"quality", "bpp", "psnr", "ms_ssim",
    "est_bpp": None, "enc_s", "dec_s"}]}``: means over the images, one point per quality.
    """
    from .evaluate import rd_points
    _check_codec(codec)
    if not images:
        raise ValueError("no images to evaluate")
    qualities = list(qualities or SWEEPS[codec])
    for q in qualities:
        _check(codec, q)
    points = rd_points(images, qualities, lambda q: (lambda img: encode(img, codec, q), decode),
                       desc=f"eval {codec}", progress=progress, per_image=per_image)
    return {"model": codec, "images": len(images), "points": points}
