"""Files customers and operators send: a store for the bytes, and the rules for what it accepts.

- ``base``: ``FileStore`` (``put`` / ``open`` / ``read`` / ``delete`` by the store's own
  random id), ``StoredFile``, the errors (``FileTooLarge``, ``FileRefused``, ``FileMissing``);
- ``registry``: backends by name (config.yml ``files.storage.backend``): ``local`` (a
  directory, the default) and ``s3`` (any S3-compatible storage, the ``s3`` extra);
- ``sniff`` and ``policy``: the type from the content's first bytes, the size limit, the
  allowed types, safe names, and the headers every served file gets.

Who may read a file is decided from its row (``bot.store.files``: its conversation and
message); the routes serving files check it (docs/security.md, "Files").
"""

from bot.files.base import (
    FileError,
    FileMissing,
    FileRefused,
    FileStore,
    FileStoreOptions,
    FileTooLarge,
    StoredFile,
    check_file_id,
    new_file_id,
    read_limited,
)
from bot.files.policy import (
    INLINE_TYPES,
    UPLOAD_MARGIN,
    Checked,
    FilePolicy,
    is_inline,
    safe_name,
    serving_headers,
)
from bot.files.registry import FILE_STORES, check_file_store, file_store_from_config, register_file_store
from bot.files.sniff import sniff

__all__ = [
    "FILE_STORES",
    "INLINE_TYPES",
    "UPLOAD_MARGIN",
    "Checked",
    "FileError",
    "FileMissing",
    "FilePolicy",
    "FileRefused",
    "FileStore",
    "FileStoreOptions",
    "FileTooLarge",
    "StoredFile",
    "check_file_id",
    "check_file_store",
    "file_store_from_config",
    "is_inline",
    "new_file_id",
    "read_limited",
    "register_file_store",
    "safe_name",
    "serving_headers",
    "sniff",
]
