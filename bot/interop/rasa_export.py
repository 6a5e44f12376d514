"""Write a Rasa 3 project from a botdesk project, for ``rasa train`` unchanged.

NLU data keeps its annotations, regexes, lookups and synonyms; the domain gets the
responses; rules answer every intent with its response and the NLU fallback with the
bot's fallback text; the config is Rasa's default DIET pipeline with the same
fallback threshold, so the two engines can be compared on the same data.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.errors import DataError
from bot.nlu.data import Example, TrainingData
from bot.project import Project
from bot.yamlio import load_yaml, to_plain

RASA_FORMAT = "3.1"
RESPONSE_KEYS = {
    "text",
    "image",
    "buttons",
    "custom",
    "channel",
    "condition",
    "quick_replies",
    "attachment",
    "elements",
    "id",
    "metadata",
}


def _dump(data: Any) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    stream = StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def annotate(example: Example) -> str:
    """Plain text plus spans back to Rasa's ``[text](entity)`` markup."""
    parts, cursor = [], 0
    for a in sorted(example.entities, key=lambda a: a.start):
        surface = example.text[a.start : a.end]
        parts.append(example.text[cursor : a.start])
        if a.value == surface:
            parts.append(f"[{surface}]({a.entity})")
        else:
            parts.append(
                f"[{surface}]" + json.dumps({"entity": a.entity, "value": a.value}, ensure_ascii=False)
            )
        cursor = a.end
    parts.append(example.text[cursor:])
    return "".join(parts)


def _block(lines: list[str]) -> LiteralScalarString:
    block: LiteralScalarString = LiteralScalarString("".join(f"- {line}\n" for line in lines))
    return block


def nlu_document(data: TrainingData) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    by_intent: dict[str, list[str]] = {}
    for example in data.examples:
        by_intent.setdefault(example.intent, []).append(annotate(example))
    items += [{"intent": name, "examples": _block(lines)} for name, lines in by_intent.items()]
    synonyms: dict[str, list[str]] = {}
    for surface, value in data.synonyms.items():
        synonyms.setdefault(value, []).append(surface)
    items += [{"synonym": value, "examples": _block(forms)} for value, forms in sorted(synonyms.items())]
    items += [
        {"regex": name, "examples": _block(patterns)} for name, patterns in sorted(data.regexes.items())
    ]
    items += [{"lookup": name, "examples": _block(values)} for name, values in sorted(data.lookups.items())]
    return {"version": RASA_FORMAT, "nlu": items}


def domain_document(data: TrainingData, fallback_text: str) -> dict[str, Any]:
    responses = {
        name: [{k: v for k, v in variant.items() if k in RESPONSE_KEYS} for variant in variants]
        for name, variants in data.responses.items()
    }
    responses.setdefault("utter_default", [{"text": fallback_text}])
    return {
        "version": RASA_FORMAT,
        "intents": data.intents,
        "entities": sorted(set(data.entity_names) | data.declared_entities),
        "responses": responses,
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }


def rules_document(data: TrainingData) -> dict[str, Any]:
    rules = [
        {"rule": f"answer {intent}", "steps": [{"intent": intent}, {"action": f"utter_{intent}"}]}
        for intent in data.intents
        if f"utter_{intent}" in data.responses
    ]
    rules.append(
        {
            "rule": "ask to rephrase when unsure",
            "steps": [{"intent": "nlu_fallback"}, {"action": "utter_default"}],
        }
    )
    return {"version": RASA_FORMAT, "rules": rules}


def config_document(project: Project) -> dict[str, Any]:
    threshold = 0.4
    for spec in project.config.pipeline:
        if spec.name == "FallbackClassifier":
            threshold = float(spec.options().get("threshold", threshold))
    return {
        "recipe": "default.v1",
        "assistant_id": project.config.assistant_id,
        "language": project.config.language,
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "RegexFeaturizer"},
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
            {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
            {"name": "EntitySynonymMapper"},
            {"name": "FallbackClassifier", "threshold": threshold, "ambiguity_threshold": 0.1},
        ],
        "policies": [
            {"name": "MemoizationPolicy"},
            {"name": "RulePolicy"},
            {"name": "TEDPolicy", "max_history": 5, "epochs": 100, "constrain_similarities": True},
        ],
    }


def export_rasa(project: Project, target: Path) -> list[Path]:
    """Write the Rasa project; returns the files written."""
    data = project.data
    (target / "data").mkdir(parents=True, exist_ok=True)
    files = {
        target / "config.yml": config_document(project),
        target / "domain.yml": domain_document(data, project.config.bot.fallback),
        target / "data" / "nlu.yml": nlu_document(data),
        target / "credentials.yml": {"rest": None},
        target / "endpoints.yml": {},
    }
    rules = _project_rules(project) or rules_document(data)
    files[target / "data" / "rules.yml"] = rules
    for path, document in files.items():
        path.write_text(_dump(document), encoding="utf-8")
    return list(files)


def _project_rules(project: Project) -> dict[str, Any] | None:
    """Rules and stories from stories/*.yml, when the project has them."""
    if not project.stories_dir.is_dir():
        return None
    merged: dict[str, Any] = {"version": RASA_FORMAT}
    for path in sorted(project.stories_dir.glob("*.yml")):
        raw = to_plain(load_yaml(path, DataError)) or {}
        for key in ("rules", "stories"):
            merged.setdefault(key, []).extend(raw.get(key) or [])
    return merged if len(merged) > 1 else None
