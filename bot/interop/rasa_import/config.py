"""Rasa's config.yml -> botdesk's config.yml: language, assistant id, fallback thresholds.

The NLU pipeline and the policies do not carry over as such: the project gets botdesk's
default pipeline (with Rasa's FallbackClassifier thresholds) and follows its rules and
stories as written; every component and policy that does something botdesk does not is a note.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.interop.rasa_export import RASA_FORMAT
from bot.interop.rasa_import.state import DEFAULT_RESPONSE, Conversion
from bot.nlu.defaults import DEFAULT_PIPELINE
from bot.yamlio import line_of, load_yaml

LANGUAGES = ("ru", "en")

# Rasa components whose job botdesk's default pipeline does (intents, regex/lookup
# entities, synonyms, fallback); anything else has no botdesk equivalent.
EQUIVALENT_COMPONENTS = frozenset(
    {
        "WhitespaceTokenizer",
        "SpacyNLP",
        "SpacyTokenizer",
        "RegexFeaturizer",
        "RegexEntityExtractor",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "SklearnIntentClassifier",
        "LogisticRegressionClassifier",
        "EntitySynonymMapper",
        "FallbackClassifier",
    }
)
RULE_POLICIES = frozenset({"RulePolicy", "MemoizationPolicy", "AugmentedMemoizationPolicy"})
ML_POLICIES = frozenset({"TEDPolicy", "UnexpecTEDIntentPolicy"})
RULE_POLICY_FALLBACK_KEYS = (
    "core_fallback_threshold",
    "core_fallback_action_name",
    "enable_fallback_prediction",
)
# Rasa's fallback when config.yml has a pipeline with no FallbackClassifier options.
RASA_FALLBACK_DEFAULTS = {"threshold": 0.3, "ambiguity_threshold": 0.1}

IDENTITY: dict[str, dict[str, str]] = {
    "en": {
        "name": "Bot",
        "label": "🤖 Bot",
        "introduction": "Hello! I am a bot and I answer around the clock. "
        'To reach a person, type "operator".',
        "fallback": 'Sorry, I did not quite get that. Could you rephrase it, or type "operator" '
        "and I will call a person.",
        "department": "Support",
        "timezone": "UTC",
    },
    "ru": {
        "name": "Бот-помощник",
        "label": "🤖 Бот",
        "introduction": "Здравствуйте! Я бот-помощник, отвечаю круглосуточно. "
        "Чтобы позвать человека, напишите «оператор».",
        "fallback": "Извините, я не совсем понял вопрос. Переформулируйте, пожалуйста, "
        "или напишите «оператор», чтобы позвать человека.",
        "department": "Поддержка",
        "timezone": "Europe/Moscow",
    },
}

CONFIG_HEADER = """\
# botdesk configuration, written by `botdesk import rasa`.
# The dialogue follows the imported rules and stories: the only hand-offs are an explicit
# request for a person and two misunderstood messages in a row; no feedback question, no
# lead offer. botdesk's other escalation rules (complaint, human_only, did_not_help,
# unsure, repeated_question), intents.human_only and intents.buying_interest can be
# switched on here: see the default project (`botdesk init`).
"""


def read_config(conv: Conversion) -> None:
    path = conv.root / "config.yml"
    raw = load_yaml(path, ConfigError) if path.is_file() else None
    if not isinstance(raw, dict):
        conv.note("changed", "no config.yml: language 'en' and botdesk's default pipeline are used")
        raw = {}
    language = str(raw.get("language") or "en")
    if language not in LANGUAGES:
        conv.note(
            "changed",
            f"language '{language}' is not one botdesk speaks ({', '.join(LANGUAGES)}); "
            "the project uses 'en'",
            path,
            line_of(raw, ["language"]),
        )
        language = "en"
    conv.settings.language = language
    assistant = str(raw.get("assistant_id") or "")
    conv.settings.assistant_id = (
        assistant if assistant and assistant != "placeholder_default" else _slug(conv.root.name)
    )
    _read_pipeline(conv, raw, path)
    _read_policies(conv, raw, path)


def _read_pipeline(conv: Conversion, raw: Any, path: Path) -> None:
    pipeline = raw.get("pipeline") or []
    if not pipeline:
        conv.note(
            "changed",
            "no NLU pipeline configured (Rasa trains its default DIET pipeline): the project uses "
            "botdesk's default pipeline",
            path,
            line_of(raw, ["pipeline"]),
        )
        return
    fallback: dict[str, float] | None = None
    for index, spec in enumerate(pipeline):
        name = str(spec.get("name", "")) if isinstance(spec, dict) else str(spec)
        line = line_of(raw, ["pipeline", index])
        if name == "FallbackClassifier":
            options = {**RASA_FALLBACK_DEFAULTS, **{k: v for k, v in spec.items() if k != "name"}}
            fallback = {k: float(options[k]) for k in RASA_FALLBACK_DEFAULTS}
        elif name == "DIETClassifier":
            conv.note(
                "changed",
                "DIETClassifier: botdesk classifies intents with LinearIntentClassifier and finds "
                "entities by their annotated values, lookups and regexes, not learned from context",
                path,
                line,
            )
        elif name == "ResponseSelector":
            conv.note(
                "changed",
                "ResponseSelector: botdesk's intent classifier tells retrieval intents (faq/question) "
                "apart itself and answers each with utter_faq/question; there is no separate model",
                path,
                line,
            )
        elif name not in EQUIVALENT_COMPONENTS:
            conv.note(
                "dropped",
                f"Rasa-only pipeline component {name} has no botdesk equivalent and was left out",
                path,
                line,
            )
    if fallback is None:
        conv.note(
            "changed",
            "the pipeline has no FallbackClassifier (Rasa never falls back): botdesk's default "
            "fallback thresholds are used",
            path,
            line_of(raw, ["pipeline"]),
        )
    else:
        conv.settings.fallback = fallback
    conv.note(
        "changed",
        "the NLU pipeline is botdesk's default (SpacyTokenizer, RegexEntityExtractor, "
        "CountVectorsFeaturizer word + char_wb, LinearIntentClassifier, EntitySynonymMapper, "
        "FallbackClassifier)",
        path,
        line_of(raw, ["pipeline"]),
    )


def _read_policies(conv: Conversion, raw: Any, path: Path) -> None:
    policies = raw.get("policies") or []
    if not policies:
        conv.note(
            "dropped",
            "no policies configured, so Rasa trains its defaults, among them the machine-learned "
            "TEDPolicy and UnexpecTEDIntentPolicy: botdesk follows rules and stories exactly as "
            "written and otherwise answers an intent with utter_<intent>; it does not generalise "
            "stories to conversations they do not cover",
            path,
            line_of(raw, ["policies"]),
        )
        return
    for index, spec in enumerate(policies):
        name = str(spec.get("name", "")) if isinstance(spec, dict) else str(spec)
        line = line_of(raw, ["policies", index])
        if name in ML_POLICIES:
            conv.note(
                "dropped",
                f"{name} is machine-learned: botdesk follows rules and stories exactly as written and "
                "otherwise answers an intent with utter_<intent>; it does not generalise stories to "
                "conversations they do not cover",
                path,
                line,
            )
        elif name not in RULE_POLICIES:
            conv.note("dropped", f"policy {name} has no botdesk equivalent and was left out", path, line)
        elif isinstance(spec, dict) and any(k in spec for k in RULE_POLICY_FALLBACK_KEYS):
            conv.note(
                "changed",
                f"{name}'s core fallback settings were left out: botdesk answers what no rule or "
                "story covers with utter_<intent>, and a message it does not understand with "
                "bot.fallback",
                path,
                line,
            )


def fallback_text(conv: Conversion) -> str:
    """bot.fallback: the first text of utter_default, else botdesk's own for the language."""
    variants = conv.responses.get(DEFAULT_RESPONSE) or []
    texts = [str(v["text"]) for v in variants if v.get("text")]
    if not texts:
        return IDENTITY[conv.settings.language]["fallback"]
    if len(texts) > 1:
        path, line = conv.response_lines[DEFAULT_RESPONSE]
        conv.note("changed", "utter_default: only its first variant became bot.fallback", path, line)
    return texts[0]


