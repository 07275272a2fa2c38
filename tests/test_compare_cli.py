"""``codec-lib compare``: models and baselines on a folder, JSON + plot + table, safe outputs.

Runs through ``codec_lib.cli.main`` once ``cli.py`` dispatches ``compare``; until then through
the subcommand's own parser (``compare_cli.add_parser``), where errors are ``UsageError``s.
"""
import argparse
import json

import pytest
import torch

from codec_lib import cli, zoo
from codec_lib.compare_cli import add_parser
from codec_lib.models import build_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _wired() -> bool:
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return "compare" in sub.choices


def run(capsys, *args) -> tuple[int, str, str]:
    args = ["compare", *map(str, args), "-q"]
    if _wired():
        rc = cli.main(args)
    else:
        parser = argparse.ArgumentParser(prog="codec-lib")
        add_parser(parser.add_subparsers())
        a = parser.parse_args(args)
        try:
            a.func(a)
            rc = 0
        except cli.UsageError as e:
            print(f"codec-lib: error: {e}", file=__import__("sys").stderr)
            rc = 1
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def fast_zoo(tmp_path, monkeypatch):
    """A zoo with one untrained tiny model at two qualities: the plumbing is under test, not the
    model, and this takes a second where the trained ``tiny_zoo`` takes half a minute."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    monkeypatch.setenv(zoo.CHECKPOINT_ENV, str(folder))
    torch.manual_seed(0)
    for q in (1, 2):
        path = folder / f"untrained-q{q}.pt"
        zoo.save_checkpoint(build_model("factorized", N=8, M=8).eval(), path, "untrained", q, 0.01)
        zoo.register(path, training={"command": "tests/test_compare_cli.py", "device": "cpu"})
    zoo._CACHE.clear()
    yield folder
    zoo._CACHE.clear()


@pytest.fixture
def folder(tmp_path, photos):
    d = tmp_path / "imgs"
    d.mkdir()
    for name, img in photos[:2]:
        img.crop((96, 32, 224, 128)).save(d / f"{name}.png")          # 128x96
    return d


def test_models_and_baselines(fast_zoo, folder, tmp_path, capsys):
    js, png, md = tmp_path / "r.json", tmp_path / "r.png", tmp_path / "r.md"
    rc, out, err = run(capsys, folder, "--json", js, "--plot", png, "--table", md,
                       "--models", "untrained", "--baselines", "jpeg", "webp", "--record")
    assert rc == 0, err
    doc = json.loads(js.read_text())
    assert doc["images"] == 2 and doc["dir"] == str(folder.resolve())
    assert [r["model"] for r in doc["results"]] == ["untrained", "jpeg", "webp"]
    for r in doc["results"]:
        assert r["images"] == 2 and r["points"]
        extra = {"per_image"} if r["model"] == "untrained" else set()   # models carry per-image rows
        assert set(r["points"][0]) == {"quality", "bpp", "psnr", "ms_ssim", "est_bpp", "enc_s",
                                       "dec_s"} | extra
    rows = doc["results"][0]["points"][0]["per_image"]
    assert [row["image"] for row in rows] == doc["names"]
    assert sum(row["bpp"] for row in rows) / 2 == pytest.approx(doc["results"][0]["points"][0]["bpp"])
    recorded = {e["quality"]: e[folder.name] for e in zoo.read_manifest()["models"]}
    assert recorded[1]["bpp"] == pytest.approx(doc["results"][0]["points"][0]["bpp"], abs=1e-5)
    assert recorded[2]["images"] == 2 and recorded[2]["results"] == str(js)
    model, jpeg = doc["results"][0]["points"][0], doc["results"][1]["points"][0]
    assert model["est_bpp"] > 0 and jpeg["est_bpp"] is None
    assert isinstance(doc["bd_rate"]["psnr"]["webp"]["jpeg"], float)
    assert doc["bd_rate"]["psnr"]["webp"]["jpeg"] < 0               # WebP beats JPEG
    assert [p["quality"] for p in doc["results"][0]["points"]] == [1, 2]   # all its qualities
    assert doc["bd_rate"]["psnr"]["untrained"]["jpeg"] is None      # random weights: no overlap
    assert set(doc["settings"]) == {"untrained", "jpeg", "webp"}
    assert "method=6" in doc["settings"]["webp"] and "N=8 M=8" in doc["settings"]["untrained"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = md.read_text()
    assert "| codec | points | bpp | PSNR (dB) | BD-rate vs jpeg | vs webp |" in table
    assert "| webp | 9 |" in table and "| webp | 9 |" in out


def test_refuses_to_overwrite(folder, tmp_path, capsys):
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    md.write_text("keep me")
    base = [folder, "--json", js, "--table", md, "--models", "--baselines", "jpeg"]
    rc, _, err = run(capsys, *base)
    assert rc == 1 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert md.read_text() == "keep me" and not js.exists()           # nothing written
    rc, _, err = run(capsys, *base, "--force")
    assert rc == 0, err
    assert [r["model"] for r in json.loads(js.read_text())["results"]] == ["jpeg"]
    assert md.read_text().startswith("# Rate-distortion comparison")


def test_reuse_baselines(fast_zoo, folder, tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    rc, _, err = run(capsys, folder, "--json", first, "--models", "--baselines", "jpeg")
    assert rc == 0, err
    doc = json.loads(first.read_text())
    assert doc["names"] == sorted(p.stem for p in folder.iterdir())
    doc["results"][0]["points"][0]["psnr"] = 99.0                    # marks the reused numbers
    first.write_text(json.dumps(doc))
    rc, out, err = run(capsys, folder, "--json", second, "--models", "untrained",
                       "--baselines", "jpeg", "webp", "--reuse", first)
    assert rc == 0, err
    assert "reusing jpeg from" in out
    res = {r["model"]: r for r in json.loads(second.read_text())["results"]}
    assert res["jpeg"]["points"][0]["psnr"] == 99.0                  # taken, not re-measured
    assert res["webp"]["points"] and res["untrained"]["points"]     # measured
    (folder / "extra.png").write_bytes((folder / doc["names"][0]).with_suffix(".png").read_bytes())
    rc, _, err = run(capsys, folder, "--json", tmp_path / "c.json", "--models",
                     "--baselines", "jpeg", "--reuse", first)
    assert rc == 1 and "other images" in err
    doc["settings"]["jpeg"] = "Pillow 1.0 JPEG"
    first.write_text(json.dumps(doc))
    (folder / "extra.png").unlink()
    rc, _, err = run(capsys, folder, "--json", tmp_path / "c.json", "--models",
                     "--baselines", "jpeg", "--reuse", first)
    assert rc == 1 and "other settings" in err
    rc, _, err = run(capsys, folder, "--json", tmp_path / "c.json", "--reuse", folder / "nope.json")
    assert rc == 1 and "not a compare JSON" in err


def test_reuse_models_with_the_same_weights(fast_zoo, folder, tmp_path, capsys):
    first, second, third = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    rc, _, err = run(capsys, folder, "--json", first, "--baselines", "--anchor", "untrained")
    assert rc == 0, err
    doc = json.loads(first.read_text())
    assert set(doc["results"][0]["weights_hash"]) == {"1", "2"}
    doc["results"][0]["points"][0]["psnr"] = 99.0                    # marks the reused numbers
    first.write_text(json.dumps(doc))
    rc, out, err = run(capsys, folder, "--json", second, "--baselines", "--anchor", "untrained", "--reuse", first)
    assert rc == 0 and "reusing untrained from" in out, err
    assert json.loads(second.read_text())["results"][0]["points"][0]["psnr"] == 99.0
    torch.manual_seed(1)                                             # new weights at quality 2
    path = fast_zoo / "untrained-q2.pt"
    zoo.save_checkpoint(build_model("factorized", N=8, M=8).eval(), path, "untrained", 2, 0.01)
    zoo.register(path, training={"command": "tests/test_compare_cli.py", "device": "cpu"})
    rc, out, err = run(capsys, folder, "--json", third, "--baselines", "--anchor", "untrained", "--reuse", first)
    assert rc == 0 and "reusing nothing" in out, err
    fresh = json.loads(third.read_text())["results"][0]
    assert fresh["points"][0]["psnr"] != 99.0
    fresh["points"][0]["psnr"] = 98.0                                # marks the second file
    doc3 = json.loads(third.read_text())
    doc3["results"][0] = fresh
    third.write_text(json.dumps(doc3))
    fourth = tmp_path / "d.json"                                     # several files: the last usable wins
    rc, out, err = run(capsys, folder, "--json", fourth, "--baselines", "--anchor", "untrained",
                       "--reuse", first, third)
    assert rc == 0 and "reusing nothing from" in out and "reusing untrained from" in out, err
    assert json.loads(fourth.read_text())["results"][0]["points"][0]["psnr"] == 98.0


@pytest.mark.parametrize("extra, message", [
    (["--models", "nope"], "unknown model"),
    (["--models", "--baselines"], "nothing to compare"),
    (["--models", "--baselines", "webp"], "--anchor"),
    (["--models", "--plot", "x.gif"], "the plot must end"),
    (["--models", "--limit", "0"], "--limit"),
])
def test_bad_usage(fast_zoo, folder, tmp_path, capsys, extra, message):
    js = tmp_path / "r.json"
    extra = [str(tmp_path / e) if e.endswith(".gif") else e for e in extra]
    rc, _, err = run(capsys, folder, "--json", js, *extra)
    assert rc == 1 and message in err and not js.exists()
    rc, _, err = run(capsys, tmp_path / "missing", "--json", js)
    assert rc == 1 and "no such folder" in err


def test_plot_and_table_functions():
    from matplotlib.figure import Figure
    from codec_lib.plots import rd_plot, results_table
    pts = lambda s: [{"bpp": s * b, "psnr": p, "ms_ssim": m}
                     for b, p, m in ((0.2, 28, 0.9), (0.5, 32, 0.95), (1.0, 36, 0.98))]
    docs = [{"model": "mine", "images": 3, "points": pts(0.8)},
            {"model": "jpeg", "images": 3, "points": pts(1.0)},
            {"model": "avif", "images": 3, "points": pts(0.5)}]
    ax = rd_plot(docs, "ms_ssim", ax=Figure().subplots())
    assert [line.get_label() for line in ax.get_lines()] == ["mine", "jpeg", "avif"]
    assert ax.get_ylabel() == "MS-SSIM (dB)"
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(10)            # MS-SSIM 0.9
    table = results_table(docs).splitlines()
    assert table[0] == "| codec | points | bpp | PSNR (dB) | BD-rate vs jpeg | vs avif |"
    assert table[2] == "| mine | 3 | 0.160..0.800 | 28.00..36.00 | -20.0 % | +60.0 % |"
    assert table[3].endswith("| - | +100.0 % |") and table[4].endswith("| -50.0 % | - |")
