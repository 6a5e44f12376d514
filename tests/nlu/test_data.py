"""Reading Rasa 3 NLU YAML: annotations, lookups, synonyms, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import DataError
from bot.nlu.data import load_jsonl, load_training_data, parse_annotations
from tests.helpers.projects import write

NLU = """\
version: "3.1"
nlu:
- intent: delivery_terms
  examples: |
    - доставка в [Казань](city) есть?
    - привезёте [курьером]{"entity": "delivery_method", "value": "courier"}?
- synonym: pickup
  examples: |
    - самовывоз
- regex: order_number
  examples: |
    - \\b\\d{6,8}\\b
- lookup: city
  examples: |
    - Москва
responses:
  utter_delivery_terms:
  - text: "Доставляем по всей России."
"""


def test_reads_examples_annotations_and_resources(tmp_path: Path) -> None:
    data = load_training_data([write(tmp_path / "a.yml", NLU)])
    first, second = data.examples
    assert first.text == "доставка в Казань есть?" and first.intent == "delivery_terms"
    assert [(a.entity, first.text[a.start : a.end]) for a in first.entities] == [("city", "Казань")]
    assert second.entities[0].value == "courier"
    assert first.line == 5 and second.line == 6
    assert data.synonyms == {"самовывоз": "pickup"}
    assert data.regexes == {"order_number": [r"\b\d{6,8}\b"]}
    assert data.lookups == {"city": ["Москва"]}
    assert data.responses["utter_delivery_terms"][0]["text"].startswith("Доставляем")


def test_intent_spread_over_files_is_merged(tmp_path: Path) -> None:
    other = 'version: "3.1"\nnlu:\n- intent: delivery_terms\n  examples: |\n    - сколько везёте\n'
    data = load_training_data([write(tmp_path / "a.yml", NLU), write(tmp_path / "b.yml", other)])
    assert len([e for e in data.examples if e.intent == "delivery_terms"]) == 3


@pytest.mark.parametrize(
    ("text", "expected", "line"),
    [
        (NLU.replace("- intent: delivery_terms", "- intnt: delivery_terms"), "did you mean 'intent'", 3),
        (NLU.replace("responses:", "responces:"), "did you mean 'responses'", 16),
        (NLU.replace("    - доставка в", "    доставка в"), "must start with '- '", 5),
        (NLU.replace("[Казань](city)", "[Казань](ci ty)"), "invalid entity name", 5),
        (NLU.replace("\\b\\d{6,8}", "(\\d{6,8}"), "invalid pattern", 12),
        (NLU.replace('  - text: "Доставляем по всей России."', "  - txt: 1"), "needs a 'text'", 18),
        ("nlu:\n- intent: greet\n  examples:\n  - hi\n", "'examples' must be a block", 2),
        (NLU + "  bad: [\n", "broken YAML", 20),
    ],
)
def test_bad_data_names_the_line(tmp_path: Path, text: str, expected: str, line: int) -> None:
    path = write(tmp_path / "bad.yml", text)
    with pytest.raises(DataError) as caught:
        load_training_data([path])
    assert expected in str(caught.value)
    assert caught.value.path == path
    assert caught.value.line == line


def test_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes("nlu: ÿ".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_training_data([path])


def test_parse_annotations_roundtrip() -> None:
    plain, spans = parse_annotations(
        'заказ [1234567](order_number) в [Москву]{"entity": "city", "value": "Москва"}'
    )
    assert plain == "заказ 1234567 в Москву"
    assert [(s.entity, plain[s.start : s.end], s.value) for s in spans] == [
        ("order_number", "1234567", "1234567"),
        ("city", "Москву", "Москва"),
    ]


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"text": "hi", "intent": "greet"}\n{"text": "oops"}\n')
    with pytest.raises(DataError) as caught:
        load_jsonl(path)
    assert caught.value.line == 2
