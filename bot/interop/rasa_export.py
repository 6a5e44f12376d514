"""Write a Rasa 3 project from a botdesk project, for ``rasa train`` unchanged.

NLU data keeps its annotations, regexes, lookups and synonyms; the domain gets the
responses, slots and forms; rules answer every intent with its response (botdesk's
default) and the NLU fallback with the bot's fallback text, followed by the project's
own rules, and stories go to data/stories.yml; the config is Rasa's default DIET
pipeline with the same fallback settings, so the two engines compare on the same data.
Verified with Rasa 3.6.21: ``rasa data validate`` and ``rasa train`` accept the
default bot's export unchanged.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.dialogue.stories import ACTIVE_LOOP_NONE, SLOT_IS_SET, DialogueData, Flow, Slot
from bot.errors import ConfigError
from bot.nlu.data import Example, TrainingData
from bot.project import Project
from bot.yamlio import load_yaml, to_plain

RASA_FORMAT = "3.1"
# Rasa 3's default NLU pipeline (what `rasa init` writes), for side-by-side comparisons.
RASA_DIET_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
]
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


def domain_document(
    data: TrainingData, fallback_text: str, dialogue: DialogueData, warnings: list[str] | None = None
) -> dict[str, Any]:
    """The Rasa 3 domain; what Rasa would refuse is left out and said in ``warnings``."""
    responses = {
        name: [{k: v for k, v in variant.items() if k in RESPONSE_KEYS} for variant in variants]
        for name, variants in data.responses.items()
    }
    responses.setdefault("utter_default", [{"text": fallback_text}])
    domain: dict[str, Any] = {
        "version": RASA_FORMAT,
        "intents": data.intents,
        "entities": sorted(set(data.entity_names) | data.declared_entities),
        "responses": responses,
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }
    declared = [i for i in dialogue.intents if i not in data.intents]
    if declared:
        domain["intents"] = [*data.intents, *declared]
    if dialogue.actions or dialogue.http_actions:
        domain["actions"] = sorted(set(dialogue.actions) | set(dialogue.http_actions))
    if dialogue.slots:
        domain["slots"] = {
            slot.name: _slot(slot, dialogue, warnings if warnings is not None else [])
            for slot in dialogue.slots.values()
        }
    if dialogue.forms:
        domain["forms"] = {
            f.name: {
                "required_slots": list(f.required_slots),
                **({"ignored_intents": list(f.ignored_intents)} if f.ignored_intents else {}),
            }
            for f in dialogue.forms.values()
        }
    return domain


def _slot(slot: Slot, dialogue: DialogueData, warnings: list[str]) -> dict[str, Any]:
    """The Rasa 3 slot: botdesk's mappings already carry Rasa's fields (conditions included).

    Rasa's validator refuses a mapping conditioned on a form that does not list the slot
    in its ``required_slots`` (botdesk fills it while that form runs: an optional extra
    such as an e-mail given with the phone). Such a mapping is left out, and said, since
    without its condition it would fill the slot on every message.
    """
    mappings = []
    for m in slot.mappings:
        foreign = sorted(
            {
                c.active_loop
                for c in m.conditions
                if c.active_loop in dialogue.forms
                and slot.name not in dialogue.forms[c.active_loop].required_slots
            }
        )
        if foreign:
            warnings.append(
                f"slot '{slot.name}': a {m.type} mapping conditioned on {', '.join(foreign)}, which does not "
                "require the slot, was left out (Rasa's validator refuses it); Rasa will not fill the slot "
                "that way"
            )
            continue
        mapping: dict[str, Any] = {"type": m.type}
        for key in ("entity", "role", "group", "action"):
            if getattr(m, key):
                mapping[key] = getattr(m, key)
        if m.intent:
            mapping["intent"] = m.intent[0] if len(m.intent) == 1 else list(m.intent)
        if m.value is not None:
            mapping["value"] = m.value
        if m.not_intent:
            mapping["not_intent"] = list(m.not_intent)
        if m.conditions:
            mapping["conditions"] = [
                {
                    "active_loop": c.active_loop,
                    **({"requested_slot": c.requested_slot} if c.requested_slot else {}),
                }
                for c in m.conditions
            ]
        mappings.append(mapping)
    result: dict[str, Any] = {"type": slot.type, "mappings": mappings or [{"type": "custom"}]}
    if slot.values:
        result["values"] = list(slot.values)
    if slot.initial_value is not None:
        result["initial_value"] = slot.initial_value
    if slot.influence_conversation != (slot.type != "any"):
        result["influence_conversation"] = slot.influence_conversation
    if slot.type == "float" and (slot.min_value, slot.max_value) != (0.0, 1.0):
        result["min_value"], result["max_value"] = slot.min_value, slot.max_value
    return result


def _rasa_steps(flow: Flow) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for step in flow.steps:
        if step.kind == "intent":
            steps.append({"intent": step.name, **({"entities": list(step.value)} if step.value else {})})
        elif step.kind == "action":
            steps.append({"action": step.name})
        elif step.kind == "loop":
            steps.append({"active_loop": None if step.name == ACTIVE_LOOP_NONE else step.name})
        elif step.value == SLOT_IS_SET:
            steps.append({"slot_was_set": [step.name]})
        else:
            steps.append({"slot_was_set": [{step.name: step.value}]})
    return steps


def _rasa_flow(flow: Flow) -> dict[str, Any]:
    item: dict[str, Any] = {flow.kind: flow.name}
    if flow.conversation_start:
        item["conversation_start"] = True
    if flow.conditions:
        item["condition"] = _rasa_steps(Flow(flow.name, flow.kind, flow.conditions))
    item["steps"] = _rasa_steps(flow)
    if not flow.wait_for_user_input:
        item["wait_for_user_input"] = False
    return item


def rules_document(data: TrainingData, dialogue: DialogueData, two_stage: bool = False) -> dict[str, Any]:
    """One rule per answered intent (what botdesk does by default), the fallback, then the project's rules.

    ``two_stage``: the project's escalation rule two_stage_fallback is on, so Rasa runs its
    own two-stage fallback (``action_two_stage_fallback``, ``utter_ask_rephrase``).
    """
    covered = {
        f.steps[0].name
        for f in dialogue.rules
        if f.steps and f.steps[0].kind == "intent" and not f.conversation_start
    }
    rules = [
        {"rule": f"answer {intent}", "steps": [{"intent": intent}, {"action": f"utter_{intent}"}]}
        for intent in data.intents
        if f"utter_{intent}" in data.responses and intent not in covered
    ]
    if two_stage:
        rules.append(
            {
                "rule": "two-stage fallback when unsure",
                "steps": [
                    {"intent": "nlu_fallback"},
                    {"action": "action_two_stage_fallback"},
                    {"active_loop": "action_two_stage_fallback"},
                ],
            }
        )
    else:
        rules.append(
            {
                "rule": "ask to rephrase when unsure",
                "steps": [{"intent": "nlu_fallback"}, {"action": "utter_default"}],
            }
        )
    rules += [_rasa_flow(f) for f in dialogue.rules]
    return {"version": RASA_FORMAT, "rules": rules}


def config_document(project: Project) -> tuple[dict[str, Any], list[str]]:
    """Rasa's default pipeline with botdesk's fallback settings; warnings for what cannot carry over."""
    fallback: dict[str, Any] = {"name": "FallbackClassifier", "threshold": 0.4, "ambiguity_threshold": 0.1}
    warnings = []
    for spec in project.config.pipeline:
        if spec.name == "FallbackClassifier":
            options = spec.options()
            fallback["threshold"] = float(options.get("threshold", 0.5))
            fallback["ambiguity_threshold"] = float(options.get("ambiguity_threshold", 0.1))
            if options.get("intent_thresholds"):
                warnings.append(
                    "FallbackClassifier.intent_thresholds has no Rasa equivalent and was left out "
                    f"({', '.join(sorted(options['intent_thresholds']))})"
                )
    policies: list[dict[str, Any]] = [{"name": "RulePolicy"}]
    if project.dialogue.stories:
        policies = [
            {"name": "MemoizationPolicy"},
            {"name": "RulePolicy"},
            {"name": "TEDPolicy", "max_history": 5, "epochs": 100, "constrain_similarities": True},
        ]
    warnings.append(
        "botdesk's dialogue engine (escalation rules, working hours, lead offers, feedback question) "
        "is not part of a Rasa project; the export carries the NLU data, responses, rules and stories"
    )
    config = {
        "recipe": "default.v1",
        "assistant_id": project.config.assistant_id,
        "language": project.config.language,
        "pipeline": [*RASA_DIET_PIPELINE, {"name": "EntitySynonymMapper"}, fallback],
        "policies": policies,
    }
    return config, warnings


def _endpoints(project: Project) -> dict[str, Any]:
    """endpoints.yml: the project's own action_endpoint, as written (``${VARIABLES}`` kept)."""
    path = project.root / "endpoints.yml"
    if not path.is_file():
        return {}
    raw = load_yaml(path, ConfigError)
    endpoint = raw.get("action_endpoint") if isinstance(raw, dict) else None
    return {"action_endpoint": to_plain(endpoint)} if endpoint else {}


