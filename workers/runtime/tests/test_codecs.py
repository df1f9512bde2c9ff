"""Round trips of every value type through the storage codec, and the values it refuses."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from nodepacks.sdk import UI
from nodepacks.sdk.types import Audio, Mesh, Video
from workers.runtime.codecs import (
    INLINE_JSON_BYTES,
    EncodedValue,
    Unencodable,
    decode_ui,
    decode_value,
    encode_ui,
    encode_value,
    sha256_hex,
    ui_png_blobs,
)


def round_trip(type_name: str, value: Any) -> tuple[Any, EncodedValue]:
    encoded = encode_value(type_name, value)
    # What is persisted is JSON plus blobs: go through real JSON to catch anything that would not survive.
    data = json.loads(json.dumps(encoded.data, allow_nan=False))
    return decode_value(data, encoded.blobs.__getitem__), encoded


def assert_same_array(a: Any, b: Any) -> None:
    assert type(b) is np.ndarray
    assert a.dtype == b.dtype and a.dtype.str == b.dtype.str
    assert a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("INT", 42),
        ("INT", -(2**70)),
        ("FLOAT", 0.1),
        ("FLOAT", -0.0),
        ("STRING", "héllo\nworld"),
        ("STRING", ""),
        ("BOOLEAN", True),
        ("BOOLEAN", False),
        ("JSON", {"a": [1, 2.5, None, {"b": "c"}], "t": True}),
        ("JSON", [1, "x"]),
        ("ANY", None),
    ],
)
def test_primitives_and_json_stay_inline_and_keep_their_python_types(type_name: str, value: Any) -> None:
    decoded, encoded = round_trip(type_name, value)
    assert encoded.blobs == {}
    assert decoded == value
    assert type(decoded) is type(value)
    assert encoded.data["type"] == type_name


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_round_trip_without_invalid_json(value: float) -> None:
    decoded, encoded = round_trip("FLOAT", value)
    assert type(decoded) is float
    assert repr(decoded) == repr(value)


def test_large_json_goes_to_a_blob() -> None:
    value = {"text": "x" * (INLINE_JSON_BYTES + 10)}
    decoded, encoded = round_trip("JSON", value)
    assert decoded == value
    assert len(encoded.blobs) == 1
    assert "v" not in encoded.data


def test_image_and_mask_arrays_are_npy_blobs() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((2, 5, 7, 3), dtype=np.float32)
    mask = rng.random((2, 5, 7), dtype=np.float32)
    for type_name, array in (("IMAGE", image), ("MASK", mask)):
        decoded, encoded = round_trip(type_name, array)
        assert_same_array(array, decoded)
        (sha,) = encoded.blobs
        assert sha == sha256_hex(encoded.blobs[sha])
        assert encoded.blobs[sha].startswith(b"\x93NUMPY")
        assert encoded.data["shape"] == list(array.shape)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=">f8").reshape(3, 4),
        np.arange(12, dtype=">i4").reshape(2, 3, 2),
        np.arange(6, dtype="<u2"),
        np.zeros((0, 4, 4, 3), dtype=np.float32),
        np.array(3.5, dtype=np.float16),
        np.asfortranarray(np.arange(20, dtype=np.int64).reshape(4, 5)),
        np.arange(24, dtype=np.float32).reshape(4, 6)[::2, ::3],
        np.array([True, False]),
        np.array([1 + 2j], dtype=np.complex128),
        np.array(["ab", "c"]),
        np.array([(1, 2.0)], dtype=[("a", ">i2"), ("b", "<f4")]),
    ],
    ids=lambda a: f"{a.dtype.str}-{a.shape}",
)
def test_arrays_keep_dtype_byte_order_and_shape(array: np.ndarray) -> None:
    decoded, _ = round_trip("IMAGE", array)
    assert_same_array(array, decoded)
    if array.flags.f_contiguous and not array.flags.c_contiguous:
        assert decoded.flags.f_contiguous


def test_equal_arrays_give_the_same_blob() -> None:
    a = encode_value("IMAGE", np.ones((1, 4, 4, 3), np.float32))
    b = encode_value("IMAGE", np.ones((1, 4, 4, 3), np.float32))
    assert a.blobs.keys() == b.blobs.keys()


@pytest.mark.parametrize("value", [np.float32(0.1), np.int64(-7), np.bool_(True), np.float64("nan")])
def test_numpy_scalars_keep_their_dtype(value: Any) -> None:
    decoded, encoded = round_trip("FLOAT", value)
    assert encoded.blobs == {}
    assert type(decoded) is type(value)
    assert repr(decoded) == repr(value)


def test_audio_round_trip() -> None:
    audio = Audio(samples=np.linspace(-1, 1, 200, dtype=np.float32).reshape(2, 100), sample_rate=22050)
    decoded, encoded = round_trip("AUDIO", audio)
    assert type(decoded) is Audio
    assert_same_array(audio.samples, decoded.samples)
    assert decoded.sample_rate == 22050 and type(decoded.sample_rate) is int
    assert len(encoded.blobs) == 1


@pytest.mark.parametrize("with_audio", [True, False])
def test_video_round_trip(with_audio: bool) -> None:
    audio = Audio(np.zeros((1, 50), dtype=">f4"), 8000) if with_audio else None
    video = Video(frames=np.full((3, 4, 5, 3), 0.25, np.float32), fps=23.976, audio=audio)
    decoded, _ = round_trip("VIDEO", video)
    assert type(decoded) is Video
    assert_same_array(video.frames, decoded.frames)
    assert decoded.fps == 23.976
    if with_audio:
        assert video.audio is not None and decoded.audio is not None
        assert_same_array(video.audio.samples, decoded.audio.samples)
        assert decoded.audio.sample_rate == 8000
    else:
        assert decoded.audio is None


@pytest.mark.parametrize("with_colors", [True, False])
def test_mesh_round_trip(with_colors: bool) -> None:
    mesh = Mesh(
        vertices=np.arange(12, dtype=np.float32).reshape(4, 3),
        faces=np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32),
        colors=np.ones((4, 3), np.float32) if with_colors else None,
    )
    decoded, _ = round_trip("MESH", mesh)
    assert type(decoded) is Mesh
    assert_same_array(mesh.vertices, decoded.vertices)
    assert_same_array(mesh.faces, decoded.faces)
    if with_colors:
        assert mesh.colors is not None
        assert_same_array(mesh.colors, decoded.colors)
    else:
        assert decoded.colors is None


def test_media_blobs_are_deterministic() -> None:
    mesh = Mesh(np.zeros((3, 3), np.float32), np.zeros((1, 3), np.int32))
    assert encode_value("MESH", mesh).blobs.keys() == encode_value("MESH", mesh).blobs.keys()


def test_lists_tuples_and_dicts_of_arrays_round_trip() -> None:
    value = {
        "samples": np.ones((1, 4, 8, 8), np.float16),
        "batch_index": [0, 1],
        "pair": (1, "a"),
        "nested": [{"x": np.int8(3)}, None, float("inf")],
    }
    decoded, _ = round_trip("MYPACK.LATENT", value)
    assert list(decoded) == list(value)
    assert_same_array(value["samples"], decoded["samples"])
    assert decoded["pair"] == (1, "a") and type(decoded["pair"]) is tuple
    assert decoded["batch_index"] == [0, 1]
    assert decoded["nested"][0]["x"] == np.int8(3) and type(decoded["nested"][0]["x"]) is np.int8
    assert decoded["nested"][2] == float("inf")


def test_list_of_images_round_trip() -> None:
    images = [np.zeros((1, 2, 2, 3), np.float32), np.ones((1, 3, 3, 3), np.float32)]
    decoded, encoded = round_trip("LIST[IMAGE]", images)
    assert len(encoded.blobs) == 2
    for a, b in zip(images, decoded, strict=True):
        assert_same_array(a, b)


def test_bytes_round_trip() -> None:
    decoded, encoded = round_trip("MYPACK.RAW", b"\x00\x01binary")
    assert decoded == b"\x00\x01binary"
    assert len(encoded.blobs) == 1


class Opaque:
    pass


class MyDict(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    "value",
    [
        Opaque(),
        np.array([Opaque(), 1], dtype=object),
        np.array([{"a": 1}], dtype=object),
        np.array([(1, None)], dtype=[("a", "i4"), ("b", "O")]),
        {1: "int key"},
        MyDict(a=1),
        {"ok": 1, "bad": Opaque()},
        [1, 2, {3, 4}],
        np.ma.masked_array([1, 2], mask=[False, True]),
        Audio(samples=[0.0, 1.0], sample_rate=8000),  # type: ignore[arg-type]
        lambda: None,
    ],
    ids=lambda v: type(v).__name__,
)
def test_values_that_cannot_be_stored_safely_are_refused(value: Any) -> None:
    with pytest.raises(Unencodable):
        encode_value("MYPACK.THING", value)


def test_deep_nesting_is_refused() -> None:
    value: Any = np.zeros(1)
    for _ in range(100):
        value = [value]
    with pytest.raises(Unencodable):
        encode_value("ANY", value)


def test_decoding_refuses_pickled_object_arrays() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([Opaque()], dtype=object), allow_pickle=True)
    data = buffer.getvalue()
    sha = sha256_hex(data)
    with pytest.raises(ValueError):
        decode_value({"k": "ndarray", "sha": sha}, {sha: data}.__getitem__)


def test_missing_blob_error_reaches_the_caller() -> None:
    encoded = encode_value("IMAGE", np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(KeyError):
        no_blobs: dict[str, bytes] = {}
        decode_value(encoded.data, no_blobs.__getitem__)


def test_ui_round_trip_is_lossless_and_has_a_png_per_frame() -> None:
    rng = np.random.default_rng(1)
    batch = rng.random((2, 6, 5, 3), dtype=np.float32)
    mask = rng.random((1, 6, 5), dtype=np.float32)
    ui = UI(
        images=[batch, mask],
        text=["hello", "world"],
        data={"score": 0.5, "hist": np.arange(3)},
        saved=True,
        filename_prefix="out/run",
    )
    encoded = encode_ui(ui)
    data = json.loads(json.dumps(encoded.data))
    decoded = decode_ui(data, encoded.blobs.__getitem__)
    assert len(decoded.images) == 2
    assert_same_array(batch, decoded.images[0])
    assert_same_array(mask, decoded.images[1])
    assert list(decoded.text) == ["hello", "world"]
    assert decoded.data["score"] == 0.5
    assert_same_array(np.arange(3), decoded.data["hist"])
    assert decoded.saved is True and decoded.filename_prefix == "out/run"

    pngs = ui_png_blobs(data)
    assert [len(frames) for frames in pngs] == [2, 1]
    first = PILImage.open(io.BytesIO(encoded.blobs[pngs[0][0]]))
    assert first.format == "PNG" and first.size == (5, 6) and first.mode == "RGB"
    assert PILImage.open(io.BytesIO(encoded.blobs[pngs[1][0]])).mode == "L"


def test_empty_ui_round_trip() -> None:
    encoded = encode_ui(UI())
    decoded = decode_ui(encoded, encoded.blobs.__getitem__)
    assert decoded.is_empty() and encoded.blobs == {}


def test_ui_with_non_image_array_keeps_the_array_without_png() -> None:
    odd = np.zeros((2, 3, 4, 7), np.float32)
    encoded = encode_ui(UI(images=[odd]))
    assert ui_png_blobs(encoded.data) == [[]]
    assert_same_array(odd, decode_ui(encoded, encoded.blobs.__getitem__).images[0])


def test_ui_with_unstorable_data_is_refused() -> None:
    with pytest.raises(Unencodable):
        encode_ui(UI(data={"x": Opaque()}))


def test_encoded_size_counts_blobs_and_json() -> None:
    encoded = encode_value("IMAGE", np.zeros((1, 8, 8, 3), np.float32))
    assert encoded.size > 8 * 8 * 3 * 4


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        2**1024 - 1,  # the last int the scalar shortcut takes
        2**1024,  # past it: the general walk
        -(2**1100),
        10**5000,  # more digits than Python converts to text: refused the same way on both paths
        0.5,
        -0.0,
        1e308,
        float("nan"),
        float("inf"),
        "",
        "plain text",
        "\x00\x1f control characters",
        "x" * (INLINE_JSON_BYTES // 6 - 1),  # the longest str the shortcut takes
        "x" * (INLINE_JSON_BYTES // 6),
        "x" * (INLINE_JSON_BYTES + 1),  # past the inline limit: a blob
        "\x01" * (INLINE_JSON_BYTES // 6 + 1),  # six bytes a character in JSON: a blob
        "non-ASCII é 🎉",
        "\ud800 lone surrogate",
    ],
    ids=lambda value: type(value).__name__,
)
def test_the_scalar_shortcut_encodes_exactly_as_the_general_walk(value: Any) -> None:
    from workers.runtime.codecs import _Encoder

    def general() -> EncodedValue:
        encoder = _Encoder()
        data = encoder.encode(value, 0)
        data["type"] = "ANY"
        return EncodedValue(data, encoder.blobs)

    try:
        expected = general()
    except Exception as exc:
        with pytest.raises(type(exc)):
            encode_value("ANY", value)
        return
    encoded = encode_value("ANY", value)
    assert json.dumps(encoded.data) == json.dumps(expected.data)  # same keys, order and values
    assert [type(v) for v in encoded.data.values()] == [type(v) for v in expected.data.values()]
    assert encoded.blobs == expected.blobs
