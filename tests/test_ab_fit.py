"""scripts/ab_fit.py: fit's speed, two source trees in turn, each in a fresh process."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_two_trees_in_turn_then_medians(capsys, script):
    assert script("ab_fit").main([str(ROOT), str(ROOT), "--rounds", "1", "--steps", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(str(ROOT) in line and "images/s" in line for line in lines)
    assert all(float(line.split(": ")[1].split()[0]) > 0 for line in lines[:2])
    assert "median" in lines[2] and "median" in lines[3]


def test_a_folder_without_codec_lib_is_refused(tmp_path, capsys, script):
    with pytest.raises(SystemExit) as e:
        script("ab_fit").main([str(tmp_path), str(ROOT)])
    assert e.value.code == 2 and "no codec_lib/" in capsys.readouterr().err
