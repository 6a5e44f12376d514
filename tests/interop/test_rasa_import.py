"""`botdesk import rasa`: a Rasa 3 project becomes a botdesk project that trains and passes
its own test stories, and every part that cannot carry over is reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.cli import main
from bot.dialogue.stories import Flow, Step
from bot.interop.rasa_import import Note, import_rasa
from bot.project import Project
from tests.helpers.projects import write
from tests.rasa_sdk import action_server

CONFIG = """\
recipe: default.v1
assistant_id: orion-cinema
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: DIETClassifier
    epochs: 100
  - name: DucklingEntityExtractor
    url: http://localhost:8000
  - name: EntitySynonymMapper
  - name: ResponseSelector
  - name: FallbackClassifier
    threshold: 0.35
    ambiguity_threshold: 0.08
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
    core_fallback_threshold: 0.3
  - name: TEDPolicy
    max_history: 5
"""

DOMAIN = """\
version: "3.1"
intents:
  - greet
  - goodbye
  - thanks
  - affirm
  - deny
  - ask_showtimes
  - ticket_price
  - book_ticket
  - inform
  - faq
  - check_order
  - vip_lounge
entities:
  - film
  - number
  - hall
  - city:
      roles: [home, away]
slots:
  film:
    type: text
    mappings:
    - type: from_entity
      entity: film
      conditions:
      - active_loop: booking_form
        requested_slot: film
  seats:
    type: float
    min_value: 1
    max_value: 10
    mappings:
    - type: from_entity
      entity: number
  hall:
    type: categorical
    values: [imax, standard]
    mappings:
    - type: from_entity
      entity: hall
forms:
  booking_form:
    required_slots:
    - film
    - seats
responses:
  utter_welcome:
  - text: "Welcome to Orion Cinema! Ask me about films, prices or bookings."
    buttons:
    - title: "What's on?"
      payload: /ask_showtimes
    - title: "Book Dune"
      payload: '/book_ticket{"film": "Dune"}'
  utter_greet:
  - text: "Hi again!"
  utter_showtimes:
  - text: "Here is today's programme:"
    image: "https://example.org/programme.png"
  utter_ticket_price:
  - text: "Tickets cost 9 euros, 12 in IMAX. Interested in the student discount?"
  - condition:
    - type: slot
      name: hall
      value: imax
    text: "IMAX tickets cost 12 euros."
  utter_discount:
  - text: "Students pay 6 euros on weekdays."
  utter_ok:
  - text: "Alright!"
  utter_bye:
  - text: "Enjoy the film!"
  utter_ask_booking_form_film:
  - text: "Which film would you like to see?"
  utter_ask_seats:
  - text: "How many seats?"
  utter_booked:
  - text: "Booked {seats} seats for {film}."
  utter_default:
  - text: "Sorry, I only know about films, prices and bookings."
actions:
  - action_fetch_showtimes
  - action_check_order
  - validate_booking_form
"""

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good evening
    - hey
    - good morning
    - hiya
- intent: goodbye
  examples: |
    - bye
    - see you
    - goodbye
    - see you later
    - have a good night
- intent: thanks
  examples: |
    - thanks
    - thank you
    - cheers
    - many thanks
    - thanks a lot
- intent: affirm
  examples: |
    - yes
    - sure
    - yes please
    - of course
    - definitely
- intent: deny
  examples: |
    - no
    - no thanks
    - nope
    - not now
    - never mind
- intent: ask_showtimes
  examples: |
    - what's on tonight
    - when is [Dune](film) showing
    - showtimes for [Oppenheimer](film)
    - which films are on today
    - is [Barbie](film) on the [big screen]{"entity": "hall", "value": "imax"}
    - what time does the film start
- intent: ticket_price
  examples: |
    - how much is a ticket
    - ticket prices
    - how much does it cost
    - what do tickets cost in [imax](hall)
    - price of a ticket
    - is it expensive
- intent: book_ticket
  examples: |
    - I want to book tickets
    - book [2](number) seats for [Dune]{"entity": "film", "role": "first_choice"}
    - reserve seats
    - can I book a ticket
    - I'd like to reserve
    - book me in
- intent: inform
  examples: |
    - [Dune](film)
    - [Oppenheimer](film) please
    - [3](number)
    - [4](number) seats
    - [Barbie](film)
- intent: check_order
  examples: |
    - where is my booking
    - check my order
    - did my booking go through
    - booking status
    - is my reservation confirmed
- synonym: imax
  examples: |
    - big screen
    - IMAX hall
- regex: number
  examples: |
    - \\b\\d{1,2}\\b
- lookup: film
  examples: |
    - Dune
    - Oppenheimer
    - Barbie
"""

