"""What a file store is: the protocol every backend implements, and what it hands back.

A backend keeps bytes under an id it makes itself (random, never derived from anything a
client sent) and gives them back by that id. It knows nothing about customers, messages or
types: what may be stored, and who may read it, is decided above it (``bot.files.policy``
checks the content; ``bot.store.files`` keeps each file's row with its conversation and
message, which the routes check before serving). Backends are registered by name
(``bot.files.registry``) and chosen in config.yml's ``files.storage.backend``.

A minimal backend::

    @register_file_store
    class MemoryFileStore(FileStore):
        name = "memory"

        def __init__(self, options: FileStoreOptions, root: Path) -> None:
            super().__init__(options, root)
            self.blobs: dict[str, bytes] = {}

        async def _write(self, file_id: str, data: bytes, mime: str) -> None:
            self.blobs[file_id] = data

        async def _chunks(self, file_id: str) -> AsyncIterator[bytes]:
            if file_id not in self.blobs:
                raise FileMissing(file_id)
            yield self.blobs[file_id]

        async def delete(self, file_id: str) -> None:
            self.blobs.pop(check_file_id(file_id), None)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from bot.errors import BotdeskError

FILE_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
"""What an id looks like; anything else never reaches a backend (no path, no key from a client)."""

Data = bytes | AsyncIterable[bytes]
"""A file's content: whole, or as chunks (an upload being read)."""


class FileError(BotdeskError):
    """A file that cannot be stored or given back; ``str()`` is one sentence for the client."""


class FileTooLarge(FileError):
    """Over the size limit; found while reading, before anything was kept (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit} bytes")
        self.limit = limit


class FileRefused(FileError):
    """A type that is not accepted (executable, HTML, SVG, or not in ``files.allowed_types``): 415."""

    def __init__(self, message: str, mime: str | None = None) -> None:
        super().__init__(message)
        self.mime = mime


class FileMissing(FileError):
    """No file with this id in the store (deleted, or never there)."""

    def __init__(self, file_id: str) -> None:
        super().__init__(f"no stored file {file_id[:64]!r}")


@dataclass(frozen=True)
class StoredFile:
    """A kept file: its id (the only handle to it), the name to offer, the sniffed type, size, digest."""

    id: str
    name: str
    mime: str
    size: int
    sha256: str


def new_file_id() -> str:
    """A random id of 32 URL-safe characters (192 bits): not guessable, not derived from content.

    Content-addressed ids would let anyone who holds a file learn whether the shop has it,
    and one customer's deletion would remove another's copy.
    """
    return secrets.token_urlsafe(24)


def check_file_id(file_id: str) -> str:
    """The id, if it looks like one the store made; ``FileMissing`` otherwise (never a path)."""
    if not isinstance(file_id, str) or not FILE_ID.match(file_id):
        raise FileMissing(str(file_id))
    return file_id


async def read_limited(data: Data, limit: int) -> bytes:
    """The whole content, refusing it with ``FileTooLarge`` as soon as it passes ``limit`` bytes."""
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > limit:
            raise FileTooLarge(limit)
        return bytes(data)
    parts: list[bytes] = []
    size = 0
    async for chunk in data:
        size += len(chunk)
        if size > limit:
            raise FileTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)


class FileStoreOptions(BaseModel):
    """A backend's section of config.yml (``files.storage``, less ``backend``); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FileStore:
    """The base of every backend: ``put`` / ``open`` / ``read`` / ``delete`` by id.

    Subclasses set ``name`` and ``Options`` and implement ``_write``, ``_chunks`` and
    ``delete``; ``put`` makes the id, the size and the digest, so every backend agrees on them.
    The constructor does no I/O (``start`` may, e.g. make the directory or check the bucket).

    Args:
        options: the validated ``files.storage`` section.
        root: the project's directory (relative paths in options are relative to it).
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[FileStoreOptions]] = FileStoreOptions

    def __init__(self, options: FileStoreOptions, root: Path) -> None:
        self.options = options
        self.root = root

    async def start(self) -> None:
        """Get ready (make a directory, open a client); called once before the first ``put``."""

    async def close(self) -> None:
        """Release what ``start`` took."""

    async def put(self, data: Data, *, name: str, mime: str, limit: int | None = None) -> StoredFile:
        """Keep ``data`` under a new random id.

        Args:
            data: the content, whole or as async chunks.
            name: the file name to offer when it is downloaded (already made safe by the caller).
            mime: its type, as sniffed from the content (``bot.files.policy``), never the client's word.
            limit: the most bytes to accept (``FileTooLarge`` past it, nothing kept); None: no limit.

        Returns:
            The stored file's id, name, type, size and SHA-256.
        """
        content = await read_limited(data, limit if limit is not None else 1 << 62)
        file_id = new_file_id()
        await self._write(file_id, content, mime)
        return StoredFile(file_id, name, mime, len(content), hashlib.sha256(content).hexdigest())

    def open(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's content as chunks; ``FileMissing`` (on the first chunk) when it is not there."""
        return self._chunks(check_file_id(file_id))

    async def read(self, file_id: str) -> bytes:
        """The whole file (for small files: a photo sent on to Telegram)."""
        return b"".join([chunk async for chunk in self.open(file_id)])

    async def delete(self, file_id: str) -> None:
        """Remove the file; removing one that is not there is not an error."""
        raise NotImplementedError

    async def _write(self, file_id: str, data: bytes, mime: str) -> None:
        raise NotImplementedError

    def _chunks(self, file_id: str) -> AsyncIterator[bytes]:
        raise NotImplementedError
