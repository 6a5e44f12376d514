"""The help desk's custom actions, run by rasa-sdk's own action server in the tests."""

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, Restarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

TICKETS = {"IT-1234": "being worked on by the network team", "IT-2048": "resolved"}
PRIORITIES = {"low", "medium", "high"}


class ValidateTicketForm(FormValidationAction):
    def name(self) -> str:
        return "validate_ticket_form"

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip().lower()
        if text.endswith("@uni.example"):
            return {"email": text}
        dispatcher.utter_message(text="That isn't a university address (it ends in @uni.example).")
        return {"email": None}

    def validate_priority(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"priority": str(value).lower() if str(value).lower() in PRIORITIES else None}

    def validate_problem(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if len(str(value or "").split()) < 3:
            dispatcher.utter_message(text="Could you say a little more about it?")
            return {"problem": None}
        return {"problem": value}


class OpenTicket(Action):
    def name(self) -> str:
        return "action_open_ticket"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if not tracker.get_slot("confirm"):
            dispatcher.utter_message(response="utter_ticket_not_opened")
            return [SlotSet("problem", None), SlotSet("confirm", None)]
        number = "IT-7001"
        dispatcher.utter_message(response="utter_ticket_opened", ticket_id=number)
        return [SlotSet("ticket_id", number), SlotSet("problem", None), SlotSet("confirm", None)]


class TicketStatus(Action):
    def name(self) -> str:
        return "action_ticket_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ticket: str | None = tracker.get_slot("ticket_id")
        if not ticket:
            dispatcher.utter_message(response="utter_ask_ticket_id")
            return []
        status = TICKETS.get(ticket.upper())
        if status is None:
            dispatcher.utter_message(text=f"I can't find {ticket}.")
            return [SlotSet("ticket_id", None)]
        dispatcher.utter_message(
            text=f"{ticket.upper()} is {status}.",
            buttons=[{"title": "Thanks", "payload": "/thank"}],
        )
        return []


class ResetPassword(Action):
    def name(self) -> str:
        return "action_reset_password"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_reset_sent")
        dispatcher.utter_message(json_message={"kind": "reset_link", "expires_minutes": 30})
        return [SlotSet("reset_offered", True)]


class StartOver(Action):
    def name(self) -> str:
        return "action_start_over"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_restarted")
        return [Restarted()]
