"""The S3 backend against a real S3 API on 127.0.0.1: moto's server (moto[server], a fake of S3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.files import FileError, FileMissing, file_store_from_config
from bot.files.s3 import S3FileStore
from bot.settings import FilesSettings
from tests.helpers import files

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server on a free port; the credentials come from the environment, as in production."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="shop-files")
    try:
        yield endpoint
    finally:
        server.stop()


def s3_store(endpoint: str, tmp_path: Path, **extra: object) -> S3FileStore:
    settings = FilesSettings.model_validate(
        {"storage": {"backend": "s3", "bucket": "shop-files", "endpoint_url": endpoint,
                     "region": "us-east-1", "prefix": "botdesk/", **extra}}
    )  # fmt: skip
    store = file_store_from_config(settings, tmp_path)
    assert isinstance(store, S3FileStore)
    return store


async def test_files_go_to_the_bucket_and_come_back(s3_endpoint: str, tmp_path: Path) -> None:
    store = s3_store(s3_endpoint, tmp_path)
    await store.start()
    try:
        data = files.png() * 50
        kept = await store.put(data, name="чек.png", mime="image/png")
        assert await store.read(kept.id) == data
        objects = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").list_objects_v2(
            Bucket="shop-files"
        )
        (item,) = objects["Contents"]
        assert item["Key"] == f"botdesk/{kept.id}"  # the store's id, never the customer's file name
        await store.delete(kept.id)
        with pytest.raises(FileMissing):
            await store.read(kept.id)
        with pytest.raises(FileMissing):
            await store.read("../../other-bucket-object")
    finally:
        await store.close()


async def test_a_missing_bucket_is_a_clear_error(s3_endpoint: str, tmp_path: Path) -> None:
    store = s3_store(s3_endpoint, tmp_path, bucket="no-such-bucket")
    await store.start()
    try:
        with pytest.raises(FileError, match="NoSuchBucket"):
            await store.put(files.PDF, name="a.pdf", mime="application/pdf")
    finally:
        await store.close()


def test_secrets_never_go_in_config_yml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'secret_access_key'"):
        file_store_from_config(
            FilesSettings.model_validate(
                {"storage": {"backend": "s3", "bucket": "b-1", "secret_access_key": "x"}}
            ),
            tmp_path,
        )
