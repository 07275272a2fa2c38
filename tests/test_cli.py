"""The codec-lib command line: the happy paths and every bad input of the contract."""
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from codec_lib.cli import main


@pytest.fixture
def files(tmp_path, photos):
    img = tmp_path / "photo.png"
    photos[2][1].save(img)
    return tmp_path, img


def run(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err):
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codec-lib: error:"), err
    assert "Traceback" not in err


def test_compress_decompress_info(tiny_zoo, files, capsys):
    d, img = files
    rc, out, _ = run(capsys, "compress", img, d / "a.clb")
    assert rc == 0 and "bpp" in out
    rc, out, _ = run(capsys, "decompress", d / "a.clb", d / "a.png")
    assert rc == 0
    dec = Image.open(d / "a.png")
    assert dec.format == "PNG" and dec.size == Image.open(img).size
    rc, out, _ = run(capsys, "info", d / "a.clb", "--json")
    info = json.loads(out)
    assert info["model"] == "tiny-ms" and info["bytes"] == (d / "a.clb").stat().st_size
    rc, out, _ = run(capsys, "compress", img, d / "b.clb", "--model", "tiny-fp", "--quality", "1",
                     "--coder", "reference")
    assert rc == 0
    rc, _, _ = run(capsys, "decompress", d / "b.clb", d / "b.png")
    assert rc == 0


def test_models_json(tiny_zoo, capsys):
    rc, out, _ = run(capsys, "models", "--json")
    models = json.loads(out)
    assert rc == 0 and {m["name"] for m in models} == {"tiny-ms", "tiny-fp", "tiny-hp"}
    for m in models:
        assert {"name", "kind", "objective", "qualities", "default"} <= set(m)
        assert m["kind"] == "image" and m["objective"] == "mse" and m["qualities"] == [1]
    assert [m["name"] for m in models if m["default"]] == ["tiny-ms"]
    rc, out, _ = run(capsys, "models", "--markdown")
    lines = out.strip().splitlines()
    assert rc == 0 and len(lines) == 2 + 3 and lines[0].startswith("| name | quality (lmbda)")
    assert "| `tiny-ms` (default) | 1 (0.01) | mean-scale, 16, 24 |" in out
    assert "| 20 steps, cpu |" in out


def test_eval_json(tiny_zoo, tmp_path, photos, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, im in photos[1:3]:
        im.save(folder / f"{name}.png")
    out = tmp_path / "res.json"
    rc, _, _ = run(capsys, "eval", folder, "--model", "tiny-hp", "--json", out, "-q")
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["model"] == "tiny-hp" and res["images"] == 2 and len(res["points"]) == 1
    p = res["points"][0]
    assert set(p) == {"quality", "bpp", "psnr", "ms_ssim", "est_bpp", "enc_s", "dec_s"}
    assert p["bpp"] > 0 and 0 < p["ms_ssim"] <= 1 and p["enc_s"] > 0
    rc, _, _ = run(capsys, "eval", folder, "--model", "tiny-hp", "--json", out, "-q", "--force",
                   "--record")
    entry = next(e for e in json.loads((tiny_zoo / "manifest.json").read_text())["models"]
                 if e["name"] == "tiny-hp")
    assert rc == 0 and entry["imgs"]["images"] == 2
    assert abs(entry["imgs"]["bpp"] - json.loads(out.read_text())["points"][0]["bpp"]) < 1e-4


def test_bad_image_inputs(tiny_zoo, files, capsys):
    d, img = files
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("this is not an image\n")
    (d / "trunc.png").write_bytes(img.read_bytes()[:2000])
    for bad in ["missing.png", "empty.png", "text.png", "trunc.png", "."]:
        out = d / f"out-{bad.strip('.')}.clb"
        rc, _, err = run(capsys, "compress", d / bad, out)
        assert_one_line_error(rc, err)
        assert not out.exists()                                   # no partial output


def test_bad_bitstreams(tiny_zoo, files, capsys):
    d, img = files
    assert run(capsys, "compress", img, d / "ok.clb")[0] == 0
    data = (d / "ok.clb").read_bytes()
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 1
    cases = {"trunc.clb": data[:-7], "corrupt.clb": bytes(corrupt), "empty.clb": b"",
             "foreign.clb": img.read_bytes()}
    for name, content in cases.items():
        (d / name).write_bytes(content)
        rc, _, err = run(capsys, "decompress", d / name, d / f"{name}.png")
        assert_one_line_error(rc, err)
        assert not (d / f"{name}.png").exists()
        rc, _, err = run(capsys, "info", d / name)
        assert_one_line_error(rc, err)
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]  # no temporary leftovers


def test_model_not_installed(tiny_zoo, files, capsys, monkeypatch, tmp_path):
    d, img = files
    assert run(capsys, "compress", img, d / "ok.clb")[0] == 0
    empty_zoo = tmp_path / "empty_zoo"
    empty_zoo.mkdir()
    monkeypatch.setenv("CODEC_LIB_CHECKPOINTS", str(empty_zoo))
    rc, _, err = run(capsys, "decompress", d / "ok.clb", d / "ok.png")
    assert_one_line_error(rc, err)
    assert "not installed" in err and not (d / "ok.png").exists()


def test_unknown_model_and_quality(tiny_zoo, files, capsys):
    d, img = files
    for args in (["--model", "nope"], ["--quality", "9"]):
        rc, _, err = run(capsys, "compress", img, d / "x.clb", *args)
        assert_one_line_error(rc, err)
        assert not (d / "x.clb").exists()


def test_never_overwrites(tiny_zoo, files, capsys):
    d, img = files
    original = img.read_bytes()
    rc, _, err = run(capsys, "compress", img, img)                # input as output
    assert_one_line_error(rc, err)
    rc, _, err = run(capsys, "compress", img, img, "--force")     # not even with --force
    assert_one_line_error(rc, err)
    assert img.read_bytes() == original
    (d / "keep.clb").write_bytes(b"precious")
    rc, _, err = run(capsys, "compress", img, d / "keep.clb")
    assert_one_line_error(rc, err)
    assert (d / "keep.clb").read_bytes() == b"precious"
    assert run(capsys, "compress", img, d / "keep.clb", "--force")[0] == 0
    assert (d / "keep.clb").read_bytes() != b"precious"


def test_process_exit_codes(tiny_zoo, files):
    """The installed entry point: real exit status, one line on stderr, no traceback."""
    d, img = files
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "codec_lib"]
    r = subprocess.run(cmd + ["decompress", str(img), str(d / "o.png")], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 1 and "not a codec_lib file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run(cmd + ["bogus"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2


def test_demo(tiny_zoo, tmp_path, capsys):
    out = tmp_path / "demo"
    rc, text, _ = run(capsys, "demo", "--image", "chelsea", "--out", out)
    assert rc == 0 and "JPEG" in text and "identical to the encoder's reconstruction: True" in text
    assert {p.name for p in out.iterdir()} == {"chelsea.png", "chelsea.clb", "chelsea_decoded.png",
                                                "chelsea_jpeg.jpg"}
    rc, _, err = run(capsys, "demo", "--image", "chelsea", "--out", out)   # files exist now
    assert_one_line_error(rc, err)
    assert run(capsys, "demo", "--image", "chelsea", "--out", out, "--force")[0] == 0
