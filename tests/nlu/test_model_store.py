"""Versioned models: skip when unchanged, refuse foreign models, never unpickle."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from bot.errors import ModelError
from bot.nlu.model_store import ModelStore
from bot.project import Project, load_checked_config


def test_train_then_skip_then_retrain_on_change(ru_project: Project) -> None:
    store = ru_project.models
    assert store.is_up_to_date(ru_project.config, ru_project.data) is None
    first = store.train(ru_project.config, ru_project.data)
    assert store.current() is not None and store.current().version == first.version  # type: ignore[union-attr]
    assert store.is_up_to_date(ru_project.config, ru_project.data) == first

    greet = ru_project.intents_dir / "smalltalk.yml"
    greet.write_text(
        greet.read_text(encoding="utf-8").replace(
            "- intent: greet\n  title: Приветствие\n  examples: |\n",
            "- intent: greet\n  title: Приветствие\n  examples: |\n    - хеллоу всем\n",
            1,
        ),
        encoding="utf-8",
    )
    changed = Project.open(ru_project.root)
    assert changed.models.is_up_to_date(changed.config, changed.data) is None


def test_metadata_records_what_the_model_is(ru_project: Project) -> None:
    info = ru_project.models.train(ru_project.config, ru_project.data)
    meta = json.loads((info.path / "metadata.json").read_text(encoding="utf-8"))
    assert meta["version"] == info.version
    assert meta["fingerprint"]["data"] == ru_project.data.fingerprint()
    assert {"scikit-learn", "numpy", "spacy", "botdesk", "python"} <= set(meta["libraries"])
    assert len(meta["intents"]) == 23  # the 22 of intents/ and out_of_scope (botdesk's off-topic set)
    assert "out_of_scope" in meta["intents"]
    assert [p["name"] for p in meta["pipeline"]] == [s.name for s in ru_project.config.pipeline]


def test_model_files_cannot_carry_code(ru_project: Project) -> None:
    info = ru_project.models.train(ru_project.config, ru_project.data)
    suffixes = {p.suffix for p in info.path.rglob("*") if p.is_file()}
    assert suffixes <= {".json", ".npy"}
    for array in info.path.rglob("*.npy"):
        np.load(array, allow_pickle=False)  # raises if an object array had sneaked in


def test_model_for_another_config_is_refused(ru_project: Project) -> None:
    ru_project.models.train(ru_project.config, ru_project.data)
    config_path = ru_project.config_path
    config_path.write_text(
        config_path.read_text(encoding="utf-8").replace("max_ngram: 4", "max_ngram: 5"), encoding="utf-8"
    )
    with pytest.raises(ModelError, match="another configuration"):
        ru_project.models.load(load_checked_config(config_path))


def test_model_of_another_format_is_refused(ru_project: Project) -> None:
    info = ru_project.models.train(ru_project.config, ru_project.data)
    meta_path = info.path / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["format"] = 999
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelError, match="format 999"):
        ru_project.load_pipeline()


def test_no_model_yet(ru_project: Project) -> None:
    with pytest.raises(ModelError, match="botdesk train"):
        ru_project.load_pipeline()


def test_damaged_model_is_a_clear_error(ru_project: Project) -> None:
    info = ru_project.models.train(ru_project.config, ru_project.data)
    next(info.path.rglob("coef_t.npy")).write_bytes(b"garbage")
    with pytest.raises(ModelError, match="damaged"):
        ru_project.load_pipeline()


def test_loaded_model_parses_like_the_trained_one(ru_project: Project, tmp_path: Path) -> None:
    """The contract of every component: persist -> load -> the same predictions."""
    from bot.nlu.pipeline import Pipeline

    trained = Pipeline(ru_project.config.language, ru_project.config.pipeline)
    seconds = trained.train(ru_project.data)
    info = ru_project.models.save(trained, ru_project.config, ru_project.data, seconds)
    loaded = ru_project.models.load(ru_project.config, info)
    texts = ["привет", "сколько стоит доставка в Казань курьером", "мой номер 89123456789", "zzz", "ghbdtn"]
    for text in texts:
        assert loaded.parse_dict(text) == trained.parse_dict(text)


def test_processes_saving_models_at_once_each_get_their_own_version(
    trained_ru: Project, tmp_path: Path
) -> None:
    """N servers starting together on an untrained project all train and save (issue 17, item 9)."""
    pipeline = trained_ru.load_pipeline()
    store = ModelStore(tmp_path / "models")
    saves = 6
    barrier = threading.Barrier(saves)
    versions: list[str] = []
    errors: list[BaseException] = []

    def save() -> None:
        barrier.wait()  # all in the same second: the same first-choice version name
        try:
            versions.append(store.save(pipeline, trained_ru.config, trained_ru.data, 1.0).version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(saves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(versions)) == saves
    current = store.current()
    assert current is not None and current.version in versions
    for version in versions:
        assert json.loads((tmp_path / "models" / version / "metadata.json").read_text())["version"] == version
    assert not list((tmp_path / "models").glob(".training-*")) and not list(
        (tmp_path / "models").glob("*.tmp")
    )
