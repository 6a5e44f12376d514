"""Moving projects between botdesk and other tools (Rasa)."""
