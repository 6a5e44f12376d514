"""A file's type from its first bytes, never from the name or the type a client claims.

The signatures are those of the WHATWG MIME Sniffing Standard (images, audio and video,
archives) and of the formats' own specifications (PDF, OOXML and OpenDocument inside a ZIP
container, ISO BMFF ``ftyp`` brands). Only what botdesk may accept or must refuse is
recognised: an allow-list of a dozen types needs no general-purpose database, and a
smaller table is one that can be read and tested whole. Content that a browser would run
is named so it can be refused, whatever it is called: HTML (the standard's list of tags
that make a document HTML), SVG and XML, Windows/Linux/macOS executables and ``#!``
scripts. Anything else is ``application/octet-stream``.
"""

from __future__ import annotations

import io
import zipfile

OCTET_STREAM = "application/octet-stream"
EXECUTABLE = "application/x-executable"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"OggS\x00", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
    (b"\x1f\x8b\x08", "application/gzip"),
    (b"MZ", EXECUTABLE),  # Windows PE / DOS
    (b"\x7fELF", EXECUTABLE),
    (b"\xfe\xed\xfa\xce", EXECUTABLE),  # Mach-O, both byte orders, 32 and 64 bits
    (b"\xfe\xed\xfa\xcf", EXECUTABLE),
    (b"\xce\xfa\xed\xfe", EXECUTABLE),
    (b"\xcf\xfa\xed\xfe", EXECUTABLE),
    (b"\xca\xfe\xba\xbe", EXECUTABLE),  # Mach-O universal (and Java classes: not wanted either)
    (b"#!", EXECUTABLE),
)
_FTYP_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heic",
    b"qt  ": "video/quicktime",
}
# The WHATWG standard's "tags terminated by a space or '>'" that make a resource HTML.
_HTML_TAGS = (
    b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div", b"<font",
    b"<table", b"<a", b"<style", b"<title", b"<b", b"<body", b"<br", b"<p", b"<!--",
)  # fmt: skip
_TEXT_CONTROLS = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}


def sniff(data: bytes) -> str:
    """The media type of ``data`` (the whole file, or at least its first 4 KiB for most types).

    Returns:
        e.g. ``image/png``, ``text/plain``, ``text/html``, ``image/svg+xml``,
        ``application/x-executable``, or ``application/octet-stream`` when unknown.
    """
    for prefix, mime in _PREFIXES:
        if data.startswith(prefix):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(data[8:12], "video/mp4")
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06:
        return "audio/mpeg"  # an MPEG audio frame header (MP3 without ID3)
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    return _text_kind(data)


def _zip_kind(data: bytes) -> str:
    """OOXML / OpenDocument / plain ZIP, from the archive's directory (names only: nothing is unpacked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared in (
                    "application/vnd.oasis.opendocument.text",
                    "application/vnd.oasis.opendocument.spreadsheet",
                ):
                    return declared
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        return OCTET_STREAM
    if "[Content_Types].xml" in names:
        tops = {name.split("/", 1)[0] for name in names}
        for top, mime in (("word", DOCX), ("xl", XLSX), ("ppt", PPTX)):
            if top in tops:
                return mime
    return "application/zip"


def _text_kind(data: bytes) -> str:
    """Plain text (UTF-8, no binary control bytes), unless it is markup a browser would render."""
    head = data[:4096]
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    stripped = body.lstrip(b" \t\n\r\x0c").lower()
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<svg"):
        return "image/svg+xml" if b"<svg" in data[:65536].lower() else "text/xml"
    for tag in _HTML_TAGS:
        if stripped.startswith(tag) and (
            len(stripped) == len(tag) or stripped[len(tag)] in b" >" or tag == b"<!--"
        ):
            return "text/html"
    if not body or any(byte in _TEXT_CONTROLS for byte in body):
        return OCTET_STREAM
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(body) - 3:  # a character cut at the 4 KiB boundary is fine
            return OCTET_STREAM
    return "text/plain"
