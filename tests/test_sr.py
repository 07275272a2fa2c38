"""The super-resolution miniature: shapes, training, files with checked hashes, clean errors."""
import json

import pytest
import torch

from codec_lib import sr
from codec_lib.errors import ModelError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_shapes_and_bicubic_start():
    x = torch.rand(2, 3, 64, 96)
    x_lr = sr.downsample(x)
    assert x_lr.shape == (2, 3, 16, 24)
    up = sr.Upsampler(C=8, blocks=1)
    torch.nn.init.zeros_(up.up[-1].weight), torch.nn.init.zeros_(up.up[-1].bias)
    assert torch.allclose(up(x_lr), sr.bicubic(x_lr))      # a zero correction is plain bicubic


def test_mse_then_gan_training_writes_registered_files(tmp_path, capsys):
    mse = tmp_path / "sr-mse.pt"
    assert sr.main(["--beta", "0", "--steps", "30", "--batch-size", "4", "--crop", "48", "--C", "8",
                    "--blocks", "1", "--lr", "1e-3", "--out", str(mse), "--register"]) == 0
    model = sr.load_upsampler(mse)
    x = torch.rand(1, 3, 48, 48)
    gan = tmp_path / "sr-gan.pt"
    assert sr.main(["--beta", "0.1", "--steps", "3", "--batch-size", "2", "--crop", "48",
                    "--disc-channels", "8", "--init", str(mse), "--out", str(gan), "--register"]) == 0
    ups = sr.load_upsamplers(tmp_path)
    assert sorted(ups) == [0.0, 0.1] and model(sr.downsample(x)).shape == x.shape
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert [e["init"] for e in man["upsamplers"]] == [None, "sr-mse.pt"]
    assert all(e["steps"] and e["command"].startswith("python -m codec_lib.sr") for e in man["upsamplers"])
    # refusing to overwrite, altered files, missing files
    assert sr.main(["--steps", "1", "--out", str(gan)]) == 2
    assert "exists" in capsys.readouterr().err
    gan.write_bytes(gan.read_bytes()[:-1] + b"x")
    with pytest.raises(ModelError, match="sha256"):
        sr.load_upsamplers(tmp_path)
    with pytest.raises(ModelError, match="no such"):
        sr.load_upsampler(tmp_path / "none.pt")


def test_mse_training_beats_bicubic(tmp_path, photos):
    """A few hundred steps on the embedded photos already lift PSNR above bicubic up-sampling."""
    torch.manual_seed(0)
    model, rec = sr.fit_upsampler(sr.SRConfig(steps=150, batch_size=4, crop=64, C=16, blocks=2, lr=1e-3,
                                              out=str(tmp_path / "m.pt")), progress=False)
    from codec_lib.data import to_tensor
    x = to_tensor(photos[0][1].convert("RGB"))[..., :256, :256]
    x_lr = sr.downsample(x)
    with torch.no_grad():
        mse_sr = torch.mean((model(x_lr).clamp(0, 1) - x) ** 2)
    mse_bic = torch.mean((sr.bicubic(x_lr) - x) ** 2)
    assert mse_sr < mse_bic and rec["steps"] == 150
