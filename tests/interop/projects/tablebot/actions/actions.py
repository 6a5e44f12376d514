"""The table bot's form validation, run by rasa-sdk's own action server in the tests."""

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

CUISINES = {"italian", "georgian", "thai"}


class ValidateTableForm(FormValidationAction):
    def name(self) -> str:
        return "validate_table_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """Outside: ask where, right after the outdoor question."""
        if tracker.get_slot("outdoor") is True:
            position = domain_slots.index("outdoor") + 1
            return [*domain_slots[:position], "area", *domain_slots[position:]]
        return domain_slots

    def validate_cuisine(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if str(value).lower() in CUISINES:
            return {"cuisine": str(value).lower()}
        dispatcher.utter_message(response="utter_wrong_cuisine")
        return {"cuisine": None}

    def validate_people(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number: int | None
        try:
            number = int(float(value))
        except (TypeError, ValueError):
            number = None
        if number is None or not 1 <= number <= 20:
            dispatcher.utter_message(response="utter_wrong_people")
            return {"people": None}
        return {"people": float(number)}
