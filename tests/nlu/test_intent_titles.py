"""Intent titles: a human name per intent for "did you mean" buttons, invisible to Rasa."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.errors import DataError
from bot.interop.rasa_export import export_rasa
from bot.nlu.data import load_training_data
from bot.project import Project

INTENTS = """\
version: "3.1"
nlu:
- intent: delivery_terms
  title: Доставка
  examples: |
    - сколько стоит доставка
    - доставляете в Казань?
- intent: order_status
  metadata:
    title: Где мой заказ
  examples: |
    - где мой заказ
- intent: greet
  examples: |
    - привет
"""


def test_titles_are_read_from_the_key_or_rasa_metadata(tmp_path: Path) -> None:
    path = tmp_path / "shop.yml"
    path.write_text(INTENTS, encoding="utf-8")
    data = load_training_data([path])
    assert data.titles == {"delivery_terms": "Доставка", "order_status": "Где мой заказ"}
    assert data.title("greet") == "greet"
    assert data.subset([0]).titles == data.titles


def test_an_empty_title_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "shop.yml"
    path.write_text(INTENTS.replace("title: Доставка", 'title: ""'), encoding="utf-8")
    with pytest.raises(DataError, match="title"):
        load_training_data([path])


def test_the_rasa_export_leaves_titles_out(ru_project: Project, tmp_path: Path) -> None:
    intents = ru_project.intents_dir / "titled.yml"
    intents.write_text(
        'version: "3.1"\nnlu:\n- intent: gift_cards\n  title: Подарочные карты\n  examples: |\n'
        "    - есть подарочные карты?\n    - хочу подарочный сертификат\n",
        encoding="utf-8",
    )
    project = Project.open(ru_project.root)
    assert project.data.title("gift_cards") == "Подарочные карты"
    export_rasa(project, tmp_path / "rasa")
    nlu = YAML(typ="safe").load((tmp_path / "rasa" / "data" / "nlu.yml").read_text(encoding="utf-8"))
    items = [i for i in nlu["nlu"] if i.get("intent") == "gift_cards"]
    # Rasa 3.6's NLU schema allows only intent, metadata and examples in an intent item.
    assert items and all(set(i) <= {"intent", "metadata", "examples"} for i in items)
