"""Motion for video coding: backward warping by a flow field, and clips synthesized from stills.

Learned video codecs predict frame ``x_t`` from the previous decoded frame by *backward
warping*: each output pixel ``p`` reads the reference at ``p + f(p)``, with bilinear
interpolation (DVC, Lu et al. 2019; DCVC, Li et al. 2021):

    x~_t(p) = x^_{t-1}(p + f(p)),        f: (B, 2, H, W) in pixels, channel 0 = x, 1 = y.

Classic codecs (H.26x) estimate motion by **block matching** instead: each block of the current
frame takes the integer displacement, within a search window, whose reference block differs least
(sum of absolute differences): :func:`block_match`, the baseline of chapter 8.

Training such codecs needs many clips with known, varied motion. :func:`synthetic_clip` makes
them from still photos by a smooth camera path (pan, zoom, small rotation), each frame an affine
resampling of the photo, and returns the exact flow between consecutive frames too, so that a
motion estimator can be checked or pre-trained against ground truth.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["warp", "synthetic_clip", "block_match", "flow_to_rgb"]


def _base_grid(B: int, H: int, W: int, device, dtype) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(H, device=device, dtype=dtype),
                            torch.arange(W, device=device, dtype=dtype), indexing="ij")
    return torch.stack([xs, ys])[None].expand(B, 2, H, W)                 # (B, 2, H, W)


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp ``x (B, C, H, W)`` by ``flow (B, 2, H, W)`` (pixels); borders replicate."""
    B, _, H, W = x.shape
    pos = _base_grid(B, H, W, x.device, x.dtype) + flow                     # where to read
    gx = 2 * pos[:, 0] / max(W - 1, 1) - 1                                 # to [-1, 1]
    gy = 2 * pos[:, 1] / max(H - 1, 1) - 1
    grid = torch.stack([gx, gy], dim=-1)                                    # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _affine(t: float, path: dict, H: int, W: int) -> np.ndarray:
    """2x3 matrix mapping output pixel (x, y, 1) of frame ``t`` to photo coordinates."""
    s = path["zoom"] ** t
    a = path["rotate"] * t
    c, si = math.cos(a) / s, math.sin(a) / s
    cx, cy = path["x0"] + path["dx"] * t, path["y0"] + path["dy"] * t   # photo point at centre
    return np.array([[c, -si, cx - c * W / 2 + si * H / 2],
                     [si, c, cy - si * W / 2 - c * H / 2]])


