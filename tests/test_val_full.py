"""scripts/val_full.py: runs scored on whole validation photos against the installed model."""
from pathlib import Path

from codec_lib import zoo

ROOT = Path(__file__).resolve().parents[1]


def test_a_run_scores_as_the_model_exported_from_it(tiny_zoo, photos, tmp_path, capsys, script):
    main = script("val_full").main
    folder = tmp_path / "val"
    folder.mkdir()
    for name, im in photos[:2]:                       # whole photos, any size (odd ones too)
        im.resize((97, 75)).save(folder / f"{name}.png")
    run = tiny_zoo / "run-tiny-ms"                    # the run tiny-ms was exported from
    assert main([str(folder), str(run), "--name", "tiny-ms", "--quality", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 whole photos" in out
    installed, ran = (float(line.split("loss ")[1].split()[0].rstrip(",")) for line in out.splitlines()[1:3])
    assert abs(ran / installed - 1) < 0.005            # the same weights (half precision stored)
    assert "step 20" in out
    stored = tiny_zoo / zoo.resolve("tiny-ms", 1)["file"]         # a checkpoint file scores too
    assert main([str(folder), str(stored), "--name", "tiny-ms", "--quality", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "(+0.00 %)" in lines[2] and "step" not in lines[2]     # the installed file itself


def test_bad_input_is_one_line_and_exit_2(tiny_zoo, tmp_path, capsys, script):
    main = script("val_full").main
    run = str(tiny_zoo / "run-tiny-ms")
    assert main([str(tmp_path / "missing"), run, "--name", "tiny-ms", "--quality", "1"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main([str(tmp_path), str(tmp_path), "--name", "tiny-ms", "--quality", "1"]) == 2
    assert "no last.pt" in capsys.readouterr().err
    (tmp_path / "a.png").write_bytes((ROOT / "data" / "results" / "kodak-rd.png").read_bytes())
    assert main([str(tmp_path), run, "--name", "tiny-ms"]) == 2      # lambda 0.01: no quality
    assert "pass --quality" in capsys.readouterr().err
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    assert main([str(tmp_path), str(tmp_path / "x.pt"), "--name", "tiny-ms", "--quality", "1"]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
