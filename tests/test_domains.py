"""codec_lib.domains: rendered screen content, the statistics that separate domains, rate maps."""
import numpy as np
import pytest
from PIL import Image

from codec_lib import domains
from codec_lib.data import DATA_ENV, sample_images, to_tensor


def test_render_screen_is_deterministic_and_sized():
    a, b = domains.render_screen(3), domains.render_screen(3)
    assert a.size == (768, 512) and a.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(domains.render_screen(4)))
    assert domains.render_screen(0, size=(320, 200)).size == (320, 200)


def test_screen_content_is_flatter_and_sharper_than_photos():
    screen = [domains.image_stats(domains.render_screen(s)) for s in range(2)]
    photos = [domains.image_stats(img) for _, img in sample_images()]
    assert min(s["flat"] for s in screen) > 0.7 > max(p["flat"] for p in photos)
    assert min(s["edges"] for s in screen) > 2 * max(p["edges"] for p in photos)
    assert min(s["palette"] for s in screen) > 0.5 > max(p["palette"] for p in photos)


def test_image_stats_by_hand():
    a = np.zeros((2, 4, 3), np.uint8)
    a[0, 2:] = 255                              # one sharp step in row 0, everything else flat
    a[1, 3] = (10, 0, 0)                        # one small step in row 1
    s = domains.image_stats(a)
    assert s["flat"] == pytest.approx(4 / 6) and s["edges"] == pytest.approx(1 / 6)
    assert s["palette"] == 1.0                  # 3 colours: all in the 8 most frequent
    row = np.zeros((1, 12, 3), np.uint8)
    row[0, 3:, 0] = np.arange(1, 10)            # colour 0 three times, then 9 others once each
    assert domains.image_stats(row)["palette"] == pytest.approx((3 + 7) / 12)
    assert domains.image_stats(Image.fromarray(a)) == s
    with pytest.raises(ValueError, match="RGB"):
        domains.image_stats(np.zeros((4, 4)))


def test_screen_images_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    rendered = domains.screen_images(limit=2)
    assert [n for n, _ in rendered] == ["rendered0", "rendered1"]
    Image.new("RGB", (40, 30), "white").save(tmp_path / "b.png")
    Image.new("L", (40, 30), 0).save(tmp_path / "a.png")
    got = domains.screen_images(tmp_path)
    assert [n for n, _ in got] == ["a", "b"] and all(img.mode == "RGB" for _, img in got)
    (tmp_path / "screen_content").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "screen_content" / "f1.png")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert [n for n, _ in domains.screen_images()] == ["f1"]


def test_rate_map_adds_up_to_the_estimate():
    import torch
    from codec_lib.evaluate import estimate_bits
    from codec_lib.models import MeanScaleHyperprior
    torch.manual_seed(0)
    model = MeanScaleHyperprior(N=16, M=24).eval()
    img = domains.render_screen(1, size=(200, 120))
    bits = domains.rate_map(model, img)
    assert bits.shape == (8, 16) and (bits > 0).all()          # 120 x 200 padded to 128 x 256
    with torch.no_grad():
        out = model(to_tensor(img))
    z_bits = float(-torch.log2(out["likelihoods"]["z"]).sum())
    assert bits.sum() + z_bits == pytest.approx(estimate_bits(model, img), rel=1e-4)
