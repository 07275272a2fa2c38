"""The channel-conditional add-on: starts as its parent, codes exactly, trains only ``cc``,
stores only ``cc`` and loads through its installed parent."""
import pytest
import torch

from codec_lib import zoo
from codec_lib.channel_context import ChannelContextHyperprior
from codec_lib.codec import decode_image, encode_image, model_strings
from codec_lib.entropy_coding import ReferenceCoder
from codec_lib.models import MeanScaleHyperprior, build_model
from codec_lib.train import TrainConfig, configure_optimizers, fit, train_step


def _parent(seed: int = 0) -> MeanScaleHyperprior:
    torch.manual_seed(seed)
    return MeanScaleHyperprior(8, 12).eval()


def _perturb(model: ChannelContextHyperprior, std: float = 0.2) -> None:
    torch.manual_seed(1)
    with torch.no_grad():
        for c in model.cc:
            c.net[-1].weight.normal_(0, std)
            c.net[-1].bias.normal_(0, std)


def test_starts_as_its_parent():
    parent = _parent()
    model = ChannelContextHyperprior.from_parent(parent, slices=3, hidden=8).eval()
    x = torch.rand(1, 3, 70, 90)
    a, b = parent(x), model(x)
    assert torch.equal(a["x_hat"], b["x_hat"])
    for k in ("y", "z"):
        assert torch.equal(a["likelihoods"][k], b["likelihoods"][k])


def test_slices_must_divide_M():
    with pytest.raises(ValueError, match="divide"):
        ChannelContextHyperprior(8, 12, slices=5)
    from codec_lib.models import ScaleHyperprior
    with pytest.raises(ValueError, match="mean-scale"):
        ChannelContextHyperprior.from_parent(ScaleHyperprior(8, 12), slices=3)


@pytest.mark.parametrize("coder", [None, ReferenceCoder()], ids=["fast", "reference"])
def test_round_trip_is_exact_and_later_slices_see_earlier_ones(coder):
    model = ChannelContextHyperprior.from_parent(_parent(), slices=3, hidden=8).eval()
    _perturb(model)
    x = torch.rand(1, 3, 50, 77)
    enc = model.compress(x, coder=coder, return_x_hat=True)
    assert len(enc["strings"]) == model_strings(model) == 2          # y (all slices), z
    dec = model.decompress(enc["strings"], enc["shape"], size=enc["size"], coder=coder)
    assert torch.equal(dec["x_hat"], enc["x_hat"])
    # slice 1's parameters are a function of the decoded slice 0
    sh, mh = torch.randn(1, 12, 4, 5), torch.randn(1, 12, 4, 5)
    prev = torch.randn(1, 4, 4, 5)
    a = model._slice_params(1, sh, mh, prev, double=True)
    b = model._slice_params(1, sh, mh, prev + 1, double=True)
    assert not torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])


def test_rate_matches_estimate_with_trained_like_params():
    model = ChannelContextHyperprior.from_parent(_parent(), slices=3, hidden=8).eval()
    _perturb(model, 0.05)
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        est = sum(-torch.log2(l).sum() for l in model(x)["likelihoods"].values())
    real = 8 * sum(len(s[0]) for s in model.compress(x)["strings"])
    assert abs(real - float(est)) < 0.1 * float(est) + 8 * 8 * 2     # + a few bytes per string


def test_training_moves_only_cc_and_skips_g_s_backward():
    torch.manual_seed(0)
    model = ChannelContextHyperprior.from_parent(_parent(), slices=3, hidden=8).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt, aux_opt = configure_optimizers(model, 1e-3, 1e-3, ["cc"])
    x = torch.rand(2, 3, 64, 64)
    seen = []
    h = model.g_s.register_full_backward_hook(lambda *a: seen.append(1))
    for _ in range(3):
        train_step(model, x, opt, aux_opt, 0.01)
    h.remove()
    assert not seen                                        # frozen g_a: no gradient through g_s
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("cc.") for k in changed)


def test_fit_and_export_store_only_cc_and_load_through_the_parent(tiny_zoo, tmp_path, photos):
    parent = zoo.load_model("tiny-ms", 1)
    init = tiny_zoo / "tiny-ms.pt"
    cfg = TrainConfig(arch="channel-context", N=parent.N, M=parent.M, steps=4, batch_size=2,
                      crop=64, lmbda=0.01, init=str(init), trainable=["cc"],
                      out=str(tmp_path / "run"), checkpoint_every=4)
    model = fit(cfg, progress=False)
    model.codec_name, model.codec_quality = "tiny-cc", 1
    path = tmp_path / "cc.pt"
    zoo.save_checkpoint(model, path, "tiny-cc", 1, cfg.lmbda, parent=parent)
    stored = torch.load(path, weights_only=True)["state_dict"]
    assert stored and all(k.startswith("cc.") for k in stored)
    loaded = zoo.load_checkpoint(path)
    assert isinstance(loaded, ChannelContextHyperprior)
    mine, theirs = loaded.state_dict(), parent.state_dict()
    for k, v in mine.items():                       # the parent's tensors, cc in half precision
        ref = model.state_dict()[k] if k.startswith("cc.") else theirs[k]
        assert torch.allclose(v.float(), ref.float(), rtol=1e-3, atol=1e-4), k
    img = photos[0][1].crop((0, 0, 96, 80))
    enc = encode_image(img, loaded)
    assert decode_image(enc.data, loaded).tobytes() == enc.x_hat.tobytes()


def test_build_model_knows_the_architecture():
    assert isinstance(build_model("channel-context", 8, 12), ChannelContextHyperprior)


