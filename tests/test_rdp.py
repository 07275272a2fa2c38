"""Rate-distortion-perception tables: classic codecs matched in size, real measures, clean errors."""
import json

import pytest

from codec_lib import baselines, rdp

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_closest_in_size_finds_the_nearest_quality(photos):
    img = photos[0][1].convert("RGB").resize((128, 128))
    target = len(baselines.encode(img, "jpeg", 37)) + 5
    q, data = rdp.closest_in_size(img, "jpeg", target)
    sizes = {k: len(baselines.encode(img, "jpeg", k)) for k in range(1, 96)}
    assert len(data) == sizes[q]
    assert abs(sizes[q] - target) == min(abs(s - target) for s in sizes.values())


def test_compare_rows_and_command(tiny_zoo, photos, tmp_path, capsys):
    imgs = [(n, im.convert("RGB").resize((96, 64))) for n, im in photos[:2]]
    res = rdp.rdp_compare(imgs, [("tiny-ms", "tiny-hp")], [1], ("jpeg",), progress=False, keep=True)
    codecs = [r["codec"] for r in res["rows"]]
    assert codecs == ["tiny-ms", "tiny-hp", "jpeg"]
    ms, jpeg = res["rows"][0], res["rows"][2]
    assert len(jpeg["decoded"]) == 2 and len(jpeg["settings"]) == 2
    assert jpeg["settings"] == [1, 1] and jpeg["bpp"] > ms["bpp"]   # tiny files: JPEG's smallest
    for r in res["rows"]:
        assert r["psnr"] > 0 and r["swd"] > 0 and r["hf"] > 0 and len(r["swd_levels"]) == 3
    folder = tmp_path / "imgs"
    folder.mkdir()
    for n, im in imgs:
        im.save(folder / f"{n}.png")
    out = tmp_path / "rdp.json"
    args = ["--images", str(folder), "--pairs", "tiny-ms:tiny-hp", "--qualities", "1",
            "--baselines", "jpeg", "--json", str(out)]
    assert rdp.main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["images"] == 2 and doc["command"].startswith("python -m codec_lib.rdp")
    assert "| 1 | jpeg |" in out.with_suffix(".md").read_text()
    assert rdp.main(args) == 2 and "exists" in capsys.readouterr().err
    assert rdp.main(args[:3] + ["tiny-ms"] + args[4:] + ["-f"]) == 2
    assert "MSE_MODEL:GENERATIVE_MODEL" in capsys.readouterr().err
    assert rdp.main(args[:3] + ["tiny-ms:nope"] + args[4:] + ["-f"]) == 2
    assert "nope" in capsys.readouterr().err
