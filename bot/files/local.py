"""The default backend: files in a directory (``files/`` beside config.yml, or ``files.storage.path``).

A file lives at ``<path>/<first two characters of its id>/<id>``; the id is the store's own
random one (``check_file_id`` refuses anything else before a path is built), so no name a
client chose ever becomes part of a path. Writes go to a temporary file in the same
directory first and are renamed into place, so a reader never sees half a file and a crash
leaves no file under a real id. Disk I/O runs in a worker thread: the event loop keeps
serving while a large file is written.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import Field

from bot.files.base import FileMissing, FileStore, FileStoreOptions, check_file_id
from bot.files.registry import register_file_store

CHUNK = 256 * 1024


class LocalOptions(FileStoreOptions):
    path: str = Field(default="files", min_length=1, description="Directory; relative to the project")


@register_file_store
class LocalFileStore(FileStore):
    """Files in a local directory (see the module docstring)."""

    name = "local"
    Options = LocalOptions

    @property
    def directory(self) -> Path:
        assert isinstance(self.options, LocalOptions)
        path = Path(self.options.path).expanduser()
        return path if path.is_absolute() else self.root / path

    def path_of(self, file_id: str) -> Path:
        file_id = check_file_id(file_id)
        return self.directory / file_id[:2] / file_id

    async def start(self) -> None:
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)

    async def _write(self, file_id: str, data: bytes, mime: str) -> None:
        await asyncio.to_thread(self._write_now, self.path_of(file_id), data)

    @staticmethod
    def _write_now(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def _chunks(self, file_id: str) -> AsyncIterator[bytes]:
        path = self.path_of(file_id)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise FileMissing(file_id) from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, file_id: str) -> None:
        await asyncio.to_thread(self.path_of(file_id).unlink, missing_ok=True)
