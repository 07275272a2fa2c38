"""The checkpoint file leaves out the Gaussian tables every mean-scale model shares (codec_lib.zoo)."""
import pytest
import torch

from codec_lib import zoo
from codec_lib.entropy_models import default_scale_table
from codec_lib.errors import ModelError
from codec_lib.data import to_tensor
from codec_lib.models import build_model


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("mean-scale", 16, 24).eval()


def test_default_gaussian_tables_are_left_out_and_rebuilt(tmp_path, photos):
    model, without, stored = _model(), tmp_path / "without.pt", tmp_path / "stored.pt"
    zoo.save_checkpoint(model, without, "t", 1, 0.01)
    obj = torch.load(without, weights_only=True)
    assert not any(k.startswith("gaussian_conditional._") for k in obj["state_dict"])
    assert "entropy_bottleneck._quantized_cdf" in obj["state_dict"]   # learned: still stored
    obj["state_dict"] = zoo._pack_state(model, keep_default_tables=True)   # as older files are
    torch.save(obj, stored)
    assert stored.stat().st_size - without.stat().st_size > 200_000
    a, b = zoo.load_checkpoint(stored), zoo.load_checkpoint(without)
    assert zoo.weights_hash(a) == zoo.weights_hash(b)
    x = to_tensor(photos[0][1])[..., :96, :128]                      # (1, 3, 96, 128)
    assert a.compress(x)["strings"] == b.compress(x)["strings"]


def test_other_table_integers_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    zoo.save_checkpoint(_model(), path, "t", 1, 0.01)
    monkeypatch.setattr(zoo, "DEFAULT_GAUSSIAN_TABLES_SHA256", "0" * 64)
    zoo._default_gaussian_tables.cache_clear()
    try:
        with pytest.raises(ModelError, match="other Gaussian probability tables"):
            zoo.load_checkpoint(path)
        kept = tmp_path / "kept.pt"                   # saved there, a file keeps its own tables
        zoo.save_checkpoint(_model(), kept, "t", 1, 0.01)
        assert "gaussian_conditional._quantized_cdf" in torch.load(kept, weights_only=True)["state_dict"]
        zoo.load_checkpoint(kept)
    finally:
        zoo._default_gaussian_tables.cache_clear()


def test_tables_of_another_scale_table_are_stored(tmp_path):
    model, path = _model(), tmp_path / "m.pt"
    model.gaussian_conditional.scale_table = default_scale_table(levels=64)
    zoo.save_checkpoint(model, path, "t", 1, 0.01)
    obj = torch.load(path, weights_only=True)
    assert "gaussian_conditional._quantized_cdf" in obj["state_dict"]
    loaded = zoo.load_checkpoint(path).gaussian_conditional
    assert torch.equal(loaded._quantized_cdf, model.gaussian_conditional._quantized_cdf)
    del obj["state_dict"]["gaussian_conditional._quantized_cdf"]
    torch.save(obj, path)
    with pytest.raises(ModelError, match="lacks the probability tables"):
        zoo.load_checkpoint(path)


def _last_bit_off(t: torch.Tensor) -> torch.Tensor:
    """``t`` with the last bit of every 37th float32 flipped, as another PyTorch build's exp gives."""
    bits = t.clone().view(torch.int32)
    bits[::37] ^= 1
    return bits.view(torch.float32)


def test_a_scale_table_off_in_the_last_bit_still_gets_the_default_tables(tmp_path):
    model, path = _model(), tmp_path / "m.pt"
    zoo.save_checkpoint(model, path, "t", 1, 0.01)           # tables left out
    obj = torch.load(path, weights_only=True)
    st = obj["state_dict"]["gaussian_conditional.scale_table"]
    obj["state_dict"]["gaussian_conditional.scale_table"] = off = _last_bit_off(st)
    assert not torch.equal(off, st)
    torch.save(obj, path)
    loaded = zoo.load_checkpoint(path).gaussian_conditional
    assert torch.equal(loaded.scale_table, off)                # the file's own scales, kept
    assert torch.equal(loaded._quantized_cdf, model.gaussian_conditional._quantized_cdf)
    obj["state_dict"]["gaussian_conditional.scale_table"] = st * 1.001     # truly other scales
    torch.save(obj, path)
    with pytest.raises(ModelError, match="lacks the probability tables"):
        zoo.load_checkpoint(path)


def test_load_weights_and_init_from_skip_the_tables(tmp_path, monkeypatch):
    from codec_lib.train import init_from
    model, path = _model(), tmp_path / "m.pt"
    zoo.save_checkpoint(model, path, "t", 1, 0.01)
    default = zoo._default_gaussian_tables()
    other = {**default, "scale_table": default["scale_table"] * 1.001}  # a machine that cannot
    monkeypatch.setattr(zoo, "_default_gaussian_tables", lambda: other)  # rebuild the tables
    with pytest.raises(ModelError, match="lacks the probability tables"):
        zoo.load_checkpoint(path)
    sd = zoo.load_weights(path)
    assert not any(k.startswith("gaussian_conditional.") and k.endswith(zoo.TABLE_KEYS) for k in sd)
    assert "entropy_bottleneck._quantized_cdf" in sd             # stored tables come along
    fresh = build_model("mean-scale", 16, 24)
    assert init_from(fresh, str(path), verbose=False) == []    # every weight copied
    for k, v in fresh.state_dict().items():
        if not k.startswith("gaussian_conditional._") and k != "gaussian_conditional.scale_table":
            want = model.state_dict()[k]
            half = v.is_floating_point() and not k.endswith("scale_bound")   # kept exact
            assert torch.equal(v, want.half().float() if half else want), k
    eb = fresh.entropy_bottleneck                  # its loaded tables belong to its weights:
    before = eb._quantized_cdf.clone()             # nothing rebuilds them (a machine whose floats
    fresh.update_tables()                          # differ would build other integers)
    assert eb._quantized_cdf is not None and torch.equal(eb._quantized_cdf, before)
    assert eb._tables_key == eb._key()
