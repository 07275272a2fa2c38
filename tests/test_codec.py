"""Images to files and back: mode policy, determinism, and every way a file can be bad."""
import numpy as np
import pytest
import skimage.data
from PIL import Image

from codec_lib import zoo
from codec_lib.bitstream import BitstreamError, Header, describe, pack, unpack
from codec_lib.codec import decode_image, encode_image
from codec_lib.errors import ModelError


@pytest.fixture
def model(tiny_zoo):
    return zoo.load_model("tiny-ms")


def roundtrip(img, model):
    enc = encode_image(img, model)
    dec = decode_image(enc.data)                       # the model is found from the header
    assert dec.tobytes() == enc.x_hat.tobytes()        # encoder's and decoder's pixels agree
    assert dec.size == img.size
    return enc, dec


def test_rgb_and_decode_twice(model, photos):
    _, img = photos[1]
    enc, dec = roundtrip(img, model)
    assert dec.mode == "RGB" and enc.header.mode == "RGB"
    assert decode_image(enc.data).tobytes() == dec.tobytes()


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (65, 129)])
def test_odd_sizes(model, photos, size):
    img = photos[0][1].crop((0, 0, *size))
    roundtrip(img, model)


def test_grayscale_and_16bit(model):
    gray = Image.fromarray(skimage.data.camera())
    enc, dec = roundtrip(gray, model)
    assert dec.mode == "L" and enc.header.bit_depth == 8
    g16 = Image.fromarray(skimage.data.camera().astype(np.uint16) * 257)
    assert g16.mode.startswith("I;16")
    enc16, dec16 = roundtrip(g16, model)
    assert enc16.header.bit_depth == 16 and dec16.mode == "L"
    assert dec16.tobytes() == dec.tobytes()            # 16-bit reduces exactly to the 8-bit image


def test_alpha_is_lossless(model):
    rgba = Image.fromarray(skimage.data.logo())        # RGBA with real transparency
    enc, dec = roundtrip(rgba, model)
    assert dec.mode == "RGBA"
    assert np.array_equal(np.asarray(dec)[..., 3], np.asarray(rgba)[..., 3])
    la = rgba.convert("LA")
    _, dla = roundtrip(la, model)
    assert dla.mode == "LA" and np.array_equal(np.asarray(dla)[..., 1], np.asarray(la)[..., 1])


def test_palette(model, photos):
    p = photos[2][1].convert("P")
    _, dec = roundtrip(p, model)
    assert dec.mode == "RGB"
    pt = p.copy()
    pt.info["transparency"] = 0
    _, dec_t = roundtrip(pt, model)
    assert dec_t.mode == "RGBA"


def test_header_fields(model, photos):
    name, img = photos[2]
    enc = encode_image(img, model)
    info = describe(enc.data)
    assert info["model"] == "tiny-ms" and info["quality"] == 1
    assert (info["width"], info["height"]) == img.size
    assert info["weights_hash"] == zoo.weights_hash(model).hex()
    assert info["bytes"] == len(enc.data)


def test_truncated_corrupted_foreign(model, photos):
    data = encode_image(photos[2][1], model).data
    for bad, reason in [(b"", "empty"), (data[:3], "magic"), (data[:-1], "checksum"),
                        (data[: len(data) // 2], "checksum"), (b"\x89PNG\r\n\x1a\n" + data[8:], "magic"),
                        (data + b"\x00", "checksum")]:
        with pytest.raises(BitstreamError, match=reason):
            decode_image(bad)
    for pos in (len(data) // 3, len(data) - 10, 30):        # any flipped bit is caught
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        with pytest.raises(BitstreamError):
            decode_image(bytes(flipped))


def test_version_and_header_sanity():
    h = Header("m", 1, b"\0" * 8, 10, 10)
    data = pack(h, [[b"abcd"]])
    assert unpack(data)[0] == h
    future = bytearray(data)
    future[4] = 99
    with pytest.raises(BitstreamError, match="version"):
        unpack(bytes(future))
    with pytest.raises(ValueError):
        Header("m", 1, b"\0" * 8, 0, 10)


def test_model_not_installed_or_other_weights(model, photos, tiny_zoo):
    img = photos[2][1]
    data = bytearray(encode_image(img, model).data)
    header, groups = unpack(bytes(data))
    other = pack(Header("no-such-model", 1, header.weights_hash, header.width, header.height), groups)
    with pytest.raises(ModelError, match="not installed"):
        decode_image(other)
    rehash = pack(Header("tiny-ms", 1, b"\1" * 8, header.width, header.height), groups)
    with pytest.raises(ModelError, match="other weights"):
        decode_image(rehash)
    with pytest.raises(ModelError, match="do not match"):
        decode_image(bytes(data), zoo.load_model("tiny-hp"))


def test_exif_orientation_and_size_limit(model, photos, monkeypatch):
    img = photos[2][1]                                  # 451x300
    exif = Image.Exif()
    exif[0x0112] = 6                                    # "rotate 90 degrees clockwise to view"
    import io
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    rotated = Image.open(buf)
    enc = encode_image(rotated, model)
    assert (enc.header.width, enc.header.height) == (300, 451)   # stored upright
    from codec_lib import codec as codec_module
    monkeypatch.setattr(codec_module, "MAX_PIXELS", 1000)
    with pytest.raises(Exception, match="too large"):
        encode_image(img, model)
    with pytest.raises(BitstreamError, match="above the limit"):
        decode_image(enc.data)
