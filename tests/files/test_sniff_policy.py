"""What the file store accepts is decided by the content, not by the name or the client's type."""

from __future__ import annotations

import pytest

from bot.files import FilePolicy, FileRefused, safe_name, serving_headers, sniff
from bot.settings import FilesSettings
from tests.helpers import files


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (files.png(), "image/png"),
        (files.JPEG_HEAD, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 8, "image/heic"),
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 8, "video/mp4"),
        (b"OggS\x00\x02" + b"\x00" * 20, "audio/ogg"),
        (files.PDF, "application/pdf"),
        (files.docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (files.plain_zip(), "application/zip"),
        (files.TEXT, "text/plain"),
        (files.HTML, "text/html"),
        (b"\xef\xbb\xbf<p>hi</p>", "text/html"),
        (files.SVG, "image/svg+xml"),
        (files.BARE_SVG, "image/svg+xml"),
        (files.EXE, "application/x-executable"),
        (files.ELF, "application/x-executable"),
        (files.SCRIPT, "application/x-executable"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
    ],
)
def test_the_type_comes_from_the_first_bytes(data: bytes, mime: str) -> None:
    assert sniff(data) == mime


def test_text_that_mentions_a_tag_later_is_still_text() -> None:
    assert sniff("Мой заказ: <b>не пришёл</b>".encode()) == "text/plain"
    assert sniff(b"<bogus> is not a tag the standard lists") == "text/plain"


POLICY = FilePolicy(FilesSettings())


@pytest.mark.parametrize(
    ("data", "claimed"),
    [
        (files.HTML, "photo.jpg"),
        (files.SVG, "logo.png"),
        (files.EXE, "invoice.pdf"),
        (files.SCRIPT, "notes.txt"),
        (b"\x00\x01binary", "data.bin"),
        (files.plain_zip(), "photos.zip"),  # not in the default list
    ],
)
def test_the_policy_refuses_what_a_browser_would_run_or_is_not_listed(data: bytes, claimed: str) -> None:
    with pytest.raises(FileRefused):
        POLICY.check(data, claimed)


def test_a_name_cannot_carry_a_path_or_a_misleading_extension() -> None:
    png = files.png()
    assert POLICY.check(png, "../../etc/passwd").name == "passwd.png"
    assert POLICY.check(png, "C:\\Windows\\evil.html").name == "evil.html.png"
    assert POLICY.check(png, "фото.JPEG").name == "фото.JPEG.png"
    assert POLICY.check(files.JPEG_HEAD, "фото.JPEG").name == "фото.JPEG"
    assert POLICY.check(png, "\u202eexe.png\x00").name == "exe.png"
    assert POLICY.check(png, None).name == "file.png"
    assert len(safe_name("a" * 500 + ".pdf", "application/pdf")) == 120
    assert safe_name("a" * 500 + ".pdf", "application/pdf").endswith(".pdf")


def test_the_allowed_list_is_config_yml_s_but_never_includes_markup() -> None:
    only_pdf = FilePolicy(FilesSettings(allowed_types=["application/pdf"]))
    assert only_pdf.check(files.PDF, "a.pdf").mime == "application/pdf"
    with pytest.raises(FileRefused):
        only_pdf.check(files.png(), "a.png")
    with pytest.raises(ValueError, match="never accepted"):
        FilesSettings(allowed_types=["text/html"])
    with pytest.raises(ValueError, match="never accepted"):
        FilesSettings(allowed_types=["image/svg+xml"])


def test_only_raster_images_are_served_inline_and_nothing_is_run() -> None:
    image = serving_headers("чек.png", "image/png")
    assert image["Content-Disposition"].startswith("inline;")
    assert "filename*=UTF-8''%D1%87%D0%B5%D0%BA.png" in image["Content-Disposition"]
    pdf = serving_headers('a"b.pdf', "application/pdf")
    assert pdf["Content-Disposition"].startswith("attachment;")
    assert 'filename="a\'b.pdf"' in pdf["Content-Disposition"]
    for headers in (image, pdf):
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in headers["Content-Security-Policy"]
