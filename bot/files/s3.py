"""An S3-compatible backend (AWS S3, Yandex Object Storage, VK Cloud, MinIO, Ceph...), through boto3.

``pip install 'botdesk[s3]'``; config.yml::

    files:
      storage:
        backend: s3
        bucket: shop-botdesk-files
        endpoint_url: https://storage.yandexcloud.net   # leave out for AWS
        region: ru-central1
        prefix: botdesk/

The credentials come only from the environment, as boto3 reads them everywhere
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, or a role / profile); config.yml
refuses secret-looking keys. Objects are keyed ``<prefix><id>`` by the store's own random
id, private (no ACL is set, so the bucket's default applies: keep it private) and served
only through botdesk's routes, which check who asks. Why boto3 in a worker thread and not
an async client: boto3 is the reference S3 client every S3-compatible service documents
and tests against; aioboto3/aiobotocore pin botocore to narrow ranges that fight other
packages, and a file call a few times a minute gains nothing from being async.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pydantic import Field

from bot.errors import ConfigError
from bot.files.base import FileError, FileMissing, FileStore, FileStoreOptions, check_file_id
from bot.files.registry import register_file_store

CHUNK = 256 * 1024


class S3Options(FileStoreOptions):
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")
    prefix: str = Field(default="", max_length=200, pattern=r"^[A-Za-z0-9/_.-]*$")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    region: str | None = Field(default=None, max_length=64)
    addressing_style: str = Field(default="auto", pattern=r"^(auto|path|virtual)$")


@register_file_store
class S3FileStore(FileStore):
    """Files as objects in an S3-compatible bucket (see the module docstring)."""

    name = "s3"
    Options = S3Options

    def __init__(self, options: FileStoreOptions, root: Any) -> None:
        super().__init__(options, root)
        assert isinstance(options, S3Options)
        self.s3 = options
        self._client: Any = None

    def key(self, file_id: str) -> str:
        return f"{self.s3.prefix}{check_file_id(file_id)}"

    def client(self) -> Any:
        """The boto3 client, made once (boto3 clients are thread-safe)."""
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise ConfigError(
                    "files.storage.backend 's3' needs boto3: pip install 'botdesk[s3]'"
                ) from None
            self._client = boto3.client(
                "s3",
                endpoint_url=self.s3.endpoint_url,
                region_name=self.s3.region,
                config=Config(
                    s3={"addressing_style": self.s3.addressing_style},
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=30,
                ),
            )
        return self._client

    async def start(self) -> None:
        self.client()

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _write(self, file_id: str, data: bytes, mime: str) -> None:
        await self._call(
            "put_object", Bucket=self.s3.bucket, Key=self.key(file_id), Body=data, ContentType=mime
        )

    async def _chunks(self, file_id: str) -> AsyncIterator[bytes]:
        response = await self._call("get_object", Bucket=self.s3.bucket, Key=self.key(file_id))
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, file_id: str) -> None:
        await self._call("delete_object", Bucket=self.s3.bucket, Key=self.key(file_id))

    async def _call(self, operation: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        try:
            return await asyncio.to_thread(getattr(client, operation), **params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileMissing(str(params.get("Key", ""))) from None
            raise FileError(f"the file storage refused {operation} ({code or 'error'})") from None
        except BotoCoreError as exc:
            raise FileError(f"the file storage is not reachable ({type(exc).__name__})") from None