def test_continuing_a_stored_as_changes_model_exports_against_the_root_parent(
        tiny_zoo_dir, tmp_path, monkeypatch, capsys):
    """`context-more`: a run started from an installed channel-context file (itself stored as
    changes to mean-scale) is exported over that very file; it must build on mean-scale, not on
    the file it replaces. An export that would overwrite its own parent is refused."""
    import shutil
    from codec_lib.cli import main
    zoo_dir = tmp_path / "zoo"
    shutil.copytree(tiny_zoo_dir, zoo_dir, ignore=shutil.ignore_patterns("run-*"))
    monkeypatch.setenv(zoo.CHECKPOINT_ENV, str(zoo_dir))
    zoo._CACHE.clear()
    parent = zoo.load_model("tiny-ms", 1)
    cc = zoo_dir / "tiny-cc.pt"
    for stage, init in enumerate((zoo_dir / "tiny-ms.pt", cc)):
        run = tmp_path / f"run{stage}"
        fit(TrainConfig(arch="channel-context", N=parent.N, M=parent.M, steps=3, batch_size=2,
                        crop=64, lmbda=0.01, init=str(init), trainable=["cc"], out=str(run),
                        checkpoint_every=3, seed=stage), progress=False)
        assert main(["export", str(run), str(cc), "--name", "tiny-cc", "--quality", "1",
                     "--register", "--force"]) == 0
        assert "changes to the installed 'tiny-ms' q1" in capsys.readouterr().out
        assert zoo.stored_parent(cc)["name"] == "tiny-ms"
        zoo._CACHE.clear()
        loaded = zoo.load_model("tiny-cc", 1)            # loads (no reference to itself)
        assert torch.equal(loaded.state_dict()["cc.1.net.4.bias"].float(),
                           torch.load(run / "last.pt", weights_only=False)["model"]
                           ["cc.1.net.4.bias"].half().float())
    e = zoo.resolve("tiny-cc", 1)["training"]
    assert len(e["stages"]) == 2                         # both stages recorded
    before = (zoo_dir / "tiny-ms.pt").read_bytes()       # a g_s fine-tune over its own parent
    fit(TrainConfig(arch="mean-scale", N=parent.N, M=parent.M, steps=2, batch_size=2, crop=64,
                    lmbda=0.01, init=str(zoo_dir / "tiny-ms.pt"), trainable=["g_s"],
                    out=str(tmp_path / "gs"), checkpoint_every=2), progress=False)
    assert main(["export", str(tmp_path / "gs"), str(zoo_dir / "tiny-ms.pt"), "--name", "x",
                 "--quality", "1", "--force"]) == 1
    assert "which the export builds on" in capsys.readouterr().err
    assert (zoo_dir / "tiny-ms.pt").read_bytes() == before
    zoo._CACHE.clear()


def test_warm_start_takes_cc_from_one_file_and_the_rest_from_init(tiny_zoo, tmp_path, capsys):
    """`dependents` after an image stage: `--warm` an older channel-context model (saved whole),
    `--init` the new parent. The run starts with the old cc networks and the new parent's
    transforms; its export records both files and counts the stages that trained those cc
    networks."""
    from codec_lib.cli import main
    parent = zoo.load_model("tiny-ms", 1)
    old = ChannelContextHyperprior.from_parent(
        MeanScaleHyperprior(parent.N, parent.M).eval(), slices=6)   # another parent's transforms
    _perturb(old)                                   # and cc networks that are not at zero
    warm = tmp_path / "cc-warm.pt"
    kept = {"file": "tiny-cc.pt", "sha256": "0" * 64,      # as cpu_stage.sh install keeps it
            "cc_stages": [{"command": "codec-lib train --arch channel-context", "steps": 5}]}
    zoo.save_checkpoint(old, warm, "tiny-cc", 1, 0.01, meta={"kept_from": kept})
    run = tmp_path / "run"
    assert main(["train", "--arch", "channel-context", "--N", str(parent.N), "--M", str(parent.M),
                 "--lmbda", "0.01", "--steps", "1", "--batch-size", "2", "--crop", "64",
                 "--lr", "1e-12", "--trainable", "cc", "--warm", str(warm),
                 "--init", str(tiny_zoo / "tiny-ms.pt"), "--out", str(run)]) == 0
    got = torch.load(run / "last.pt", weights_only=False)["model"]
    theirs, before = parent.state_dict(), zoo.load_checkpoint(warm).state_dict()
    for k, v in got.items():
        ref = before[k] if k.startswith("cc.") else theirs[k]
        assert torch.allclose(v.float(), ref.float(), atol=1e-6), k
    assert any(before[k].abs().sum() > 0 for k in got if k.startswith("cc."))
    assert main(["export", str(run), str(tmp_path / "cc.pt"), "--name", "tiny-cc",
                 "--quality", "1"]) == 0
    assert "changes to the installed 'tiny-ms' q1" in capsys.readouterr().out
    t = torch.load(tmp_path / "cc.pt", weights_only=True)["meta"]["training"]
    assert t["warm"] == {"file": "cc-warm.pt", "sha256": zoo.sha256_file(warm), "kept_from": kept}
    lined = tmp_path / "lined.pt"          # a parent with a lineage: the kept stages count too
    zoo.save_checkpoint(parent, lined, "tiny-ms", 1, 0.01,
                        meta={"training": {"stages": [{"steps": 20, "wall_s": 2.0}]}})
    training = zoo.lineage(lined, {"steps": 1, "wall_s": 0.5, "init": t["init"]},
                           t["warm"]["kept_from"]["cc_stages"])
    assert [s["steps"] for s in training["stages"]] == [20, 5, 1]
    assert training["total_steps"] == 26 and t["warm"]["kept_from"] == kept
    assert t["init"]["sha256"] == zoo.sha256_file(tiny_zoo / "tiny-ms.pt")