def _two_stage(project: Project) -> bool:
    """Whether the escalation rule two_stage_fallback is listed and on."""
    return any(
        spec.name == "two_stage_fallback" and spec.options().get("enabled", True) is not False
        for spec in project.config.escalation.rules
    )


def export_rasa(project: Project, target: Path) -> tuple[list[Path], list[str]]:
    """Write the Rasa project; returns the files written and what could not be carried over."""
    data, dialogue = project.data, project.dialogue
    (target / "data").mkdir(parents=True, exist_ok=True)
    config, warnings = config_document(project)
    files: dict[Path, Any] = {
        target / "config.yml": config,
        target / "domain.yml": domain_document(data, project.config.bot.fallback, dialogue, warnings),
        target / "data" / "nlu.yml": nlu_document(data),
        target / "data" / "rules.yml": rules_document(data, dialogue, _two_stage(project)),
        target / "credentials.yml": {"rest": None},
        target / "endpoints.yml": _endpoints(project),
    }
    if dialogue.http_actions:
        warnings.append(
            "HTTP actions (" + ", ".join(sorted(dialogue.http_actions)) + ") are botdesk's declarative "
            "actions: the domain declares them, but Rasa runs them only if your action server implements them"
        )
    if dialogue.stories:
        files[target / "data" / "stories.yml"] = {
            "version": RASA_FORMAT,
            "stories": [_rasa_flow(f) for f in dialogue.stories],
        }
    for path, document in files.items():
        path.write_text(_dump(document), encoding="utf-8")
    return list(files), warnings
