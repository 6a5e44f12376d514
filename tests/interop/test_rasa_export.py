"""`botdesk export rasa` writes a Rasa 3 project with the same data."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.cli import main
from bot.interop.rasa_export import annotate
from bot.nlu.data import load_training_data
from bot.project import Project


def read(path: Path) -> dict:  # type: ignore[type-arg]
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def test_export_keeps_every_example_and_answer(
    ru_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "rasa"
    assert main(["export", "rasa", str(target), "--project", str(ru_project.root)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    original = ru_project.data

    exported = load_training_data([target / "data" / "nlu.yml"])
    assert sorted((e.text, e.intent, e.entities) for e in exported.examples) == sorted(
        (e.text, e.intent, e.entities) for e in original.examples
    )
    assert exported.synonyms == original.synonyms
    assert exported.regexes == original.regexes
    assert exported.lookups == original.lookups

    domain = read(target / "domain.yml")
    assert domain["version"] == "3.1"
    assert sorted(domain["intents"]) == original.intents
    assert set(original.responses) <= set(domain["responses"])
    assert "utter_default" in domain["responses"]
    used_entities = {a.entity for e in original.examples for a in e.entities}
    assert used_entities <= set(domain["entities"])

    rules = read(target / "data" / "rules.yml")["rules"]
    actions = {step["action"] for rule in rules for step in rule["steps"] if "action" in step}
    rasa_default = {"action_two_stage_fallback"}
    assert actions <= set(domain["responses"]) | set(domain["forms"]) | set(domain["actions"]) | rasa_default
    # The default bot asks "did you mean" (two_stage_fallback): Rasa runs its own two-stage fallback.
    assert {
        "rule": "two-stage fallback when unsure",
        "steps": [
            {"intent": "nlu_fallback"},
            {"action": "action_two_stage_fallback"},
            {"active_loop": "action_two_stage_fallback"},
        ],
    } in rules
    assert "utter_ask_rephrase" in domain["responses"]
    assert "action_order_status" in domain["actions"]  # the HTTP action, declared for Rasa
    assert domain["forms"]["lead_form"]["required_slots"] == ["name", "phone", "consent"]
    name_mapping = domain["slots"]["name"]["mappings"][0]
    assert name_mapping["conditions"] == [{"active_loop": "lead_form", "requested_slot": "name"}]
    # The e-mail is an optional extra of the lead form: Rasa's validator refuses a mapping
    # conditioned on a form that does not require the slot, so it is left out and said.
    assert domain["slots"]["email"]["mappings"] == [{"type": "custom"}]
    assert "slot 'email'" in said and "lead_form" in said
    stories = read(target / "data" / "stories.yml")["stories"]
    assert stories and all(s["steps"] for s in stories)
    intents = {step["intent"] for rule in rules for step in rule["steps"] if "intent" in step}
    assert intents <= set(domain["intents"]) | {"nlu_fallback"}

    config = read(target / "config.yml")
    assert config["language"] == "ru" and config["recipe"] == "default.v1"
    names = [c["name"] for c in config["pipeline"]]
    assert "DIETClassifier" in names and names[-1] == "FallbackClassifier"
    assert {p["name"] for p in config["policies"]} >= {"RulePolicy", "MemoizationPolicy"}
    fallback = config["pipeline"][-1]
    # The default bot chooses its threshold at training (target precision); Rasa gets its default.
    assert (fallback["threshold"], fallback["ambiguity_threshold"]) == (0.5, 0.1)


def test_annotations_are_written_back_in_rasa_markup(ru_project: Project) -> None:
    annotated = [e for e in ru_project.data.examples if e.entities]
    assert annotated, "the default bot has annotated examples"
    for example in annotated:
        text = annotate(example)
        assert "](" in text or "]{" in text
