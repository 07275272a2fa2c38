"""Classic baselines: real files from Pillow's encoders, measured like the learned codecs."""
import json

import pytest

from codec_lib import baselines
from codec_lib.baselines import CODECS, SWEEPS, decode, encode, evaluate_baseline
from codec_lib.metrics import psnr


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def crop(photos):
    return dict(photos)["astronaut"].crop((160, 40, 288, 136))       # 128x96, the face


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip(crop, codec):
    q = SWEEPS[codec][len(SWEEPS[codec]) // 2]
    data = encode(crop, codec, q)
    dec = decode(data)
    assert dec.mode == "RGB" and dec.size == crop.size
    assert 25 < psnr(crop, dec) < 50                      # lossy, but a faithful picture
    assert decode(encode(crop.convert("L"), codec, q)).mode == "RGB"    # any mode is coded as RGB


@pytest.mark.parametrize("codec", CODECS)
def test_rate_grows_along_the_sweep(crop, codec):
    sizes = [len(encode(crop, codec, q)) for q in SWEEPS[codec]]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] / 4, sizes


def test_stated_settings():
    s = baselines.SETTINGS
    assert set(s) == set(SWEEPS) == set(CODECS)
    assert "optimize=True" in s["jpeg"] and "subsampling=2" in s["jpeg"] and "method=6" in s["webp"]
    assert "speed=6" in s["avif"] and "'4:2:0'" in s["avif"]
    assert "irreversible=True" in s["jpeg2000"] and "mct=1" in s["jpeg2000"]


def test_evaluate_baseline_schema(crop, photos):
    images = [("face", crop), ("cat", dict(photos)["chelsea"].crop((0, 0, 96, 80)))]
    res = evaluate_baseline(images, "webp", [10, 80], progress=False)
    json.dumps(res)
    assert res["model"] == "webp" and res["images"] == 2
    assert [p["quality"] for p in res["points"]] == [10, 80]
    for p in res["points"]:
        assert set(p) == {"quality", "bpp", "psnr", "ms_ssim", "est_bpp", "enc_s", "dec_s"}
        assert p["est_bpp"] is None and 0 < p["ms_ssim"] < 1 and p["enc_s"] > 0 and p["dec_s"] > 0
    lo, hi = res["points"]
    assert lo["bpp"] < hi["bpp"] and lo["psnr"] < hi["psnr"]
    # bpp is counted from the real bytes
    expect = sum(8 * len(encode(im, "webp", 10)) / (im.width * im.height) for _, im in images) / 2
    assert lo["bpp"] == pytest.approx(expect)
    one = evaluate_baseline(images[:1], "jpeg2000", [48], progress=False, per_image=True)
    assert one["points"][0]["per_image"][0]["image"] == "face"


def test_bad_input(crop):
    with pytest.raises(ValueError, match="unknown baseline"):
        encode(crop, "png", 50)
    with pytest.raises(ValueError, match="integer 1..100"):
        encode(crop, "jpeg", 0)
    with pytest.raises(ValueError, match="ratio"):
        evaluate_baseline([("x", crop)], "jpeg2000", [0.5], progress=False)
    with pytest.raises(ValueError, match="no images"):
        evaluate_baseline([], "jpeg")
    with pytest.raises(ValueError, match="cannot decode|Pillow"):
        decode(b"not an image")
    with pytest.raises(ValueError, match="damaged"):
        decode(encode(crop, "jpeg", 50)[:300])