def synthetic_clip(photo: np.ndarray, frames: int, size: tuple[int, int], seed: int = 0,
                   max_shift: float = 4.0, max_zoom: float = 0.01, max_rotate: float = 0.005
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``frames``-long clip of ``size = (H, W)`` moving across ``photo (h, w, 3)`` uint8.

    The camera pans by up to ``max_shift`` pixels per frame, zooms by up to ``max_zoom`` and
    rotates by up to ``max_rotate`` radians per frame (drawn with ``seed``). Returns ``x (T, 3,
    H, W)`` in [0, 1] and ``flow (T-1, 2, H, W)``, the exact backward flow: ``flow[t-1]`` points
    from each pixel of frame ``t`` to where it was in frame ``t-1``, so that
    ``warp(x[t-1:t], flow[t-1:t])`` predicts ``x[t]`` (up to bilinear resampling).
    """
    h, w = photo.shape[:2]
    H, W = size
    rng = np.random.default_rng(seed)
    path = {"dx": rng.uniform(-max_shift, max_shift), "dy": rng.uniform(-max_shift, max_shift),
            "zoom": math.exp(rng.uniform(-max_zoom, max_zoom)),
            "rotate": rng.uniform(-max_rotate, max_rotate)}
    margin = max_shift * frames + max(H, W)                                 # stay inside the photo
    if h < margin or w < margin:
        raise ValueError(f"the photo ({w}x{h}) is too small for {frames} frames of {W}x{H} "
                         f"moving up to {max_shift} px per frame")
    path["x0"] = w / 2 - path["dx"] * (frames - 1) / 2
    path["y0"] = h / 2 - path["dy"] * (frames - 1) / 2
    src = torch.from_numpy(np.array(photo, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255      # (1, 3, h, w)
    grid = _base_grid(1, H, W, "cpu", torch.float64)[0].reshape(2, -1)       # (2, H*W)
    ones = torch.ones(1, H * W, dtype=torch.float64)
    xs, coords = [], []
    for t in range(frames):
        A = torch.from_numpy(_affine(t, path, H, W))                         # (2, 3)
        pos = A @ torch.cat([grid, ones])                                    # photo coords
        coords.append(pos)
        g = torch.stack([2 * pos[0] / (w - 1) - 1, 2 * pos[1] / (h - 1) - 1], -1)
        g = g.reshape(1, H, W, 2).float()
        xs.append(F.grid_sample(src, g, mode="bilinear", padding_mode="border", align_corners=True)[0])
    flows = []
    for t in range(1, frames):                       # where frame t's pixel sits in frame t-1
        A_prev = _affine(t - 1, path, H, W)
        M = np.vstack([A_prev, [0, 0, 1]])
        inv = torch.from_numpy(np.linalg.inv(M)[:2])
        prev_xy = inv @ torch.cat([coords[t], ones])
        flows.append((prev_xy - grid).reshape(2, H, W).float())
    return torch.stack(xs), torch.stack(flows)


def block_match(cur: np.ndarray, ref: np.ndarray, block: int = 16, radius: int = 7) -> np.ndarray:
    """Full-search block matching: the backward flow ``(2, H, W)`` (pixels, x then y) that gives
    each ``block x block`` block of ``cur (H, W)`` the integer displacement within ``radius``
    whose block of ``ref (H, W)`` has the smallest sum of absolute differences (ties: the first
    in raster order of ``(dy, dx)``, which starts at ``(-radius, -radius)``). Partial blocks at
    the right and bottom edges are matched too; the reference's borders replicate."""
    cur, ref = np.asarray(cur, np.float64), np.asarray(ref, np.float64)
    H, W = cur.shape
    nby, nbx = -(-H // block), -(-W // block)
    pad = np.pad(ref, radius, mode="edge")
    best = np.full((nby, nbx), np.inf)
    flow = np.zeros((2, nby, nbx))
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            ad = np.abs(cur - pad[radius + dy: radius + dy + H, radius + dx: radius + dx + W])
            ad = np.pad(ad, ((0, nby * block - H), (0, nbx * block - W)))
            sad = ad.reshape(nby, block, nbx, block).sum(axis=(1, 3))            # (nby, nbx)
            better = sad < best
            best[better], flow[0][better], flow[1][better] = sad[better], dx, dy
    return flow.repeat(block, 1).repeat(block, 2)[:, :H, :W]


def flow_to_rgb(flow: np.ndarray | torch.Tensor, max_norm: float | None = None) -> np.ndarray:
    """A flow ``(2, H, W)`` as an ``(H, W, 3)`` uint8 image: hue = direction, saturation =
    length (relative to ``max_norm``, default the largest), the usual colour wheel of optical flow."""
    from matplotlib.colors import hsv_to_rgb
    f = flow.detach().cpu().numpy() if torch.is_tensor(flow) else np.asarray(flow)
    f = f.reshape(2, *f.shape[-2:])
    norm = np.hypot(f[0], f[1])
    top = max_norm or max(float(norm.max()), 1e-6)
    hsv = np.stack([(np.arctan2(-f[1], -f[0]) / (2 * np.pi)) % 1.0,
                    np.clip(norm / top, 0, 1), np.ones_like(norm)], -1)
    return (hsv_to_rgb(hsv) * 255).round().astype(np.uint8)
