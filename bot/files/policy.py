"""What may be stored and how it may be served: the size limit, the allowed types, safe names.

``FilePolicy.check`` looks at the content itself (``bot.files.sniff``): the type a client
claims and the name's extension are ignored for the decision. Executables, HTML, SVG and
XML are refused whatever ``files.allowed_types`` says (config.yml cannot list them), and
only raster images are ever served ``inline``: everything else is a download
(``Content-Disposition: attachment``), and every response carries ``nosniff`` and a CSP
``sandbox`` (``serving_headers``), so the browser never runs what a customer sent.
"""

from __future__ import annotations

import mimetypes
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

from bot.files.base import FileRefused
from bot.files.sniff import EXECUTABLE, sniff
from bot.settings import NEVER_STORED_TYPES, FilesSettings

INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
"""Shown in the page (``<img>``); every other type is offered as a download."""

MAX_NAME_CHARS = 120
UPLOAD_MARGIN = 256 * 1024
"""How far past ``files.max_bytes`` the server's body guard lets an upload route read: the route
itself refuses a file over the limit, in the reader's language; the guard stays the backstop."""
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "application/gzip": ".gz",
}
SAME_EXTENSIONS = {
    ".jpg": {".jpeg", ".jpe", ".jfif"},
    ".txt": {".log", ".csv", ".md"},
    ".ogg": {".oga", ".opus"},
}


@dataclass(frozen=True)
class Checked:
    """Content that passed the policy: its sniffed type and the name to keep it under."""

    mime: str
    name: str


class FilePolicy:
    """config.yml's ``files`` limits, applied to content (see the module docstring).

    Args:
        settings: ``files`` from config.yml (``max_bytes``, ``allowed_types``).
    """

    def __init__(self, settings: FilesSettings) -> None:
        self.max_bytes = settings.max_bytes
        self.allowed = frozenset(settings.allowed_types) - NEVER_STORED_TYPES

    def check(self, data: bytes, name: str | None) -> Checked:
        """The sniffed type and a safe name for ``data``; ``FileRefused`` when the type is not allowed.

        Example::

            checked = policy.check(b"\\x89PNG\\r\\n\\x1a\\n...", "receipt.html")
            assert checked == Checked("image/png", "receipt.html.png")
        """
        mime = sniff(data)
        if mime == EXECUTABLE:
            raise FileRefused("programs and scripts are not accepted", mime)
        if mime in NEVER_STORED_TYPES:
            raise FileRefused("web pages, SVG and XML files are not accepted", mime)
        if mime not in self.allowed:
            raise FileRefused(f"files of this type ({mime}) are not accepted", mime)
        return Checked(mime, safe_name(name, mime))


def safe_name(name: str | None, mime: str) -> str:
    """A name to show and to offer for download: no directories, no control characters, an
    extension that matches the content (``photo.html`` holding a PNG becomes ``photo.html.png``)."""
    raw = unicodedata.normalize("NFC", name or "")
    raw = PureWindowsPath(PurePosixPath(raw).name).name  # "../../x", "C:\\x" -> "x"
    cleaned = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C").strip(" .")
    extension = EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ""
    stem = cleaned or "file"
    current = PurePosixPath(stem).suffix.lower()
    if extension and current != extension and current not in SAME_EXTENSIONS.get(extension, ()):
        stem = f"{stem}{extension}"
    if len(stem) > MAX_NAME_CHARS:
        keep = MAX_NAME_CHARS - len(extension)
        stem = stem[:keep] + extension if extension else stem[:MAX_NAME_CHARS]
    return stem


def is_inline(mime: str) -> bool:
    """Whether a page may show the file itself (raster images only)."""
    return mime in INLINE_TYPES


def serving_headers(name: str, mime: str) -> dict[str, str]:
    """Headers for serving a stored file: never sniffed, never run, never cached by others.

    ``Content-Disposition`` is ``inline`` only for raster images; the CSP ``sandbox`` makes
    even a file opened directly a page without scripts, forms or an origin.
    """
    disposition = "inline" if is_inline(mime) else "attachment"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "_") or "file"
    return {
        "Content-Disposition": (
            f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, no-cache",
        "Referrer-Policy": "no-referrer",
    }
