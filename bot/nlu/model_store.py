"""Versioned model directories under ``models/``.

Layout::

    models/
      20261123-104512-3f2a9c1d/      one trained model (timestamp + data fingerprint)
        metadata.json                fingerprints, config, library versions, intents
        components/00_SpacyTokenizer/ ...
      current                        the name of the model in service

Files are JSON and numpy arrays loaded with ``allow_pickle=False``: a model file
cannot execute code. A model records the pipeline it was trained for; loading it
under another config or botdesk format is refused with a clear message.

Several processes may train at once (N servers starting together on an untrained
project): each writes into its own staging directory, and naming the new version,
moving it in place and pointing ``current`` at it happen under an exclusive lock on
``models/.lock``, so no process fails on another's version or pointer file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import bot
from bot.errors import ModelError
from bot.nlu.data import TrainingData
from bot.nlu.pipeline import Pipeline, Progress, pipeline_fingerprint
from bot.settings import BotdeskConfig

FORMAT_VERSION = 2  # 2: softmax confidences, learned fallback threshold, out-of-scope intent
CURRENT_POINTER = "current"
TRACKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "spacy", "pymorphy3", "pymorphy3-dicts-ru")


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "botdesk": bot.__version__}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


class ModelStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def current(self) -> ModelInfo | None:
        pointer = self.directory / CURRENT_POINTER
        if not pointer.is_file():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        path = self.directory / name
        if not name or "/" in name or not (path / "metadata.json").is_file():
            return None
        return ModelInfo(path, json.loads((path / "metadata.json").read_text(encoding="utf-8")))

    def is_up_to_date(self, config: BotdeskConfig, data: TrainingData) -> ModelInfo | None:
        info = self.current()
        if info is None:
            return None
        fp = info.metadata.get("fingerprint", {})
        if (
            info.metadata.get("format") == FORMAT_VERSION
            and fp.get("data") == data.fingerprint()
            and fp.get("pipeline") == pipeline_fingerprint(config.language, config.pipeline)
        ):
            return info
        return None

    def train(self, config: BotdeskConfig, data: TrainingData, progress: Progress | None = None) -> ModelInfo:
        """Train a new model and make it current; the old one stays on disk."""
        pipeline = Pipeline(config.language, config.pipeline)
        seconds = pipeline.train(data, progress)
        return self.save(pipeline, config, data, seconds)

    def save(
        self, pipeline: Pipeline, config: BotdeskConfig, data: TrainingData, seconds: float
    ) -> ModelInfo:
        self.directory.mkdir(parents=True, exist_ok=True)
        data_fp = data.fingerprint()
        metadata = {
            "format": FORMAT_VERSION,
            "version": "",  # named below, under the lock
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "train_seconds": round(seconds, 3),
            "language": config.language,
            "fingerprint": {"data": data_fp, "pipeline": pipeline.fingerprint},
            "pipeline": [s.model_dump() for s in config.pipeline],
            "intents": pipeline.intents or data.intents,
            "examples": len(data.examples),
            "libraries": library_versions(),
        }
        staging = Path(tempfile.mkdtemp(prefix=".training-", dir=self.directory))
        try:
            pipeline.persist(staging / "components")
            with self._locked():
                version = self._free_version(data_fp)
                metadata["version"] = version
                (staging / "metadata.json").write_text(
                    json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8"
                )
                os.replace(staging, self.directory / version)
                self._point_to(version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        pipeline.version = version
        return ModelInfo(self.directory / version, metadata)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive across the processes of this machine (the models directory is local)."""
        with (self.directory / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _free_version(self, data_fp: str) -> str:
        """``<UTC time>-<data fingerprint>``, to the second; finer when that is taken (under the lock)."""
        version = f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{data_fp[:8]}"
        while (self.directory / version).exists():
            time.sleep(0.001)
            version = f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S%f')}-{data_fp[:8]}"
        return version

    def _point_to(self, version: str) -> None:
        """Replace the pointer atomically, through a temporary file of this writer's own."""
        handle, tmp = tempfile.mkstemp(prefix=f".{CURRENT_POINTER}-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(version + "\n")
            os.replace(tmp, self.directory / CURRENT_POINTER)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load(self, config: BotdeskConfig, info: ModelInfo | None = None) -> Pipeline:
        info = info or self.current()
        if info is None:
            raise ModelError(f"no trained model in {self.directory}; run `botdesk train` first")
        meta = info.metadata
        if meta.get("format") != FORMAT_VERSION:
            raise ModelError(
                f"model {info.version} has format {meta.get('format')}, this botdesk "
                f"({bot.__version__}) reads format {FORMAT_VERSION}; run `botdesk train`"
            )
        expected = pipeline_fingerprint(config.language, config.pipeline)
        if meta.get("fingerprint", {}).get("pipeline") != expected:
            raise ModelError(
                f"model {info.version} was trained for another configuration "
                f"(language {meta.get('language')!r}, pipeline "
                f"{[p.get('name') for p in meta.get('pipeline', [])]}); config.yml has changed "
                "since, so run `botdesk train`"
            )
        pipeline = Pipeline(config.language, config.pipeline)
        try:
            pipeline.load(info.path / "components")
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"model {info.version} is damaged or incomplete ({exc}); run `botdesk train --force`"
            ) from None
        pipeline.version = info.version
        return pipeline
