"""File store backends by name: config.yml's ``files.storage.backend`` (``local`` by default, ``s3``).

A new backend is one module with a :class:`~bot.files.base.FileStore` subclass decorated
with :func:`register_file_store` (listed in ``BUILTIN_BACKENDS`` when it ships with
botdesk); one outside botdesk is named by its dotted path (``mypkg.files.MyStore``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from bot.errors import ConfigError
from bot.files.base import FileStore
from bot.plugins import Registry
from bot.settings import FilesSettings

BUILTIN_BACKENDS = ("bot.files.local", "bot.files.s3")

FILE_STORES: Registry[type[FileStore]] = Registry(
    "file store backend",
    FileStore,
    BUILTIN_BACKENDS,
    "register_file_store",
    name_key="backend",
    noun="backend",
)
register_file_store = FILE_STORES.register


def check_file_store(settings: FilesSettings) -> tuple[str | None, str] | None:
    """The first problem with ``files.storage`` as (offending key, message), or None."""
    return FILE_STORES.check(settings.storage.backend, settings.storage.options())


def file_store_from_config(settings: FilesSettings, root: Path) -> FileStore:
    """The configured backend, built (no I/O yet: call ``start``).

    Args:
        settings: config.yml's ``files`` section.
        root: the project's directory, for relative paths.

    Raises:
        ConfigError: an unknown backend or a wrong option.
    """
    cls = FILE_STORES.get(settings.storage.backend)
    try:
        options = cls.Options.model_validate(settings.storage.options())
    except ValidationError as exc:
        _, message = FILE_STORES.explain(settings.storage.backend, cls, exc)
        raise ConfigError(f"files.storage: {message}") from None
    return cls(options, root)