FAQ = """\
version: "3.1"
nlu:
- intent: faq/parking
  examples: |
    - where can I park
    - is there parking
    - parking near the cinema
    - can I leave my car
- intent: faq/food
  examples: |
    - do you sell popcorn
    - can I get snacks
    - is there food
    - do you have drinks
responses:
  utter_faq/parking:
  - text: "Parking is free after 6 pm in the garage next door."
  utter_faq/food:
  - text: "We sell popcorn, nachos and drinks."
"""

RULES = """\
version: "3.1"
rules:
- rule: welcome at the start
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_welcome
- rule: bye on thanks or goodbye
  steps:
  - or:
    - intent: thanks
    - intent: goodbye
  - action: utter_bye
- rule: showtimes from the box office system
  steps:
  - intent: ask_showtimes
  - action: action_fetch_showtimes
  - action: utter_showtimes
- rule: check an order
  steps:
  - intent: check_order
  - action: action_check_order
- rule: start booking
  steps:
  - intent: book_ticket
  - action: booking_form
  - active_loop: booking_form
- rule: submit booking
  condition:
  - active_loop: booking_form
  steps:
  - action: booking_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_booked
- rule: answer faq
  steps:
  - intent: faq
  - action: utter_faq
- rule: fallback
  steps:
  - intent: nlu_fallback
  - action: utter_default
"""

STORIES = """\
version: "3.1"
stories:
- story: price then discount
  steps:
  - intent: ticket_price
  - action: utter_ticket_price
  - intent: affirm
  - action: utter_discount
- story: price, no discount
  steps:
  - intent: ticket_price
  - action: utter_ticket_price
  - intent: deny
  - action: utter_ok
- story: greeting branch
  steps:
  - intent: greet
  - action: utter_greet
  - checkpoint: greeted
"""

TESTS = """\
stories:
- story: welcome and showtimes
  steps:
  - user: |
      good evening
    intent: greet
  - action: utter_welcome
  - user: |
      when is [Dune](film) showing?
    intent: ask_showtimes
  - action: action_fetch_showtimes
  - action: utter_showtimes
- story: price and discount
  steps:
  - user: |
      how much is a ticket?
    intent: ticket_price
  - action: utter_ticket_price
  - user: |
      yes please
    intent: affirm
  - action: utter_discount
- story: booking asks for the film, then the seats
  steps:
  - user: |
      I want to book tickets
    intent: book_ticket
  - action: booking_form
  - active_loop: booking_form
  - slot_was_set:
    - requested_slot: film
  - user: |
      [Dune](film)
    intent: inform
  - action: booking_form
  - slot_was_set:
    - film: Dune
  - slot_was_set:
    - requested_slot: seats
- story: parking question
  steps:
  - user: |
      is there parking?
    intent: faq/parking
  - action: utter_faq/parking
- story: thanks by button
  steps:
  - intent: thanks
  - action: utter_bye
- story: end-to-end bot text
  steps:
  - user: hi
  - bot: Hi again!
"""

ACTIONS = """\
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

FILMS = {"dune": "Dune", "oppenheimer": "Oppenheimer", "barbie": "Barbie"}


class FetchShowtimes(Action):
    def name(self) -> Text:
        return "action_fetch_showtimes"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        film = next(tracker.get_latest_entity_values("film"), None)
        return [SlotSet("film", film)] if film else []


class CheckOrder(Action):
    def name(self) -> Text:
        return "action_check_order"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        dispatcher.utter_message(text="Your booking is confirmed.")
        return []


class ValidateBookingForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_booking_form"

    def validate_film(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict:
        film = FILMS.get(str(value).lower())
        return {"film": film}
"""

ENDPOINTS = """\
action_endpoint:
  url: "${CINEMA_ACTIONS_URL}"
"""

FILES = {
    "config.yml": CONFIG,
    "endpoints.yml": ENDPOINTS,
    "actions/__init__.py": "",
    "actions/actions.py": ACTIONS,
    "domain.yml": DOMAIN,
    "data/nlu.yml": NLU,
    "data/nlu/faq.yml": FAQ,
    "data/rules.yml": RULES,
    "data/stories.yml": STORIES,
    "tests/test_stories.yml": TESTS,
}


def rasa_project(root: Path) -> Path:
    for name, text in FILES.items():
        write(root / name, text)
    return root


def line(name: str, needle: str) -> int:
    """1-based line of the first line of FILES[name] that contains ``needle``."""
    return next(i for i, text in enumerate(FILES[name].splitlines(), start=1) if needle in text)


