"""Encoder-side latent refinement: ordinary files, never worse by the model's own measure, and
better on real photos with the shipped model; the CLI options."""
import json

import pytest
import torch

from codec_lib import cli, zoo
from codec_lib.codec import decode_image, encode_image
from codec_lib.data import to_tensor
from codec_lib.metrics import psnr
from codec_lib.models import pad_to
from codec_lib.refine import rd_of_latents, refine_latents

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _rd(img, data, lmbda):
    """Real RD loss of a file: bits per pixel from its bytes, MSE from its decoded image."""
    mse = 10 ** (-psnr(img, decode_image(data)) / 10)
    return 8 * len(data) / (img.width * img.height) + lmbda * 255**2 * mse


@pytest.mark.parametrize("name", ["tiny-ms", "tiny-fp"])
def test_refined_files_are_ordinary_files(tiny_zoo, photos, name):
    model = zoo.load_model(name)
    img = photos[0][1].convert("RGB").crop((0, 0, 100, 70))            # padded: an odd size
    x = to_tensor(img)
    res = refine_latents(model, x, steps=6, every=2)
    h = res["history"]
    assert [e["step"] for e in h] == [0, 2, 4, 6]
    best = min(e["loss"] for e in h)
    assert best <= h[0]["loss"]                                          # the start is a candidate
    with torch.no_grad():                                                # the returned latents are the best
        x_pad = pad_to(x, model.downsampling)                           # as the encoder pads
        again = rd_of_latents(model, res["latents"], x_pad, (70, 100))
    assert abs(float(again["loss"]) - best) < 1e-4
    enc = encode_image(img, model, refine=6)
    assert decode_image(enc.data).tobytes() == enc.x_hat.tobytes()     # the same decoder
    plain = encode_image(img, model)
    same = refine_latents(model, x, steps=0)                             # no steps: g_a's latents
    with torch.no_grad():
        ref = model.analysis(x_pad)
    assert all(torch.equal(same["latents"][k], ref[k]) for k in ref)
    out = model.compress(x, latents=same["latents"])
    assert out["strings"] == model.compress(x)["strings"]
    assert plain.data != enc.data or best == h[0]["loss"]
    assert all(p.requires_grad for p in model.parameters())             # the model is left as it was


def test_refinement_codes_real_photos_better(shipped_model, photos):
    """The shipped model, 40 steps, two real photos: a lower real RD loss (bytes and decoded PSNR)."""
    for name, img in photos[:2]:
        img = img.convert("RGB").crop((64, 64, 256, 256))
        plain = encode_image(img, shipped_model)
        refined = encode_image(img, shipped_model, refine=40)
        lmbda = shipped_model.lmbda
        assert _rd(img, refined.data, lmbda) < 0.99 * _rd(img, plain.data, lmbda), name


def test_refine_rejects_bad_steps(tiny_zoo):
    with pytest.raises(ValueError, match="steps"):
        refine_latents(zoo.load_model("tiny-ms"), torch.zeros(1, 3, 64, 64), steps=-1)


def test_cli_refine_options(tiny_zoo, photos, tmp_path, capsys):
    src, out = tmp_path / "a.png", tmp_path / "a.clb"
    photos[0][1].convert("RGB").crop((0, 0, 96, 64)).save(src)
    assert cli.main(["compress", str(src), str(out), "--refine", "3"]) == 0
    assert cli.main(["decompress", str(out), str(tmp_path / "a_dec.png")]) == 0
    assert cli.main(["compress", str(src), str(tmp_path / "b.clb"), "--refine", "-1"]) == 1
    assert "--refine must be 0 or more" in capsys.readouterr().err
    assert not (tmp_path / "b.clb").exists()
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    src.rename(imgs / "a.png")
    js = tmp_path / "e.json"
    assert cli.main(["eval", str(imgs), "--json", str(js), "--refine", "2", "--record"]) == 1
    assert "not with --refine" in capsys.readouterr().err and not js.exists()
    assert cli.main(["eval", str(imgs), "--json", str(js), "--refine", "2", "-q"]) == 0
    doc = json.loads(js.read_text())
    assert doc["model"] == "tiny-ms+refine2" and doc["refine"] == 2
    assert doc["points"][0]["est_bpp"] is None
    cj = tmp_path / "c.json"
    assert cli.main(["compare", str(imgs), "--json", str(cj), "--models", "tiny-ms", "--baselines",
                     "jpeg", "--refine", "2", "-q"]) == 0
    doc = json.loads(cj.read_text())
    assert [r["model"] for r in doc["results"]] == ["tiny-ms", "tiny-ms+refine2", "jpeg"]
    assert "2 steps of codec_lib.refine" in doc["settings"]["tiny-ms+refine2"]
    capsys.readouterr()
    again = tmp_path / "d.json"                   # reused: same weights, same refinement
    assert cli.main(["compare", str(imgs), "--json", str(again), "--models", "tiny-ms", "--baselines",
                     "jpeg", "--refine", "2", "--reuse", str(cj), "-q"]) == 0
    assert "reusing jpeg, tiny-ms, tiny-ms+refine2 from" in capsys.readouterr().out
