"""Filling slots from a message: Rasa 3's ``action_extract_slots``, and slot featurization.

After every customer message each slot's mappings are tried (``from_entity`` with role and
group, ``from_intent``, ``from_text``; ``from_trigger_intent`` when a form starts;
``custom`` by an action), each only when its ``conditions`` hold (the active form and the
slot it asks for) and the intent is wanted (``intent`` / ``not_intent``, plus the active
form's ``ignored_intents``). So "где мой заказ 1234567" sets ``order_number`` at once,
whatever the dialogue is doing.

:func:`feature` is how a slot steers rules and stories: like Rasa's featurization, a text
slot only counts as set or not, a categorical one by its value, and a slot with
``influence_conversation: false`` not at all.
"""

from __future__ import annotations

from typing import Any

from bot.dialogue.stories import REQUESTED_SLOT, SLOT_IS_SET, DialogueData, Slot, SlotMapping
from bot.dialogue.tracker import Tracker
from bot.nlu.base import Message

IGNORED = object()  # feature() for a slot that does not influence the conversation


def intent_is_desired(mapping: SlotMapping, intent: str, data: DialogueData, tracker: Tracker) -> bool:
    # Rasa names a retrieval intent by its base (``faq``) here; the full name is accepted too.
    names = {intent, intent.split("/", 1)[0]}
    not_intents = set(mapping.not_intent)
    if tracker.active_loop and tracker.active_loop in data.forms:
        not_intents |= set(data.forms[tracker.active_loop].ignored_intents)
    if mapping.intent:
        return bool(names & set(mapping.intent))
    return not names & not_intents


def conditions_hold(mapping: SlotMapping, tracker: Tracker) -> bool:
    if not mapping.conditions:
        return True
    if not any(c.active_loop == tracker.active_loop for c in mapping.conditions):
        return False
    requested = tracker.requested_slot()
    return any(
        c.active_loop == tracker.active_loop and (c.requested_slot is None or c.requested_slot == requested)
        for c in mapping.conditions
    )


def entity_values(
    mapping: SlotMapping, message: Message, roles: dict[int, tuple[str | None, str | None]]
) -> list[str]:
    """Values of the mapping's entity, with the same role and group (none when it names none)."""
    values = []
    for index, entity in enumerate(message.entities):
        role, group = roles.get(index, (None, None))
        if entity.entity == mapping.entity and role == mapping.role and group == mapping.group:
            values.append(entity.value)
    return values


def _unique_in_form(slot: Slot, mapping: SlotMapping, data: DialogueData, tracker: Tracker) -> bool:
    """Rasa: while a form asks for one slot, an entity that fills several of its slots fills only that one."""
    form = data.forms.get(tracker.active_loop or "")
    if form is None or slot.name not in form.required_slots or tracker.requested_slot() == slot.name:
        return True
    for other in form.required_slots:
        if other == slot.name or other not in data.slots:
            continue
        for theirs in data.slots[other].mappings:
            if theirs.type == "from_entity" and (theirs.entity, theirs.role, theirs.group) == (
                mapping.entity,
                mapping.role,
                mapping.group,
            ):
                return False
    return True


def coerce(slot: Slot | None, value: Any) -> Any:
    """A list slot collects values; any other slot takes the last one."""
    if isinstance(value, list) and (slot is None or slot.type != "list"):
        return value[-1] if value else None
    if slot is not None and slot.type == "list" and value is not None and not isinstance(value, list):
        return [value]
    return value


def extract_slots(
    data: DialogueData,
    tracker: Tracker,
    message: Message,
    intent: str,
    roles: dict[int, tuple[str | None, str | None]] | None = None,
) -> dict[str, Any]:
    """Values the message gives slots by their predefined mappings (changed values only)."""
    roles = roles or {}
    found: dict[str, Any] = {}
    entities = {e.entity for e in message.entities}
    for slot in data.slots.values():
        for mapping in slot.mappings:
            if mapping.type in ("custom", "from_trigger_intent"):
                continue
            if mapping.type == "from_entity" and mapping.entity not in entities:
                continue  # the cheap test first: most messages carry no entity
            if not conditions_hold(mapping, tracker):
                continue
            if not intent_is_desired(mapping, intent, data, tracker):
                continue
            value: Any = None
            if mapping.type == "from_entity":
                if not _unique_in_form(slot, mapping, data, tracker):
                    continue
                values = entity_values(mapping, message, roles)
                value = coerce(slot, values) if values else None
            elif mapping.type == "from_intent":
                value = mapping.value
            elif mapping.type == "from_text":
                value = message.text.strip() or None
            if value is None:
                continue
            if tracker.slots.get(slot.name) != value or slot.name not in found:
                found[slot.name] = value
            break
    return {k: v for k, v in found.items() if tracker.slots.get(k) != v}


def trigger_slots(data: DialogueData, tracker: Tracker, form: str, intent: str) -> dict[str, Any]:
    """``from_trigger_intent``: values for a form that the customer's intent has just started."""
    found: dict[str, Any] = {}
    for slot in data.slots.values():
        for mapping in slot.mappings:
            if mapping.type != "from_trigger_intent":
                continue
            if mapping.conditions and not any(c.active_loop == form for c in mapping.conditions):
                continue
            if intent_is_desired(mapping, intent, data, tracker):
                found[slot.name] = mapping.value
                break
    return found


def custom_mapping_actions(data: DialogueData, tracker: Tracker) -> list[str]:
    """Actions named by ``custom`` mappings whose conditions hold now (run after each message)."""
    actions: list[str] = []
    for slot in data.slots.values():
        for mapping in slot.mappings:
            wanted = mapping.type == "custom" and mapping.action and conditions_hold(mapping, tracker)
            if wanted and mapping.action not in actions:
                actions.append(str(mapping.action))
    return actions


def feature(slot: Slot | None, name: str, value: Any) -> Any:
    """What a rule or story sees of a slot's value (Rasa's featurization, as a comparable value)."""
    if name == REQUESTED_SLOT:
        return value
    if slot is None:
        return value
    if not slot.featurized:
        return IGNORED
    if slot.type in ("text", "list"):
        return value not in (None, [], "")
    if slot.type == "bool":
        if value is None:
            return None
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)
    if slot.type == "categorical":
        if value is None:
            return None
        text = str(value).lower()
        return text if text in {v.lower() for v in slot.values} else "__other__"
    if slot.type == "float":
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return min(max(number, slot.min_value), slot.max_value)
    return value


def slot_matches(slot: Slot | None, name: str, expected: Any, actual: Any) -> bool:
    """Does the slot's current value satisfy a flow's ``slot_was_set`` (or condition) step?"""
    if expected == SLOT_IS_SET:
        return actual not in (None, [], "")
    wanted, got = feature(slot, name, expected), feature(slot, name, actual)
    return wanted is IGNORED or bool(wanted == got)


def initial_values(data: DialogueData) -> dict[str, Any]:
    return {name: slot.initial_value for name, slot in data.slots.items() if slot.initial_value is not None}