def noted(notes: list[Note], kind: str, source: str, at: int, *words: str) -> bool:
    return any(
        n.kind == kind and n.source == source and n.line == at and all(w in n.message for w in words)
        for n in notes
    )


def flow_shape(flows: list[Flow]) -> list[tuple[object, ...]]:
    def steps(items: tuple[Step, ...]) -> tuple[tuple[object, ...], ...]:
        return tuple((s.kind, s.name, s.value) for s in items)

    return [
        (f.name, f.kind, steps(f.steps), steps(f.conditions), f.conversation_start, f.wait_for_user_input)
        for f in flows
    ]


@pytest.fixture
def imported(tmp_path: Path) -> tuple[Project, list[Note]]:
    result = import_rasa(rasa_project(tmp_path / "rasa"), tmp_path / "botdesk")
    return Project.open(result.target), result.notes


def test_config_is_a_valid_botdesk_config(imported: tuple[Project, list[Note]]) -> None:
    project, _ = imported
    config = project.config  # validated strictly on load
    assert (config.language, config.assistant_id) == ("en", "orion-cinema")
    names = [spec.name for spec in config.pipeline]
    assert names[0] == "SpacyTokenizer" and "LinearIntentClassifier" in names
    fallback = config.pipeline[-1]
    assert fallback.name == "FallbackClassifier"
    # Rasa's thresholds as they are, and no off-topic class Rasa would not have trained.
    assert fallback.options() == {
        "threshold": 0.35,
        "ambiguity_threshold": 0.08,
        "out_of_scope_examples": "none",
    }
    assert config.bot.fallback == "Sorry, I only know about films, prices and bookings."
    assert config.escalation.ask_feedback is False
    assert (config.intents.human_only, config.intents.buying_interest) == ([], [])
    assert [r.name for r in config.escalation.rules] == ["human_request", "misunderstood"]


def test_nlu_data_keeps_entities_synonyms_regexes_lookups(imported: tuple[Project, list[Note]]) -> None:
    project, _ = imported
    data = project.data
    assert len(data.examples) == 62
    assert {"faq/parking", "faq/food", "inform", "book_ticket"} <= set(data.intents)
    booking = next(e for e in data.examples if e.text == "book 2 seats for Dune")
    assert [(a.entity, a.value) for a in booking.entities] == [("number", "2"), ("film", "Dune")]
    screen = next(e for e in data.examples if e.text.startswith("is Barbie on"))
    assert [(a.entity, a.value) for a in screen.entities] == [("film", "Barbie"), ("hall", "imax")]
    assert data.synonyms == {"big screen": "imax", "imax hall": "imax"}
    assert data.regexes == {"number": [r"\b\d{1,2}\b"]}
    assert data.lookups == {"film": ["Dune", "Oppenheimer", "Barbie"]}
    assert data.declared_entities == {"film", "number", "hall", "city"}


def test_responses_buttons_image_and_retrieval(imported: tuple[Project, list[Note]]) -> None:
    project, notes = imported
    responses = project.data.responses
    assert responses["utter_welcome"][0]["buttons"] == [
        {"title": "What's on?", "payload": "/ask_showtimes"},
        {"title": "Book Dune", "payload": '/book_ticket{"film": "Dune"}'},
    ]
    assert responses["utter_showtimes"][0]["image"] == "https://example.org/programme.png"
    assert responses["utter_ticket_price"][1] == {
        "condition": [{"type": "slot", "name": "hall", "value": "imax"}],
        "text": "IMAX tickets cost 12 euros.",
    }
    assert responses["utter_faq/parking"][0]["text"].startswith("Parking is free")
    assert "utter_ask_booking_form_film" in responses  # the form asks with it, as in Rasa
    assert "utter_default" not in responses  # it is bot.fallback now
    assert "utter_handoff_queued" in responses  # botdesk's own texts, added in English
    assert not [n for n in notes if "utter_" in n.message and "response '" in n.message]


