"""The local backend: random ids, atomic writes, the size limit while reading, no path from outside."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.files import FILE_STORES, FileMissing, FileTooLarge, file_store_from_config
from bot.files.local import LocalFileStore
from bot.settings import FilesSettings
from tests.helpers import files


def local(tmp_path: Path, **storage: object) -> LocalFileStore:
    store = file_store_from_config(FilesSettings.model_validate({"storage": storage}), tmp_path)
    assert isinstance(store, LocalFileStore)
    return store


async def test_a_file_is_kept_under_a_random_id_and_given_back(tmp_path: Path) -> None:
    store = local(tmp_path)
    await store.start()
    data = files.png()
    first = await store.put(data, name="a.png", mime="image/png")
    second = await store.put(data, name="a.png", mime="image/png")
    assert first.id != second.id  # not content-addressed: one deletion never removes another's copy
    assert len(first.id) == 32
    assert first.size == len(data) and first.sha256 == hashlib.sha256(data).hexdigest()
    assert await store.read(first.id) == data
    assert (tmp_path / "files" / first.id[:2] / first.id).read_bytes() == data
    assert not list((tmp_path / "files").rglob(".upload-*"))  # no temporary file left behind
    await store.delete(first.id)
    await store.delete(first.id)  # twice is fine
    with pytest.raises(FileMissing):
        await store.read(first.id)
    assert await store.read(second.id) == data


async def test_chunks_are_refused_as_soon_as_they_pass_the_limit(tmp_path: Path) -> None:
    store = local(tmp_path, path=str(tmp_path / "elsewhere"))
    await store.start()
    sent = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):
            sent.append(1)
            yield b"x" * 1024

    with pytest.raises(FileTooLarge):
        await store.put(endless(), name="big.txt", mime="text/plain", limit=10 * 1024)
    assert len(sent) == 11  # stopped at the first chunk past the limit, not at the end
    assert not [p for p in (tmp_path / "elsewhere").rglob("*") if p.is_file()]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "..", "a/b" * 10, "x" * 15, "", "abc\x00" * 5])
async def test_an_id_that_the_store_did_not_make_never_becomes_a_path(tmp_path: Path, bad: str) -> None:
    store = local(tmp_path)
    with pytest.raises(FileMissing):
        await store.read(bad)
    with pytest.raises(FileMissing):
        await store.delete(bad)


def test_backends_are_found_by_name_and_a_typo_is_explained(tmp_path: Path) -> None:
    assert {"local", "s3"} <= set(FILE_STORES.names())
    with pytest.raises(ConfigError, match="did you mean 'local'"):
        file_store_from_config(FilesSettings.model_validate({"storage": {"backend": "locl"}}), tmp_path)
    with pytest.raises(ConfigError, match="unknown option 'dir'"):
        file_store_from_config(FilesSettings.model_validate({"storage": {"dir": "x"}}), tmp_path)
