"""codec_lib: the library of an open textbook on neural image and video compression.

One concept per module:

- :mod:`codec_lib.layers`          GDN, convolutions, analysis/synthesis transforms
- :mod:`codec_lib.quantization`    rounding and its training proxies
- :mod:`codec_lib.entropy_models`  factorized density, Gaussian conditional
- :mod:`codec_lib.entropy_coding`  rANS: a readable reference coder and a fast one
- :mod:`codec_lib.bitstream`       the file format
- :mod:`codec_lib.models`          factorized prior, scale and mean-scale hyperpriors
- :mod:`codec_lib.channel_context` a channel-conditional entropy model on a mean-scale model
- :mod:`codec_lib.codec`           images to files and back (mode policy, padding)
- :mod:`codec_lib.refine`          encoder-side latent refinement (same decoder)
- :mod:`codec_lib.zoo`             trained checkpoints and their manifest
- :mod:`codec_lib.train`           the rate-distortion loss and ``fit``
- :mod:`codec_lib.data`            image folders and the embedded sample photos
- :mod:`codec_lib.metrics`         PSNR, MS-SSIM, bpp
- :mod:`codec_lib.evaluate`        rate-distortion points from real files
- :mod:`codec_lib.interop`         CompressAI state dicts in and out
- :mod:`codec_lib.classic`         a JPEG-like transform codec (chapter 1)
- :mod:`codec_lib.exercises`       checkers for the book's exercises
- :mod:`codec_lib.cli`             the ``codec-lib`` command
"""
from .errors import CodecError, ModelError

__version__ = "0.1.0"
__all__ = ["CodecError", "ModelError", "__version__"]
