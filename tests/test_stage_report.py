"""scripts/stage_report.py: the README's post-stage figures, read from the committed results."""
import json
from pathlib import Path

from codec_lib.bdrate import bd_rate, rate_savings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "data" / "results"


def test_stage_report_prints_the_committed_figures(capsys, script):
    main = script("stage_report").main
    # against the committed results themselves: every model is 0 % from its "previous" weights
    assert main(["--before", str(RESULTS / "kodak-rd.json")]) == 0
    out = capsys.readouterr().out
    assert "vs its previous weights: PSNR +0.00 %, MS-SSIM +0.00 %" in out
    new = {e["model"]: e for e in json.loads((RESULTS / "kodak-rd.json").read_text())["results"]}
    vs_jpeg = bd_rate(new["jpeg"], new["mean-scale"])
    assert f"mean-scale       vs jpeg {vs_jpeg:+.1f} %" in out
    per_rate = " / ".join(f"{v:+.1f} %" for v in rate_savings(new["jpeg"], new["mean-scale"]))
    assert f"per rate, mean-scale vs jpeg: {per_rate}" in out
    for section in ("== Kodak", "+refine30: vs jpeg", "== perception", "== screen content",
                    "== BasketballPass"):
        assert section in out


def test_stage_report_without_earlier_results(capsys, tmp_path, monkeypatch, script):
    module = script("stage_report")
    main = module.main
    assert main(["--before", str(tmp_path / "missing.json")]) == 2   # named but missing: an error
    assert "no such file" in capsys.readouterr().err
    monkeypatch.setattr(module, "KEPT", tmp_path / "runs" / "kodak-rd-before.json")  # none kept
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "no comparison with the previous weights" in out and "vs its previous weights" not in out


def test_stage_report_channel_context_on_validation_photos(capsys, tmp_path, script):
    from PIL import Image
    from skimage import data as skdata
    Image.fromarray(skdata.astronaut()).save(tmp_path / "astronaut.png")
    main = script("stage_report").main
    assert main(["--before", str(RESULTS / "kodak-rd.json"), "--val", str(tmp_path)]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("== channel-context val"))
    savings = [float(p.split()[1]) for p in line.split(": ", 1)[1].split(" / ")]   # "q2 -3.0 %"
    assert len(savings) == 4 and all(v < 0 for v in savings)   # the context saves bits at every rate
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--val", str(empty)]) == 2 and "no images there" in capsys.readouterr().err
    assert main(["--val", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
