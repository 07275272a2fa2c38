"""Smoke test of the benchmark's functions (figures only, no speed thresholds)."""
from __future__ import annotations

from codec_lib import bench
from codec_lib.data import sample_images
from codec_lib.models import build_model


def test_bench_smoke():
    name, img = sample_images()[0]
    images = [(name, img.crop((0, 0, 128, 128)))]
    model = build_model("mean-scale", N=16, M=24).eval()   # untrained: tables still valid
    res = bench.run(model, images, repeat=1, train_steps=3,
                    train_kw={"warmup": 1, "N": 16, "M": 24, "batch": 2, "crop": 64})
    assert set(res) >= {"machine", "coding", "overhead", "training"}
    c = res["coding"]
    assert c["z_hat_identical"]
    for k in ("ours", "compressai"):
        for p in ("enc", "dec", "encdec"):
            assert c[f"{k}_{p}_s"] > 0
    assert all(c[f"ratio_{p}"] > 0 for p in ("enc", "dec", "encdec"))
    o = res["overhead"]
    assert o["mean_ratio"] > 0 and o["max_ratio"] >= o["mean_ratio"]
    t = res["training"]
    assert t["ours_img_per_s"] > 0 and t["compressai_img_per_s"] > 0 and t["ratio"] > 0
    assert t["step_img_per_s"] > 0 and t["step_ratio"] > 0 and t["data_ms_per_batch"] > 0
    if bench.cpu_bf16():                                 # the bfloat16 figures, where it is native
        assert t["bf16_img_per_s"] > 0 and t["bf16_ratio"] > 0 and t["bf16_step_ratio"] > 0
    else:
        assert t["bf16_img_per_s"] is None
    bench._report(res)


def test_video_step_timing_runs_both_precisions():
    for coding in ("residual", "conditional"):
        fp32_s, bf16_s = bench._video_step_seconds(coding, steps=1, warmup=0, batch=1, crop=64)
        assert fp32_s > 0 and bf16_s > 0


def test_train_only_cli_writes_training_figures(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--train-only", "--train-steps", "1", "--train-batch", "1",
                       "--train-crop", "64", "--json", str(out)]) == 0
    import json
    res = json.loads(out.read_text())
    assert res["coding"] is None and res["overhead"] is None       # skipped, not faked
    t = res["training"]
    assert t["device"] == "cpu" and t["batch"] == 1 and t["crop"] == 64
    assert t["ours_img_per_s"] > 0 and t["compressai_img_per_s"] > 0
    assert "training on cpu (1 steps of 1x64^2" in capsys.readouterr().out


def test_bad_device_is_a_one_line_error(capsys):
    import pytest
    import torch
    bad = [["--device", "tpu"], ["--train-only", "--train-steps", "0"]]
    if not torch.cuda.is_available():
        bad.append(["--device", "cuda", "--train-only"])
    for argv in bad:
        with pytest.raises(SystemExit) as e:
            bench.main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("python -m codec_lib.bench: error:"), err
