"""WordVectorsFeaturizer: pretrained Russian word vectors as one dense feature block.

Sparse n-grams know only the words of the training data; "аннулировать" says nothing
to a bot that learned "отменить". Word vectors trained on a large corpus put such
words near each other, so the mean vector of a message's content words is one more
feature block (L2-normalised, scaled by ``weight``) next to the sparse ones.

The vectors come from a package on PyPI, never from a model hub: by default navec's
``navec_news_v1_1B_250K_300d_100q`` (250,000 words, 300 dimensions, product-quantised
to 25 MB), which ships inside the ``natasha`` wheel; ``vectors`` may also name any
navec ``.tar`` file on disk. navec reads it with numpy (no pickle). natasha itself is
never imported (it would import pymorphy2); only its data file is read.

Costs: a load once per process, tens of MB of memory and a little time per new word
(decoded vectors of words are remembered, ``WORDS_REMEMBERED``); docs/nlu.md has the figures.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata as importlib_metadata
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from bot.errors import ConfigError, ModelError
from bot.nlu.base import Component, ComponentOptions, Message, PipelineContext, SparseFeatures
from bot.nlu.data import TrainingData
from bot.nlu.featurizers import stop_words
from bot.nlu.persist import read_array, read_json, write_array, write_json
from bot.nlu.registry import register_component

NATASHA_NAVEC = "natasha/data/emb/navec_news_v1_1B_250K_300d_100q.tar"
DEFAULT_VECTORS = "navec"
INSTALL_HINT = "pip install natasha (it ships the navec vectors), or give a navec .tar file"
PROBE_WORDS = ("доставка", "заказ", "привет")
WORDS_REMEMBERED = 20_000


class WordVectorsOptions(ComponentOptions):
    vectors: str = DEFAULT_VECTORS
    """``navec``: the vectors inside the natasha package; or the path of a navec .tar file."""
    weight: float = Field(default=0.5, gt=0)
    skip_stop_words: bool = True


def resolve_vectors(vectors: str) -> Path:
    """Where the navec file is; a clear ConfigError when it is not installed."""
    if vectors == DEFAULT_VECTORS:
        spec = importlib_util.find_spec("natasha")  # finds the package without importing it
        if spec is None or spec.origin is None:
            raise ConfigError(f"WordVectorsFeaturizer needs the navec vectors: {INSTALL_HINT}")
        path = Path(spec.origin).parent.parent / NATASHA_NAVEC
    else:
        path = Path(vectors).expanduser()
    if not path.is_file():
        raise ConfigError(f"WordVectorsFeaturizer: no navec vectors at {path}; {INSTALL_HINT}")
    return path


@lru_cache(maxsize=2)
def load_navec(path: str) -> Any:
    """One navec table per process, shared by every pipeline that uses it."""
    try:
        from navec import Navec
    except ImportError:
        raise ConfigError(f"WordVectorsFeaturizer needs the navec package: {INSTALL_HINT}") from None
    return Navec.load(path)


def _source_version(vectors: str) -> str:
    if vectors == DEFAULT_VECTORS:
        try:
            return f"natasha {importlib_metadata.version('natasha')}"
        except importlib_metadata.PackageNotFoundError:
            return "natasha (unknown version)"
    return hashlib.sha256(Path(vectors).read_bytes()).hexdigest()[:16]


@register_component
class WordVectorsFeaturizer(Component):
    name = "WordVectorsFeaturizer"
    Options = WordVectorsOptions
    options: WordVectorsOptions

    def __init__(self, options: ComponentOptions, context: PipelineContext) -> None:
        super().__init__(options, context)
        self._navec: Any = None
        self._dimension = 0
        self._columns: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._stop: frozenset[str] = frozenset()
        self._vector_of = lru_cache(maxsize=WORDS_REMEMBERED)(self._lookup)

    def _open(self) -> None:
        if self._navec is None:
            self._navec = load_navec(str(resolve_vectors(self.options.vectors)))
            self._dimension = int(self._navec.pq.dim)
            self._columns = np.arange(self._dimension, dtype=np.int64)
            if self.options.skip_stop_words:
                self._stop = stop_words(self.context.language)

    def _lookup(self, word: str) -> NDArray[np.float32] | None:
        vector = self._navec.get(word)
        return None if vector is None else np.asarray(vector, dtype=np.float32)

    def vector(self, message: Message) -> NDArray[np.float64]:
        """The mean vector of the message's words (content words, where it has any)."""
        words = [t.norm for t in message.tokens]
        content = [w for w in words if w not in self._stop] or words
        found = [v for v in map(self._vector_of, content) if v is not None]
        if not found:
            return np.zeros(self._dimension)
        mean: NDArray[np.float64] = np.asarray(np.mean(found, axis=0, dtype=np.float64))
        norm = float(np.linalg.norm(mean))
        return mean * (self.options.weight / norm) if norm > 0 else mean

    def train(self, messages: list[Message], data: TrainingData) -> None:
        self._open()
        self.process_batch(messages)

    def process(self, message: Message) -> None:
        message.features.append(SparseFeatures(self._columns, self.vector(message), self._dimension))

    def _probe(self) -> NDArray[np.float32]:
        return np.stack([self._navec[w] for w in PROBE_WORDS]).astype(np.float32)

    def persist(self, directory: Path) -> None:
        write_json(
            directory / "word_vectors.json",
            {
                "vectors": self.options.vectors,
                "source": _source_version(self.options.vectors),
                "dimension": self._dimension,
            },
        )
        write_array(directory / "probe.npy", self._probe())

    def load(self, directory: Path) -> None:
        self._open()
        meta = read_json(directory / "word_vectors.json")
        probe = read_array(directory / "probe.npy")
        if (
            int(meta["dimension"]) != self._dimension
            or probe.shape != self._probe().shape
            or not np.allclose(probe, self._probe(), atol=1e-5)
        ):
            raise ModelError(
                f"the word vectors changed since this model was trained ({meta['source']}); "
                "run `botdesk train --force`"
            )
