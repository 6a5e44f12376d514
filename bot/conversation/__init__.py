"""One customer turn, start to finish: ``ConversationService`` (``service``).

Channels hand it an ``InboundMessage``; it stores the message, runs the NLU and the
dialogue engine (unless a person owns the conversation), applies the engine's effects
(a ticket, a lead card, the survey) and returns the replies, all in the store's one turn
transaction. ``story_runner`` drives test stories through the same services.
"""

from bot.conversation.accounting import TurnObserver, TurnRefused
from bot.conversation.service import ConversationService
from bot.conversation.turn import Handled, Turn

__all__ = ["ConversationService", "Handled", "Turn", "TurnObserver", "TurnRefused"]
