from nodepacks import sdk
from workers.runtime.codecs import decode_ui, encode_ui
from workers.runtime.media import content_type_for


def test_ui_files_survive_the_cache_codec_as_blobs() -> None:
    video = sdk.MediaFile(b"\x00\x00\x00\x18ftypmp42", "mp4", "video")
    audio = sdk.MediaFile(b"fLaC....", "flac", "audio")
    encoded = encode_ui(sdk.UI(files=[video, audio], saved=True, filename_prefix="v"))
    assert {f["kind"] for f in encoded.data["files"]} == {"video", "audio"}
    assert set(encoded.blobs.values()) >= {video.data, audio.data}
    decoded = decode_ui(encoded.data, encoded.blobs.__getitem__)
    assert list(decoded.files) == [video, audio]
    assert decoded.saved and not decoded.is_empty()


def test_a_ui_encoded_before_files_existed_decodes_without_them() -> None:
    encoded = encode_ui(sdk.UI(text=["hi"]))
    assert "files" not in encoded.data
    assert list(decode_ui(encoded.data, encoded.blobs.__getitem__).files) == []


def test_content_types_of_media_formats() -> None:
    assert content_type_for("mp4") == "video/mp4"
    assert content_type_for(".FLAC") == "audio/flac"
    assert content_type_for("webp") == "image/webp"
    assert content_type_for("xyz") == "application/octet-stream"
