"""The dialogue: rules, stories, forms, escalation rules and working hours."""