def config_document(conv: Conversion, fallback: str) -> dict[str, Any]:
    identity = IDENTITY[conv.settings.language]
    pipeline = [dict(item) for item in DEFAULT_PIPELINE]
    if conv.settings.fallback:
        pipeline[-1].update(conv.settings.fallback)
    # Rasa trains no off-topic class of its own: neither does the imported bot (its own
    # out_of_scope intent, if it has one, is trained as any other).
    pipeline[-1]["out_of_scope_examples"] = "none"
    return {
        "version": RASA_FORMAT,
        "assistant_id": conv.settings.assistant_id,
        "language": conv.settings.language,
        "pipeline": pipeline,
        "bot": {
            "name": identity["name"],
            "label": identity["label"],
            "introduction": identity["introduction"],
            "fallback": fallback,
        },
        "intents": {"human_only": [], "buying_interest": []},
        "escalation": {"rules": _escalation_rules(conv), "ask_feedback": False},
        "departments": [
            {
                "key": "support",
                "name": identity["department"],
                "hours": {"timezone": identity["timezone"], "schedule": {"daily": "09:00-21:00"}},
            }
        ],
    }


def _escalation_rules(conv: Conversion) -> list[dict[str, Any]]:
    """A request for a person, then the second miss in a row: with "did you mean" when Rasa's
    rules ran action_two_stage_fallback (it gives up at the second miss too)."""
    rules: list[dict[str, Any]] = [{"name": "human_request", "priority": 5}]
    if conv.settings.two_stage_fallback:
        rules.append({"name": "two_stage_fallback", "misses": 2})
    rules.append({"name": "misunderstood", "times": 2})
    return rules


def _slug(name: str) -> str:
    return re.sub(r"[^\w\-]+", "-", name).strip("-").lower() or "botdesk"