def test_rules_stories_slots_and_forms(imported: tuple[Project, list[Note]]) -> None:
    project, _ = imported
    dialogue = project.dialogue  # checked against intents and responses on load
    rules = {f.name: f for f in dialogue.rules}
    assert set(rules) == {
        "welcome at the start",
        "bye on thanks or goodbye (1)",
        "bye on thanks or goodbye (2)",
        "showtimes from the box office system",
        "check an order",
        "start booking",
        "submit booking",
        "answer faq",
    }
    assert rules["welcome at the start"].conversation_start
    assert [s.name for s in rules["bye on thanks or goodbye (2)"].steps] == ["goodbye", "utter_bye"]
    assert [s.name for s in rules["showtimes from the box office system"].steps] == [
        "ask_showtimes",
        "action_fetch_showtimes",
        "utter_showtimes",
    ]
    assert [s.name for s in rules["answer faq"].steps] == ["faq", "utter_faq"]
    assert set(dialogue.actions) == {"action_fetch_showtimes", "action_check_order", "validate_booking_form"}
    assert "vip_lounge" in dialogue.intents  # no examples: reachable by the /vip_lounge payload
    submit = rules["submit booking"]
    assert [(s.kind, s.name) for s in submit.conditions] == [("loop", "booking_form")]
    assert [s.kind for s in submit.steps] == ["action", "loop", "slot", "action"]
    assert [f.name for f in dialogue.stories] == [
        "price then discount",
        "price, no discount",
        "greeting branch",
    ]
    assert dialogue.forms["booking_form"].required_slots == ("film", "seats")
    assert dialogue.slots["seats"].type == "float"
    assert dialogue.slots["hall"].values == ("imax", "standard")
    assert dialogue.slots["film"].mappings[0].entity == "film"
    assert dialogue.slots["film"].mappings[0].conditions[0].requested_slot == "film"
    assert (dialogue.slots["seats"].min_value, dialogue.slots["seats"].max_value) == (1.0, 10.0)


def test_what_cannot_carry_over_is_reported_with_file_and_line(
    imported: tuple[Project, list[Note]],
) -> None:
    _, notes = imported
    expected = [
        ("dropped", "config.yml", line("config.yml", "TEDPolicy"), ("TEDPolicy", "machine-learned")),
        ("dropped", "config.yml", line("config.yml", "LexicalSyntactic"), ("Rasa-only",)),
        ("dropped", "config.yml", line("config.yml", "Duckling"), ("DucklingEntityExtractor",)),
        ("changed", "config.yml", line("config.yml", "RulePolicy"), ("core fallback",)),
        ("changed", "config.yml", line("config.yml", "ResponseSelector"), ("retrieval",)),
        ("dropped", "domain.yml", line("domain.yml", "- city:"), ("roles and groups",)),
        ("dropped", "data/nlu.yml", line("data/nlu.yml", "first_choice"), ("role 'first_choice'",)),
        ("changed", "data/rules.yml", line("data/rules.yml", "rule: fallback"), ("bot.fallback",)),
        ("dropped", "tests/test_stories.yml", line("tests/test_stories.yml", "end-to-end"), ("bot:",)),
    ]
    missing = [e for e in expected if not noted(notes, e[0], e[1], e[2], *e[3])]
    assert not missing, "\n".join(map(str, notes))
    # The report is exactly this list: nothing else was changed or left out.
    extra = [n for n in notes if not any(noted([n], e[0], e[1], e[2], *e[3]) for e in expected)]
    assert [str(n) for n in extra] == [
        "config.yml:8: DIETClassifier: botdesk classifies intents with LinearIntentClassifier and finds "
        "entities by their annotated values, lookups and regexes, not learned from context",
        "config.yml:4: the NLU pipeline is botdesk's default (SpacyTokenizer, RegexEntityExtractor, "
        "CountVectorsFeaturizer word + char_wb, LinearIntentClassifier, EntitySynonymMapper, "
        "FallbackClassifier)",
    ]


def test_test_stories_are_copied_as_rasa_wrote_them(imported: tuple[Project, list[Note]]) -> None:
    project, _ = imported
    stories = YAML(typ="safe").load((project.root / "tests" / "test_stories.yml").read_text())["stories"]
    by_name = {s["story"]: s["steps"] for s in stories}
    assert "end-to-end bot text" not in by_name
    original = YAML(typ="safe").load(TESTS)["stories"]
    for story in original:
        if story["story"] != "end-to-end bot text":
            assert by_name[story["story"]] == story["steps"]


