"""botdesk: a rule-and-intent chatbot framework with human handoff."""

__version__ = "0.1.0"