@pytest.mark.slow
def test_imported_project_trains_and_passes_its_test_stories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The custom actions run on a real rasa-sdk action server, as under Rasa."""
    source, target = rasa_project(tmp_path / "rasa"), tmp_path / "cinema"
    assert main(["import", "rasa", str(source), "--to", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Not carried over" in out and "config.yml:" in out and "botdesk train --project" in out
    assert "${CINEMA_ACTIONS_URL}" in (target / "endpoints.yml").read_text()
    assert main(["train", "--project", str(target)]) == 0
    with action_server(source) as url:
        monkeypatch.setenv("CINEMA_ACTIONS_URL", url)
        assert main(["test", "--project", str(target)]) == 0
    out = capsys.readouterr().out
    assert "5 passed, 0 failed" in out, out


def test_export_then_import_gives_back_the_same_bot(ru_project: Project, tmp_path: Path) -> None:
    exported, back = tmp_path / "rasa", tmp_path / "back"
    assert main(["export", "rasa", str(exported), "--project", str(ru_project.root)]) == 0
    result = import_rasa(exported, back)
    original, imported = ru_project, Project.open(back)

    def examples(project: Project) -> list[tuple[object, ...]]:
        return sorted((e.text, e.intent, e.entities) for e in project.data.examples)

    assert examples(imported) == examples(original)
    assert imported.data.synonyms == original.data.synonyms
    assert imported.data.regexes == original.data.regexes
    assert imported.data.lookups == original.data.lookups
    assert imported.data.responses == original.data.responses
    assert flow_shape(imported.dialogue.rules) == flow_shape(original.dialogue.rules)
    assert flow_shape(imported.dialogue.stories) == flow_shape(original.dialogue.stories)
    # All but the lead form's optional e-mail, whose form-bound mapping Rasa refuses (the export says so).
    assert {k: v for k, v in imported.dialogue.slots.items() if k != "email"} == {
        k: v for k, v in original.dialogue.slots.items() if k != "email"
    }
    assert [m.type for m in imported.dialogue.slots["email"].mappings] == ["custom"]
    assert imported.dialogue.forms == original.dialogue.forms
    assert imported.config.bot.fallback == original.config.bot.fallback
    assert imported.config.pipeline[-1].options() == {
        "threshold": 0.5,
        "ambiguity_threshold": 0.1,
        "out_of_scope_examples": "none",  # botdesk's shipped off-topic set is not part of a Rasa project
    }
    assert not any("answer " in n.message for n in result.notes)  # generated rules go quietly
    # Rasa's two-stage fallback rule comes back as the escalation rule it was written from.
    assert [r.name for r in imported.config.escalation.rules] == [
        "human_request",
        "two_stage_fallback",
        "misunderstood",
    ]


def test_not_a_rasa_project_or_a_used_target_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "rasa", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["import", "rasa", str(tmp_path / "empty")]) == 2
    assert "not a Rasa project" in capsys.readouterr().err
    source = rasa_project(tmp_path / "rasa")
    write(tmp_path / "used" / "notes.txt", "mine")
    assert main(["import", "rasa", str(source), "--to", str(tmp_path / "used")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["import", "rasa", str(source), "--to", str(tmp_path / "used"), "--force"]) == 0
    assert (tmp_path / "used" / "notes.txt").read_text() == "mine"
    assert main(["import", "rasa", str(source)]) == 0  # default target: next to the source
    assert (tmp_path / "rasa-botdesk" / "config.yml").is_file()


TWO_STAGE_RULES = """\
version: "3.1"
rules:
- rule: Implementation of the Two-Stage-Fallback
  steps:
  - intent: nlu_fallback
  - action: action_two_stage_fallback
  - active_loop: action_two_stage_fallback
"""


def test_rasa_two_stage_fallback_becomes_did_you_mean(tmp_path: Path) -> None:
    source = rasa_project(tmp_path / "rasa")
    write(source / "data" / "rules.yml", RULES.replace("- rule: fallback", "- rule: old fallback"))
    write(source / "data" / "two_stage.yml", TWO_STAGE_RULES)
    rephrase = '  utter_ask_rephrase:\n  - text: "Say it differently?"\nactions:\n'
    write(source / "domain.yml", DOMAIN.replace("actions:\n", rephrase))
    result = import_rasa(source, tmp_path / "botdesk")
    project = Project.open(result.target)
    names = [r.name for r in project.config.escalation.rules]
    assert names == ["human_request", "two_stage_fallback", "misunderstood"]
    # Rasa's FallbackClassifier thresholds decide when the bot is unsure, as in Rasa.
    assert project.config.pipeline[-1].options()["ambiguity_threshold"] == 0.08
    assert noted(
        result.notes,
        "changed",
        "data/two_stage.yml",
        3,
        "two_stage_fallback",
        "did you mean",
        "utter_ask_rephrase",
    ), "\n".join(map(str, result.notes))
    assert not project.dialogue.rules or all(
        "action_two_stage_fallback" not in [s.name for s in f.steps] for f in project.dialogue.rules
    )
    # The imported bot asks with its own utter_ask_rephrase after "something else".
    assert project.data.responses["utter_ask_rephrase"][0]["text"] == "Say it differently?"
